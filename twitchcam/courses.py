"""Courses: the planned movements of a known-truth recording, and the envelope every simulator draws them with.

A course is an :class:`~twitchcam.events.Events` table in the analysis' own schema, so that it is the truth a
result is scored against row by row. The video simulator (:mod:`twitchcam.simulate`) warps real footage by it and
the landmark factory (:mod:`twitchcam.testing`) moves landmarks by it: one vocabulary, one envelope, one set of
generators for both. numpy only.

Two kinds of generator, told apart by name:

- :func:`make_course` and its :data:`GENERATORS`: clinical courses (bursts, a late tonic spasm, brow raises,
  natural blinks), drawn with each kind's ramps (:data:`RAMP_S`), as a simulated video shows them.
- :func:`regular_course`: the core tests' deliberately regular course (one amplitude, the third twitch tonic, the
  mouth at a fixed lag), so that a test's expectations are exact; its movements have one symmetric ramp
  (:data:`REGULAR_RAMP_S`) and are drawn as such by :func:`twitchcam.testing.as_twitches`.

Conventions
-----------
- ``side`` is the PATIENT's side (``left`` | ``right``), or ``bilateral`` for both sides at once, as in
  :mod:`twitchcam.events`.
- ``onset_s`` and ``offset_s`` are where a movement's envelope crosses half its peak (full width at half
  maximum); the ramps (:func:`ramps`) extend half a ramp before and after.
- ``peak`` is the amplitude: eye closure as a fraction of the resting opening for ``periocular`` (1 = closed),
  displacement in inter-ocular distances (iod) for ``perioral`` and ``brow``.
- ``kind`` follows the Jankovic boundary: ``clonic`` below :data:`TONIC_MIN_S`, ``tonic`` from it; natural blinks
  are ``blink``.
"""

from __future__ import annotations

import numpy as np

from .config import check_option
from .events import Events
from .regions import SIDES

#: Course generators and the pattern an analysis should find in each.
EXPECTED_PATTERN = {
    "hfs": "hemifacial_spasm",
    "rhythmic": "unilateral_other",
    "mouth_only": "unilateral_other",
    "eye_only": "unilateral_other",
    "blepharospasm": "bilateral",
    "normal": "none",
    "sway": "none",
}
GENERATORS = tuple(EXPECTED_PATTERN)
#: Generators whose twitches are on one side (the ``side`` argument); the others ignore it.
LATERALIZED = ("hfs", "rhythmic", "mouth_only", "eye_only")

#: Largest perioral or brow displacement a course may plan, in iod: the largest the video warp renders without
#: folding the skin (0.43 of its smallest kernel radius, :data:`twitchcam.simulate.warp.BROW_RADIUS_IOD`, so the
#: field's slope, 1.72 shift / radius, stays below 0.75). Generated courses are clipped to it and a course of one's
#: own asking for more is refused (:func:`check_course`), so the truth never claims more than the video shows.
MAX_DISPLACEMENT_IOD = 0.15

#: Full rise and fall times (s) of the envelope per kind, before shortening for brief events. Twitches rise fast;
#: blinks close in ~70-100 ms and reopen more slowly; tonic spasms build up and let go over a few hundred ms.
RAMP_S = {"clonic": (0.04, 0.10), "tonic": (0.15, 0.30), "blink": (0.08, 0.16)}
#: Smallest pause between two planned movements (offset to next onset, at half maximum), s: each twitch of a
#: burst is a distinct event, and blinks do not touch twitches.
MIN_GAP_S = 0.35
#: Clearance of injected eye twitches from the footage's own eye closures (beyond their margin,
#: :data:`twitchcam.simulate.footage.CLOSURE_MARGIN_S`), s, counted from a twitch's half-maximum onset and offset
#: (its ramps reach half of theirs further): a blink's lids take about 0.1-0.2 s to reopen from the 30 % closure
#: that ends one, so a twitch starting sooner would be hidden in it.
CLOSURE_CLEARANCE_S = 0.1
#: Jankovic boundary between clonic and tonic, s (as ``Config.tonic_min_s``).
TONIC_MIN_S = 1.0
#: Rise and fall time of every movement of a regular course (:func:`regular_course`), s, and of a hand-written
#: :class:`twitchcam.testing.Twitch` unless it says otherwise: one ramp for every kind, so that where a test's
#: twitch crosses a threshold does not depend on its kind.
REGULAR_RAMP_S = 0.06


def ramps(kind: np.ndarray, duration_s: np.ndarray) -> np.ndarray:
    """Rise and fall times of each movement's envelope.

    Ramps are centred on the half-maximum onset and offset, so they are shortened when half of both would not
    fit in the movement's duration.

    Parameters
    ----------
    kind : ndarray, shape (n,), str
        ``clonic`` | ``tonic`` | ``blink``.
    duration_s : ndarray, shape (n,)
        Full width at half maximum, s.

    Returns
    -------
    ndarray, shape (n, 2)
        Rise and fall time, s.
    """
    base = np.array([RAMP_S[k] for k in kind]).reshape(len(kind), 2)
    fit = np.minimum(1.0, np.asarray(duration_s, float) / np.maximum(base.sum(axis=1) / 2, 1e-9))
    return base * fit[:, None]


def envelope(t: np.ndarray, onset_s, offset_s, rise_s, fall_s) -> np.ndarray:
    """Shape of a contraction: raised-cosine rise and fall centred on the half-maximum onset and offset.

    Parameters
    ----------
    t : ndarray, shape (n_frames,)
        Time, s.
    onset_s, offset_s, rise_s, fall_s : float or ndarray, shape (n_events,)
        Half-maximum onset and offset, full rise and fall times, s.

    Returns
    -------
    ndarray, shape (n_frames,) or (n_events, n_frames)
        0 to 1; 0.5 at ``onset_s`` and ``offset_s``, 1 between them once the rise is complete.
    """
    t = np.asarray(t, float)
    onset, offset, rise, fall = (np.asarray(a, float)[..., None] for a in (onset_s, offset_s, rise_s, fall_s))
    up = np.clip((t - onset) / np.maximum(rise, 1e-9) + 0.5, 0.0, 1.0)
    down = np.clip((offset - t) / np.maximum(fall, 1e-9) + 0.5, 0.0, 1.0)
    return 0.5 - 0.5 * np.cos(np.pi * np.minimum(up, down))


def trace_course(course: Events, t: np.ndarray) -> np.ndarray:
    """The size of each planned movement at each time: its peak times its envelope, with its kind's ramps.

    Parameters
    ----------
    course : Events
        The planned movements.
    t : ndarray, shape (n_frames,)
        Time, s.

    Returns
    -------
    ndarray, shape (n_events, n_frames)
        In each row's unit: eye closure (0-1) or displacement (iod).
    """
    return course.peak[:, None] * envelope(t, course.onset_s, course.offset_s, *ramps(course.kind, course.duration_s).T)


def locate_half_maximum(start_s: float, length_s: float, ramp_s: float) -> tuple[float, float, float]:
    """Where a movement spelled by its start and full length crosses half its peak, with one symmetric ramp.

    Parameters
    ----------
    start_s, length_s : float
        Start of the rise and full length to the end of the fall, s.
    ramp_s : float
        Rise and fall time, s; shortened to half the length when two ramps would not fit.

    Returns
    -------
    onset_s, offset_s, ramp_s : float
        Half-maximum onset and offset (half a ramp in from start and end) and the ramp used, s.
    """
    ramp = min(ramp_s, length_s / 2)
    return start_s + ramp / 2, start_s + length_s - ramp / 2, ramp


class _Plan:
    """Rows of a course being generated, turned into an :class:`Events` table at the end."""

    def __init__(self):
        self.rows: list[tuple] = []

    def add(self, onset_s: float, duration_s: float, side: str, region: str, peak: float, blink: bool = False):
        kind = "blink" if blink else "tonic" if duration_s >= TONIC_MIN_S else "clonic"
        self.rows.append((onset_s, onset_s + duration_s, side, region, kind, peak))

    def add_span(self, start_s: float, length_s: float, side: str, region: str, peak: float):
        """Add a movement spelled by its start and full length, with the regular course's ramp."""
        onset, offset, _ = locate_half_maximum(start_s, length_s, REGULAR_RAMP_S)
        kind = "tonic" if offset - onset >= TONIC_MIN_S else "clonic"
        self.rows.append((onset, offset, side, region, kind, peak))

    def events(self) -> Events:
        if not self.rows:
            return Events.empty()
        return Events.from_columns(*map(list, zip(*self.rows)))


def _pull(iod: float) -> float:
    return min(iod, MAX_DISPLACEMENT_IOD)


def check_course(events: Events) -> None:
    """Refuse a course the warp cannot render as its truth says.

    Raises
    ------
    ValueError
        If an eye closure exceeds 1, a mouth or brow displacement exceeds ``MAX_DISPLACEMENT_IOD``, or a mouth or
        brow row is bilateral.
    """
    eye = events.region == "periocular"
    if np.any(events.peak[eye] > 1):
        raise ValueError("periocular peaks are eye closures and must not exceed 1")
    if np.any(events.peak[~eye] > MAX_DISPLACEMENT_IOD):
        raise ValueError(f"perioral and brow peaks must not exceed {MAX_DISPLACEMENT_IOD} iod")
    if np.any(events.side[~eye] == "bilateral"):
        raise ValueError("only eye closures can be bilateral; give mouth and brow rows a side")


def _clonic_duration(rng: np.random.Generator) -> float:
    # Log-uniform over 0.08-0.6 s: most HFS twitches are brief, a few last half a second.
    return float(np.exp(rng.uniform(np.log(0.08), np.log(0.6))))


def _episodes(duration_s: float, rng: np.random.Generator, *, tonic: bool, mean_pause_s: float = 3.0,
              clonic=_clonic_duration, avoid: np.ndarray | None = None) -> np.ndarray:
    """Irregular twitching: bursts of 1-3 twitches with gamma-distributed pauses between bursts.

    Parameters
    ----------
    duration_s : float
        Length of the recording, s.
    rng : numpy.random.Generator
    tonic : bool
        Make the first episode after a random time in 45-80 % of the recording a tonic spasm (1.2-3 s).
    mean_pause_s : float
        Mean pause between bursts, s.
    clonic : callable
        Draws a clonic twitch's duration (s) from ``rng``.
    avoid : ndarray, shape (n, 2) | None
        Intervals (s) every episode keeps :data:`CLOSURE_CLEARANCE_S` clear of; an episode that would not is
        drawn again 0-0.3 s after that clearance.

    Returns
    -------
    ndarray, shape (n_episodes, 2)
        Half-maximum onset and duration of each episode, s.
    """
    tonic_at = rng.uniform(0.45, 0.8) * duration_s if tonic else np.inf
    end = duration_s - 0.6
    t = rng.uniform(0.5, 1.5)
    out = []
    while t < end:
        burst = rng.integers(1, 4)
        while burst:
            tonic_now = t >= tonic_at
            if tonic_now:
                length = min(rng.uniform(1.2, 3.0), end - t)
                tonic_at = np.inf
                if length < 1.2:
                    break
            else:
                length = clonic(rng)
            if t + length > end:
                break
            if avoid is not None:
                # The footage's own closures are kept CLOSURE_CLEARANCE_S clear of: just before or after one the
                # footage's eyes are still closing or reopening, which would hide the twitch.
                clash = _clashes(avoid, t, length)
                if clash.any() and tonic_now:
                    room = float(avoid[clash, 0].min()) - CLOSURE_CLEARANCE_S - t
                    if room >= 1.2:
                        length, clash = room, np.zeros_like(clash)  # a tonic spasm that fits before the interval
                    else:
                        # The spasm stays due, and a clonic twitch is tried here meanwhile: footage that closes
                        # its eyes every second or so has no room for a spasm for long stretches.
                        tonic_at = t
                        length = clonic(rng)
                        clash = _clashes(avoid, t, length)
                if clash.any():
                    # Not here: the same twitch of the burst is drawn again at a random time just after the
                    # interval, not at its very end.
                    t = float(avoid[clash, 1].max()) + CLOSURE_CLEARANCE_S + rng.uniform(0.0, 0.3)
                    continue
            out.append((t, length))
            # Inside a burst: a pause long enough for each twitch to be its own event, plus the mouth's lag.
            t += length + MIN_GAP_S + rng.uniform(0.1, 0.5)
            burst -= 1
        t += rng.gamma(2.0, mean_pause_s / 2)
    return np.array(out).reshape(-1, 2)


def _clashes(avoid: np.ndarray, t: float, length: float) -> np.ndarray:
    """Which of the intervals ``avoid`` (shape (n, 2), s) an episode from ``t`` for ``length`` s comes within
    :data:`CLOSURE_CLEARANCE_S` of, shape (n,), bool.
    """
    return (avoid[:, 0] < t + length + CLOSURE_CLEARANCE_S) & (avoid[:, 1] + CLOSURE_CLEARANCE_S > t)


def _eye_closure(length: float, amplitude: float, rng: np.random.Generator) -> float:
    """Peak closure of an eye twitch of ``length`` s (fraction of the opening): near full in a tonic spasm."""
    closure = rng.uniform(0.85, 1.0) if length >= TONIC_MIN_S else rng.uniform(0.5, 1.0)
    return min(amplitude * closure, 1.0)


def _hfs_course(duration_s: float, side: str, rng: np.random.Generator, amplitude: float = 1.0,
               avoid: np.ndarray | None = None) -> Events:
    """Hemifacial spasm of one side.

    Irregular bursts (:func:`_episodes`). In the first third only the eye twitches (orbicularis oculi, where HFS
    begins); from then on the mouth corner twitches together with the eye (synkinesis, onset 0-100 ms after the
    eye's). One episode after the first half is a tonic spasm with the brow raised (the "other Babinski sign",
    frontalis contracting as the eye closes); a few clonic twitches raise the brow too.

    Parameters
    ----------
    duration_s : float
        Length of the recording, s.
    side : {"left", "right"}
        The patient's affected side.
    rng : numpy.random.Generator
    amplitude : float
        Scale of every peak (1 = eye closures of 50-100 %, mouth pulls of 0.08-0.15 iod, brow raises of
        0.08-0.12 iod).
    avoid : ndarray, shape (n, 2) | None
        Intervals (s) the episodes keep clear of (the footage's own eye closures,
        :func:`twitchcam.simulate.footage.footage_closures`).

    Returns
    -------
    Events
        The planned movements, one row per region.
    """
    plan = _Plan()
    for onset, length in _episodes(duration_s, rng, tonic=True, avoid=avoid):
        tonic = length >= TONIC_MIN_S
        plan.add(onset, length, side, "periocular", _eye_closure(length, amplitude, rng))
        if onset >= duration_s / 3:
            lag = rng.uniform(0.0, 0.1)
            plan.add(onset + lag, length * rng.uniform(0.8, 1.0), side, "perioral",
                     _pull(amplitude * rng.uniform(0.08, 0.15)))
            if tonic or rng.random() < 0.15:
                lag = rng.uniform(0.0, 0.1)
                plan.add(onset + lag, length * rng.uniform(0.7, 0.9), side, "brow",
                         _pull(amplitude * rng.uniform(0.08, 0.12)))
    return plan.events()


def _eye_only_course(duration_s: float, side: str, rng: np.random.Generator, amplitude: float = 1.0,
                    avoid: np.ndarray | None = None) -> Events:
    """One eye twitching irregularly, with one tonic spasm, and the mouth never: HFS's timing without CN VII spread.

    Parameters as :func:`_hfs_course`.
    """
    plan = _Plan()
    for onset, length in _episodes(duration_s, rng, tonic=True, avoid=avoid):
        plan.add(onset, length, side, "periocular", _eye_closure(length, amplitude, rng))
    return plan.events()


def _mouth_only_course(duration_s: float, side: str, rng: np.random.Generator, amplitude: float = 1.0,
                      avoid: np.ndarray | None = None) -> Events:
    """One mouth corner twitching irregularly, with one tonic pull, and the eye never.

    Parameters as :func:`_hfs_course`.
    """
    plan = _Plan()
    for onset, length in _episodes(duration_s, rng, tonic=True, avoid=avoid):
        plan.add(onset, length, side, "perioral", _pull(amplitude * rng.uniform(0.08, 0.15)))
    return plan.events()


def _rhythmic_course(duration_s: float, side: str, rng: np.random.Generator, amplitude: float = 1.0) -> Events:
    """One eye twitching like a metronome: a fixed interval of 1.0-1.6 s with 1 % jitter (as rhythmic myoclonus).

    Parameters as :func:`_hfs_course`.
    """
    plan = _Plan()
    interval = rng.uniform(1.0, 1.6)
    onsets = np.arange(rng.uniform(0.5, 1.0), duration_s - 0.8, interval)
    for onset in onsets + rng.normal(0.0, 0.01 * interval, len(onsets)):
        plan.add(onset, rng.uniform(0.12, 0.25), side, "periocular", min(amplitude * rng.uniform(0.65, 0.8), 1.0))
    return plan.events()


def _blepharospasm_course(duration_s: float, rng: np.random.Generator, amplitude: float = 1.0,
                         avoid: np.ndarray | None = None) -> Events:
    """Both eyes closing together, irregularly: clonic closures and tonic spasms.

    Clonic closures last 0.6-0.85 s, longer than a blink (``Config.blink_max_s``), so they are not mistaken for
    blinks; about a third of the closures are tonic (1.2-3 s).

    Parameters as :func:`_hfs_course`, without a side.
    """
    plan = _Plan()
    for onset, length in _episodes(duration_s, rng, tonic=False, mean_pause_s=3.5, avoid=avoid,
                                   clonic=lambda r: r.uniform(1.2, 3.0) if r.random() < 0.3 else r.uniform(0.6, 0.85)):
        plan.add(onset, length, "bilateral", "periocular", min(amplitude * rng.uniform(0.8, 1.0), 1.0))
    return plan.events()


def blink_course(duration_s: float, rng: np.random.Generator, avoid: Events | None = None) -> Events:
    """Natural blinks: both eyes, 100-250 ms at half closure, 10-20 per minute at irregular intervals.

    Parameters
    ----------
    duration_s : float
        Length of the recording, s.
    rng : numpy.random.Generator
    avoid : Events | None
        Planned movements a blink must keep ``MIN_GAP_S`` away from; a blink that would not is postponed to the
        next free moment.

    Returns
    -------
    Events
        Rows with side ``bilateral``, region ``periocular``, kind ``blink``; peak 0.85-1.
    """
    mean_interval = 60.0 / rng.uniform(10, 20)
    busy = np.zeros((0, 2)) if avoid is None else np.stack([avoid.onset_s, avoid.offset_s], axis=1)
    plan = _Plan()
    t = rng.uniform(0.3, mean_interval)
    while True:
        length = rng.uniform(0.1, 0.25)
        if t + length > duration_s - 0.4:
            break
        clash = (busy[:, 0] < t + length + MIN_GAP_S) & (busy[:, 1] > t - MIN_GAP_S)
        if clash.any():
            t = busy[clash, 1].max() + MIN_GAP_S + 0.01
            continue
        plan.add(t, length, "bilateral", "periocular", rng.uniform(0.85, 1.0), blink=True)
        # Gamma intervals (shape 2): irregular, with a floor so two blinks do not merge.
        t += max(rng.gamma(2.0, mean_interval / 2), length + 0.8)
    return plan.events()


def make_course(generator: str, duration_s: float, side: str = "left", seed: int = 0, amplitude: float = 1.0,
                blinks: bool = True, avoid: np.ndarray | None = None) -> Events:
    """The planned movements of a recording: a generator's twitches plus natural blinks.

    Parameters
    ----------
    generator : str
        One of :data:`GENERATORS`.
    duration_s : float
        Length of the recording, s.
    side : {"left", "right"}
        The patient's side for the one-sided generators (:data:`LATERALIZED`).
    seed : int
        Seed of ``numpy.random.default_rng``; the same arguments give the same course.
    amplitude : float
        Scale of the twitches' peaks (blinks are not scaled).
    blinks : bool
        Add natural blinks.
    avoid : ndarray, shape (n, 2) | None
        Intervals (s) the twitches keep clear of (:func:`twitchcam.simulate.footage.footage_closures`); the
        metronomic ``rhythmic`` course ignores them.

    Returns
    -------
    Events
        Sorted by onset; onset and offset at half maximum.
    """
    check_option("generator", generator, GENERATORS)
    check_option("side", side, SIDES)
    if amplitude <= 0:
        raise ValueError(f"amplitude must be > 0, got {amplitude}")
    rng = np.random.default_rng(seed)
    if generator == "hfs":
        twitches = _hfs_course(duration_s, side, rng, amplitude, avoid)
    elif generator == "eye_only":
        twitches = _eye_only_course(duration_s, side, rng, amplitude, avoid)
    elif generator == "mouth_only":
        twitches = _mouth_only_course(duration_s, side, rng, amplitude, avoid)
    elif generator == "rhythmic":
        twitches = _rhythmic_course(duration_s, side, rng, amplitude)
    elif generator == "blepharospasm":
        twitches = _blepharospasm_course(duration_s, rng, amplitude, avoid)
    else:
        twitches = Events.empty()
    if not blinks:
        return twitches
    return Events.concatenate([twitches, blink_course(duration_s, rng, avoid=twitches)])


def regular_course(side: str = "left", duration_s: float = 60.0, seed: int = 0, rate_per_min: float = 20.0,
                   with_mouth: bool = True, rhythmic: bool = False, eye: bool = True,
                   eye_amplitude: float = 0.6, mouth_amplitude: float = 0.08) -> Events:
    """The core tests' course of one-sided twitches: irregular (gamma intervals) or rhythmic, eye with or without
    mouth.

    Regular by design, so that a test's expectations are exact: every eye twitch has one amplitude, the third is
    tonic, the mouth follows from the third on at a fixed lag, every movement rises and falls in
    :data:`REGULAR_RAMP_S`. The clinical courses a simulated video shows are :func:`make_course`'s. The core tests
    draw it with :func:`twitchcam.testing.as_twitches` (one symmetric ramp, as it was planned); drawn as an
    ``Events`` course it would take each kind's ramps instead.

    Parameters
    ----------
    side : {"left", "right"}
        The patient's side.
    duration_s : float
        Length of the recording, s; no twitch starts in its last 2.5 s.
    seed : int
        Seed of ``numpy.random.default_rng``; the same arguments give the same course.
    rate_per_min : float
        Mean rate of twitches.
    with_mouth, eye : bool
        Whether the mouth corner and the eye twitch (the mouth alone from the first twitch when ``eye`` is False).
    rhythmic : bool
        Fixed intervals of ``60 / rate_per_min`` instead of gamma-distributed ones.
    eye_amplitude, mouth_amplitude : float
        Peak eye closure (fraction of the opening) and mouth-corner pull (iod).

    Returns
    -------
    Events
        Sorted by onset; onset and offset at half maximum, half a ramp in from each movement's start and end.
        Clonic twitches of 0.15-0.4 s from start to end, the third one tonic (1.5 s); with ``with_mouth`` every
        twitch after the first two also pulls the same-side mouth corner, starting 50 ms after the eye.
    """
    check_option("side", side, SIDES)
    rng = np.random.default_rng(seed)
    mean_gap = 60 / rate_per_min
    plan = _Plan()
    t = 1.0 + rng.uniform(0, 1)
    i = 0
    while t < duration_s - 2.5:
        length = 1.5 if i == 2 else float(rng.uniform(0.15, 0.4))
        if eye:
            plan.add_span(t, length, side, "periocular", eye_amplitude)
        if with_mouth and (i >= 2 or not eye):
            plan.add_span(t + 0.05, length, side, "perioral", mouth_amplitude)
        gap = mean_gap if rhythmic else float(rng.gamma(2.0, mean_gap / 2))
        t += max(gap, length + 0.6)
        i += 1
    return plan.events()
