"""An analysis folder read back: what the report, the exports, the annotated video and the comparison start from.

:func:`read_results` reads the files :func:`twitchcam.outputs.write_analysis` writes (``summary.json``,
``events.csv``, ``signals.csv``, ``config.json``), so everything downstream works the same whether the analysis
ran a minute ago, on another machine, or in a live session that writes the same files. ``landmarks.npz`` is read
when present (it is optional).

When a clinician has reviewed the analysis (:mod:`twitchcam.review`), the folder also holds
``events_reviewed.csv`` and ``summary_reviewed.json``; :func:`read_results` then gives the reviewed timeline and
summary (``Results.timeline == "reviewed"``), so the report, the exports and the cohort use what the clinician
signed. ``reviewed=False`` reads the automatic ones.

Sides are the PATIENT's; times are presentation times in seconds, as in the files.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .config import Config
from .events import Events
from .landmarks import Landmarks
from .outputs import OPTIONAL_SIGNAL_COLUMNS, SIGNAL_COLUMNS, read_events_csv

logger = logging.getLogger(__name__)

#: The files an analysis folder must hold.
REQUIRED_FILES = ("summary.json", "events.csv", "signals.csv", "config.json")

#: The files of a clinician's review (see :mod:`twitchcam.review`): the record, the reviewed timeline, its summary.
REVIEW_FILES = ("review.json", "events_reviewed.csv", "summary_reviewed.json")

#: Where an events table comes from.
TIMELINES = ("automatic", "reviewed")


@dataclass(frozen=True)
class Results:
    """The contents of one analysis folder.

    Parameters
    ----------
    out_dir : Path
        The folder.
    summary : dict
        ``summary.json``: pattern, side, finding, criteria, metrics, video facts, notes, source.
    events : Events
        ``events.csv``.
    config : Config
        ``config.json``, the settings the analysis ran with (settings this version does not know are left out,
        settings it adds take their defaults; see ``settings``).
    settings : dict
        ``config.json`` exactly as written.
    t : ndarray, shape (n_frames,), float64
        Presentation time of each frame in seconds.
    face_found, measured : ndarray, shape (n_frames,), bool
        Whether a face was found, and whether it was measured (found and not turned too far).
    eye_closure : ndarray, shape (n_frames, 2), float64
        Fraction of the resting eye opening lost, columns (left, right); NaN where not measured.
    mouth_pull : ndarray, shape (n_frames, 2), float64
        Mouth-corner pull up and out, columns (left, right), in inter-ocular distances.
    brow_raise : ndarray, shape (n_frames, 2), float64
        Brow elevation, columns (left, right), in inter-ocular distances.
    head_rotation_deg : ndarray, shape (n_frames,), float64
        Head rotation away from the recording's reference pose, in degrees.
    head_scale : ndarray, shape (n_frames,), float64
        Apparent face size relative to the reference (1 = unchanged).
    head_pose_deg : ndarray, shape (n_frames, 3), float64
        Signed yaw, pitch and roll away from the reference pose, in degrees; NaN in folders of earlier versions.
    timeline : {"automatic", "reviewed"}
        Whether ``summary`` and ``events`` are the automatic ones or a clinician's review of them
        (``summary["review"]`` then says whose, and how far it got).
    """

    out_dir: Path
    summary: dict
    events: Events
    config: Config
    settings: dict
    t: np.ndarray
    face_found: np.ndarray
    measured: np.ndarray
    eye_closure: np.ndarray
    mouth_pull: np.ndarray
    brow_raise: np.ndarray
    head_rotation_deg: np.ndarray
    head_scale: np.ndarray
    head_pose_deg: np.ndarray
    timeline: str = "automatic"

    def __post_init__(self):
        if self.timeline not in TIMELINES:
            raise ValueError(f"Results.timeline must be one of {', '.join(TIMELINES)}, got {self.timeline!r}")
        n = len(self.t)
        for name in ("face_found", "measured", "head_rotation_deg", "head_scale"):
            if getattr(self, name).shape != (n,):
                raise ValueError(f"Results.{name} must have shape ({n},)")
        for name in ("eye_closure", "mouth_pull", "brow_raise"):
            if getattr(self, name).shape != (n, 2):
                raise ValueError(f"Results.{name} must have shape ({n}, 2)")

    @property
    def duration_s(self) -> float:
        """Length of the recording in seconds (from ``summary.json``)."""
        return float(self.summary["video"]["duration_s"])

    @property
    def measured_fraction(self) -> float:
        """Fraction of frames in which the face was measured (older folders: in which it was found)."""
        video = self.summary["video"]
        return float(video.get("measured_fraction", video["face_found_fraction"]))

    @property
    def measured_minutes(self) -> float:
        """Minutes of video in which the face was measured: the denominator of every rate per minute."""
        return self.duration_s * self.measured_fraction / 60

    @property
    def source_name(self) -> str:
        """File name of the analyzed video, or the folder name when unknown."""
        source = self.summary.get("source") or {}
        return source.get("file") or self.out_dir.name

    def region_signal(self, region: str) -> np.ndarray:
        """The signal of a region, shape (n_frames, 2), columns (left, right)."""
        return {"periocular": self.eye_closure, "perioral": self.mouth_pull, "brow": self.brow_raise}[region]

    def landmarks(self) -> Landmarks | None:
        """``landmarks.npz`` of the folder when the analysis saved it, else None."""
        path = self.out_dir / "landmarks.npz"
        return Landmarks.load(path) if path.exists() else None


def read_signals_csv(path: str | Path) -> dict[str, np.ndarray]:
    """Read ``signals.csv`` into one array per column (empty cells are NaN).

    Returns
    -------
    dict of str to ndarray, each shape (n_frames,)
        Keyed by the column names of :data:`twitchcam.outputs.SIGNAL_COLUMNS`.

    Raises
    ------
    ValueError
        If a contract column is missing.
    """
    path = Path(path)
    with open(path, encoding="utf-8") as fh:
        header = fh.readline().strip().split(",")
    missing = [c for c in SIGNAL_COLUMNS if c not in header and c not in OPTIONAL_SIGNAL_COLUMNS]
    if missing:
        raise ValueError(f"{path}: missing columns {', '.join(missing)}")
    table = np.genfromtxt(path, delimiter=",", skip_header=1, dtype=np.float64, filling_values=np.nan,
                          ndmin=2)
    if table.size == 0:
        table = np.zeros((0, len(header)))
    cols = {name: table[:, i] for i, name in enumerate(header)}
    # Folders of earlier versions have no head pose: unknown, which the pose model of the events treats as such.
    return {name: np.full(len(table), np.nan) for name in OPTIONAL_SIGNAL_COLUMNS} | cols


def read_config(path: str | Path) -> tuple[Config, dict]:
    """Read ``config.json`` leniently, so folders written by an older or newer version can still be reported.

    Returns
    -------
    config : Config
        The known settings; unknown ones are left out (with a warning), missing ones take their defaults.
    settings : dict
        The file's settings as written.
    """
    try:
        settings = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not valid JSON ({err.msg} at line {err.lineno})") from None
    if not isinstance(settings, dict):
        raise ValueError(f"{path}: settings must be a JSON object of name: value")
    known = {f.name for f in dataclasses.fields(Config)}
    unknown = sorted(set(settings) - known)
    if unknown:
        logger.warning("%s: settings of another twitchcam version ignored: %s", path, ", ".join(unknown))
    try:
        return Config.from_dict({k: v for k, v in settings.items() if k in known}), settings
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None


def has_review(out_dir: str | Path) -> bool:
    """Whether an analysis folder holds a reviewed timeline that belongs to its ``events.csv``.

    A review made before the analysis was run again (``summary_reviewed.json`` names another ``events.csv``) is
    not used, with a warning: it corrects events that no longer exist.
    """
    out = Path(out_dir)
    if not all((out / name).is_file() for name in REVIEW_FILES[1:]):
        return False
    try:
        wanted = json.loads((out / REVIEW_FILES[2]).read_text(encoding="utf-8"))["review"]["events_csv_sha256"]
    except (OSError, ValueError, KeyError, TypeError):
        logger.warning("%s: %s is unreadable; the automatic timeline is used", out, REVIEW_FILES[2])
        return False
    if hashlib.sha256((out / "events.csv").read_bytes()).hexdigest() != wanted:
        logger.warning("%s: the review was made on an earlier analysis of this folder; the automatic timeline "
                       "is used", out)
        return False
    return True


def read_results(out_dir: str | Path, reviewed: bool = True) -> Results:
    """Read an analysis folder.

    Parameters
    ----------
    out_dir : str | Path
        A folder written by ``twitchcam analyze`` (or a live session).
    reviewed : bool
        Give the clinician-reviewed timeline and summary when the folder has them (:func:`has_review`); False
        always gives the automatic ones.

    Returns
    -------
    Results

    Raises
    ------
    ValueError
        If the folder lacks one of :data:`REQUIRED_FILES` or a file breaks its contract.
    """
    out = Path(out_dir)
    if not out.is_dir():
        raise ValueError(f"{out}: no such folder")
    missing = [name for name in REQUIRED_FILES if not (out / name).exists()]
    if missing:
        raise ValueError(f"{out}: not a twitchcam analysis folder (missing {', '.join(missing)})")
    timeline = "reviewed" if reviewed and has_review(out) else "automatic"
    summary_file, events_file = (("summary_reviewed.json", "events_reviewed.csv") if timeline == "reviewed"
                                 else ("summary.json", "events.csv"))
    try:
        summary = json.loads((out / summary_file).read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{out / summary_file}: not valid JSON ({err.msg} at line {err.lineno})") from None
    if not isinstance(summary, dict) or not isinstance(summary.get("video"), dict):
        raise ValueError(f"{out / summary_file}: not a twitchcam summary")
    config, settings = read_config(out / "config.json")
    cols = read_signals_csv(out / "signals.csv")
    pair = lambda name: np.column_stack([cols[f"{name}_left"], cols[f"{name}_right"]])  # noqa: E731
    return Results(
        out_dir=out,
        summary=summary,
        events=read_events_csv(out / events_file),
        config=config,
        settings=settings,
        t=cols["t_s"],
        face_found=cols["face_found"] > 0.5,
        measured=cols["measured"] > 0.5,
        eye_closure=pair("eye_closure"),
        mouth_pull=pair("mouth_pull"),
        brow_raise=pair("brow_raise"),
        head_rotation_deg=cols["head_rotation_deg"],
        head_scale=cols["head_scale"],
        head_pose_deg=np.column_stack([cols[name] for name in OPTIONAL_SIGNAL_COLUMNS]),
        timeline=timeline,
    )
