"""A live session: follow a patient's face at camera frame rate and record a session that cannot be lost.

Threads
-------
``capture``
    Iterates a :class:`twitchcam.capture.CaptureSource`, which stamps each frame with the monotonic clock when it is
    captured (session time ``t`` = seconds since the first frame). Hands every frame to the recorder and to the
    analysis and never waits for either.
``recorder``
    Appends each frame to ``video.avi`` and its capture time to ``video.frames.csv``.
``analysis``
    MediaPipe landmarks of each frame (:class:`twitchcam.landmarker.LandmarkDetector`, one model per core as in
    ``twitchcam analyze``, each in its own thread with the GIL released), then the offline core run incrementally
    on chunks of ``chunk_s`` seconds (:class:`twitchcam.stream.StreamingAnalyzer`). Events are appended to
    ``events_live.csv`` as they become final.
the caller's thread
    Draws the window (:mod:`twitchcam.display`) and reads the keys, or just waits with ``--no-window``.

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

Files in the session folder
---------------------------
``video.avi``
    The raw, unmirrored video as captured: Motion-JPEG (:class:`twitchcam.capture.MotionJPEGWriter`), every frame
    compressed on its own and in the file as soon as it is written, so the file stays readable
    (``twitchcam analyze``) after a crash or a kill, which loses at most the frame being written. Synced to the
    disk every 2 s against power loss.
``video.frames.csv``
    ``frame,t_s,capture_index``: one row per frame of ``video.avi``, its capture time in session seconds,
    written and flushed with the frame. The AVI's own timestamps are index / nominal fps; these are the real
    ones (a paused recording, a camera slower than it claims).
``events_live.csv``
    The events as the live analysis reported them, with the ``events.csv`` header, appended and flushed as each
    becomes final (onset and offset in session seconds).
``markers.csv``
    ``t_s,wall_clock,label``: clinician markers (the space key, or a line typed on standard input), appended
    and flushed.
``session.json``
    Source, start time and ``"status": "running"`` from the start; on a normal stop the counts, drops,
    latencies and costs, and the status ``complete`` or ``source_lost``.
``config.json``
    The settings, from the start (``twitchcam analyze video.avi --config config.json`` after a crash).
On a normal stop (``q``, ``--duration``, end of file, Ctrl-C, a camera that disappears):
    ``events.csv``, ``summary.json``, ``signals.csv``, ``config.json``: the offline analysis
    (:func:`twitchcam.pipeline.analyze_landmarks`) of the landmarks of every analyzed frame, written by
    :func:`twitchcam.folder.write_analysis`, and ``report.html`` (:func:`twitchcam.report.render_report`), as
    ``twitchcam analyze`` writes them.
"""

from __future__ import annotations

import collections
import csv
import datetime
import io
import logging
import os
import queue
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import __version__
from .capture import CaptureSource, MotionJPEGWriter
from .config import Config
from .display import Flash, Overlay, Window, render
from .events import Events
from .folder import finish_analysis_folder, format_events_csv, write_json
from .landmarker import LandmarkDetector, inference_threads
from .landmarks import Landmarks, PatientLandmarks
from .pipeline import Analysis, analyze_landmarks
from .signals import SIGNAL_NAMES
from .stream import StreamingAnalyzer
from .video import Frame
from .vocabulary import REGION_SIGNALS

logger = logging.getLogger(__name__)

VIDEO_NAME = "video.avi"
FRAMES_NAME = "video.frames.csv"
EVENTS_LIVE_NAME = "events_live.csv"
MARKERS_NAME = "markers.csv"
SESSION_NAME = "session.json"
FRAMES_COLUMNS = ("frame", "t_s", "capture_index")
MARKERS_COLUMNS = ("t_s", "wall_clock", "label")

_END = object()


@dataclass(frozen=True)
class Captured:
    """A frame and the ``time.monotonic()`` reading when it was captured."""

    frame: Frame
    captured_at: float


class _NewestQueue:
    """A bounded queue that, when full, discards its oldest item to take a new one (or waits, if lossless)."""

    def __init__(self, maxlen: int, lossless: bool):
        self._items: collections.deque = collections.deque()
        self._maxlen = maxlen
        self._lossless = lossless
        self._cond = threading.Condition()

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
        with self._cond:
            while not self._items:
                self._cond.wait()
            item = self._items.popleft()
            self._cond.notify_all()
            return item


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
        Camera index, stream URL or video file (see :class:`twitchcam.capture.CaptureSource`).
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
    """

    def __init__(self, source, out_dir, config: Config | None = None, *, realtime: bool = False,
                 duration_s: float | None = None, model=None, chunk_s: float = 0.4, analysis_queue_s: float = 0.5,
                 record_queue_s: float = 2.0, size: tuple[int, int] | None = None, warmup_s: float = 2.0,
                 overlay_max_lag_s: float = 0.25, on_event: Callable[[Events], None] | None = None):
        self.config = config or Config()
        self.out = Path(out_dir)
        self.duration_s = duration_s
        self.chunk_s = chunk_s
        self.overlay_max_lag_s = overlay_max_lag_s
        self._meter_thresholds = {REGION_SIGNALS[r]: v for r, v in self.config.on_thresholds.items()}
        self.on_event = on_event
        for name in (VIDEO_NAME, FRAMES_NAME, EVENTS_LIVE_NAME, MARKERS_NAME, "events.csv", "summary.json",
                     "signals.csv", "config.json"):
            if (self.out / name).exists():
                raise FileExistsError(f"{self.out / name} exists; choose a new --out folder for each session")
        # IMAGE mode treats frames independently, so like twitchcam analyze it runs one landmark model per core
        # (twitchcam.landmarker.inference_threads) on successive frames; the patient is chosen in frame order.
        self._detectors = [LandmarkDetector(self.config, model) for _ in range(inference_threads(self.config))]
        self._free_detectors: queue.Queue = queue.Queue()
        for detector in self._detectors:
            self._free_detectors.put(detector)
        try:
            # Opened once the models are loaded: a camera or stream opened earlier would hand over the frames it
            # buffered meanwhile in a burst, all stamped at the moment they are read.
            self.source = CaptureSource(source, realtime=realtime, size=size)
        except BaseException:
            for detector in self._detectors:
                detector.close()
            raise
        self.lossless = self.source.kind == "file" and not realtime
        self.analyzer = StreamingAnalyzer(self.config, warmup_s=warmup_s)
        # What shapes events_live.csv and the drop policy besides config.json, so a session can be read and rerun.
        self._parameters = {"duration_s": duration_s, "chunk_s": chunk_s, "analysis_queue_s": analysis_queue_s,
                            "record_queue_s": record_queue_s, "size": list(size) if size else None,
                            "warmup_s": warmup_s, "overlay_max_lag_s": overlay_max_lag_s}
        self.out.mkdir(parents=True, exist_ok=True)
        fps = self.source.fps_nominal or 30.0
        self._analysis_q = _NewestQueue(max(int(round(analysis_queue_s * fps)), 1), self.lossless)
        self._record_q: queue.Queue = queue.Queue(maxsize=0 if self.lossless else max(int(record_queue_s * fps), 1))
        self._stop = threading.Event()
        self._recording = threading.Event()
        self._recording.set()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._errors: list[BaseException] = []
        self.stop_reason: str | None = None
        # Counters and measurements (written by one thread each, read under the lock).
        self.n_captured = 0
        self.n_dropped = 0
        self.n_recorded = 0
        self.n_not_recorded = 0
        self.last_t = 0.0
        self.frame_size: tuple[int, int] | None = None
        self._display_latency: list[float] = []
        self._event_latency: list[float] = []
        self._detect_s: list[float] = []
        self._core_cpu_s = 0.0
        self._markers = 0
        self._events: list[Events] = []
        self._counts: collections.Counter = collections.Counter()
        self._flashes: list[tuple[float, Events]] = []
        self._meters: dict | None = None
        self._newest: Captured | None = None  # the newest captured frame, for the window
        self._newest_cond = threading.Condition(self._lock)
        self._landmarks: tuple[float, np.ndarray | None] = (-np.inf, None)  # the newest analyzed frame's t and xyz
        # The chunks handed to the streaming core, kept for the offline analysis at the end (5.7 KB per frame).
        self._chunks: list[Landmarks] = []
        self._started_wall = datetime.datetime.now().astimezone()
        self._events_fh = self._open_csv(EVENTS_LIVE_NAME, format_events_csv(Events.empty()))
        self._markers_fh = self._open_csv(MARKERS_NAME, ",".join(MARKERS_COLUMNS) + "\n")
        self._write_session("running")
        # Now rather than at the end, so that after a crash the recording can be analyzed with the same settings.
        write_json(self.config.to_dict(), self.out / "config.json")

    # -- files ---------------------------------------------------------------------------------------------------

    def _open_csv(self, name: str, header: str):
        fh = open(self.out / name, "w", encoding="utf-8", newline="", buffering=1)
        fh.write(header)
        fh.flush()
        return fh

    def _append(self, fh, text: str) -> None:
        """Append rows and push them to the operating system, so a kill right after cannot lose them."""
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())

    def _write_session(self, status: str, stats: dict | None = None) -> None:
        doc = {"status": status, "source": self.source.label, "source_kind": self.source.kind,
               "realtime": self.source.realtime, "started": self._started_wall.isoformat(timespec="seconds"),
               "fps_nominal": self.source.fps_nominal, "twitchcam_version": __version__,
               "parameters": self._parameters,
               "files": {"video": VIDEO_NAME, "frame_times": FRAMES_NAME, "events_live": EVENTS_LIVE_NAME,
                         "markers": MARKERS_NAME}}
        if stats:
            doc.update(stats)
        write_json(doc, self.out / SESSION_NAME)

    # -- control -------------------------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the capture, recorder and analysis threads."""
        # Process CPU time: every thread's, MediaPipe's native ones included.
        self._cpu0 = time.process_time()
        self._wall0 = time.monotonic()
        for name, target in (("capture", self._capture), ("recorder", self._record), ("analysis", self._analyze)):
            thread = threading.Thread(target=self._guard(target), name=f"twitchcam-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)

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
        return not self._stop.is_set() and (not self._threads or self._threads[0].is_alive())

    def toggle_recording(self) -> bool:
        """Pause or resume writing the video; returns whether it is now recording."""
        if self._recording.is_set():
            self._recording.clear()
        else:
            self._recording.set()
        return self._recording.is_set()

    def add_marker(self, label: str = "", t: float | None = None) -> float:
        """Put a clinician marker on the timeline at session time ``t`` (default: now); returns its time."""
        if t is None:
            t0 = self.source.t0_monotonic
            t = time.monotonic() - t0 if t0 is not None else 0.0
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerow(
            [f"{t:.3f}", datetime.datetime.now().astimezone().isoformat(timespec="milliseconds"), label])
        with self._lock:
            self._append(self._markers_fh, buf.getvalue())
            self._markers += 1
        return t

    # -- threads -------------------------------------------------------------------------------------------------

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
                with self._lock:
                    self._newest = item
                    self._newest_cond.notify_all()
                if self._recording.is_set():
                    try:
                        self._record_q.put(item, block=self.lossless)
                    except queue.Full:
                        self.n_not_recorded += 1
                # The recording comes first: while the disk (or the encoder) is behind, frames skip the analysis.
                if not self.lossless and self._record_q.qsize() >= self._record_q.maxsize // 2:
                    self.n_dropped += 1
                elif self._analysis_q.put(item, self._stop):
                    self.n_dropped += 1
                if self._stop.is_set():
                    break
        finally:
            # The recorder may be a whole queue behind; wait for room, unless it has died.
            while True:
                try:
                    self._record_q.put(_END, timeout=0.5)
                    break
                except queue.Full:
                    if not self._threads[1].is_alive():
                        break
            self._analysis_q.close()

    def _record(self) -> None:
        writer = None
        frames_fh = None
        try:
            while True:
                item = self._record_q.get()
                if item is _END:
                    break
                image = item.frame.image
                if writer is None:
                    size = (image.shape[1], image.shape[0])
                    writer = MotionJPEGWriter(self.out / VIDEO_NAME, self.source.fps_nominal or 30.0, size)
                    frames_fh = self._open_csv(FRAMES_NAME, ",".join(FRAMES_COLUMNS) + "\n")
                    synced = time.monotonic()
                if (image.shape[1], image.shape[0]) != writer.size:
                    # A camera that came back at another resolution: the file keeps one size.
                    self.n_not_recorded += 1
                    continue
                writer.write(image)
                # Line-buffered: the row reaches the operating system with the frame.
                frames_fh.write(f"{self.n_recorded},{item.frame.t:.6f},{item.frame.index}\n")
                self.n_recorded += 1
                if time.monotonic() - synced > 2.0:
                    # A crash loses nothing the operating system has; a power cut, what is not on the disk yet.
                    writer.sync()
                    os.fsync(frames_fh.fileno())
                    synced = time.monotonic()
        finally:
            if writer is not None:
                writer.close()
            if frames_fh is not None:
                frames_fh.close()

    def _faces(self, captured: Captured) -> tuple[list[np.ndarray], float]:
        """Every face in a frame, on a free landmark model; and the seconds it took."""
        detector = self._free_detectors.get()
        try:
            start = time.perf_counter()
            faces = detector.detect_faces(captured.frame.image, captured.frame.t)
            return faces, time.perf_counter() - start
        finally:
            self._free_detectors.put(detector)

    def _analyze(self) -> None:
        chunk = PatientLandmarks(self.frame_size or (0, 0))
        in_flight: collections.deque = collections.deque()
        ended = False
        with ThreadPoolExecutor(len(self._detectors), thread_name_prefix="twitchcam-landmarks") as pool:
            while not ended or in_flight:
                # Keep every landmark model busy; take results in frame order.
                while not ended and len(in_flight) < len(self._detectors):
                    item = self._analysis_q.get()
                    if item is _END:
                        ended = True
                    else:
                        in_flight.append((item, pool.submit(self._faces, item)))
                if not in_flight:
                    break
                item, future = in_flight.popleft()
                faces, seconds = future.result()
                self._detect_s.append(seconds)
                xyz = chunk.add(item.frame.t, faces, self.frame_size or (0, 0))
                with self._lock:
                    self._landmarks = (item.frame.t, xyz)
                if item.frame.t - chunk.first_t >= self.chunk_s - 1e-6:
                    self._push(chunk.take())
        if len(chunk):
            self._push(chunk.take())
        cpu = time.thread_time()
        self._publish(self.analyzer.finish().events)
        self._core_cpu_s += time.thread_time() - cpu

    def _push(self, lm: Landmarks) -> None:
        self._chunks.append(lm)
        cpu = time.thread_time()
        update = self.analyzer.push(lm)
        self._core_cpu_s += time.thread_time() - cpu
        if len(update.signals):
            s = update.signals
            meters = {name: getattr(s, name)[-1] for name in SIGNAL_NAMES}
            with self._lock:
                self._meters = meters
        self._publish(update.events)

    def _publish(self, events: Events) -> None:
        if not len(events):
            return
        now = time.monotonic()
        text = format_events_csv(events).split("\n", 1)[1]
        with self._lock:
            self._append(self._events_fh, text)
            self._events.append(events)
            for side, region in zip(events.side, events.region):
                self._counts[(str(side), str(region))] += 1
            self._flashes = [f for f in self._flashes if now - f[0] < 5] + [(now, events)]
            if not self.lossless and self.source.t0_monotonic is not None:
                self._event_latency.extend(now - (self.source.t0_monotonic + events.offset_s))
        if self.on_event is not None:
            self.on_event(events)

    # -- display -------------------------------------------------------------------------------------------------

    def overlay(self, captured: Captured, fps: float) -> Overlay:
        """What the window shows over a captured frame: the newest analysis, if it is of a frame close enough."""
        now = time.monotonic()
        with self._lock:
            t_analyzed, xyz = self._landmarks
            flashes = [Flash(str(e.side[i]), str(e.region[i]), str(e.kind[i]), float(e.duration_s[i]), now - at)
                       for at, e in self._flashes for i in range(len(e))]
            latency = float(np.median(self._display_latency[-30:])) * 1000 if self._display_latency else None
            meters, counts, markers = self._meters, dict(self._counts), self._markers
        face_lost = xyz is None and np.isfinite(t_analyzed)
        lag = captured.frame.t - t_analyzed
        if lag > self.overlay_max_lag_s:
            # Outlines drawn where the face was a while ago would be misleading.
            xyz = None
        return Overlay(xyz, meters,
                       self._meter_thresholds,
                       counts, flashes, fps=fps, latency_ms=latency, dropped=self.n_dropped,
                       recording=self._recording.is_set(), elapsed_s=captured.frame.t, markers=markers,
                       warming_up=not self.analyzer.ready, face_lost=face_lost, analysis_lag_s=lag)

    def newest(self, after: Captured | None, timeout: float) -> Captured | None:
        """Wait up to ``timeout`` s for a captured frame newer than ``after``; None if none came."""
        with self._lock:
            if self._newest is after:
                self._newest_cond.wait(timeout)
            return None if self._newest is after else self._newest

    def run_window(self, title: str = "twitchcam live") -> None:
        """Show the live window until the session ends (call from the main thread).

        The window shows the newest CAPTURED frame as soon as it comes, not waiting for its analysis, with the
        outlines of the newest analyzed frame when it is at most ``overlay_max_lag_s`` older. While the analysis
        queue is half full or more, the window is redrawn at most 12 times a second, leaving the CPU to the
        analysis.
        """
        window = Window(title)
        captured = None
        shown: collections.deque = collections.deque(maxlen=30)
        try:
            while self.running:
                newer = self.newest(captured, 0.03)
                # When the analysis falls behind, the window gives way: drawing every frame costs as much as a
                # third of the landmark model, and missed events cost more than a smoother picture.
                wait_s = 1 / 12 - (time.monotonic() - shown[-1]) if shown else 0.0
                behind = self._analysis_q.fill() >= 0.5 and wait_s > 0
                if newer is None or behind:
                    action = window.poll(max(int(wait_s * 1000), 1) if behind else 1)
                else:
                    captured = newer
                    fps = (len(shown) - 1) / (shown[-1] - shown[0]) if len(shown) > 1 else 0.0
                    action = window.show(render(captured.frame.image, self.overlay(captured, fps)))
                    now = time.monotonic()
                    shown.append(now)
                    self._display_latency.append(now - captured.captured_at)
                if action == "quit":
                    self.stop("stopped by the user")
                elif action == "marker":
                    self.add_marker("", captured.frame.t if captured is not None else None)
                elif action == "record":
                    self.toggle_recording()
        finally:
            window.close()

    def follow_markers(self, fd: int = 0) -> None:
        """Take each line typed on a file descriptor (standard input by default) as a marker with that label."""
        def read():
            pending = b""
            while not self._stop.is_set():
                try:
                    data = os.read(fd, 4096)
                except OSError:
                    return
                if not data:
                    return
                pending += data
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    self.add_marker(line.decode("utf-8", "replace").strip())

        # os.read rather than sys.stdin: a thread blocked in it holds no Python lock at interpreter exit.
        threading.Thread(target=read, name="twitchcam-markers", daemon=True).start()

    def wait(self, poll_s: float = 0.1) -> None:
        """Wait until the session ends (without a window)."""
        while self.running:
            self._stop.wait(poll_s)

    # -- the end -------------------------------------------------------------------------------------------------

    def finish(self) -> SessionResult:
        """Wait for the threads, write the offline outputs and ``session.json``; return what happened."""
        for thread in self._threads:
            thread.join()
        for detector in self._detectors:
            detector.close()
        for fh in (self._events_fh, self._markers_fh):
            fh.close()
        ended_by = self.stop_reason or self.source.ended_by or "stopped"
        lost = self.stop_reason is None and self.source.ended_by not in (None, "stopped", "end of file")
        status = "source_lost" if lost else "complete"
        analysis = None
        if self._chunks:
            lm = Landmarks.concatenate(self._chunks)
            self._chunks = [lm]  # one copy in memory, not two
            analysis = analyze_landmarks(lm, self.config, source=VIDEO_NAME)
            # A report that fails is logged with its remedy (twitchcam report), never a reason to lose the files.
            finish_analysis_folder(analysis, self.out, raise_extras=False)
        stats = self._stats(ended_by)
        self._write_session(status, stats)
        if self._errors:
            raise self._errors[0]
        events = Events.concatenate(self._events)
        return SessionResult(self.out, status, ended_by, self.last_t, events, analysis, stats)

    def _stats(self, ended_by: str) -> dict:
        wall = time.monotonic() - self._wall0
        cpu = time.process_time() - self._cpu0
        analyzed = sum(len(c) for c in self._chunks)
        fps = (self.n_captured - 1) / self.last_t if self.last_t > 0 else 0.0
        return {
            "ended_by": ended_by,
            "duration_s": round(self.last_t, 3),
            "frame_size": list(self.frame_size) if self.frame_size else None,
            "frames": {"captured": self.n_captured, "analyzed": analyzed, "dropped": self.n_dropped,
                       "recorded": self.n_recorded, "not_recorded": self.n_not_recorded},
            "capture_fps": round(fps, 2),
            "drop_policy": f"analysis queue of {self._analysis_q._maxlen} frames, oldest dropped"
                           if not self.lossless else "replay: none dropped",
            "latency_ms": {"capture_to_display": _percentiles_ms(self._display_latency),
                           "capture_to_event": _percentiles_ms(self._event_latency)},
            "landmarks_ms": _percentiles_ms(self._detect_s),
            "landmark_models": len(self._detectors),
            "core_us_per_frame": {"wall": round(self.analyzer.core_s / analyzed * 1e6, 1) if analyzed else None,
                                  "cpu": round(self._core_cpu_s / analyzed * 1e6, 1) if analyzed else None,
                                  "chunk_s": self.chunk_s, "detections": self.analyzer.n_detections},
            "cpu_percent": round(100 * cpu / wall, 1) if wall > 0 else None,
            "markers": self._markers,
            "events_live": int(sum(len(e) for e in self._events)),
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

