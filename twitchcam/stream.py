"""Incremental analysis for live sessions: the offline core fed a few frames at a time, with bounded state.

:class:`StreamingAnalyzer` takes landmarks as they come (a chunk of a few frames per call) and returns, for each
chunk, the new frames' :class:`~twitchcam.signals.Signals` and the events that have become final. It runs the same
functions as :func:`twitchcam.pipeline.analyze_landmarks`, never a second implementation:

- :func:`~twitchcam.signals.estimate_head_frame` once, after a warm-up of ``warmup_s`` seconds with a face;
- :func:`~twitchcam.signals.measure_frames` on every new chunk (frames are independent there);
- the baseline of :func:`~twitchcam.baselines.rolling_baseline`, block by block: each completed block's quantile
  (:func:`~twitchcam.baselines.nanquantile_sorted` at :data:`~twitchcam.signals.BASELINE_QUANTILE`, as
  ``compute_signals``) is kept, and a frame's resting level is the median of the
  ``2 * round(baseline_window_s / baseline_block_s / 2) + 1`` blocks before its own block. Offline that window is
  centred on the frame; live the future is not known yet, so it trails. On a face at rest the two agree; the
  agreement on generated and real footage is measured in ``tests/test_stream.py`` and ``benchmarks/live.py``;
- :func:`~twitchcam.signals.robust_noise` on the last ``history_s`` seconds, refreshed every ``noise_every_s``
  while nothing moves (they set the event thresholds, so a run is judged with one value);
- :func:`~twitchcam.events.detect_events` on the last ``detect_window_s`` of the history, once a signal has reached
  its threshold: when such a run has ended (it fell below the level where a run can start and stayed there longer
  than ``merge_gap_s``), and at least every ``detect_every_s`` while movement goes on. Its
  :func:`~twitchcam.asymmetry.local_asymmetry` starts from the quiet frames the last detection found (one local pass
  where offline runs two from a global guess). An event is reported once it is final
  (ended more than ``merge_gap_s`` ago, ``mouth_brow_merge_gap_s`` for a mouth corner or brow, so no later run can
  merge with it; a mouth or brow movement also ``coupling_window_s`` after its onset, so that an eye twitch it
  comes with is seen), and decided once, at the first
  detection after that. Events are therefore known shortly after they end, never while they last.

State is bounded: the last ``history_s`` seconds of measures and signals, the last few block quantiles, the keys of
recently reported events. Work per frame is bounded too: nothing is ever re-run over the session so far.

Where live and offline can differ: the offline baseline window is centred, the live one trails; the offline noise
(which raises detect_events' thresholds on jittery footage) and the head-pose model of the left-right difference
are those of the whole recording, the live ones those of the last ``history_s`` (``detect_window_s``) seconds; the
head frame comes from the warm-up. With
thresholds set by the configuration (footage with ordinary landmark jitter) events agree to within a frame.

Time is whatever the frames carry (a live session's monotonic capture clock, in seconds from the first frame);
frame indices count the frames pushed, so frames dropped before analysis are simply absent.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from .asymmetry import local_asymmetry, quiet_frames
from .baselines import nanquantile_sorted
from .config import Config
from .events import Events, detect_events
from .landmarks import Landmarks
from .regions import REGIONS
from .signals import (
    BASELINE_QUANTILE,
    SIGNAL_NAMES,
    HeadFrame,
    Measures,
    Signals,
    estimate_head_frame,
    measure_frames,
    relative_to_rest,
    robust_noise,
)

#: Fraction of a region's ``*_on_*`` threshold below which no run of :func:`~twitchcam.events.detect_events` can
#: start; used only to skip detection on frames where nothing moves.
START_LEVEL_FRAC = 0.5

# Columns of the history table: one float64 row per frame.
_T, _FOUND, _MEASURED = 0, 1, 2
_MEASURE_COLS = {"eye_opening": slice(3, 5), "mouth_position": slice(5, 7), "brow_height": slice(7, 9)}
_SIGNAL_COLS = {"eye_closure": slice(9, 11), "mouth_pull": slice(11, 13), "brow_raise": slice(13, 15)}
_SIGNALS = slice(9, 15)  # all three signals, in SIGNAL_NAMES order
_EYE_COLUMNS = np.array([True, True, False, False, False, False])  # of the signals' six columns
_ROT, _SCALE, _INDEX = 15, 16, 17
_POSE = slice(18, 21)
_N_COLS = 21
_BASELINE = slice(3, 9)
#: Each baseline column's quantile, as compute_signals takes it.
_QUANTILES = np.array([BASELINE_QUANTILE["eye_opening"]] * 2 + [BASELINE_QUANTILE["mouth_position"]] * 2
                      + [BASELINE_QUANTILE["brow_height"]] * 2)


@dataclass(frozen=True)
class StreamUpdate:
    """What one chunk of frames produced.

    Parameters
    ----------
    frames : ndarray, shape (n_new,), int64
        Frame indices (count of frames pushed) of the rows of ``signals``. Usually the chunk's frames; at the end
        of the warm-up also the earlier frames held back until the head frame was known; empty during warm-up.
    signals : Signals
        Signals of those frames (a :class:`~twitchcam.signals.Signals` over ``n_new`` frames).
    events : Events
        Events that became final with this chunk, sorted by onset; ``onset_frame``/``offset_frame`` are frame
        indices as in ``frames``.
    """

    frames: np.ndarray
    signals: Signals
    events: Events


def _empty_signals() -> Signals:
    nan2 = np.zeros((0, 2))
    return Signals(np.zeros(0), np.zeros(0, bool), np.zeros(0, bool), nan2, nan2, nan2, nan2, np.zeros(0),
                   np.zeros(0), {name: np.zeros(2) for name in SIGNAL_NAMES}, float("nan"), np.zeros((0, 3)))


# Returned for the many chunks that complete no event; built once, since building a table is not free.
_NO_EVENTS = Events.empty()


class StreamingAnalyzer:
    """Analyze a face's landmarks incrementally, with bounded memory and work.

    Parameters
    ----------
    config : Config | None
        The same settings as an offline analysis.
    warmup_s : float
        Seconds of frames with a face collected before the head-fixed frame is estimated. Signals of those frames
        are computed then; events in them are reported at the end of the warm-up.
    history_s : float
        Seconds of measures and signals kept: the window for the noise estimate and the longest event that can be
        reported whole. Must exceed ``baseline_window_s`` so the trailing baseline window fits.
    detect_every_s : float
        :func:`~twitchcam.events.detect_events` runs when a signal falls back below the level where a run can
        start (:data:`START_LEVEL_FRAC` of its threshold) for longer than ``merge_gap_s``, and at least at this
        interval while movement goes on (a long spasm, talking).
    noise_every_s : float
        How often the noise estimate is refreshed.
    detect_window_s : float
        Seconds of history :func:`~twitchcam.events.detect_events` runs on (at most ``history_s``): the local
        asymmetry's windows (``asym_window_s``, ``asym_trend_s``) around the events it decides, and the longest
        event that can be reported whole.

    Attributes
    ----------
    head : HeadFrame | None
        The head-fixed frame once the warm-up is over.
    n_frames : int
        Frames pushed so far.
    core_s : float
        Wall-clock seconds spent in :meth:`push` and :meth:`finish` (the streaming core's cost).
    n_detections : int
        How many times :func:`~twitchcam.events.detect_events` ran.

    Examples
    --------
    Three twitches of the left eye, fed 12 frames (0.4 s) at a time as a live session does; each event is
    reported shortly after it ends:

    >>> from twitchcam.events import Events
    >>> from twitchcam.stream import StreamingAnalyzer
    >>> from twitchcam.testing import Twitch, make_landmarks
    >>> landmarks = make_landmarks(20, 30, [Twitch(t, 0.2, "left", "periocular", 0.5) for t in (4.0, 9.0, 14.5)])
    >>> analyzer = StreamingAnalyzer()
    >>> updates = [analyzer.push(landmarks[i:i + 12]) for i in range(0, len(landmarks), 12)]
    >>> updates.append(analyzer.finish())
    >>> events = Events.concatenate([update.events for update in updates])
    >>> events.side.tolist(), events.region.tolist()
    (['left', 'left', 'left'], ['periocular', 'periocular', 'periocular'])
    >>> events.onset_s.round(2).tolist()
    [4.03, 9.03, 14.53]
    """

    def __init__(self, config: Config | None = None, warmup_s: float = 2.0, history_s: float = 20.0,
                 detect_every_s: float = 1.0, noise_every_s: float = 5.0, detect_window_s: float = 12.0):
        self.config = cfg = config or Config()
        if history_s <= cfg.baseline_window_s + 2 * cfg.baseline_block_s:
            raise ValueError(f"history_s must exceed baseline_window_s + 2 blocks "
                             f"({cfg.baseline_window_s + 2 * cfg.baseline_block_s} s), got {history_s}")
        if not 2 * max(cfg.asym_window_s, cfg.asym_trend_s) <= detect_window_s <= history_s:
            raise ValueError(f"detect_window_s must lie between twice asym_window_s and asym_trend_s "
                             f"({2 * max(cfg.asym_window_s, cfg.asym_trend_s)} s) and history_s ({history_s} s), "
                             f"got {detect_window_s}")
        self.detect_window_s = detect_window_s
        self.warmup_s = warmup_s
        self.history_s = history_s
        self.detect_every_s = detect_every_s
        self.noise_every_s = noise_every_s
        self._noise_t = -np.inf
        self.head: HeadFrame | None = None
        self.n_frames = 0
        self.core_s = 0.0
        self.n_detections = 0
        self._t0: float | None = None
        self._frame_size = (0, 0)
        self._held: list[Landmarks] = []  # chunks pushed before the head frame is known
        # The history lives in a buffer written in place (a chunk is appended without copying the history);
        # _hist is the view of its rows in use.
        self._buffer = np.empty((0, _N_COLS))
        self._hist = self._buffer[:0]
        self._hist_start = 0
        self._n_blocks_window = 2 * max(int(round(cfg.baseline_window_s / cfg.baseline_block_s / 2)), 0) + 1
        self._blocks: dict[int, np.ndarray] = {}  # completed block -> its quantiles, shape (6,)
        self._next_block = 0  # first block not completed yet
        self._warmup_blocks = 1
        self._last_baseline = np.full(6, np.nan)
        self._baseline_cache: tuple[int, np.ndarray] = (-1, self._last_baseline)
        self._noise = {name: np.zeros(2) for name in SIGNAL_NAMES}
        self._dt = 1 / 30  # frame interval, seconds; measured with the noise
        self._set_frame_counts()
        self._noise_known = False
        self._next_detection_t = -np.inf
        self._active = False  # a signal reached its threshold, and its run (or a later detection) is not over
        self._last_above = np.full(6, -1, np.int64)  # per signal column, the last frame at a run's start level
        self._armed = np.zeros(6, bool)  # per signal column, reached its threshold since the last detection
        # The first frame index and the quiet frames (asymmetry.quiet_frames) of the last detection's window.
        self._quiet: tuple[int, np.ndarray] = (0, np.zeros((0, len(REGIONS)), bool))
        self._detected_until = -1  # newest frame at the last detection
        self._gated_from = 0
        # Scheduling only: detect_events starts every run where a signal exceeds half its region's threshold,
        # max(*_on_*, noise_k * noise), so frames below that cannot hold an event and need no detection.
        self._on = np.repeat(list(cfg.on_thresholds.values()), 2)  # SIGNAL_NAMES order, both sides each
        self._set_levels(self._on)  # set again with the noise
        self._emitted: dict[tuple, int] = {}  # (side, region, onset_frame) -> offset_frame of emitted events
        # The frame from which a mouth or brow event seen by the last detection is final (it waits
        # coupling_window_s for an eye twitch; see _schedule_events), or None: a detection is due then.
        self._due_at: int | None = None

    @property
    def ready(self) -> bool:
        """Whether the warm-up is over and signals are being computed."""
        return self.head is not None

    @property
    def noise(self) -> dict:
        """Current robust noise per signal, each shape (2,) (see :func:`~twitchcam.signals.robust_noise`)."""
        return dict(self._noise)

    def push(self, landmarks: Landmarks) -> StreamUpdate:
        """Analyze the next chunk of frames.

        Parameters
        ----------
        landmarks : Landmarks
            The next frames, in time order, later than every frame pushed before (a chunk of a few frames; one
            frame works but costs more per frame).

        Returns
        -------
        StreamUpdate
        """
        start = time.perf_counter()
        try:
            return self._push(landmarks, final=False)
        finally:
            self.core_s += time.perf_counter() - start

    def finish(self) -> StreamUpdate:
        """End of the stream: report every event not reported yet, as an offline analysis ending here would."""
        start = time.perf_counter()
        try:
            return self._push(Landmarks.empty(self._frame_size), final=True)
        finally:
            self.core_s += time.perf_counter() - start

    def _push(self, lm: Landmarks, final: bool) -> StreamUpdate:
        n = len(lm)
        if n:
            if self._t0 is None:
                self._t0 = float(lm.t[0])
                self._frame_size = lm.frame_size
            first = self.n_frames
            self.n_frames += n
            if self.head is None:
                self._held.append(lm)
                self._trim_held()
                lm = self._try_warmup()
                if lm is None:
                    return StreamUpdate(np.zeros(0, np.int64), _empty_signals(), _NO_EVENTS)
                first = self.n_frames - len(lm)
            signals = self._measure_chunk(lm, first)
        elif final and self.head is None and self._held:
            # A stream shorter than the warm-up: analyze what there is, as offline would.
            lm = self._try_warmup(final=True)
            if lm is None:
                return StreamUpdate(np.zeros(0, np.int64), _empty_signals(), _NO_EVENTS)
            signals = self._measure_chunk(lm, self.n_frames - len(lm))
        else:
            signals = _empty_signals()
        frames = np.arange(self.n_frames - len(signals), self.n_frames, dtype=np.int64)
        return StreamUpdate(frames, signals, self._schedule_events(final))

    # -- warm-up -------------------------------------------------------------------------------------------------

    def _trim_held(self) -> None:
        """Forget held frames older than ``history_s`` (a face that takes long to appear); they stay unanalyzed."""
        newest = self._held[-1].t[-1]
        while len(self._held) > 1 and self._held[0].t[-1] < newest - self.history_s:
            self._held.pop(0)

    def _try_warmup(self, final: bool = False) -> Landmarks | None:
        """Estimate the head frame once ``warmup_s`` of frames with a face are held (at the end of the stream, from
        whatever is held); return the held frames.
        """
        found_t = [h.t[h.face_found] for h in self._held if h.face_found.any()]
        if not found_t or (not final and found_t[-1][-1] - found_t[0][0] < self.warmup_s):
            return None
        held = Landmarks.concatenate(self._held)
        head = estimate_head_frame(held, self.config)
        if head is None:
            return None
        self.head = head
        self._held = []
        # Blocks completed during the warm-up share one baseline: there is no earlier block to trail. A stream
        # that ends within its warm-up has every block, the last one too, in that shared baseline.
        last = self._block_of(held.t[-1])
        self._warmup_blocks = last + 1 if final else max(last, 1)
        return held

    # -- measures, baselines, signals ----------------------------------------------------------------------------

    def _block_of(self, t):
        # In float64 whatever the frames' time type, as the chunk's first and last block are (_measure_chunk).
        return np.floor((np.asarray(t, np.float64) - self._t0) / self.config.baseline_block_s).astype(np.int64)

    def _complete_blocks(self, until: int) -> bool:
        """Compute the quantiles of every block before ``until`` from the history; forget blocks no longer needed.

        Returns whether a block was completed.
        """
        if until <= self._next_block:
            return False
        blocks = self._block_of(self._hist[:, _T])
        for b in range(self._next_block, until):
            rows = self._hist[blocks == b, _BASELINE]
            self._blocks[b] = nanquantile_sorted(rows, _QUANTILES, axis=0) if len(rows) else np.full(6, np.nan)
        self._next_block = until
        for b in [b for b in self._blocks if b < until - self._n_blocks_window]:
            del self._blocks[b]
        return True

    def _baseline_of_block(self, b: int) -> np.ndarray:
        """Resting levels of a block, shape (6,): median of the quantiles of the blocks trailing it."""
        if self._baseline_cache[0] == b:
            return self._baseline_cache[1]
        if b < self._warmup_blocks:
            window = range(0, self._warmup_blocks)
        else:
            window = range(max(b - self._n_blocks_window, 0), b)
        stack = np.array([self._blocks[k] for k in window if k in self._blocks])
        base = nanquantile_sorted(stack, 50, axis=0) if len(stack) else np.full(6, np.nan)
        # After a long stretch without a face the trailing blocks are empty: keep the last resting level known,
        # as the offline baseline carries its nearest value across a gap.
        base = np.where(np.isfinite(base), base, self._last_baseline)
        self._last_baseline = np.where(np.isfinite(base), base, self._last_baseline)
        # Fixed once the blocks before b are complete, which they are whenever a frame of block b exists.
        self._baseline_cache = (b, base)
        return base

    def _append_rows(self, n: int) -> np.ndarray:
        """Extend the history by ``n`` rows and return them (a view; not initialised: the caller fills every column)."""
        used = len(self._hist)
        start = self._hist_start
        if start + used + n > len(self._buffer):
            # Room for the history and some chunks more: the rows move only when the buffer's end is reached.
            buffer = np.empty((max(2 * (used + n), 64), _N_COLS))
            buffer[:used] = self._hist
            self._buffer, start = buffer, 0
        end = start + used + n
        self._hist_start = start
        self._hist = self._buffer[start:end]
        return self._hist[used:]

    def _measure_chunk(self, lm: Landmarks, first: int) -> Signals:
        cfg = self.config
        m: Measures = measure_frames(lm, self.head, cfg)
        n = len(lm)
        rows = self._append_rows(n)
        rows[:, _T] = lm.t
        rows[:, _FOUND] = lm.face_found
        rows[:, _MEASURED] = m.measured
        rows[:, _MEASURE_COLS["eye_opening"]] = m.eye_opening
        rows[:, _MEASURE_COLS["mouth_position"]] = m.mouth_position
        rows[:, _MEASURE_COLS["brow_height"]] = m.brow_height
        rows[:, _ROT] = m.head_rotation_deg
        rows[:, _SCALE] = m.head_scale
        rows[:, _POSE] = m.head_pose_deg
        rows[:, _INDEX] = np.arange(first, first + n)
        block_s = self.config.baseline_block_s
        first_block = math.floor((float(lm.t[0]) - self._t0) / block_s)  # as _block_of, for one frame
        last_block = math.floor((float(lm.t[-1]) - self._t0) / block_s)
        if first_block == last_block:
            # Most chunks lie within one block: one resting level for all their frames.
            completed = self._complete_blocks(max(first_block, self._warmup_blocks))
            base = self._baseline_of_block(first_block)[None, :]  # broadcast over the chunk's frames
        else:
            base = np.empty((n, 6))
            completed = False
            blocks = self._block_of(lm.t)
            # A chunk's frames are in time order: its blocks are the range from its first frame's to its last's.
            for b in range(first_block, last_block + 1):
                completed |= self._complete_blocks(max(b, self._warmup_blocks))
                base[blocks == b] = self._baseline_of_block(b)
        eye_closure, mouth_pull, brow_raise = relative_to_rest(m, base[:, 0:2], base[:, 2:4], base[:, 4:6])
        rows[:, _SIGNAL_COLS["eye_closure"]] = eye_closure
        rows[:, _SIGNAL_COLS["mouth_pull"]] = mouth_pull
        rows[:, _SIGNAL_COLS["brow_raise"]] = brow_raise
        # Rows older than history_s are forgotten (time increases, so they are the first ones).
        old = int(np.searchsorted(self._hist[:, _T], lm.t[-1] - self.history_s))
        self._hist = self._hist[old:]
        self._hist_start += old
        # Noise sets detect_events' thresholds: it changes only between stretches of movement, so that every run
        # is judged with one threshold, however many detections it spans.
        due = completed and lm.t[-1] >= self._noise_t + self.noise_every_s and not self._active
        if not self._noise_known or due:
            self._refresh_noise()
        return Signals(lm.t, lm.face_found.copy(), m.measured, eye_closure, mouth_pull, brow_raise, m.eye_opening,
                       m.head_rotation_deg, m.head_scale, self.noise, self.head.iod, m.head_pose_deg)

    def _refresh_noise(self) -> None:
        h = self._hist
        noise = robust_noise(h[:, _SIGNALS])
        self._noise = {name: noise[2 * i:2 * i + 2] for i, name in enumerate(SIGNAL_NAMES)}
        if len(h) > 1:
            self._dt = float(np.median(np.diff(h[:, _T])))
            self._set_frame_counts()
        self._noise_known = True
        self._noise_t = float(h[-1, _T])
        # The level a run of each signal column reaches, and the level it starts at (START_LEVEL_FRAC of it): a
        # bilateral closure reaches bilateral_on_frac in both eyes. They change with the noise only.
        reach = np.maximum(self._on, self.config.noise_k * noise)
        reach[:2] = np.minimum(reach[:2], self.config.bilateral_on_frac)
        self._set_levels(reach)

    def _set_levels(self, reach: np.ndarray) -> None:
        """The level a run of each signal column reaches, shape (6,), and the level it starts at."""
        self._reach, self._level = reach, START_LEVEL_FRAC * reach
        self._reach_positive = bool((reach > 0).all())

    def _set_frame_counts(self) -> None:
        """The frame counts of the scheduling durations at the current frame interval (they change with it only)."""
        cfg = self.config
        # An event is final this many frames after it ended: the gap a later run of it may join across
        # (merge_gap_s, mouth_brow_merge_gap_s for a mouth corner or brow), and one frame.
        self._guard = int(round(cfg.merge_gap_s / self._dt)) + 1
        self._guard_mouth_brow = int(round(cfg.mouth_brow_merge_gap_s / self._dt)) + 1
        self._couple = int(round(cfg.coupling_window_s / self._dt))
        # How long after its last frame at a run's start level each signal column's run may still go on: a mouth
        # or brow run waits coupling_window_s longer for an eye twitch (see _schedule_events).
        self._wait = np.where(_EYE_COLUMNS, self._guard,
                              max(self._guard + self._couple, self._guard_mouth_brow))

    def _window_signals(self, rows: np.ndarray) -> Signals:
        """The history rows as a Signals object for detect_events."""
        col = {name: rows[:, sl] for name, sl in _SIGNAL_COLS.items()}
        return Signals(rows[:, _T], rows[:, _FOUND] > 0, rows[:, _MEASURED] > 0, col["eye_closure"],
                       col["mouth_pull"], col["brow_raise"], rows[:, _MEASURE_COLS["eye_opening"]], rows[:, _ROT],
                       rows[:, _SCALE], self.noise, self.head.iod, rows[:, _POSE])

    # -- events --------------------------------------------------------------------------------------------------

    def _schedule_events(self, final: bool) -> Events:
        """Run detect_events on the history when due, and return the events that became final since the last run.

        An event is final once it has ended at least ``merge_gap_s`` (a mouth corner's or brow's:
        ``mouth_brow_merge_gap_s``) plus one frame before the newest frame: no later run can merge with it any
        more. This relies on detect_events deciding an event from the frames of its run (widened by that gap) and
        from statistics of the whole window, not on its thresholds.
        """
        h = self._hist
        if not len(h):
            return _NO_EVENTS
        guard, couple, wait = self._guard, self._couple, self._wait
        n_new = min(self.n_frames - self._gated_from, len(h))
        recent = h[-max(n_new, guard):]
        # Comparisons with NaN (frames without a face) are False, without a warning.
        above = recent[:, _SIGNALS] > self._level
        newest = self.n_frames - 1
        moving = bool(above.any())
        # A frame at a threshold is above its run's start level (half of it) unless that threshold is 0: at rest,
        # nothing can arm.
        if n_new and (moving or not self._reach_positive):
            self._armed |= (recent[-n_new:, _SIGNALS] >= self._reach).any(axis=0)
        if moving:
            seen = above.any(axis=0)
            frames = recent[:, _INDEX].astype(np.int64)
            self._last_above[seen] = np.maximum(self._last_above[seen],
                                                frames[len(frames) - 1 - np.argmax(above[::-1], axis=0)][seen])
        now = float(h[-1, _T])
        # Only movement that reached a threshold can hold an event: smaller ones (a signal hovering near a run's
        # start level, the face at rest) start no detections.
        if not self._active and self._armed.any():
            self._active = True
            self._next_detection_t = now + self.detect_every_s
        self._gated_from = self.n_frames
        if not (final or self._active or self._due_at is not None):
            return _NO_EVENTS  # the face at rest: nothing can be due
        # A signal that reached its threshold has been below a run's start level for longer than merge_gap_s: a
        # run of it has ended. The detection waits while another such signal still moves (the mouth after the
        # eye, the other eye after a blink), at most detect_every_s: one detection for the movement, not two.
        # A mouth or brow run is final coupling_window_s after its onset at the earliest (it waits for an eye twitch
        # of its side; see below): its detection waits that much longer, so the movement still needs only one.
        running = self._armed & (self._last_above + wait > newest)  # reached a threshold, its run not over
        ended = ((self._armed & (self._last_above > self._detected_until) & (self._last_above + wait <= newest)).any()
                 and not running.any())
        quiet = not above[-guard:].any() and not running.any()
        # A mouth or brow event waiting for its coupling window asks for a detection of its own only when no signal
        # that reached its threshold still moves (that signal's own detection will come, and decide it).
        due = self._due_at is not None and newest >= self._due_at and not running.any()
        if not (final or due or (self._active and (ended or quiet or now >= self._next_detection_t))):
            return _NO_EVENTS
        # detect_events on the last detect_window_s of the history: its local statistics need a few seconds
        # around each event, and its cost grows with the window.
        h = h[np.searchsorted(h[:, _T], now - self.detect_window_s):]  # time increases
        events = self._detect(h)
        oldest = int(h[0, _INDEX])
        # A mouth or brow movement counts with an eye twitch of its side that starts up to coupling_window_s after
        # it (detect_events): it is final once that eye twitch would be in view too, and once no later run of its
        # own can join it (mouth_brow_merge_gap_s).
        final_at = np.where(events.region == "periocular", events.offset_frame + guard,
                            np.maximum(events.offset_frame + self._guard_mouth_brow,
                                       events.onset_frame + couple + guard))
        # A mouth or brow event not final yet asks for a detection when it is: its own run may have ended and no
        # signal may move by then.
        waiting = (final_at > newest) & (events.region != "periocular")
        self._due_at = int(final_at[waiting].min()) if waiting.any() and not final else None
        # Each event is decided once, at the first detection after it became final: later statistics of the
        # history can neither add it late nor take it back.
        decide = final_at > self._detected_until
        if not final:
            decide &= final_at <= newest
        if oldest > 0:
            # A run cut by the start of the history began more than history_s ago: it cannot be reported whole.
            decide &= events.onset_frame > oldest
        events = events[decide]
        events = events[~self._reported(events)]
        for side, region, onset, offset in zip(events.side, events.region, events.onset_frame, events.offset_frame):
            self._emitted[(side, region, int(onset))] = int(offset)
        self._emitted = {k: v for k, v in self._emitted.items() if v >= oldest}
        self._detected_until = newest
        self._next_detection_t = now + self.detect_every_s
        # A signal whose run reached its threshold stays armed until that run is final (above its start level, or
        # below it for less than merge_gap_s: it may go on), and detections go on while one is. Signals that have
        # not reached a threshold hold none (talking brows hover near a run's start level): they start detections
        # again when they reach it.
        self._armed = running
        self._active = not final and bool(self._armed.any())
        return events

    def _reported(self, events: Events) -> np.ndarray:
        """Which events overlap an event of the same side and region reported already, shape (n_events,)."""
        return np.array([any(s == side and r == region and a <= offset and b >= onset
                             for (s, r, a), b in self._emitted.items())
                         for side, region, onset, offset in
                         zip(events.side, events.region, events.onset_frame, events.offset_frame)], bool)

    def _detect(self, rows: np.ndarray) -> Events:
        """detect_events on history rows, with frame indices of the stream."""
        self.n_detections += 1
        cfg = self.config
        signals = self._window_signals(rows)
        index = rows[:, _INDEX].astype(np.int64)
        # Warm start: the quiet frames the last detection found, on the frames both windows hold.
        first, quiet = self._quiet
        prior = quiet[index[0] - first:] if first <= index[0] < first + len(quiet) else None
        asymmetry, spread = local_asymmetry(signals, cfg, prior)
        self._quiet = (int(index[0]), quiet_frames(asymmetry, spread, cfg))
        events = detect_events(signals, cfg, (asymmetry, spread))
        return events.with_frames(index[events.onset_frame], index[events.offset_frame])
