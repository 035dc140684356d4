"""The analysis folder: the files an analysis writes, and the same files read back. This is a contract other
tools read; see the README.

- ``events.csv``: header exactly ``onset_s,offset_s,side,region,kind,peak,score``, one row per event, sorted by
  onset (files without the ``score`` column, from earlier versions, are still read).
- ``summary.json``: pattern, side, criteria, metrics, video facts (schema: ``twitchcam/schemas/summary.schema.json``).
- ``signals.csv``: one row per frame: time, face found, and each side's signals.
- ``config.json``: the effective :class:`~twitchcam.config.Config`.
- ``landmarks.npz``, when the analysis saved it: the landmarks, read back by :meth:`Results.landmarks`.

:func:`write_analysis` writes the four files, and :func:`finish_analysis_folder` adds what is made from them (the
annotated video, the timeline exports, ``report.html``), the one way ``analyze``, ``batch``, the web app and
``live`` all do. Every file is written to a temporary name and renamed into place, so a crash never leaves a
half-written output.

:func:`read_results` reads a folder back as :class:`Results`: what the report, the exports, the annotated video and
the comparison start from, so everything downstream works the same whether the analysis ran a minute ago, on another
machine, or in a live session that writes the same files. When a clinician has reviewed the analysis
(:mod:`twitchcam.review`), the folder also holds ``events_reviewed.csv`` and ``summary_reviewed.json``;
:func:`read_results` then gives the reviewed timeline and summary (``Results.timeline == "reviewed"``), so the
report, the exports and the cohort use what the clinician signed. ``reviewed=False`` reads the automatic ones.

Sides are the PATIENT's; times are presentation times in seconds, as in the files. Nothing here needs OpenCV or
MediaPipe: a folder is written, read and reported on from numpy arrays and files alone.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from . import __version__
from .config import Config, check_option
from .events import CSV_COLUMNS, LEGACY_CSV_COLUMNS, Events
from .landmarks import Landmarks
from .signals import SIGNAL_NAMES, Signals, robust_noise

if TYPE_CHECKING:  # pipeline reads video with OpenCV; writing and reading the files must not need it
    from .pipeline import Analysis

logger = logging.getLogger(__name__)

#: The files an analysis folder must hold.
REQUIRED_FILES = ("summary.json", "events.csv", "signals.csv", "config.json")

#: The files of a clinician's review (:mod:`twitchcam.review_files`): the record, the reviewed timeline, its summary.
REVIEW_FILES = ("review.json", "events_reviewed.csv", "summary_reviewed.json")

#: Where an events table comes from.
TIMELINES = ("automatic", "reviewed")

SIGNAL_COLUMNS = ("t_s", "face_found", "measured",
                  *(f"{name}_{side}" for name in (*SIGNAL_NAMES, "eye_opening") for side in ("left", "right")),
                  "head_rotation_deg", "head_scale", "head_yaw_deg", "head_pitch_deg", "head_roll_deg")
#: Columns added after the first release: a ``signals.csv`` without them is still read (as NaN).
OPTIONAL_SIGNAL_COLUMNS = ("head_yaw_deg", "head_pitch_deg", "head_roll_deg")


def write_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and an atomic rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8", newline="") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def prepare_output_dir(path: str | Path) -> Path:
    """Create an output folder (and its parents) and check that files can be written in it, before any work.

    Parameters
    ----------
    path : str | Path
        The folder; it may exist already.

    Returns
    -------
    Path

    Raises
    ------
    OSError
        One line naming the folder and why it cannot hold results (a file in the way, no permission, a
        read-only or virtual file system such as ``/proc``).
    """
    out = Path(path)
    try:
        if out.exists() and not out.is_dir():
            raise FileExistsError(0, "a file is in the way, not a folder")
        out.mkdir(parents=True, exist_ok=True)
        # Permission bits do not tell about read-only mounts or /proc: only writing does.
        probe = out / f".twitchcam-write-check-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        reason = err.strerror or str(err)
        raise OSError(f"{out}: cannot write results there ({reason.lower()})") from None
    return out


def format_events_csv(events: Events) -> str:
    """Render events as CSV text with the contract header; times to the millisecond, peaks and scores to 4
    decimals, an unknown score empty.
    """
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for i in range(len(events)):
        score = f"{events.score[i]:.4f}" if np.isfinite(events.score[i]) else ""
        writer.writerow([f"{events.onset_s[i]:.3f}", f"{events.offset_s[i]:.3f}", events.side[i], events.region[i],
                         events.kind[i], f"{events.peak[i]:.4f}", score])
    return buf.getvalue()


def write_events_csv(events: Events, path: str | Path) -> None:
    """Write ``events.csv`` (see module docstring)."""
    write_atomic(path, format_events_csv(events))


def read_events_csv(path: str | Path) -> Events:
    """Read an ``events.csv`` written by twitchcam (or a truth file in the same schema).

    Files of earlier versions, without the ``score`` column, are read with every score unknown (NaN).

    Raises
    ------
    ValueError
        If the header is not the contract header.
    """
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = tuple(next(reader, ()))
        if header not in (CSV_COLUMNS, LEGACY_CSV_COLUMNS):
            raise ValueError(f"{path}: header must be {','.join(CSV_COLUMNS)}, got {','.join(header)}")
        rows = [row for row in reader if row]
    cols = list(zip(*rows)) if rows else [[]] * len(header)
    score = np.asarray([float(v) if v else np.nan for v in cols[6]]) if len(header) == len(CSV_COLUMNS) else None
    return Events.from_columns(np.asarray(cols[0], float), np.asarray(cols[1], float), cols[2], cols[3], cols[4],
                               np.asarray(cols[5], float), score=score)


def write_json(data: dict, path: str | Path) -> None:
    """Write a JSON document, indented, with NaN turned into null."""
    write_atomic(path, json.dumps(_jsonable(data), indent=2) + "\n")


def _jsonable(value):
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.floating, float)):
        return None if not np.isfinite(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def summary_document(analysis: Analysis) -> dict:
    """The ``summary.json`` document of an analysis: the contract keys plus provenance."""
    doc = analysis.summary.to_dict()
    doc["source"] = {"file": Path(analysis.source).name if analysis.source else None,
                     "rotation_deg": analysis.video.rotation_deg if analysis.video else None,
                     "frame_size": list(analysis.landmarks.frame_size)}
    doc["twitchcam_version"] = __version__
    return doc


def format_signals_csv(signals: Signals) -> str:
    """Render per-frame signals as CSV text (columns: :data:`SIGNAL_COLUMNS`; NaN written as empty)."""
    table = np.column_stack([
        signals.t, signals.face_found, signals.measured,
        signals.eye_closure, signals.mouth_pull, signals.brow_raise, signals.eye_opening,
        signals.head_rotation_deg, signals.head_scale, signals.head_pose_deg,
    ])
    buf = io.StringIO()
    np.savetxt(buf, table, fmt=["%.4f", "%d", "%d"] + ["%.5f"] * (table.shape[1] - 3), delimiter=",",
               header=",".join(SIGNAL_COLUMNS), comments="")
    return buf.getvalue().replace("nan", "")


def write_analysis(analysis: Analysis, out_dir: str | Path) -> Path:
    """Write ``events.csv``, ``summary.json``, ``signals.csv`` and ``config.json`` into ``out_dir``.

    Returns
    -------
    Path
        The output folder.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_atomic(out / "signals.csv", format_signals_csv(analysis.signals))
    write_json(analysis.config.to_dict(), out / "config.json")
    write_events_csv(analysis.events, out / "events.csv")
    write_json(summary_document(analysis), out / "summary.json")
    return out


def finish_analysis_folder(analysis: Analysis | None, out_dir: str | Path, *, video: str | Path | None = None,
                           annotate: bool = False, exports: tuple[str, ...] | None = None, report: bool = True,
                           landmarks=None, model: str | Path | None = None, annotate_progress=None,
                           raise_extras: bool = True) -> list[Path]:
    """Finish an analysis folder the one way ``analyze``, ``batch``, the web app and ``live`` all do.

    Writes the analysis files (:func:`write_analysis`), then what is made from them: the annotated video, the
    timeline exports and ``report.html``, in that order (the report shows the video and links the exports).

    Parameters
    ----------
    analysis : Analysis | None
        The analysis to write; None finishes a folder whose analysis files are written already (``twitchcam
        report``).
    out_dir : str | Path
        The folder.
    video : str | Path | None
        The analyzed video, for the annotated video and the exports' reference to it.
    annotate : bool
        Write ``annotated.webm`` (needs ``video``).
    exports : tuple of str | None
        Timeline formats (:data:`twitchcam.exports.FORMATS`); None or empty writes none.
    report : bool
        Render ``report.html``.
    landmarks : Landmarks | None
        The analysis' landmarks, so the annotated video needs no second landmark pass.
    model : str | Path | None
        Face Landmarker bundle for an annotated video without ``landmarks``.
    annotate_progress : callable | None
        Called as ``annotate_progress(done_frames, total_frames_hint)`` while annotating.
    raise_extras : bool
        Raise when the annotated video, an export or the report fails. False where the analysis files are what
        matters and the rest can be made later with ``twitchcam report`` (the web app, a live session): each
        failure is then logged in one line with that remedy.

    Returns
    -------
    list of Path
        The files made from the analysis (not the analysis files themselves).
    """
    out = Path(out_dir)
    if analysis is not None:
        write_analysis(analysis, out)
    written: list[Path] = []

    def extra(what: str, make) -> None:
        try:
            made = make()
        except Exception as err:
            if raise_extras:
                raise
            # One line: the user needs the fact and the remedy, not a traceback.
            logger.error("%s: %s could not be written (%s); run 'twitchcam report %s'", out, what,
                         str(err) or type(err).__name__, out)
            return
        written.extend(made if isinstance(made, list) else [made])

    if video is not None and annotate:
        from .annotate import annotate_video

        extra("annotated video",
              lambda: annotate_video(video, out, landmarks=landmarks, model=model, progress=annotate_progress))
    if exports:
        from .exports import write_exports

        extra("the exports", lambda: write_exports(out, exports, video=video))
    if report:
        from .report import render_report

        extra("report.html", lambda: render_report(out))
    return written


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
        check_option("Results.timeline", self.timeline, TIMELINES)
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

    def signals(self) -> Signals:
        """The :class:`~twitchcam.signals.Signals` of the folder, as the detector and the pattern take them.

        The noise of each signal is measured again from ``signals.csv``, as :func:`~twitchcam.signals.compute_signals`
        measures it (:func:`~twitchcam.signals.robust_noise`); the file's five decimals change it by far less than
        the thresholds it raises. The folder keeps no eye opening for the detector: it is NaN.
        """
        iod = (self.summary.get("video") or {}).get("iod_px")
        pairs = dict(zip(SIGNAL_NAMES, (self.eye_closure, self.mouth_pull, self.brow_raise)))
        return Signals(t=self.t, face_found=self.face_found, measured=self.measured, **pairs,
                       eye_opening=np.full((len(self.t), 2), np.nan), head_rotation_deg=self.head_rotation_deg,
                       head_scale=self.head_scale, noise={name: robust_noise(x) for name, x in pairs.items()},
                       iod_px=float(iod) if iod is not None else float("nan"), head_pose_deg=self.head_pose_deg)

    def landmarks(self) -> Landmarks | None:
        """``landmarks.npz`` of the folder when the analysis saved it, else None."""
        path = self.out_dir / "landmarks.npz"
        return Landmarks.load(path) if path.exists() else None


def read_signals_csv(path: str | Path) -> dict[str, np.ndarray]:
    """Read ``signals.csv`` into one array per column (empty cells are NaN).

    Returns
    -------
    dict of str to ndarray, each shape (n_frames,)
        Keyed by the column names of :data:`SIGNAL_COLUMNS`.

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


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file, hex: what ties a review to the ``events.csv`` it was made on."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


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
    if file_sha256(out / "events.csv") != wanted:
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
