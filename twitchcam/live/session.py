"""A live session's wiring: its threads, the drop policy between them, markers, ``session.json``, and the offline
outputs at the end.

Threads
-------
``twitchcam-capture``
    Iterates a :class:`~twitchcam.live.capture.CaptureSource`, which stamps each frame with the monotonic clock
    when it is captured (session time ``t`` = seconds since the first frame). Hands every frame to the recorder
    and to the analysis and never waits for either.
``twitchcam-recorder``
    :class:`~twitchcam.live.recording.Recorder`: appends each frame to ``video.avi`` and its capture time to
    ``video.frames.csv``.
``twitchcam-analysis``
    :class:`~twitchcam.live.analysis.LiveAnalysis`: landmarks of each frame, then the offline core run
    incrementally on chunks of ``chunk_s`` seconds; events are appended to ``events_live.csv`` as they become
    final.
the caller's thread
    Draws the window (:mod:`twitchcam.live.display`) and reads the keys, or just waits with ``--no-window``.

Drop policy
-----------
The analysis takes frames from a queue of at most ``analysis_queue_s`` seconds of frames. When a frame is captured
while that queue is full, the OLDEST waiting frame is discarded: the analysis stays current, its latency stays
bounded (by ``analysis_queue_s``), and what it skips is counted (``frames_dropped``: on screen, in
``session.json``, in the closing line). A dropped frame is absent from the analysis (a gap in time, not a NaN
row) but present in the recording. The recording comes first: while the recorder's queue (``record_queue_s`` seconds
of frames) is half full, new frames skip the analysis (counted as dropped) to leave it the CPU; only a recorder
behind by the whole queue leaves frames out of the recording, counted apart (``frames_not_recorded``). The window
comes last: while the analysis queue is half full it is redrawn at most 12 times a second. A file played without
``realtime`` is a replay, not a capture: nothing is dropped, reading waits for the analysis.

``session.json``
----------------
Source, start time, every parameter that shapes ``events_live.csv`` besides ``config.json`` (``parameters``), and
``"status": "running"`` from the start; on a normal stop the counts, drops, latencies and costs, and the status
``complete`` or ``source_lost``.
"""

from __future__ import annotations

import collections
import datetime
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import __version__
from ..config import Config
from ..events import Events
from ..folder import finish_analysis_folder, format_events_csv, write_json
from ..landmarker import LandmarkDetector, inference_threads
from ..pipeline import Analysis, analyze_landmarks
from ..stream import StreamingAnalyzer
from .analysis import EVENTS_LIVE_NAME, LiveAnalysis
from .capture import Captured, CaptureSource
from .display import show_window
from .markers import MARKERS_NAME, MarkerLog
from .recording import FRAMES_NAME, VIDEO_NAME, AppendedCSV, Recorder

SESSION_NAME = "session.json"

_END = object()


class NewestQueue:
    """A bounded queue that, when full, discards its oldest item to take a new one (or waits, if lossless).

    Parameters
    ----------
    maxlen : int
        Items it holds.
    lossless : bool
        Wait for room instead of discarding.
    """

    def __init__(self, maxlen: int, lossless: bool):
        self._items: collections.deque = collections.deque()
        self._maxlen = maxlen
        self._lossless = lossless
        self._cond = threading.Condition()

    @property
    def maxlen(self) -> int:
        """Items it holds."""
        return self._maxlen

    def put(self, item, stop: threading.Event | None = None) -> bool:
        """Add an item; return True if an older one was discarded to make room."""
        with self._cond:
            if self._lossless:
                while len(self._items) >= self._maxlen and not (stop is not None and stop.is_set()):
                    self._cond.wait(0.1)
            dropped = len(self._items) >= self._maxlen
            if dropped:
                self._items.popleft()
            self._items.append(item)
            self._cond.notify_all()
            return dropped

    def fill(self) -> float:
        """How full the queue is, 0 to 1."""
        with self._cond:
            return len(self._items) / self._maxlen

    def close(self) -> None:
        """Let the consumer finish what is queued, then see the end."""
        with self._cond:
            self._items.append(_END)
            self._cond.notify_all()

    def get(self):
        """The oldest item, waiting for one; None once :meth:`close` was called and the queue is empty."""
        with self._cond:
            while not self._items:
                self._cond.wait()
            item = self._items.popleft()
            self._cond.notify_all()
            return None if item is _END else item


def _percentiles_ms(values: list[float]) -> dict | None:
    if not values:
        return None
    v = np.asarray(values) * 1000
    return {"median": round(float(np.median(v)), 1), "p95": round(float(np.percentile(v, 95)), 1),
            "max": round(float(v.max()), 1), "n": int(len(v))}


@dataclass(frozen=True)
class SessionResult:
    """What a finished session did.

    Parameters
    ----------
    out_dir : Path
        The session folder.
    status : str
        ``complete`` or ``source_lost`` (a camera or stream that disappeared; everything so far is kept).
    ended_by : str
        Why it ended, in words (``end of file``, ``duration reached``, ``stopped by the user``,
        ``camera 0 disconnected`` ...).
    duration_s : float
        Session time of the last captured frame.
    events : Events
        The events as reported live.
    analysis : Analysis | None
        The offline analysis of the session's landmarks (None if no frame was analyzed).
    stats : dict
        Counts, drops, latencies and costs, as in ``session.json``.
    """

    out_dir: Path
    status: str
    ended_by: str
    duration_s: float
    events: Events
    analysis: Analysis | None
    stats: dict = field(default_factory=dict)


class LiveSession:
    """Capture, analyze, show and record one session.

    Parameters
    ----------
    source : int | str | Path
        Camera index, stream URL or video file (see :class:`~twitchcam.live.capture.CaptureSource`).
    out_dir : str | Path
        The session folder (created).
    config : Config | None
        Settings, the same as for ``twitchcam analyze``.
    realtime : bool
        Play a file at its real pace, as a camera.
    duration_s : float | None
        Stop after this many seconds of session time.
    model : str | Path | None
        Face Landmarker bundle.
    chunk_s : float
        Landmarks are handed to the streaming core in chunks of this many seconds. Its per-call cost is mostly
        fixed: on real footage at 30 fps it is ~180 us per frame in 8-frame chunks and ~90 us in 12-frame ones
        (``benchmarks/live.py --core``). Meters lag by up to a chunk; the drawn regions and the preview do not.
    analysis_queue_s : float
        Seconds of frames (at the source's nominal rate) that may wait for the analysis before the oldest is
        dropped: room for the landmark model's slow moments on a busy computer. The window does not wait for
        the analysis, so this adds no display latency.
    record_queue_s : float
        Seconds of frames that may wait for the disk.
    size : tuple of int | None
        ``(width, height)`` to request from a camera.
    warmup_s : float
        Seconds of face before the streaming analysis starts (see :class:`twitchcam.stream.StreamingAnalyzer`).
    overlay_max_lag_s : float
        The window draws the tracked regions of the newest analyzed frame over the newest captured one only if
        the two are at most this far apart.
    on_event : callable | None
        Called from the analysis thread with each new :class:`~twitchcam.events.Events` table.

    Attributes
    ----------
    source : CaptureSource
        Where the frames come from.
    analysis : LiveAnalysis
        The analysis thread's work, and what it has found so far.
    recorder : Recorder
        The recorder thread's work.
    markers : MarkerLog
        ``markers.csv``.
    parameters : dict
        What shapes ``events_live.csv`` and the drop policy besides ``config.json``, as in ``session.json``: every
        argument above but ``source`` and ``realtime`` (recorded beside it), ``out_dir``, ``config`` and
        ``on_event``; the model file and how many models run, the streaming core's own settings, the source's loss
        timeout, and whether the window was shown.
    """

    def __init__(self, source, out_dir, config: Config | None = None, *, realtime: bool = False,
                 duration_s: float | None = None, model=None, chunk_s: float = 0.4, analysis_queue_s: float = 0.5,
                 record_queue_s: float = 2.0, size: tuple[int, int] | None = None, warmup_s: float = 2.0,
                 overlay_max_lag_s: float = 0.25, on_event: Callable[[Events], None] | None = None):
        self.config = config or Config()
        self.out = Path(out_dir)
        self.duration_s = duration_s
        self.overlay_max_lag_s = overlay_max_lag_s
        for name in (VIDEO_NAME, FRAMES_NAME, EVENTS_LIVE_NAME, MARKERS_NAME, "events.csv", "summary.json",
                     "signals.csv", "config.json"):
            if (self.out / name).exists():
                raise FileExistsError(f"{self.out / name} exists; choose a new --out folder for each session")
        # IMAGE mode treats frames independently, so like twitchcam analyze it runs one landmark model per core
        # (twitchcam.landmarker.inference_threads) on successive frames; the patient is chosen in frame order.
        detectors = [LandmarkDetector(self.config, model) for _ in range(inference_threads(self.config))]
        try:
            # Opened once the models are loaded: a camera or stream opened earlier would hand over the frames it
            # buffered meanwhile in a burst, all stamped at the moment they are read.
            self.source = CaptureSource(source, realtime=realtime, size=size)
        except BaseException:
            for detector in detectors:
                detector.close()
            raise
        self.lossless = self.source.kind == "file" and not realtime
        core = StreamingAnalyzer(self.config, warmup_s=warmup_s)
        self.parameters = {"duration_s": duration_s, "chunk_s": chunk_s, "analysis_queue_s": analysis_queue_s,
                           "record_queue_s": record_queue_s, "size": list(size) if size else None,
                           "warmup_s": warmup_s, "overlay_max_lag_s": overlay_max_lag_s,
                           "model": str(detectors[0].model_path), "landmark_models": len(detectors),
                           "history_s": core.history_s, "detect_every_s": core.detect_every_s,
                           "noise_every_s": core.noise_every_s, "detect_window_s": core.detect_window_s,
                           "lost_after_s": self.source.lost_after_s,
                           "window": False}
        self.out.mkdir(parents=True, exist_ok=True)
        fps = self.source.fps_nominal or 30.0
        self._events_log = AppendedCSV(self.out / EVENTS_LIVE_NAME, format_events_csv(Events.empty()))
        self.analysis = LiveAnalysis(self.config, detectors, core, self._events_log, chunk_s=chunk_s,
                                     clock=None if self.lossless else self.source, on_event=on_event)
        self.recorder = Recorder(self.out, fps, 0 if self.lossless else max(int(record_queue_s * fps), 1))
        self._analysis_q = NewestQueue(max(int(round(analysis_queue_s * fps)), 1), self.lossless)
        self._stop = threading.Event()
        self._recording = threading.Event()
        self._recording.set()
        self._threads: dict[str, threading.Thread] = {}
        self._errors: list[BaseException] = []
        self.stop_reason: str | None = None
        # Counters of the capture thread.
        self.n_captured = 0
        self.n_dropped = 0
        self.n_not_recorded = 0  # left out for a full recorder queue; the recorder counts its own
        self.last_t = 0.0
        self.frame_size: tuple[int, int] | None = None
        self._display_latency: list[float] = []
        self._newest: Captured | None = None  # the newest captured frame, for the window
        self._newest_cond = threading.Condition()
        self._started_wall = datetime.datetime.now().astimezone()
        self.markers = MarkerLog(self.out, self.source)
        self._write_session("running")
        # Now rather than at the end, so that after a crash the recording can be analyzed with the same settings.
        write_json(self.config.to_dict(), self.out / "config.json")

    def _write_session(self, status: str, stats: dict | None = None) -> None:
        doc = {"status": status, "source": self.source.label, "source_kind": self.source.kind,
               "realtime": self.source.realtime, "started": self._started_wall.isoformat(timespec="seconds"),
               "fps_nominal": self.source.fps_nominal, "twitchcam_version": __version__,
               "parameters": self.parameters,
               "files": {"video": VIDEO_NAME, "frame_times": FRAMES_NAME, "events_live": EVENTS_LIVE_NAME,
                         "markers": MARKERS_NAME, "config": "config.json"}}
        if stats:
            doc.update(stats)
        write_json(doc, self.out / SESSION_NAME)

    # -- control -------------------------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the capture, recorder and analysis threads."""
        # Process CPU time: every thread's, MediaPipe's native ones included.
        self._cpu0 = time.process_time()
        self._wall0 = time.monotonic()
        targets = {"capture": self._capture, "recorder": self.recorder.run,
                   "analysis": lambda: self.analysis.run(self._analysis_q.get)}
        for name, target in targets.items():
            self._threads[name] = threading.Thread(target=self._guard(target), name=f"twitchcam-{name}",
                                                   daemon=True)
        for thread in self._threads.values():
            thread.start()

    def _guard(self, target):
        def run():
            try:
                target()
            except BaseException as err:  # surfaced by finish(); the session still ends and saves
                self._errors.append(err)
                self.stop("internal error")
        return run

    def stop(self, reason: str = "stopped by the user") -> None:
        """End the session (from any thread); :meth:`finish` then waits for it and writes the outputs."""
        if self.stop_reason is None:
            self.stop_reason = reason
        self._stop.set()
        self.source.stop()

    @property
    def running(self) -> bool:
        """Whether the capture is still going."""
        return not self._stop.is_set() and (not self._threads or self._threads["capture"].is_alive())

    def toggle_recording(self) -> bool:
        """Pause or resume writing the video; returns whether it is now recording."""
        if self._recording.is_set():
            self._recording.clear()
        else:
            self._recording.set()
        return self._recording.is_set()

    def add_marker(self, label: str = "", t: float | None = None) -> float:
        """Put a clinician marker on the timeline at session time ``t`` (default: now); returns its time."""
        return self.markers.add(label, t)

    def follow_markers(self, fd: int = 0) -> None:
        """Take each line typed on a file descriptor (standard input by default) as a marker with that label."""
        self.markers.follow(fd, self._stop)

    def wait(self, poll_s: float = 0.1) -> None:
        """Wait until the session ends (without a window)."""
        while self.running:
            self._stop.wait(poll_s)

    # -- the capture thread: the drop policy ---------------------------------------------------------------------

    def _capture(self) -> None:
        try:
            for frame in self.source:
                if self.duration_s is not None and frame.t >= self.duration_s:
                    self.stop_reason = self.stop_reason or "duration reached"
                    break
                now = time.monotonic()
                captured_at = now if self.lossless else self.source.t0_monotonic + frame.t
                item = Captured(frame, captured_at)
                if self.frame_size is None:
                    self.frame_size = (frame.image.shape[1], frame.image.shape[0])
                self.n_captured += 1
                self.last_t = frame.t
                with self._newest_cond:
                    self._newest = item
                    self._newest_cond.notify_all()
                if self._recording.is_set() and not self.recorder.offer(item, wait=self.lossless):
                    self.n_not_recorded += 1
                # The recording comes first: while the disk (or the encoder) is behind, frames skip the analysis.
                if not self.lossless and self.recorder.behind():
                    self.n_dropped += 1
                elif self._analysis_q.put(item, self._stop):
                    self.n_dropped += 1
                if self._stop.is_set():
                    break
        finally:
            # The recorder may be a whole queue behind; wait for room, unless it has died.
            self.recorder.close(alive=self._threads["recorder"].is_alive)
            self._analysis_q.close()

    # -- the window ----------------------------------------------------------------------------------------------

    @property
    def recording(self) -> bool:
        """Whether captured frames are being written to the video."""
        return self._recording.is_set()

    def analysis_queue_fill(self) -> float:
        """How full the analysis queue is, 0 to 1 (the window gives way from 0.5)."""
        return self._analysis_q.fill()

    def newest(self, after: Captured | None, timeout: float) -> Captured | None:
        """Wait up to ``timeout`` s for a captured frame newer than ``after``; None if none came."""
        with self._newest_cond:
            if self._newest is after:
                self._newest_cond.wait(timeout)
            return None if self._newest is after else self._newest

    def run_window(self, title: str = "twitchcam live") -> None:
        """Show the live window until the session ends (call from the main thread); see
        :func:`twitchcam.live.display.show_window`.
        """
        self.parameters["window"] = True
        self._write_session("running")
        show_window(self, title, self._display_latency)

    # -- the end -------------------------------------------------------------------------------------------------

    def finish(self) -> SessionResult:
        """Wait for the threads, write the offline outputs and ``session.json``; return what happened."""
        for thread in self._threads.values():
            thread.join()
        self.analysis.close()
        self._events_log.close()
        self.markers.close()
        ended_by = self.stop_reason or self.source.ended_by or "stopped"
        lost = self.stop_reason is None and self.source.ended_by not in (None, "stopped", "end of file")
        status = "source_lost" if lost else "complete"
        analysis = None
        lm = self.analysis.landmarks()
        if lm is not None:
            analysis = analyze_landmarks(lm, self.config, source=VIDEO_NAME)
            # A report that fails is logged with its remedy (twitchcam report), never a reason to lose the files.
            finish_analysis_folder(analysis, self.out, raise_extras=False)
        stats = self._stats(ended_by)
        self._write_session(status, stats)
        if self._errors:
            raise self._errors[0]
        return SessionResult(self.out, status, ended_by, self.last_t, self.analysis.events(), analysis, stats)

    def _stats(self, ended_by: str) -> dict:
        wall = time.monotonic() - self._wall0
        cpu = time.process_time() - self._cpu0
        live = self.analysis
        analyzed = live.n_analyzed
        fps = (self.n_captured - 1) / self.last_t if self.last_t > 0 else 0.0
        events = live.events()
        return {
            "ended_by": ended_by,
            "duration_s": round(self.last_t, 3),
            "frame_size": list(self.frame_size) if self.frame_size else None,
            "frames": {"captured": self.n_captured, "analyzed": analyzed, "dropped": self.n_dropped,
                       "recorded": self.recorder.n_recorded,
                       "not_recorded": self.n_not_recorded + self.recorder.n_other_size},
            "capture_fps": round(fps, 2),
            "drop_policy": f"analysis queue of {self._analysis_q.maxlen} frames, oldest dropped"
                           if not self.lossless else "replay: none dropped",
            "latency_ms": {"capture_to_display": _percentiles_ms(self._display_latency),
                           "capture_to_event": _percentiles_ms(live.event_latency_s)},
            "landmarks_ms": _percentiles_ms(live.detect_s),
            "core_us_per_frame": {"wall": round(live.core.core_s / analyzed * 1e6, 1) if analyzed else None,
                                  "cpu": round(live.core_cpu_s / analyzed * 1e6, 1) if analyzed else None,
                                  "chunk_s": live.chunk_s, "detections": live.core.n_detections},
            "cpu_percent": round(100 * cpu / wall, 1) if wall > 0 else None,
            "markers": self.markers.count,
            "events_live": len(events),
        }


def run_session(source, out_dir, config: Config | None = None, *, window: bool = True,
                markers_from_stdin: bool = False, **options) -> SessionResult:
    """Run a whole live session: start, show the window (or wait), finish.

    Parameters
    ----------
    source : int | str | Path
        Camera index, stream URL or video file.
    out_dir : str | Path
        The session folder.
    config : Config | None
    window : bool
        Show the live window (needs a display).
    markers_from_stdin : bool
        Take each line typed on standard input as a marker.
    **options
        Passed to :class:`LiveSession`.

    Returns
    -------
    SessionResult

    Notes
    -----
    Called from the main thread, SIGINT (Ctrl-C) and SIGTERM end the session normally while it runs.
    """
    session = LiveSession(source, out_dir, config, **options)
    handlers = {}
    if threading.current_thread() is threading.main_thread():
        # Ctrl-C or a polite kill ends the session normally: everything is saved.
        for signum in (signal.SIGINT, signal.SIGTERM):
            handlers[signum] = signal.signal(signum, lambda *_: session.stop("interrupted"))
    try:
        session.start()
        if markers_from_stdin:
            session.follow_markers()
        if window:
            session.run_window()
        else:
            session.wait()
    finally:
        if session.running:
            session.stop("interrupted")
        result = session.finish()
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
    return result
