"""The analysis pipeline: video -> landmarks -> signals -> events -> pattern.

:func:`analyze` runs it on a file; :func:`analyze_landmarks` runs the numpy core on landmarks already extracted
(the accuracy benchmark, tests, and the live mode's windowed re-analysis use it), so there is one implementation.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .asymmetry import local_asymmetry
from .config import Config
from .events import Events, detect_events
from .landmarks import Landmarks
from .parallel import detect_landmarks_parallel
from .pattern import Summary, classify_pattern
from .signals import Signals, compute_signals
from .video import VideoInfo, probe_video


@dataclass(frozen=True)
class Analysis:
    """Everything one analysis produced.

    Parameters
    ----------
    source : str
        The analyzed file (or a label for landmarks that came from elsewhere).
    config : Config
        The effective settings.
    landmarks : Landmarks
    signals : Signals
    events : Events
    summary : Summary
    video : VideoInfo | None
        Container facts of the source file, None when analyzing landmarks directly.
    """

    source: str
    config: Config
    landmarks: Landmarks
    signals: Signals
    events: Events
    summary: Summary
    video: VideoInfo | None = None

    @property
    def pattern(self) -> str:
        """The classified pattern, e.g. ``"hemifacial_spasm"``."""
        return self.summary.pattern

    @property
    def side(self) -> str | None:
        """The affected side (the patient's), or None."""
        return self.summary.side


def analyze_landmarks(landmarks: Landmarks, config: Config | None = None, source: str = "",
                      video: VideoInfo | None = None) -> Analysis:
    """Run signals, events and pattern on extracted landmarks.

    Parameters
    ----------
    landmarks : Landmarks
        One row per frame, NaN where no face.
    config : Config | None
        Settings; defaults to ``Config()``.
    source : str
        A label for the result.
    video : VideoInfo | None
        Container facts, when the landmarks came from a file.

    Returns
    -------
    Analysis

    Examples
    --------
    Five twitches of the left eye, each pulling the left mouth corner with it, at irregular intervals: generated
    landmarks (:func:`twitchcam.testing.make_landmarks`), 20 s at 30 frames per second, analyzed in milliseconds.

    >>> from twitchcam.pipeline import analyze_landmarks
    >>> from twitchcam.testing import Twitch, make_landmarks
    >>> twitches = [Twitch(t, 0.2, "left", region, amplitude) for t in (2.0, 5.5, 7.0, 12.5, 14.0)
    ...             for region, amplitude in (("periocular", 0.6), ("perioral", 0.08))]
    >>> analysis = analyze_landmarks(make_landmarks(20, 30, twitches))
    >>> analysis.pattern, analysis.side
    ('hemifacial_spasm', 'left')
    >>> len(analysis.events), analysis.events.region[:2].tolist()
    (10, ['periocular', 'perioral'])
    >>> analysis.events.onset_s[analysis.events.region == "periocular"].round(2).tolist()
    [2.03, 5.53, 7.03, 12.53, 14.03]
    """
    cfg = config or Config()
    signals = compute_signals(landmarks, cfg)
    # The local asymmetry once, for the events and for how expressive the face was (the confidence).
    asymmetry = local_asymmetry(signals, cfg)
    events = detect_events(signals, cfg, asymmetry)
    summary = classify_pattern(events, signals, cfg, asymmetry)
    facts, notes = data_quality(landmarks, video, cfg)
    summary = dataclasses.replace(summary, video={**summary.video, **facts}, notes=[*summary.notes, *notes])
    return Analysis(source, cfg, landmarks, signals, events, summary, video)


#: Several faces in at least this fraction of the frames are reported in the notes.
SEVERAL_FACES_NOTE_FRAC = 0.01


def data_quality(landmarks: Landmarks, video: VideoInfo | None, config: Config) -> tuple[dict, list[str]]:
    """What the landmarks and the container tell about how much of the recording the result rests on.

    Parameters
    ----------
    landmarks : Landmarks
        Every decoded frame.
    video : VideoInfo | None
        The container's facts; None when the landmarks came from elsewhere (live chunks, tests).
    config : Config
        Uses ``min_decoded_frac``.

    Returns
    -------
    facts : dict
        Added to ``summary.json``'s ``video``: ``several_faces_fraction`` (frames with more than one face in
        view) and ``max_faces``; with a container, ``container_frames`` and ``container_duration_s`` (what the
        container announces; an estimate, None when it does not say), ``decoded_fraction`` (decoded frames over
        announced ones, at most 1) and ``complete`` (``decoded_fraction >= min_decoded_frac``, or True when the
        container announces nothing to compare with).
    notes : list of str
        Sentences for the report and ``summary.json``'s notes.
    """
    n = len(landmarks)
    several = float(np.mean(landmarks.n_faces > 1)) if n else 0.0
    facts: dict = {"several_faces_fraction": round(several, 4),
                   "max_faces": int(landmarks.n_faces.max()) if n else 0}
    notes = []
    if several >= SEVERAL_FACES_NOTE_FRAC:
        notes.append(f"Several faces were in view in {several:.0%} of frames (up to {facts['max_faces']}); the "
                     "patient is the face followed from frame to frame (the largest when first seen), and a frame "
                     "where only other faces are found is left unmeasured.")
    if video is not None:
        announced = video.n_frames_hint
        fraction = min(n / announced, 1.0) if announced > 0 else None
        facts.update(container_frames=announced or None,
                     container_duration_s=round(announced / video.fps_nominal, 3)
                     if announced > 0 and video.fps_nominal > 0 else None,
                     decoded_fraction=None if fraction is None else round(fraction, 4),
                     complete=fraction is None or fraction >= config.min_decoded_frac)
        if not facts["complete"]:
            length = f"{facts['container_duration_s']:.1f} s " if facts["container_duration_s"] else ""
            notes.append(f"INCOMPLETE: only {fraction:.0%} of the {length}recording could be decoded ({n} of "
                         f"{announced} frames; the file is truncated or damaged). Everything here describes the "
                         "decoded part only.")
    return facts, notes


def analyze(path: str | Path, config: Config | None = None, model: str | Path | None = None,
            progress: bool | Callable[[int, int], None] = False, workers: int = 1) -> Analysis:
    """Analyze a video file of a patient's face.

    Parameters
    ----------
    path : str | Path
        A video file OpenCV/FFmpeg can decode (mp4, mov, avi, webm, mkv ...).
    config : Config | None
        Settings; defaults to ``Config()``.
    model : str | Path | None
        Face Landmarker bundle; defaults to the bundled model (see :func:`twitchcam.landmarker.find_model`).
    progress : bool | callable
        True shows a progress bar on stderr; a callable is called as ``progress(done_frames, total_frames_hint)``.
    workers : int
        Worker processes for the landmarks of a long video: with more than one, a video longer than
        ``2 * twitchcam.parallel.MIN_SEGMENT_S`` is cut in time segments analyzed side by side and joined into one
        timeline (:func:`twitchcam.parallel.detect_landmarks_parallel`; the landmarks, and so every result, are
        identical to a sequential read). One (the default) reads the video in this process, which is what a
        caller that runs analyses in its own worker processes wants.

    Returns
    -------
    Analysis

    Raises
    ------
    twitchcam.video.VideoError
        The file is missing, not a video, or has no decodable frame.
    twitchcam.landmarker.ModelError
        The model is missing or corrupt.

    Examples
    --------
    The bundled sample video, a real face with a simulated left hemifacial spasm (paths as in a clone of the
    repository; :func:`twitchcam.folder.write_analysis` then writes the analysis folder):

    >>> from twitchcam.pipeline import analyze
    >>> analysis = analyze("sample_videos/hfs_left.mp4")
    >>> print(analysis.summary.finding)
    Pattern consistent with left hemifacial spasm.
    >>> analysis.pattern, analysis.side, analysis.summary.video["duration_s"]
    ('hemifacial_spasm', 'left', 24.0)
    >>> [int((analysis.events.side == side).sum()) for side in ("left", "right", "bilateral")]
    [16, 0, 5]
    """
    cfg = config or Config()
    info = probe_video(path)
    bar = None
    if progress is True:
        from tqdm import tqdm

        bar = tqdm(total=info.n_frames_hint or None, unit="frame", desc=Path(path).name, leave=False)

    def on_progress(done: int) -> None:
        # A split video's count includes the warm-up frames before each seam: never report past the total.
        done = min(done, info.n_frames_hint) if info.n_frames_hint else done
        if bar is not None:
            bar.update(done - bar.n)
        else:
            progress(done, info.n_frames_hint)

    try:
        landmarks = detect_landmarks_parallel(path, workers, cfg, model, on_progress=on_progress if progress else None,
                                              info=info)
    finally:
        if bar is not None:
            bar.close()
    return analyze_landmarks(landmarks, cfg, source=str(path), video=info)
