"""Twitch events: per side and region, when a contraction started and ended, its kind and its peak.

Conventions
-----------
- ``side`` is the PATIENT's side (``left`` | ``right``), or ``bilateral`` for a synchronous closure of both eyes.
- Intervals are inclusive: an event spans frames ``onset_frame`` to ``offset_frame`` including both, and
  ``onset_s``/``offset_s`` are those frames' presentation times.
- ``kind`` follows the 1 s boundary of the Jankovic scale: ``clonic`` (brief twitch) below ``tonic_min_s``,
  ``tonic`` (sustained spasm) from it. Bilateral eye closures no longer than ``blink_max_s`` are ``blink``.
- ``peak`` is a positive normalized amplitude: for ``periocular`` the eye closure as a fraction of that eye's
  resting opening (1 = fully closed); for ``perioral`` and ``brow`` the displacement in inter-ocular distances.
- One row per region per side per event: a twitch that narrows the left eye and pulls the left mouth corner at
  once is two rows.

Only eye closures are reported as bilateral events. A symmetric movement of both mouth corners or both brows is a
voluntary expression (talking, smiling, surprise), not a twitch, and is not an event.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from .config import Config
from .regions import REGIONS
from .signals import Signals

EVENT_SIDES = ("left", "right", "bilateral")
EVENT_KINDS = ("clonic", "tonic", "blink")
CSV_COLUMNS = ("onset_s", "offset_s", "side", "region", "kind", "peak")


@dataclass(frozen=True)
class Events:
    """A table of events as parallel arrays, sorted by onset.

    Parameters
    ----------
    onset_s, offset_s : ndarray, shape (n_events,), float64
        Start and end time in seconds (inclusive, see module docstring).
    side : ndarray, shape (n_events,), str
        ``left`` | ``right`` | ``bilateral``.
    region : ndarray, shape (n_events,), str
        ``periocular`` | ``perioral`` | ``brow``.
    kind : ndarray, shape (n_events,), str
        ``clonic`` | ``tonic`` | ``blink``.
    peak : ndarray, shape (n_events,), float64
        Positive normalized amplitude (see module docstring).
    onset_frame, offset_frame : ndarray, shape (n_events,), int64
        Frame indices of onset and offset; -1 when the events did not come from frames (a truth file).
    """

    onset_s: np.ndarray
    offset_s: np.ndarray
    side: np.ndarray
    region: np.ndarray
    kind: np.ndarray
    peak: np.ndarray
    onset_frame: np.ndarray
    offset_frame: np.ndarray

    def __post_init__(self):
        n = len(self.onset_s)
        for name in ("offset_s", "side", "region", "kind", "peak", "onset_frame", "offset_frame"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"Events.{name} has {len(getattr(self, name))} rows, expected {n}")
        for name, allowed in (("side", EVENT_SIDES), ("region", REGIONS), ("kind", EVENT_KINDS)):
            bad = set(getattr(self, name).tolist()) - set(allowed)
            if bad:
                raise ValueError(f"Events.{name} must be one of {allowed}, got {sorted(bad)}")
        if n and np.any(self.offset_s < self.onset_s):
            raise ValueError("Events.offset_s must not precede onset_s")

    def __len__(self) -> int:
        return len(self.onset_s)

    def __getitem__(self, index) -> "Events":
        """Select rows with a boolean mask, an index array or a slice."""
        return Events(**{name: getattr(self, name)[index] for name in self.__dataclass_fields__})

    @property
    def duration_s(self) -> np.ndarray:
        """Duration of each event in seconds, shape (n_events,)."""
        return self.offset_s - self.onset_s

    @classmethod
    def empty(cls) -> "Events":
        """A table with no rows."""
        return cls.from_columns([], [], [], [], [], [])

    @classmethod
    def from_columns(cls, onset_s, offset_s, side, region, kind, peak, onset_frame=None,
                     offset_frame=None) -> "Events":
        """Build a table from sequences, sorting by onset (then side, region)."""
        onset_s = np.asarray(onset_s, np.float64)
        n = len(onset_s)
        frames = [np.full(n, -1, np.int64) if f is None else np.asarray(f, np.int64)
                  for f in (onset_frame, offset_frame)]
        table = cls(onset_s, np.asarray(offset_s, np.float64), np.asarray(side, dtype="U9").reshape(n),
                    np.asarray(region, dtype="U10").reshape(n), np.asarray(kind, dtype="U6").reshape(n),
                    np.asarray(peak, np.float64), frames[0], frames[1])
        order = np.lexsort((table.region, table.side, table.onset_s))
        return table[order]

    @classmethod
    def concatenate(cls, tables: list["Events"]) -> "Events":
        """Join several tables into one sorted table."""
        if not tables:
            return cls.empty()
        cols = {name: np.concatenate([getattr(t, name) for t in tables]) for name in cls.__dataclass_fields__}
        return cls.from_columns(**cols)


def _frame_interval(t: np.ndarray) -> float:
    return float(np.median(np.diff(t))) if len(t) > 1 else 1 / 30


def _close_gaps(mask: np.ndarray, max_gap: int) -> np.ndarray:
    """Fill runs of False no longer than ``max_gap`` frames that lie between two True runs."""
    if max_gap < 1 or not mask.any():
        return mask
    structure = np.ones(max_gap + 1, bool)
    padded = np.pad(mask, max_gap + 1)
    closed = ndimage.binary_closing(padded, structure=structure)
    return closed[max_gap + 1:-(max_gap + 1)] | mask


def _side_runs(x: np.ndarray, other: np.ndarray, on: float, off: float, gap: int):
    """Hysteresis runs of one side's signal and how the other side behaved during each.

    Parameters
    ----------
    x, other : ndarray, shape (n_frames,)
        This side's and the other side's signal (NaN where unknown).
    on, off : float
        A run is where ``x > off`` (gaps up to ``gap`` frames bridged) and it counts if it reaches ``on``.
    gap : int
        Largest gap in frames that is bridged.

    Returns
    -------
    start, stop : ndarray of int, shape (n_runs,)
        First and last frame of each run (inclusive).
    peak, other_peak : ndarray of float, shape (n_runs,)
        Maximum of ``x`` and of ``other`` within each run.
    overlap : ndarray of float, shape (n_runs,)
        Fraction of the run's frames in which ``other`` was also above ``off``.
    """
    xf = np.where(np.isfinite(x), x, -np.inf)
    of = np.where(np.isfinite(other), other, -np.inf)
    active = _close_gaps(xf > off, gap) & np.isfinite(x)
    labels, n = ndimage.label(active)
    if n == 0:
        empty_i, empty_f = np.zeros(0, np.int64), np.zeros(0)
        return empty_i, empty_i, empty_f, empty_f, empty_f
    idx = np.arange(1, n + 1)
    peak = np.asarray(ndimage.maximum(xf, labels, idx))
    other_peak = np.asarray(ndimage.maximum(of, labels, idx))
    overlap = np.asarray(ndimage.mean((of > off).astype(float), labels, idx))
    slices = ndimage.find_objects(labels)
    start = np.array([s[0].start for s in slices])
    stop = np.array([s[0].stop - 1 for s in slices])
    keep = peak >= on
    return start[keep], stop[keep], peak[keep], other_peak[keep], overlap[keep]


def _kinds(duration_s: np.ndarray, bilateral: bool, cfg: Config) -> np.ndarray:
    kind = np.where(duration_s >= cfg.tonic_min_s, "tonic", "clonic")
    if bilateral:
        kind = np.where(duration_s <= cfg.blink_max_s, "blink", kind)
    return kind


def detect_events(signals: Signals, config: Config | None = None) -> Events:
    """Find twitches per side and region, and synchronous closures of both eyes.

    For each region, every supra-threshold run of one side is compared with the other side during the same
    frames. It is unilateral when the other side stayed below ``bilateral_ratio`` of its peak or was active for
    less than half of it; otherwise both sides moved together, which for the eyes is a bilateral closure (a
    blink when brief) and for the mouth and brow a voluntary expression, not an event. Comparing each side with
    the other is what keeps talking, laughing, blinking and head motion from producing unilateral events.

    Parameters
    ----------
    signals : Signals
        Output of :func:`twitchcam.signals.compute_signals`.
    config : Config | None
        Thresholds and durations.

    Returns
    -------
    Events
        Sorted by onset.
    """
    cfg = config or Config()
    t = signals.t
    if len(t) == 0:
        return Events.empty()
    dt = _frame_interval(t)
    gap = int(round(cfg.merge_gap_s / dt))
    thresholds = {"periocular": (cfg.eye_on_frac, cfg.eye_off_frac, "eye_closure"),
                  "perioral": (cfg.mouth_on_iod, cfg.mouth_off_iod, "mouth_pull"),
                  "brow": (cfg.brow_on_iod, cfg.brow_off_iod, "brow_raise")}
    tables = []
    for region, (on, off, name) in thresholds.items():
        sig = signals.region_signal(region)
        shared = np.zeros(len(t), bool)
        for j, side in enumerate(("left", "right")):
            noise = signals.noise[name][j]
            on_j, off_j = max(on, cfg.noise_k * noise), max(off, 0.5 * cfg.noise_k * noise)
            start, stop, peak, other_peak, overlap = _side_runs(sig[:, j], sig[:, 1 - j], on_j, off_j, gap)
            unilateral = (other_peak < cfg.bilateral_ratio * peak) | (overlap < 0.5)
            long_enough = (t[stop] - t[start] + dt) >= cfg.min_event_s
            for a, b in zip(start[~unilateral], stop[~unilateral]):
                shared[a:b + 1] = True
            keep = unilateral & long_enough
            start, stop, peak = start[keep], stop[keep], peak[keep]
            duration = t[stop] - t[start]
            tables.append(Events.from_columns(t[start], t[stop], np.full(len(start), side),
                                              np.full(len(start), region), _kinds(duration, False, cfg), peak,
                                              start, stop))
        if region != "periocular":
            continue
        labels, n = ndimage.label(shared)
        if n:
            slices = ndimage.find_objects(labels)
            start = np.array([s[0].start for s in slices])
            stop = np.array([s[0].stop - 1 for s in slices])
            both = np.where(np.isfinite(sig), sig, -np.inf).max(axis=1)
            peak = np.asarray(ndimage.maximum(both, labels, np.arange(1, n + 1)))
            keep = (t[stop] - t[start] + dt) >= cfg.min_event_s
            start, stop, peak = start[keep], stop[keep], peak[keep]
            tables.append(Events.from_columns(t[start], t[stop], np.full(len(start), "bilateral"),
                                              np.full(len(start), region),
                                              _kinds(t[stop] - t[start], True, cfg), peak, start, stop))
    return Events.concatenate(tables)
