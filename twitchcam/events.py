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


def _runs(active: np.ndarray, values: list[np.ndarray]):
    """Runs of True in ``active`` and the maximum of each of ``values`` within each run.

    Parameters
    ----------
    active : ndarray, shape (n_frames,), bool
    values : list of ndarray, each shape (n_frames,)
        NaN counts as -inf.

    Returns
    -------
    start, stop : ndarray of int, shape (n_runs,)
        First and last frame of each run (inclusive).
    peaks : list of ndarray, each shape (n_runs,)
        Maximum of each of ``values`` within each run.
    """
    labels, n = ndimage.label(active)
    if n == 0:
        empty = np.zeros(0, np.int64)
        return empty, empty, [np.zeros(0) for _ in values]
    idx = np.arange(1, n + 1)
    peaks = [np.asarray(ndimage.maximum(np.where(np.isfinite(v), v, -np.inf), labels, idx)) for v in values]
    slices = ndimage.find_objects(labels)
    start = np.array([sl[0].start for sl in slices])
    stop = np.array([sl[0].stop - 1 for sl in slices])
    return start, stop, peaks


def _kinds(duration_s: np.ndarray, bilateral: bool, cfg: Config) -> np.ndarray:
    kind = np.where(duration_s >= cfg.tonic_min_s, "tonic", "clonic")
    if bilateral:
        kind = np.where(duration_s <= cfg.blink_max_s, "blink", kind)
    return kind


def _table(t, start, stop, side, region, peak, bilateral, cfg) -> Events:
    n = len(start)
    return Events.from_columns(t[start], t[stop], np.full(n, side), np.full(n, region),
                               _kinds(t[stop] - t[start], bilateral, cfg), peak, start, stop)


def _bilateral_closures(t, closure, gap, dt, cfg):
    """Synchronous closures of both eyes: both closed, to within ``bilateral_ratio`` of each other.

    Returns
    -------
    Events
        The bilateral events.
    mask : ndarray, shape (n_frames,), bool
        Frames covered by a bilateral closure, widened by ``gap`` frames; unilateral runs inside it are the
        unequal onsets and offsets of the same closure, not twitches.
    """
    both = np.fmin(closure[:, 0], closure[:, 1])
    active = _close_gaps(both > cfg.bilateral_off_frac, gap)
    start, stop, (p_left, p_right) = _runs(active, [closure[:, 0], closure[:, 1]])
    weak, strong = np.minimum(p_left, p_right), np.maximum(p_left, p_right)
    keep = ((weak >= cfg.bilateral_on_frac) & (weak >= cfg.bilateral_ratio * strong)
            & ((t[stop] - t[start] + dt) >= cfg.min_event_s))
    start, stop = start[keep], stop[keep]
    mask = np.zeros(len(t), bool)
    for a, b in zip(start, stop):
        mask[max(a - gap, 0):b + gap + 1] = True
    return _table(t, start, stop, "bilateral", "periocular", strong[keep], True, cfg), mask


def detect_events(signals: Signals, config: Config | None = None) -> Events:
    """Find twitches per side and region, and synchronous closures of both eyes.

    Each side is compared with the other. A unilateral event is a run where one side's signal exceeds the other
    side's by the asymmetry threshold (hysteresis: it starts above ``*_asym_*`` / 2 and must reach ``*_asym_*``)
    while itself exceeding the region's own threshold. Eyes closing together to within ``bilateral_ratio`` of
    each other are one bilateral event (a blink when brief), and the brief asymmetries at their start and end
    are not unilateral events. Symmetric mouth and brow movements (talking, smiling) have no asymmetry and give
    no event. This is what keeps talking, laughing, blinking and head motion from producing unilateral events.

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
    thresholds = {"periocular": (cfg.eye_on_frac, cfg.eye_asym_frac, "eye_closure"),
                  "perioral": (cfg.mouth_on_iod, cfg.mouth_asym_iod, "mouth_pull"),
                  "brow": (cfg.brow_on_iod, cfg.brow_asym_iod, "brow_raise")}
    tables = []
    bilateral_mask = np.zeros(len(t), bool)
    for region, (on, asym_on, name) in thresholds.items():
        sig = signals.region_signal(region)
        if region == "periocular":
            bilateral, bilateral_mask = _bilateral_closures(t, sig, gap, dt, cfg)
            tables.append(bilateral)
        # How far the two sides differ at rest on this recording (robust, so twitches barely count): strong head
        # motion or a poorly lit side make the sides disagree more, and the asymmetry threshold rises with it.
        difference = sig[:, 0] - sig[:, 1]
        difference = difference[np.isfinite(difference)]
        spread = 1.4826 * np.median(np.abs(difference - np.median(difference))) if len(difference) else 0.0
        for j, side in enumerate(("left", "right")):
            # On jittery footage the thresholds rise with the measured frame-to-frame noise.
            floor = cfg.noise_k * signals.noise[name][j]
            on_j, asym_j = max(on, floor), max(asym_on, floor, cfg.asym_spread_k * spread)
            excess = sig[:, j] - sig[:, 1 - j]
            active = _close_gaps((excess > asym_j / 2) & (sig[:, j] > on_j / 2), gap)
            # During a bilateral closure the eyes' unequal speed is no evidence of a twitch: a run qualifies on
            # its frames outside it (a tonic spasm with a blink in the middle still does).
            evidence = np.where(bilateral_mask, np.nan, 0.0) if region == "periocular" else 0.0
            start, stop, (peak, peak_excess) = _runs(active, [sig[:, j] + evidence, excess + evidence])
            keep = (peak >= on_j) & (peak_excess >= asym_j) & ((t[stop] - t[start] + dt) >= cfg.min_event_s)
            tables.append(_table(t, start[keep], stop[keep], side, region, peak[keep], False, cfg))
    return Events.concatenate(tables)
