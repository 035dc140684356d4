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


def _runs(active: np.ndarray, values: list[np.ndarray], max_gap: int = 0):
    """Runs of True in ``active``, joined across gaps, and the maximum of each of ``values`` within each run.

    Parameters
    ----------
    active : ndarray, shape (n_frames,), bool
    values : list of ndarray, each shape (n_frames,)
        NaN counts as -inf.
    max_gap : int
        Runs separated by at most this many False frames are one run (the gap's frames belong to it).

    Returns
    -------
    start, stop : ndarray of int, shape (n_runs,)
        First and last frame of each run (inclusive).
    peaks : list of ndarray, each shape (n_runs,)
        Maximum of each of ``values`` within each run.
    """
    # A handful of whole-array operations, not one per run: a live session calls this every second.
    edges = np.flatnonzero(np.diff(np.concatenate(([0], active.view(np.int8), [0]))))
    start, stop = edges[::2], edges[1::2] - 1
    if max_gap >= 1 and len(start) > 1:
        joined = start[1:] - stop[:-1] - 1 <= max_gap
        start, stop = start[np.concatenate(([True], ~joined))], stop[np.concatenate((~joined, [True]))]
    if not len(start):
        return start, stop, [np.zeros(0) for _ in values]
    inside = np.zeros(len(active) + 1, np.int64)
    np.add.at(inside, start, 1)
    np.add.at(inside, stop + 1, -1)
    inside = np.cumsum(inside[:-1]) > 0
    peaks = [np.maximum.reduceat(np.where(inside & np.isfinite(v), v, -np.inf), start) for v in values]
    return start, stop, peaks


def _kinds(duration_s: np.ndarray, bilateral: bool, cfg: Config) -> np.ndarray:
    kind = np.where(duration_s >= cfg.tonic_min_s, "tonic", "clonic")
    if bilateral:
        kind = np.where(duration_s <= cfg.blink_max_s, "blink", kind)
    return kind


def _columns(t, start, stop, side, region, peak, bilateral, cfg) -> dict:
    """Columns of :meth:`Events.from_columns` for runs of one side and region."""
    n = len(start)
    return {"onset_s": t[start], "offset_s": t[stop], "side": np.full(n, side, "U9"),
            "region": np.full(n, region, "U10"), "kind": _kinds(t[stop] - t[start], bilateral, cfg), "peak": peak,
            "onset_frame": start, "offset_frame": stop}


def _bilateral_closures(t, closure, gap, dt, cfg):
    """Synchronous closures of both eyes: both closed, to within ``bilateral_ratio`` of each other.

    Returns
    -------
    dict
        Columns of the bilateral events (see :meth:`Events.from_columns`).
    mask : ndarray, shape (n_frames,), bool
        Frames covered by a bilateral closure, widened by ``gap`` frames; unilateral runs inside it are the
        unequal onsets and offsets of the same closure, not twitches.
    """
    both = np.fmin(closure[:, 0], closure[:, 1])
    start, stop, (p_left, p_right) = _runs(both > cfg.bilateral_off_frac, [closure[:, 0], closure[:, 1]], gap)
    weak, strong = np.minimum(p_left, p_right), np.maximum(p_left, p_right)
    keep = ((weak >= cfg.bilateral_on_frac) & (weak >= cfg.bilateral_ratio * strong)
            & ((t[stop] - t[start] + dt) >= cfg.min_event_s))
    start, stop = start[keep], stop[keep]
    mask = np.zeros(len(t), bool)
    for a, b in zip(start, stop):
        mask[max(a - gap, 0):b + gap + 1] = True
    return _columns(t, start, stop, "bilateral", "periocular", strong[keep], True, cfg), mask


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
    # Collected as columns and made into one table at the end: building a table (validated, sorted) has a cost.
    tables = []
    bilateral_mask = np.zeros(len(t), bool)
    for region, (on, asym_on, name) in thresholds.items():
        sig = signals.region_signal(region)
        if region == "periocular":
            bilateral, bilateral_mask = _bilateral_closures(t, sig, gap, dt, cfg)
            tables.append(bilateral)
        for j, side in enumerate(("left", "right")):
            # On jittery footage the thresholds rise with the measured frame-to-frame noise, and the asymmetry
            # threshold with how far the sides differ at rest.
            floor = cfg.noise_k * signals.noise[name][j]
            on_j, asym_j = max(on, floor), max(asym_on, floor, cfg.asym_spread_k * signals.side_spread[name])
            excess = sig[:, j] - sig[:, 1 - j]
            active = (excess > asym_j / 2) & (sig[:, j] > on_j / 2)
            # During a bilateral closure the eyes' unequal speed is no evidence of a twitch: a run qualifies on
            # its frames outside it (a tonic spasm with a blink in the middle still does).
            evidence = np.where(bilateral_mask, np.nan, 0.0) if region == "periocular" else 0.0
            start, stop, (peak, peak_excess) = _runs(active, [sig[:, j] + evidence, excess + evidence], gap)
            keep = (peak >= on_j) & (peak_excess >= asym_j) & ((t[stop] - t[start] + dt) >= cfg.min_event_s)
            tables.append(_columns(t, start[keep], stop[keep], side, region, peak[keep], False, cfg))
    return Events.from_columns(**{name: np.concatenate([c[name] for c in tables]) for name in tables[0]})
