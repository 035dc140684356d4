"""Live sessions (``twitchcam live``): follow a patient's face at camera frame rate and record a session that
cannot be lost.

Modules, in the order a frame goes through them
-----------------------------------------------
:mod:`~twitchcam.live.capture`
    :class:`~twitchcam.live.capture.CaptureSource`: frames from a camera, a network stream or a file played at its
    real pace, stamped with the monotonic clock.
:mod:`~twitchcam.live.recording`
    The crash-safe files: the Motion-JPEG ``video.avi`` and its ``video.frames.csv`` (the recorder thread), and the
    appended CSV logs.
:mod:`~twitchcam.live.analysis`
    Landmarks, the streaming core, ``events_live.csv`` (the analysis thread).
:mod:`~twitchcam.live.display`
    The window: the mirrored preview with the tracked regions, meters, flashes and counts; its keys.
:mod:`~twitchcam.live.markers`
    Clinician markers, ``markers.csv``.
:mod:`~twitchcam.live.session`
    :class:`LiveSession`: the threads and the drop policy between them, ``session.json``, the offline outputs at
    the end; :func:`run_session`.

Files in the session folder
---------------------------
``video.avi``, ``video.frames.csv``
    The raw, unmirrored video as captured and each frame's capture time (:mod:`~twitchcam.live.recording`):
    readable (``twitchcam analyze``) after a crash or a kill, which loses at most the frame being written.
``events_live.csv``
    The events as the live analysis reported them, with the ``events.csv`` header, appended and flushed as each
    becomes final (onset and offset in session seconds).
``markers.csv``
    ``t_s,wall_clock,label``: clinician markers (the space key, or a line typed on standard input), appended
    and flushed.
``session.json``
    Source, start time, the live parameters and ``"status": "running"`` from the start; on a normal stop the
    counts, drops, latencies and costs, and the status ``complete`` or ``source_lost``.
``config.json``
    The settings, from the start (``twitchcam analyze video.avi --config config.json`` after a crash).
On a normal stop (``q``, ``--duration``, end of file, Ctrl-C, a camera that disappears):
    ``events.csv``, ``summary.json``, ``signals.csv``, ``config.json`` and ``report.html``: the offline analysis
    (:func:`twitchcam.pipeline.analyze_landmarks`) of the landmarks of every analyzed frame, written by
    :func:`twitchcam.folder.finish_analysis_folder` as ``twitchcam analyze`` writes them.

Sides are the PATIENT's everywhere, the mirrored preview included (:mod:`twitchcam.live.display`).
"""

from .session import LiveSession, SessionResult, run_session

__all__ = ["LiveSession", "SessionResult", "run_session"]
