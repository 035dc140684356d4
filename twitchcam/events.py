"""Twitch events: per side and region, when a contraction started and ended, its kind and its peak.

Conventions
-----------
- ``side`` is the PATIENT's side (``left`` | ``right``), or ``bilateral`` for a synchronous closure of both eyes.
- Intervals are inclusive: an event spans frames ``onset_frame`` to ``offset_frame`` including both, and
  ``onset_s``/``offset_s`` are those frames' presentation times.
- ``kind`` follows the 1 s boundary of the Jankovic scale: ``clonic`` (brief twitch) below ``tonic_min_s``,
  ``tonic`` (sustained spasm) from it. A closure of both eyes shorter than that is a ``blink`` when it stays
  beyond half its own depth for at most ``blink_max_s`` (its half-amplitude duration, one common way to time a
  blink), else ``clonic``.
- ``peak`` is a positive normalized amplitude: for ``periocular`` the eye closure as a fraction of that eye's
  resting opening (1 = fully closed); for ``perioral`` and ``brow`` the displacement in inter-ocular distances.
- One row per region per side per event: a twitch that narrows the left eye and pulls the left mouth corner at
  once is two rows.
- ``score`` says how clearly a one-sided event stands out: its largest asymmetry over the local threshold (1 = at
  the threshold; a mouth or brow movement with an eye twitch counts from ``coupled_min_score``). Empty (NaN) for
  bilateral closures.

Only eye closures are reported as bilateral events. A symmetric movement of both mouth corners or both brows is a
voluntary expression (talking, smiling, surprise), not a twitch, and is not an event.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .asymmetry import local_asymmetry
from .config import Config
from .regions import REGIONS
from .signals import Signals
from .vocabulary import REGION_SIGNALS

EVENT_SIDES = ("left", "right", "bilateral")
EVENT_KINDS = ("clonic", "tonic", "blink")
CSV_COLUMNS = ("onset_s", "offset_s", "side", "region", "kind", "peak", "score")
#: The header of events.csv files written before events carried a score; still read, with the score unknown.
LEGACY_CSV_COLUMNS = CSV_COLUMNS[:-1]


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
    score : ndarray, shape (n_events,), float64
        How clearly a unilateral event stands out: its largest asymmetry over the local threshold (1 = at the
        threshold; see :func:`detect_events`). NaN for bilateral closures and events not detected here.
    """

    onset_s: np.ndarray
    offset_s: np.ndarray
    side: np.ndarray
    region: np.ndarray
    kind: np.ndarray
    peak: np.ndarray
    onset_frame: np.ndarray
    offset_frame: np.ndarray
    score: np.ndarray

    def __post_init__(self):
        n = len(self.onset_s)
        for name in ("offset_s", "side", "region", "kind", "peak", "onset_frame", "offset_frame", "score"):
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

    def __getitem__(self, index) -> Events:
        """Select rows with a boolean mask, an index array or a slice."""
        # Rows of a checked table need no second check (it costs more than the selection on a live detection).
        table = object.__new__(Events)
        for name in self.__dataclass_fields__:
            object.__setattr__(table, name, getattr(self, name)[index])
        return table

    def with_frames(self, onset_frame: np.ndarray, offset_frame: np.ndarray) -> Events:
        """The same events with other frame indices, shape (n_events,) each, int64.

        A live window's events in the frames of its stream; the rows are those of a checked table, so they are not
        checked again.
        """
        if len(onset_frame) != len(self) or len(offset_frame) != len(self):
            raise ValueError(f"Events.with_frames needs {len(self)} onset and offset frames, got "
                             f"{len(onset_frame)} and {len(offset_frame)}")
        table = self[:]
        object.__setattr__(table, "onset_frame", onset_frame)
        object.__setattr__(table, "offset_frame", offset_frame)
        return table

    @property
    def duration_s(self) -> np.ndarray:
        """Duration of each event in seconds, shape (n_events,)."""
        return self.offset_s - self.onset_s

    @classmethod
    def empty(cls) -> Events:
        """A table with no rows."""
        return cls.from_columns([], [], [], [], [], [])

    @classmethod
    def from_columns(cls, onset_s, offset_s, side, region, kind, peak, onset_frame=None,
                     offset_frame=None, score=None) -> Events:
        """Build a table from sequences, sorting by onset (then side, region); ``score`` defaults to NaN."""
        onset_s = np.asarray(onset_s, np.float64)
        n = len(onset_s)
        frames = [np.full(n, -1, np.int64) if f is None else np.asarray(f, np.int64)
                  for f in (onset_frame, offset_frame)]
        score = np.full(n, np.nan) if score is None else np.asarray(score, np.float64)
        table = cls(onset_s, np.asarray(offset_s, np.float64), np.asarray(side, dtype="U9").reshape(n),
                    np.asarray(region, dtype="U10").reshape(n), np.asarray(kind, dtype="U6").reshape(n),
                    np.asarray(peak, np.float64), frames[0], frames[1], score)
        order = np.lexsort((table.region, table.side, table.onset_s))
        return table[order]

    @classmethod
    def concatenate(cls, tables: list[Events]) -> Events:
        """Join several tables into one sorted table."""
        if not tables:
            return cls.empty()
        cols = {name: np.concatenate([getattr(t, name) for t in tables]) for name in cls.__dataclass_fields__}
        return cls.from_columns(**cols)


def _frame_interval(t: np.ndarray) -> float:
    """The median frame interval, s (np.median's value without its overhead: a live session calls this often)."""
    if len(t) < 2:
        return 1 / 30
    d = np.sort(np.diff(t))
    return float((d[(len(d) - 1) // 2] + d[len(d) // 2]) / 2)


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
        start, stop = _join(start, stop, max_gap)
    if not len(start) or not values:
        return start, stop, [np.zeros(0) for _ in values]
    inside = _covered(len(active), start, stop)
    peaks = [np.maximum.reduceat(np.where(inside & np.isfinite(v), v, -np.inf), start) for v in values]
    return start, stop, peaks


def _join(start: np.ndarray, stop: np.ndarray, max_gap: int | np.ndarray):
    """Consecutive runs (``start``, ``stop``: first and last frames, shape (n_runs,), at least two) separated by at
    most ``max_gap`` False frames joined into one: one limit for all gaps, or each gap's own, shape (n_runs - 1,).
    """
    joined = start[1:] - stop[:-1] - 1 <= max_gap
    return start[np.concatenate(([True], ~joined))], stop[np.concatenate((~joined, [True]))]


def _covered(n: int, start: np.ndarray, stop: np.ndarray) -> np.ndarray:
    """Which of ``n`` frames lie in any of the spans ``start``-``stop`` (inclusive; clipped to the frames).

    Parameters
    ----------
    n : int
    start, stop : ndarray of int, shape (n_spans,)

    Returns
    -------
    ndarray, shape (n,), bool
    """
    # Counts of span starts less span ends at each frame, summed: bincount, not np.add.at (several times faster).
    edges = (np.bincount(np.clip(start, 0, n), minlength=n + 1)
             - np.bincount(np.clip(stop + 1, 0, n), minlength=n + 1))
    return np.cumsum(edges[:n]) > 0


def _kinds(duration_s: np.ndarray, cfg: Config, width_s: np.ndarray | None = None) -> np.ndarray:
    """Tonic from ``tonic_min_s`` of duration, else clonic; with ``width_s`` (closures of both eyes) a blink when
    the half-depth width is at most ``blink_max_s``: a closure lasting a tonic spasm's length is none, however
    brief its deepest moment (a squint, eyes held half shut).
    """
    tonic = duration_s >= cfg.tonic_min_s
    kind = np.where(tonic, "tonic", "clonic")
    if width_s is not None:
        kind = np.where(~tonic & (width_s <= cfg.blink_max_s), "blink", kind)
    return kind


def _columns(t, start, stop, side, region, peak, score, cfg, width_s=None) -> dict:
    """Columns of :meth:`Events.from_columns` for runs; ``side`` and ``region`` one for all or one per run.

    ``width_s`` (shape (n_runs,), s), given for closures of both eyes, is their half-depth width
    (:func:`_half_depth_width`), which tells a blink (:func:`_kinds`).
    """
    n = len(start)
    kind = _kinds(t[stop] - t[start], cfg, width_s)
    return {"onset_s": t[start], "offset_s": t[stop], "side": np.full(n, side, "U9"),
            "region": np.full(n, region, "U10"), "kind": kind, "peak": peak,
            "onset_frame": start, "offset_frame": stop, "score": score}


def _half_depth_width(t, depth, start, stop):
    """How long each run stays closed beyond half its own deepest closure, s: its longest such stretch.

    A blink is timed at half its amplitude (one common measure of blink duration): its lids close fast and
    reopen slowly, so the frames where they are only a little lowered (where the run's span begins and ends) make
    a normal blink look twice as long, and two blinks in a row joined into one run look like one long closure.

    Parameters
    ----------
    t : ndarray, shape (n_frames,)
        Time, s.
    depth : ndarray, shape (n_frames,)
        Closure of both eyes (the less closed eye's), dimensionless; NaN where not measured.
    start, stop : ndarray of int, shape (n_runs,)
        First and last frame of each run, inclusive; at least one run, none overlapping, in order.

    Returns
    -------
    ndarray, shape (n_runs,)
        Seconds.
    """
    inside = _covered(len(t), start, stop)
    peak = np.maximum.reduceat(np.where(inside & np.isfinite(depth), depth, -np.inf), start)
    # Each frame's run (frames outside every run get the run before theirs, and are masked by ``inside``).
    run = np.clip(np.searchsorted(start, np.arange(len(t)), side="right") - 1, 0, len(start) - 1)
    # A frame without a face inside a run does not cut its stretch: it is unknown, not open.
    with np.errstate(invalid="ignore"):
        deep = inside & ((depth >= peak[run] / 2) | np.isnan(depth))
    d_start, d_stop, _ = _runs(deep, [])
    width = np.zeros(len(start))
    # Timed as durations are (last frame's time less the first's).
    np.maximum.at(width, run[d_start], t[d_stop] - t[d_start])
    return width


def _bilateral_closures(t, closure, gap, dt, cfg):
    """Synchronous closures of both eyes: both closed, to within ``bilateral_ratio`` of each other.

    Stretches of one eye's own closure are cut out first, when they last more frames than ``merge_gap_s`` spans:
    one eye closed less than ``uneven_closure_ratio`` times the other, or the more closed eye closing again over
    the last ``coupling_window_s`` while the other follows it less than ``uneven_closure_ratio`` as far and stays
    less than ``bilateral_ratio`` as closed. The mask leaves them out too: an eye's run in them begins where
    they do, not ``gap`` frames later.

    Returns
    -------
    dict
        Columns of the bilateral events (see :meth:`Events.from_columns`).
    mask : ndarray, shape (n_frames,), bool
        Frames covered by a bilateral closure, widened by ``gap`` frames (not into the stretches cut out of
        it): an eye's asymmetry in them is the unequal onset or offset of the same closure, not a twitch.
    """
    both = np.fmin(closure[:, 0], closure[:, 1])
    closed = both > cfg.bilateral_off_frac
    # One eye well ahead of the other for longer than a blink's unequal onset or offset is a one-sided closure
    # within the closure of both (a twitch while the other eye squints, or just after a blink): it is cut out, so
    # the blink does not cover it. Whole-array: a live session calls this every second.
    with np.errstate(invalid="ignore"):
        strong = np.fmax(closure[:, 0], closure[:, 1])
        uneven = closed & (both < cfg.uneven_closure_ratio * strong)
        # So is the more closed eye closing again while the other follows it less than uneven_closure_ratio as far
        # and stays less than bilateral_ratio as closed: a twitch while both eyes are half shut (looking down, a
        # squint, a slow reopening), which MediaPipe's mesh drags the other eye along with. In a blink both close
        # together, and at its end both reopen. Judged on the few frames it could apply to (a live session runs
        # this every second).
        maybe = np.flatnonzero(closed & ~uneven & (both < cfg.bilateral_ratio * strong))
    if len(maybe):
        # Each eye's rise from its lowest level over the coupling_window_s before (the frames there are).
        back = np.maximum(maybe[:, None] - np.arange(int(round(cfg.coupling_window_s / dt)) + 1), 0)
        recent = closure[back]
        rise = closure[maybe] - np.where(np.isnan(recent), np.inf, recent).min(axis=1)
        left_more = closure[maybe, 0] >= closure[maybe, 1]
        rise_more = np.where(left_more, rise[:, 0], rise[:, 1])
        rise_less = np.where(left_more, rise[:, 1], rise[:, 0])
        uneven[maybe[(rise_more > cfg.bilateral_off_frac) & (rise_less < cfg.uneven_closure_ratio * rise_more)]] = True
    u_start, u_stop, _ = _runs(uneven, [])
    # Longer than the gap the runs below are joined across (merge_gap_s in whole frames), or they would join again.
    lasting = u_stop - u_start + 1 > gap
    own = _covered(len(t), u_start[lasting], u_stop[lasting])
    closed &= ~own
    start, stop, (p_left, p_right) = _runs(closed, [closure[:, 0], closure[:, 1]], gap)
    weak, strong = np.minimum(p_left, p_right), np.maximum(p_left, p_right)
    keep = ((weak >= cfg.bilateral_on_frac) & (weak >= cfg.bilateral_ratio * strong)
            & ((t[stop] - t[start] + dt) >= cfg.min_event_s))
    start, stop = start[keep], stop[keep]
    mask = _covered(len(t), start - gap, stop + gap) & ~own
    width = _half_depth_width(t, both, start, stop) if len(start) else np.zeros(0)
    return _columns(t, start, stop, "bilateral", "periocular", strong[keep], np.full(len(start), np.nan), cfg,
                    width), mask


def detect_events(signals: Signals, config: Config | None = None,
                  asymmetry: tuple[np.ndarray, np.ndarray] | None = None) -> Events:
    """Find twitches per side and region, and synchronous closures of both eyes.

    Each side is compared with the other, locally. A unilateral event is a run where one side's signal exceeds the
    other side's by more than the asymmetry threshold while itself exceeding the region's own threshold (hysteresis:
    runs start at half of both). The asymmetry is the left-right difference less what head pose explains and less
    its slow trend (:func:`twitchcam.asymmetry.local_asymmetry`); its threshold is the larger of the configured one,
    ``noise_k`` times the frame-to-frame noise and ``asym_local_k`` times the asymmetry's local spread, so it rises
    while the face talks, laughs or turns and falls back when it is calm. Frames where this side has risen since the
    run began and the other side has moved the opposite way, by more than ``opposite_max_frac`` of the rise (the
    signature of a tracking or alignment error: one brow up and the other down, the mouth shifted sideways), are no
    evidence. Eyes closing together to within ``bilateral_ratio`` of each other are one bilateral event (a blink when
    brief), and the brief asymmetries at their start and end are not unilateral events (an eye's run does not begin or
    go on in them, except that the halves of a one-sided run around a blink are joined); one eye's own closure within
    it, for more frames than ``merge_gap_s`` spans, is no part of such a closure (:func:`_bilateral_closures`).
    Symmetric mouth and brow movements (talking, smiling) have no asymmetry and give no event. A mouth-corner or
    brow movement together with an eye event of the same side (overlapping it or starting within
    ``coupling_window_s``) counts from ``coupled_min_score`` of its threshold, and from a single frame: it is that
    twitch's spread in the facial nerve's territory, which the eye's event already dates. A brow event counts only
    so (the "other Babinski sign"): brows alone move with talking. A movement that rises slower than
    ``twitch_max_rise_s`` needs ``slow_min_score``; a one-sided eye closure that rises within it and lasts at most
    ``brief_max_s`` (a clonic twitch's shape) counts from ``brief_min_score``.

    Each event's ``score`` is the largest ratio of its asymmetry to the local threshold (1 = just at threshold).

    Parameters
    ----------
    signals : Signals
        Output of :func:`twitchcam.signals.compute_signals`.
    config : Config | None
        Thresholds and durations.
    asymmetry : tuple of ndarray | None
        ``local_asymmetry(signals, config)`` when the caller has computed it (a live session, which warm-starts
        it from its last detection).

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
    # A face turned far shows its far side foreshortened and tracked worse: no evidence of a one-sided twitch.
    with np.errstate(invalid="ignore"):
        turned = signals.head_rotation_deg > cfg.asym_max_rotation_deg
    asymmetries, spreads = local_asymmetry(signals, cfg) if asymmetry is None else asymmetry
    bilateral, bilateral_mask = _bilateral_closures(t, signals.eye_closure, gap, dt, cfg)
    # The six region-side columns are judged at once, region-major in REGIONS order, left before right
    # (:data:`_COLUMN_REGION`, :data:`_COLUMN_SIDE`): a live session runs this every second or so, and whole-array
    # operations cost the same for six columns as for one.
    sig = np.column_stack([signals.region_signal(region) for region in REGIONS])
    other = sig[:, _OTHER_SIDE]
    excess = np.repeat(asymmetries, 2, axis=1) * _LEFT_LEADS
    on, asym_floor, moving = _thresholds(signals, cfg, spreads)
    asym_thr = np.maximum(asym_floor, moving)
    active = (excess > asym_thr / 2) & (sig > on / 2)
    # During a bilateral closure the eyes' unequal speed is no evidence of a twitch, and no part of an eye's run
    # either: a run that began in it would be dated from the blink, not from the twitch after it. A tonic spasm
    # with a blink in the middle is joined across it below (the bridge). Nor is a frame where the other side has
    # moved the opposite way since the run began evidence (_moved_apart).
    active[:, _COLUMN_REGION == "periocular"] &= ~bilateral_mask[:, None]
    col, start, stop = _column_runs(active, np.where(_EYE_COLUMN, gap, int(round(cfg.mouth_brow_merge_gap_s / dt))))
    frames, cols, runs, firsts = _run_frames(col, start, stop)
    apart = _moved_apart(sig, other, col, start, frames, cols, runs, int(round(cfg.coupling_window_s / dt)),
                         cfg.opposite_max_frac)
    # NaN where a frame is no evidence: turned far, an eye's frames in a bilateral closure (which a bridge below
    # may join into a run, whose rise is then timed), and a run's frames where the other side moved apart.
    evidence = np.where(turned[:, None] | ((_COLUMN_REGION == "periocular") & bilateral_mask[:, None]), np.nan, 0.0)
    evidence[frames[apart], cols[apart]] = np.nan
    # Where the local spread has raised the threshold, the face is moving (talking, laughing, turning).
    busy = (moving > asym_floor).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):  # a threshold set to 0 makes every score inf
        ratio = excess / asym_thr
    peak, score, busy = (_run_peaks(v[frames, cols], firsts) for v in (sig + evidence, ratio + evidence, busy))
    # A blink during a tonic spasm closes the other eye too, so the spasm's asymmetry pauses: its two halves are one
    # event when the eye stays closed (at a run's start level) throughout the bilateral closure between them.
    bridge = np.zeros_like(active)
    bridge[:, _COLUMN_REGION == "periocular"] = bilateral_mask[:, None]
    with np.errstate(invalid="ignore"):
        bridge &= sig > on / 2
    col, start, stop, (peak, score, busy) = _bridge(col, start, stop, [peak, score, busy], bridge)
    long_enough = (peak >= on[col]) & ((t[stop] - t[start] + dt) >= cfg.min_event_s)
    eye = _COLUMN_REGION[col] == "periocular"
    # An eye closed deeply while the other stays more open is a one-sided closure however expressive the face (a
    # wink, a tonic spasm): it counts from coupled_min_score of the local threshold.
    deep = eye & (peak >= cfg.deep_closure_frac)
    keep = long_enough & ((score >= 1.0) | (deep & (score >= cfg.coupled_min_score)))
    # On a moving face a twitch is told from expression by its speed: a slower one-sided movement (a smirk, a
    # cheek puff, an expression's uneven start) counts only when it stands out strongly, or, for an eye, when it
    # closes the eye deeply (a tonic spasm builds up more slowly; so does a wink, a true one-sided closure). One
    # frame interval is added to the limit: a rise is timed in whole frames. Timed only where it decides (a loop
    # over runs): kept, on a moving face, not clear, not deep.
    # A brief one-sided eye closure that rises fast has a clonic twitch's shape, which no expression has (a squint
    # or a smile is slower and lasts): it counts from brief_min_score, on a calm face or a moving one, when the
    # other eye closes less than bilateral_ratio as far meanwhile. An incomplete blink of unequal eyes (both under
    # bilateral_on_frac, so no closure of both) has that shape too, with both eyes closing.
    brief = (long_enough & eye & ~keep & (score >= cfg.brief_min_score)
             & (t[stop] - t[start] + dt <= cfg.brief_max_s))
    for k in np.flatnonzero(brief):  # a few runs
        with_it = other[start[k]:stop[k] + 1, col[k]]
        brief[k] = bool(np.isfinite(with_it).any()) and np.nanmax(with_it) < cfg.bilateral_ratio * peak[k]
    judged = np.flatnonzero((keep & (busy > 0) & (score < cfg.slow_min_score) & ~deep) | brief)
    for c in np.unique(col[judged]):
        runs = judged[col[judged] == c]
        # The peak is taken on the frames that are evidence (a blink's uneven onset at a run's end is not the run's
        # peak); the rise to it on the excess itself (the masked frames of a blink just before are not its foot).
        rise = rise_times(t, excess[:, c], start[runs], stop[runs], peak_x=excess[:, c] + evidence[:, c])
        # Kept movements that rose slowly are dropped, brief closures that rose fast are kept.
        keep[runs] = rise <= cfg.twitch_max_rise_s + dt
    # With an eye twitch of the same side, a weaker movement of the mouth corner or brow is its synkinesis (CN VII):
    # it counts from coupled_min_score, and from one frame (a brief pull that MediaPipe follows for a frame at 30
    # fps; the eye's event shows it was no noise). A brow moves with talking, so it counts only so (the "other
    # Babinski sign": brow up while the eye closes).
    side = _COLUMN_SIDE[col]
    twitch = keep & eye
    coupled = (peak >= on[col]) & (score >= cfg.coupled_min_score) & _near(
        t[start], t[stop], side, t[start[twitch]], t[stop[twitch]], side[twitch], cfg.coupling_window_s)
    region = _COLUMN_REGION[col]
    keep = np.where(eye, keep, np.where(region == "brow", coupled, keep | coupled))
    unilateral = _columns(t, start[keep], stop[keep], side[keep], region[keep], peak[keep], score[keep], cfg)
    columns = {name: np.concatenate([bilateral[name], unilateral[name]]) for name in bilateral}
    events = Events.from_columns(**columns)
    return events[~_echoes(events, cfg.coupling_window_s)]


def _thresholds(signals: Signals, cfg: Config, spreads: np.ndarray):
    """The thresholds of the six region-side columns (:data:`_COLUMN_REGION` order).

    Returns
    -------
    on : ndarray, shape (6,)
        The level a side's own signal must reach, in its unit.
    asym_floor : ndarray, shape (6,)
        The least asymmetry that counts, in the signal's unit.
    moving : ndarray, shape (n_frames, 6)
        ``asym_local_k`` times the local spread of the asymmetry: the threshold where the face moves.
    """
    # On jittery footage the thresholds rise with the measured frame-to-frame noise.
    floors = cfg.noise_k * np.concatenate([signals.noise[REGION_SIGNALS[region]] for region in REGIONS])
    on = np.maximum(np.repeat([cfg.on_thresholds[region] for region in REGIONS], 2), floors)
    asym_floor = np.maximum(np.repeat([cfg.asym_thresholds[region] for region in REGIONS], 2), floors)
    return on, asym_floor, cfg.asym_local_k * np.repeat(spreads, 2, axis=1)


def one_sided_levels(signals: Signals, config: Config | None = None,
                     asymmetry: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """The level each side's signal had to reach, frame by frame, for :func:`detect_events` to see a twitch.

    It is the larger of the region's own threshold and the side's signal less its excess over the other side
    plus the local asymmetry threshold: what the other side, head pose and the slow trend explain, plus the
    margin the local spread asks for. This is what a figure should draw beside a trace (a fixed line would not
    say why a movement on a talking face did not count). A movement of the mouth or brow coupled to an eye
    twitch counts from ``coupled_min_score`` of the asymmetry threshold, and a deep eye closure likewise: they
    may count a little below this level.

    Parameters
    ----------
    signals : Signals
    config : Config | None
    asymmetry : tuple of ndarray | None
        ``local_asymmetry(signals, config)`` when already computed.

    Returns
    -------
    ndarray, shape (n_frames, 3, 2)
        Regions in :data:`twitchcam.regions.REGIONS` order, sides left, right; in each region's signal unit
        (:data:`twitchcam.vocabulary.REGION_SIGNALS`); NaN where the signal is not measured.
    """
    cfg = config or Config()
    asymmetries, spreads = local_asymmetry(signals, cfg) if asymmetry is None else asymmetry
    sig = np.column_stack([signals.region_signal(region) for region in REGIONS])
    excess = np.repeat(asymmetries, 2, axis=1) * _LEFT_LEADS
    on, asym_floor, moving = _thresholds(signals, cfg, spreads)
    levels = np.maximum(sig - excess + np.maximum(asym_floor, moving), on)
    return levels.reshape(len(sig), len(REGIONS), 2)


#: Region and side of each of the six columns :func:`detect_events` judges at once, and the other side's column.
_COLUMN_REGION = np.repeat(np.array(REGIONS, dtype="U10"), 2)
_COLUMN_SIDE = np.tile(np.array(["left", "right"], dtype="U9"), len(REGIONS))
_OTHER_SIDE = np.arange(2 * len(REGIONS)) ^ 1
_EYE_COLUMN = _COLUMN_REGION == "periocular"
#: The sign that makes a region's asymmetry (left minus right) the excess of each column's side over the other.
_LEFT_LEADS = np.tile([1.0, -1.0], len(REGIONS))


def _bridge(column: np.ndarray, start: np.ndarray, stop: np.ndarray, peaks: list[np.ndarray], bridge: np.ndarray):
    """Join consecutive runs of a column whose gap lies wholly in ``bridge``.

    Parameters
    ----------
    column, start, stop : ndarray of int, shape (n_runs,)
        As :func:`_column_runs` gives them (by column, then time).
    peaks : list of ndarray, each shape (n_runs,)
        Joined runs take the largest.
    bridge : ndarray, shape (n_frames, n_columns), bool
        Frames that may join the runs on either side of them.

    Returns
    -------
    column, start, stop, peaks
        As given, with the joined runs as one.
    """
    if len(start) < 2:
        return column, start, stop, peaks
    covered = np.concatenate([np.zeros((1, bridge.shape[1]), np.int64), np.cumsum(bridge, axis=0)])
    nxt = start[1:]
    # Frames stop + 1 .. next start - 1 of the same column, all in the bridge.
    join = (column[1:] == column[:-1]) & (covered[nxt, column[1:]] - covered[stop[:-1] + 1, column[1:]]
                                          == nxt - stop[:-1] - 1)
    if not join.any():
        return column, start, stop, peaks
    first = np.flatnonzero(np.concatenate(([True], ~join)))
    last = np.concatenate((first[1:] - 1, [len(start) - 1]))
    return column[first], start[first], stop[last], [np.maximum.reduceat(p, first) for p in peaks]


def _run_frames(column: np.ndarray, start: np.ndarray, stop: np.ndarray):
    """Every frame of every run, run after run, with its column and run.

    Parameters
    ----------
    column, start, stop : ndarray of int, shape (n_runs,)
        As :func:`_column_runs` gives them.

    Returns
    -------
    frames, columns, runs : ndarray of int, shape (n_frames_in_runs,)
        Frame index, column and run index of each frame of each run.
    firsts : ndarray of int, shape (n_runs,)
        Where each run's frames begin in ``frames``.
    """
    lengths = stop - start + 1
    firsts = np.cumsum(lengths) - lengths
    runs = np.repeat(np.arange(len(start)), lengths)
    frames = start[runs] + np.arange(lengths.sum()) - firsts[runs]
    return frames, column[runs], runs, firsts


def _moved_apart(sig: np.ndarray, other: np.ndarray, col: np.ndarray, start: np.ndarray, frames: np.ndarray,
                 cols: np.ndarray, runs: np.ndarray, lead: int, max_frac: float) -> np.ndarray:
    """Frames of runs where the other side has moved the opposite way since the run began.

    Movement is measured from the frame before the run, not from rest: a talking mouth's corners sit in or out of
    their rest places, and a pull starts from where they are. The other side's mouth corner or brow is measured
    from its highest level over the ``lead`` frames before that too (in a sideways shift of the mouth it may move
    a few frames first), less what this side fell by since then (a fall of both is common movement). Without a
    measured frame before the run (it starts the recording, or follows a frame without a face) both are measured
    from rest. A run that did not rise (it begins just after a blink, its eye reopening from the blink to a tonic
    spasm's level) is not judged so.

    Parameters
    ----------
    sig, other : ndarray, shape (n_frames, 6)
        Each column's signal and the other side's, in the signal's unit.
    col, start : ndarray of int, shape (n_runs,)
        Each run's column and first frame.
    frames, cols, runs : ndarray of int, shape (n_frames_in_runs,)
        From :func:`_run_frames`.
    lead : int
        Frames before a run in which the other mouth corner or brow may have moved first.
    max_frac : float
        ``opposite_max_frac``.

    Returns
    -------
    ndarray, shape (n_frames_in_runs,), bool
    """
    before = start - 1
    with np.errstate(invalid="ignore"):
        own = np.where(before >= 0, sig[np.maximum(before, 0), col], np.nan)
        # The other side's level over the lead frames before the run (the eye's: the frame before only, since the
        # frames before an eye's run are often a blink, which the other eye is still reopening from).
        span = np.where(_COLUMN_REGION[col] == "periocular", 0, lead)
        back = np.maximum(before[:, None] - np.arange(lead + 1)[None, :], -1)
        seen = np.where((back >= 0) & (np.arange(lead + 1)[None, :] <= span[:, None]),
                        other[np.maximum(back, 0), col[:, None]], np.nan)
        filled = np.where(np.isnan(seen), -np.inf, seen)
        highest = np.argmax(filled, axis=1) if len(start) else np.zeros(0, np.int64)
        ref_other = np.max(filled, axis=1, initial=-np.inf)
        # What this side itself fell by since the other side's highest frame is a movement of both (a smile
        # relaxing, talking), not the other side's opposite one.
        own_then = sig[np.maximum(back[np.arange(len(start)), highest], 0), col]
        ref_other = ref_other - np.fmax(own_then - own, 0)
        known = np.isfinite(own) & np.isfinite(ref_other)
        own, ref_other = np.where(known, own, 0.0), np.where(known, ref_other, 0.0)
        moved = sig[frames, cols] - own[runs]
        return (moved > 0) & (other[frames, cols] - ref_other[runs] < -max_frac * moved)


def _run_peaks(values: np.ndarray, firsts: np.ndarray) -> np.ndarray:
    """The maximum of ``values`` within each run.

    Parameters
    ----------
    values : ndarray, shape (n_frames_in_runs,)
        At the frames of :func:`_run_frames`, run after run; NaN counts as -inf.
    firsts : ndarray of int, shape (n_runs,)

    Returns
    -------
    ndarray, shape (n_runs,)
    """
    if not len(firsts):
        return np.zeros(0)
    return np.maximum.reduceat(np.where(np.isfinite(values), values, -np.inf), firsts)


def _column_runs(active: np.ndarray, max_gap: int | np.ndarray):
    """:func:`_runs` of every column of ``active`` at once.

    Parameters
    ----------
    active : ndarray, shape (n_frames, n_columns), bool
    max_gap : int or ndarray of int, shape (n_columns,)
        Runs of a column separated by at most this many False frames are one run: one for all columns, or each
        column's own.

    Returns
    -------
    column, start, stop : ndarray of int, shape (n_runs,)
        Column, first and last frame of each run, by column then time.
    """
    n, k = active.shape
    gaps = np.asarray(max_gap)
    # The columns one after the other, each followed by more inactive frames than a run can bridge.
    pad = int(gaps.max()) + 1
    flat = np.zeros((k, n + pad), bool)
    flat[:, :n] = active.T
    start, stop, _ = _runs(flat.reshape(-1), [])
    if len(start) > 1:
        # Each gap is judged by the limit of the column of the run after it (the padding keeps columns apart).
        start, stop = _join(start, stop, gaps[start[1:] // (n + pad)] if gaps.ndim else gaps)
    column = start // (n + pad)
    return column, start - column * (n + pad), stop - column * (n + pad)


def _echoes(events: Events, window_s: float) -> np.ndarray:
    """One-sided events during or just around a stronger event of the same region on the other side.

    One region cannot twitch on both sides at the same moment as two one-sided events (that would be a bilateral
    contraction): the weaker is the stronger one's echo, a tracking artefact at its edges (the other mouth corner
    dragged along, the other eye reopening at another speed).

    Returns
    -------
    ndarray, shape (n_events,), bool
        True for the echoes.
    """
    uni = np.flatnonzero(events.side != "bilateral")
    if len(uni) < 2:
        return np.zeros(len(events), bool)
    on, off, score = events.onset_s[uni], events.offset_s[uni], events.score[uni]
    near = ((events.region[uni, None] == events.region[None, uni]) & (events.side[uni, None] != events.side[None, uni])
            & (on[:, None] <= off[None, :] + window_s) & (off[:, None] >= on[None, :] - window_s))
    out = np.zeros(len(events), bool)
    out[uni] = (near & (score[:, None] < score[None, :])).any(axis=1)
    return out


def _near(onset_s: np.ndarray, offset_s: np.ndarray, side: np.ndarray, eye_onset_s: np.ndarray,
          eye_offset_s: np.ndarray, eye_side: np.ndarray, window_s: float) -> np.ndarray:
    """Whether each run overlaps an eye event of its side or starts within ``window_s`` of one's onset.

    Parameters
    ----------
    onset_s, offset_s : ndarray, shape (n_runs,)
        Start and end of each run, s.
    side : ndarray, shape (n_runs,), str
    eye_onset_s, eye_offset_s : ndarray, shape (n_eye_events,)
        Start and end of each eye event, s.
    eye_side : ndarray, shape (n_eye_events,), str
    window_s : float

    Returns
    -------
    ndarray, shape (n_runs,), bool
    """
    if not len(eye_onset_s) or not len(onset_s):
        return np.zeros(len(onset_s), bool)
    overlap = (onset_s[:, None] <= eye_offset_s[None, :]) & (offset_s[:, None] >= eye_onset_s[None, :])
    close = np.abs(onset_s[:, None] - eye_onset_s[None, :]) <= window_s
    return ((overlap | close) & (side[:, None] == eye_side[None, :])).any(axis=1)


def rise_times(t: np.ndarray, x: np.ndarray, start: np.ndarray, stop: np.ndarray,
               lookback_s: float = 1.0, peak_x: np.ndarray | None = None) -> np.ndarray:
    """How fast each run rose: from the last frame below 20 % of its peak to the first at 80 % of it.

    The peak is the run's own (a larger movement just before it is another movement); the foot may lie before
    the run.

    Parameters
    ----------
    t : ndarray, shape (n_frames,)
        Time, s.
    x : ndarray, shape (n_frames,)
        The signal whose rise is timed (NaN is neither below 20 % nor at 80 %).
    start, stop : ndarray of int, shape (n_runs,)
        First and last frame of each run.
    lookback_s : float
        How far before a run's start to look for its foot, s; a run that was not below 20 % of its peak within
        it rose at least this slowly.
    peak_x : ndarray, shape (n_frames,) | None
        Where the run's peak is looked for (NaN on frames that cannot be it); ``x`` when None. The peak's value
        is ``x``'s there.

    Returns
    -------
    ndarray, shape (n_runs,)
        Rise time in seconds (a frame interval or more).
    """
    where = x if peak_x is None else peak_x
    out = np.empty(len(start))
    for k, (a, b) in enumerate(zip(start, stop)):
        first = int(np.searchsorted(t, t[a] - lookback_s))
        # The run's own peak: a larger movement in the lookback before it is another movement, not its rise.
        top = a + int(np.nanargmax(where[a:b + 1])) if np.isfinite(where[a:b + 1]).any() else b
        peak = x[top]
        below = np.flatnonzero(x[first:top + 1] < 0.2 * peak)
        foot = first + below[-1] if len(below) else first
        high = foot + int(np.argmax(x[foot:top + 1] >= 0.8 * peak))
        out[k] = t[high] - t[foot] if len(below) else max(t[high] - t[first], lookback_s)
    return out
