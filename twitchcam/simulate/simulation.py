"""The simulation: a video with known twitches made from real face footage, and its truth.

:func:`simulate` is the entry point: it loads the footage (:mod:`.footage`), plans the course
(:mod:`twitchcam.courses`), drives the warp of every output frame by it (:class:`Drive`, :mod:`.warp`) with head
motion on top (:mod:`.head_motion`), and writes the video and the truth folder in the analysis' own schema.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import __version__
from ..config import Config, check_option
from ..courses import (
    EXPECTED_PATTERN,
    GENERATORS,
    LATERALIZED,
    blink_course,
    check_course,
    make_course,
    trace_course,
)
from ..events import Events
from ..folder import write_events_csv, write_json
from ..regions import SIDES
from ..video import VideoWriter
from .footage import Footage, footage_closures, load_footage
from .head_motion import SWAY_STRENGTH, HeadMotion
from .warp import FaceFrame, warp_face

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Drive:
    """How far each movement has gone in each output frame: what the warp of a frame needs.

    Parameters
    ----------
    t : ndarray, shape (n_frames,)
        Time, s.
    eye : ndarray, shape (n_frames, 2)
        Eye closure of (left, right), 0-1.
    squeeze : ndarray, shape (n_frames, 2)
        Orbicularis contraction beyond a blink (cheek lift) of (left, right), 0-1.
    mouth : ndarray, shape (n_frames, 2)
        Mouth-corner pull of (left, right), iod.
    brow : ndarray, shape (n_frames, 2)
        Brow raise of (left, right), iod.
    """

    t: np.ndarray
    eye: np.ndarray
    squeeze: np.ndarray
    mouth: np.ndarray
    brow: np.ndarray

    def active(self) -> np.ndarray:
        """Frames where anything moves, shape (n_frames,), bool."""
        moving = np.concatenate([self.eye, self.squeeze, self.mouth, self.brow], axis=1)
        return (moving > 1e-3).any(axis=1)

    @classmethod
    def from_events(cls, events: Events, t: np.ndarray) -> Drive:
        """Sum up planned events (the largest wins where two of one side and region overlap)."""
        n = len(t)
        out = {name: np.zeros((n, 2)) for name in ("eye", "squeeze", "mouth", "brow")}
        if len(events):
            shape = trace_course(events, t)
            for i in range(len(events)):
                cols = [0, 1] if events.side[i] == "bilateral" else [SIDES.index(events.side[i])]
                names = {"periocular": ["eye"] if events.kind[i] == "blink" else ["eye", "squeeze"],
                         "perioral": ["mouth"], "brow": ["brow"]}[events.region[i]]
                for name in names:
                    out[name][:, cols] = np.maximum(out[name][:, cols], shape[i][:, None])
        return cls(np.asarray(t, float), **out)


@dataclass(frozen=True)
class SimulationResult:
    """What :func:`simulate` wrote.

    Parameters
    ----------
    video : Path
        The simulated video.
    truth_dir : Path
        Folder holding ``events.csv`` and ``summary.json`` of the planned movements.
    events : Events
        The truth: every planned movement (onset and offset at half maximum).
    pattern : str
        The pattern an analysis should find (:data:`twitchcam.courses.EXPECTED_PATTERN`).
    side : str | None
        The affected side for one-sided patterns, else None.
    summary : dict
        The ``summary.json`` document.
    """

    video: Path
    truth_dir: Path
    events: Events
    pattern: str
    side: str | None
    summary: dict


def render(footage: Footage, drive: Drive, path: str | Path, fps: float, motion: HeadMotion | None = None) -> None:
    """Write the simulated video: each output frame is its source frame, warped by the drive and the head motion.

    Parameters
    ----------
    footage : Footage
    drive : Drive
        One row per output frame; output frame ``k`` is shown at ``drive.t[k]``.
    path : str | Path
        Output video (``.mp4``, ``.webm`` or ``.avi``, see :class:`twitchcam.video.VideoWriter`).
    fps : float
        Frame rate stored in the container.
    motion : HeadMotion | None
        Head motion added on top of the source's own.
    """
    index = footage.frame_index(drive.t)
    active = drive.active()
    with VideoWriter(path, fps, footage.size) as writer:
        for k, i in enumerate(index):
            image, xyz = footage.images[i], footage.xyz[i]
            if not np.isfinite(xyz).all():
                # No face was found in this source frame: nothing to warp, shown as it is.
                writer.write(image)
                continue
            homography = None
            if motion is not None:
                face = FaceFrame.from_landmarks(xyz)
                homography = motion.homography(k, xyz[:, :2].mean(axis=0), face.iod)
            if active[k] or homography is not None:
                image = warp_face(image, xyz, eye=drive.eye[k], mouth=drive.mouth[k], brow=drive.brow[k],
                                  squeeze=drive.squeeze[k], homography=homography)
            writer.write(image)


def default_name(generator: str, side: str) -> str:
    """File stem of a simulation: ``hfs_left``, ``normal``."""
    return f"{generator}_{side}" if generator in LATERALIZED else generator


def simulate(source: str | Path, out_dir: str | Path, *, generator: str = "hfs", side: str = "left",
             duration_s: float = 30.0, seed: int = 0, amplitude: float = 1.0, fps: float | None = None,
             events: Events | None = None, blinks: bool | None = None, name: str | None = None,
             config: Config | None = None, stretch: str = "rest") -> SimulationResult:
    """Make a video with known twitches from real face footage, and its truth.

    Writes ``<out_dir>/<name>.mp4`` and the truth folder ``<out_dir>/<name>_truth/`` with ``events.csv`` and
    ``summary.json`` in the analysis schema (see :mod:`twitchcam.folder`).

    Parameters
    ----------
    source : str | Path
        A face photo (animated with slow head motion) or a video of any length: its longest stretch at rest, or all
        of it (``stretch``), played forward and backward as often as ``duration_s`` needs.
    out_dir : str | Path
        Output folder (created).
    generator : str
        Course of events, one of :data:`twitchcam.courses.GENERATORS`; its expected pattern is
        :data:`~twitchcam.courses.EXPECTED_PATTERN`.
    side : {"left", "right"}
        The patient's affected side, for the one-sided generators.
    duration_s : float
        Length of the video, s.
    seed : int
        Random seed of the course and the head motion; the same arguments give the same video and truth.
    amplitude : float
        Scale of the twitches' peaks (e.g. 0.35 for a mild HFS closing the eye about 30 %).
    fps : float | None
        Output frame rate; by default the source video's with ``stretch="whole"`` (each source frame shown once,
        as filmed), else 30.
    events : Events | None
        A course of your own instead of the generator's (checked with :func:`~twitchcam.courses.check_course`;
        with ``blinks``, natural blinks are added around it). ``generator`` still names the expected pattern.
    blinks : bool | None
        Add natural blinks; by default yes, except with ``stretch="whole"``, whose footage has blinks of its own.
    name : str | None
        File stem; defaults to :func:`default_name`.
    config : Config | None
        Landmark settings.
    stretch : {"rest", "whole"}
        Animate a video's longest stretch at rest (only the planned movements move: a clean test), or the whole
        video with its own talking, blinks, expressions and head turns (the real-face test; see
        :func:`.footage.load_footage`); the generator's twitches then keep clear of the footage's own eye closures
        (:func:`.footage.footage_closures`). Ignored for a photo.

    Returns
    -------
    SimulationResult

    Raises
    ------
    ValueError
        An unknown option, no face in the source, no stretch at rest in a source video, or a course the warp
        cannot render.
    twitchcam.video.VideoError
        The source cannot be read.

    Examples
    --------
    Six seconds of a left hemifacial spasm on the portrait bundled with the tests (run from the repository):

    >>> import tempfile
    >>> from twitchcam.simulate import simulate
    >>> result = simulate("tests/data/single_face.jpg", tempfile.mkdtemp(), generator="hfs", side="left",
    ...                   duration_s=6.0, seed=0)
    >>> result.pattern, result.side, result.video.name
    ('hemifacial_spasm', 'left', 'hfs_left.mp4')
    >>> sorted(path.name for path in result.truth_dir.iterdir())
    ['events.csv', 'summary.json']

    The truth is the course in the analysis' schema: here a clonic twitch of the left eye and a natural blink.

    >>> for row in zip(result.events.onset_s.round(2), result.events.side, result.events.region,
    ...                result.events.kind):
    ...     print(*row)
    0.77 left periocular clonic
    5.17 bilateral periocular blink
    >>> result.summary["video"]["frames"], result.summary["video"]["fps"]
    (180, 30.0)
    """
    check_option("generator", generator, GENERATORS)
    check_option("side", side, SIDES)
    if duration_s <= 0 or (fps is not None and fps <= 0):
        raise ValueError("duration_s and fps must be > 0")
    if events is not None:
        check_course(events)
    footage = load_footage(source, config, stretch)
    whole = stretch == "whole" and not footage.is_photo
    fps = fps or (footage.fps if whole else 30.0)
    blinks = not whole if blinks is None else blinks
    if events is None:
        t = np.arange(int(round(duration_s * fps))) / fps
        avoid = footage_closures(footage, t) if whole else None
        course = make_course(generator, duration_s, side, seed, amplitude, blinks, avoid=avoid)
    else:
        rng = np.random.default_rng(seed)
        course = Events.concatenate([events, blink_course(duration_s, rng, avoid=events)]) if blinks else events
    t = np.arange(int(round(duration_s * fps))) / fps
    # Head motion draws from its own stream so that the course of a seed does not depend on the source.
    motion_rng = np.random.default_rng([seed, 1])
    strength = (SWAY_STRENGTH if generator == "sway" else 0.0) + (1.0 if footage.is_photo else 0.0)
    motion = HeadMotion.random(t, motion_rng, strength) if strength > 0 else None

    out_dir = Path(out_dir)
    name = name or default_name(generator, side)
    video = out_dir / f"{name}.mp4"
    truth_dir = out_dir / f"{name}_truth"
    render(footage, Drive.from_events(course, t), video, fps, motion)

    pattern = EXPECTED_PATTERN[generator]
    out_side = side if generator in LATERALIZED else None
    summary = {
        "pattern": pattern,
        "side": out_side,
        "generator": generator,
        "seed": int(seed),
        # The file's name and digest identify the footage without recording where it sits on this machine.
        "source": Path(source).name,
        "source_sha256": hashlib.sha256(Path(source).read_bytes()).hexdigest(),
        "source_stretch": "whole" if whole else "rest",
        "source_stretch_s": [round(v, 3) for v in footage.stretch_s],
        "amplitude": float(amplitude),
        "head_motion_strength": strength,
        "events_per_minute": {s: round(float(np.sum(course.side == s)) / (duration_s / 60), 3)
                              for s in ("left", "right", "bilateral")},
        "video": {"duration_s": round(len(t) / fps, 3), "frames": len(t), "fps": float(fps),
                  "face_found_fraction": 1.0, "frame_size": list(footage.size)},
        "truth": "planned movements; onset_s and offset_s at half maximum; peak as requested",
        "twitchcam_version": __version__,
    }
    write_events_csv(course, truth_dir / "events.csv")
    write_json(summary, truth_dir / "summary.json")
    logger.info("%s: %d truth events, pattern %s", video, len(course), pattern)
    return SimulationResult(video, truth_dir, course, pattern, out_side, summary)
