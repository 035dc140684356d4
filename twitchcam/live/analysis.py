"""The live analysis: MediaPipe landmarks of each captured frame, then the offline core run incrementally, and the
events appended to ``events_live.csv`` as they become final.

Landmarks come from several :class:`twitchcam.landmarker.LandmarkDetector` models at once (IMAGE mode treats
frames independently, so like ``twitchcam analyze`` one model per core, each in its own thread with the GIL
released); results are taken in frame order and the patient is chosen in that order
(:class:`twitchcam.landmarks.PatientLandmarks`). Every ``chunk_s`` seconds of frames go to
:class:`twitchcam.stream.StreamingAnalyzer`. Times are session seconds, as in the frames.
"""

from __future__ import annotations

import collections
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from ..config import Config
from ..events import Events
from ..folder import format_events_csv
from ..landmarker import LandmarkDetector
from ..landmarks import Landmarks, PatientLandmarks
from ..signals import SIGNAL_NAMES
from ..stream import StreamingAnalyzer
from ..vocabulary import REGION_SIGNALS
from .capture import Captured, CaptureSource
from .recording import AppendedCSV

EVENTS_LIVE_NAME = "events_live.csv"
#: Seconds a reported event stays in :attr:`Progress.recent` (the window flashes and labels it for less).
RECENT_S = 5.0


@dataclass(frozen=True)
class Progress:
    """What the analysis has found so far, for the window.

    Parameters
    ----------
    t_s : float
        Session time in seconds of the newest analyzed frame; ``-inf`` before the first.
    xyz : ndarray, shape (478, 3), float32 | None
        The patient's landmarks in that frame, in pixels of the unmirrored frame; None when no face was found.
    meters : dict of str to ndarray, each shape (2,) | None
        Latest value of each signal (:data:`twitchcam.signals.SIGNAL_NAMES`) per side (columns left, right), in
        the signal's unit; None until the streaming core has produced signals.
    thresholds : dict of str to float
        Event threshold of each meter's signal, in its unit.
    counts : dict of (str, str) to int
        Events so far per (side, region).
    recent : list of (float, Events)
        Events reported in the last :data:`RECENT_S` seconds, with the ``time.monotonic()`` reading when each
        table was reported; oldest first.
    warming_up : bool
        The streaming core is still estimating the head's resting pose.
    """

    t_s: float
    xyz: np.ndarray | None
    meters: dict | None
    thresholds: dict
    counts: dict
    recent: list
    warming_up: bool


class LiveAnalysis:
    """The analysis thread's work: landmarks of each frame, the streaming core on chunks, ``events_live.csv``.

    Parameters
    ----------
    config : Config
        Settings, the same as for ``twitchcam analyze``.
    detectors : list of LandmarkDetector
        The landmark models to run side by side; owned from now on (:meth:`close` closes them).
    core : StreamingAnalyzer
        The streaming core, new (its ``warmup_s``, ``history_s``, ``detect_every_s``, ``noise_every_s`` and
        ``detect_window_s`` shape the events).
    events_log : AppendedCSV
        ``events_live.csv``, its header written.
    chunk_s : float
        Landmarks are handed to the streaming core in chunks of this many seconds.
    clock : CaptureSource | None
        The live source whose first frame's monotonic time (``t0_monotonic``) puts session times on the monotonic
        clock, to measure capture-to-event latency; None for a replay (no latency).
    on_event : callable | None
        Called from the analysis thread with each new :class:`~twitchcam.events.Events` table.

    Attributes
    ----------
    n_analyzed : int
        Frames handed to the streaming core.
    detect_s : list of float
        Seconds each frame's landmarks took.
    event_latency_s : list of float
        Seconds from the capture of each event's last frame to its report (live sources only).
    core_cpu_s : float
        Thread CPU seconds spent in the streaming core.
    """

    def __init__(self, config: Config, detectors: list[LandmarkDetector], core: StreamingAnalyzer,
                 events_log: AppendedCSV, *, chunk_s: float, clock: CaptureSource | None = None,
                 on_event: Callable[[Events], None] | None = None):
        self.config = config
        self.detectors = detectors
        self.core = core
        self.chunk_s = chunk_s
        self.n_analyzed = 0
        self.detect_s: list[float] = []
        self.event_latency_s: list[float] = []
        self.core_cpu_s = 0.0
        self._events_log = events_log
        self._clock = clock
        self._on_event = on_event
        self._thresholds = {REGION_SIGNALS[r]: v for r, v in config.on_thresholds.items()}
        self._free: queue.Queue = queue.Queue()
        for detector in detectors:
            self._free.put(detector)
        # What the window reads, under the lock.
        self._lock = threading.Lock()
        self._newest: tuple[float, np.ndarray | None] = (-np.inf, None)
        self._meters: dict | None = None
        self._counts: collections.Counter = collections.Counter()
        self._recent: list[tuple[float, Events]] = []
        self._events: list[Events] = []
        # The chunks handed to the streaming core, kept for the offline analysis at the end (5.7 KB per frame).
        self._chunks: list[Landmarks] = []

    def progress(self) -> Progress:
        """What the analysis has found so far (any thread)."""
        with self._lock:
            t, xyz = self._newest
            return Progress(t, xyz, self._meters, self._thresholds, dict(self._counts), list(self._recent),
                            warming_up=not self.core.ready)

    def events(self) -> Events:
        """Every event reported so far, in the order reported."""
        with self._lock:
            return Events.concatenate(self._events)

    def landmarks(self) -> Landmarks | None:
        """The landmarks of every analyzed frame (after :meth:`run`); None if no frame was analyzed."""
        if not self._chunks:
            return None
        # One copy in memory, not two.
        self._chunks = [Landmarks.concatenate(self._chunks)]
        return self._chunks[0]

    def run(self, next_frame: Callable[[], Captured | None]) -> None:
        """Analyze frames until ``next_frame()`` returns None, then finish the streaming core (the thread's body)."""
        chunk = PatientLandmarks()
        frame_size = None  # the first analyzed frame's, as for the recording
        in_flight: collections.deque = collections.deque()
        ended = False
        with ThreadPoolExecutor(len(self.detectors), thread_name_prefix="twitchcam-landmarks") as pool:
            while not ended or in_flight:
                # Keep every landmark model busy; take results in frame order.
                while not ended and len(in_flight) < len(self.detectors):
                    item = next_frame()
                    if item is None:
                        ended = True
                    else:
                        in_flight.append((item, pool.submit(self._faces, item)))
                if not in_flight:
                    break
                item, future = in_flight.popleft()
                faces, seconds = future.result()
                self.detect_s.append(seconds)
                frame_size = frame_size or (item.frame.image.shape[1], item.frame.image.shape[0])
                xyz = chunk.add(item.frame.t, faces, frame_size)
                with self._lock:
                    self._newest = (item.frame.t, xyz)
                if item.frame.t - chunk.first_t >= self.chunk_s - 1e-6:
                    self._push(chunk.take())
        if len(chunk):
            self._push(chunk.take())
        cpu = time.thread_time()
        self._publish(self.core.finish().events)
        self.core_cpu_s += time.thread_time() - cpu

    def close(self) -> None:
        """Release the landmark models."""
        for detector in self.detectors:
            detector.close()

    def _faces(self, captured: Captured) -> tuple[list[np.ndarray], float]:
        """Every face in a frame, on a free landmark model; and the seconds it took."""
        detector = self._free.get()
        try:
            start = time.perf_counter()
            faces = detector.detect_faces(captured.frame.image, captured.frame.t)
            return faces, time.perf_counter() - start
        finally:
            self._free.put(detector)

    def _push(self, lm: Landmarks) -> None:
        self._chunks.append(lm)
        self.n_analyzed += len(lm)
        cpu = time.thread_time()
        update = self.core.push(lm)
        self.core_cpu_s += time.thread_time() - cpu
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
        self._events_log.append(format_events_csv(events).split("\n", 1)[1])
        with self._lock:
            self._events.append(events)
            for side, region in zip(events.side, events.region):
                self._counts[(str(side), str(region))] += 1
            self._recent = [r for r in self._recent if now - r[0] < RECENT_S] + [(now, events)]
        if self._clock is not None and self._clock.t0_monotonic is not None:
            self.event_latency_s.extend(now - (self._clock.t0_monotonic + events.offset_s))
        if self._on_event is not None:
            self._on_event(events)
