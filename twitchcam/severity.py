"""Per-side measures of a recording and the severity proxies derived from them.

Per-side measures
-----------------
An *episode* is a group of one side's periocular and perioral events whose onsets follow each other within
``coupling_window_s`` (an eye twitch and the mouth twitch it drags along are one spasm): the same grouping as the
``episodes`` metric of :func:`twitchcam.pattern.classify_pattern`. Rates are per minute of *measured* video (face
found and not turned away). An event's duration is ``offset_s - onset_s`` (inclusive frames). Sides are the
patient's.

Severity proxies
----------------
Clinical severity scales are rated by a clinician from history and examination. twitchcam maps its measurements
onto them as *proxies*, with the mapping stated in :data:`JRS_FREQUENCY_LEVELS`, :data:`JRS_SEVERITY_LEVELS` and
:data:`SMC_GRADES` (also printed in every report):

- Jankovic Rating Scale (JRS) frequency 0-4, from how often and how long the eye of one side is in spasm;
- JRS severity 0-4, from how far the eye closes (90th percentile of the periocular peaks) and whether other
  facial muscles and tonic spasms are involved;
- Samsung Medical Center (SMC) grade I-IV of hemifacial spasm: eye only, spread to the mouth, tonic closure,
  near-continuous spasm.

What the scales ask about that a video cannot see (functional disability, embarrassment, triggers, resting
asymmetry) is left out, so a proxy is a documentation aid, not a rating.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .config import check_option
from .folder import Results
from .pattern import episode_spans
from .regions import SIDES

#: Measured periocular closure (fraction of the resting opening) from which a closure counts as near-complete.
#: MediaPipe's landmarks under-report lid closure: a full closure of one eye measures about 0.6, a natural blink
#: (both eyes) 0.7-0.9.
NEAR_COMPLETE_CLOSURE = 0.5
#: Measured periocular closure below which a twitch only narrows the eye.
SLIGHT_CLOSURE = 0.2
#: Periocular events per minute below which twitching is "slightly increased" (JRS frequency 1).
RARE_PER_MIN = 1.0
#: Fraction of measured time with the eye in spasm from which the eye counts as functionally closed.
MOSTLY_CLOSED_FRAC = 0.5

#: Jankovic Rating Scale, frequency item, as twitchcam's proxy maps it (periocular events of one side).
JRS_FREQUENCY_LEVELS = {
    0: "none: no periocular twitch",
    1: f"slightly increased: fewer than {RARE_PER_MIN:g} periocular twitch per minute, all shorter than 1 s",
    2: f"eyelid fluttering lasting less than 1 s: {RARE_PER_MIN:g} or more periocular twitches per minute, "
       "all shorter than 1 s",
    3: f"eyelid spasm lasting more than 1 s (at least one tonic periocular event), the eye in spasm less than "
       f"{MOSTLY_CLOSED_FRAC:.0%} of the measured time",
    4: f"functionally blind: the eye in spasm {MOSTLY_CLOSED_FRAC:.0%} or more of the measured time",
}
#: Jankovic Rating Scale, severity item, as twitchcam's proxy maps it (90th percentile of periocular closure).
JRS_SEVERITY_LEVELS = {
    0: "none: no periocular twitch",
    1: f"minimal: closures below {SLIGHT_CLOSURE:.0%} of the resting eye opening (narrowing only)",
    2: f"mild: closures of {SLIGHT_CLOSURE:.0%}-{NEAR_COMPLETE_CLOSURE:.0%} of the opening, the eye stays partly "
       "open (fluttering, not a full spasm)",
    3: f"moderate: near-complete closures ({NEAR_COMPLETE_CLOSURE:.0%} or more) of the eyelids only, or without a "
       "tonic spasm",
    4: f"severe: near-complete closures ({NEAR_COMPLETE_CLOSURE:.0%} or more) with other facial muscles (mouth "
       "twitches on the same side) and at least one tonic spasm",
}
#: Samsung Medical Center (SMC) grade of hemifacial spasm, as twitchcam's proxy maps it.
SMC_GRADES = {
    1: "I: localized periocular spasm (eye only)",
    2: "II: spread to other parts of the same side of the face (mouth twitches too)",
    3: f"III: tonic spasm interfering with eye opening (a tonic periocular event closing the eye "
       f"{NEAR_COMPLETE_CLOSURE:.0%} or more)",
    4: f"IV: disfiguring asymmetry (the side in spasm {MOSTLY_CLOSED_FRAC:.0%} or more of the measured time; "
       "resting asymmetry itself is not measured)",
}


@dataclass(frozen=True)
class SideMeasures:
    """What one side of the face did during a recording, and the severity proxies derived from it.

    Parameters
    ----------
    side : str
        ``left`` | ``right``, the patient's.
    episodes : int
        Spasm episodes (see module docstring).
    episodes_per_min : float
        Episodes per minute of measured video.
    events_per_min : dict of str to float
        Events per minute of measured video, per region (``periocular``, ``perioral``, ``brow``).
    episode_durations_s : tuple of float
        Duration of each episode in seconds (first onset to last offset).
    median_duration_s, longest_spasm_s : float | None
        Median and longest episode duration in seconds; None without episodes.
    tonic_fraction : float | None
        Fraction of the side's periocular and perioral events that are tonic (lasting ``tonic_min_s`` or more).
    time_in_spasm_fraction : float | None
        Fraction of measured frames inside an event of this side (any region).
    eye_in_spasm_fraction : float | None
        Fraction of measured frames inside a periocular event of this side.
    eye_closure_median, eye_closure_p90 : float | None
        Median and 90th percentile of the periocular events' peak closure (fraction of the resting opening).
    mouth_pull_median : float | None
        Median peak of the perioral events, in inter-ocular distances.
    brow_raise_median : float | None
        Median peak of the brow events, in inter-ocular distances.
    jrs_frequency, jrs_severity : int
        Jankovic Rating Scale proxies, 0-4 (see :data:`JRS_FREQUENCY_LEVELS`, :data:`JRS_SEVERITY_LEVELS`).
    smc_grade : int | None
        SMC grade proxy, 1-4 (see :data:`SMC_GRADES`); None without periocular involvement, where the scale does
        not apply.
    """

    side: str
    episodes: int
    episodes_per_min: float
    events_per_min: dict
    episode_durations_s: tuple
    median_duration_s: float | None
    longest_spasm_s: float | None
    tonic_fraction: float | None
    time_in_spasm_fraction: float | None
    eye_in_spasm_fraction: float | None
    eye_closure_median: float | None
    eye_closure_p90: float | None
    mouth_pull_median: float | None
    brow_raise_median: float | None
    jrs_frequency: int
    jrs_severity: int
    smc_grade: int | None

    def to_dict(self) -> dict:
        """The measures as a JSON-ready dict (episode durations left out)."""
        out = asdict(self)
        del out["episode_durations_s"]
        return out


def jrs_frequency(n_eye: int, eye_per_min: float, any_tonic_eye: bool, eye_in_spasm_fraction: float | None) -> int:
    """Jankovic Rating Scale frequency proxy (0-4) of one side.

    0 without periocular events; 4 when the eye is in spasm at least :data:`MOSTLY_CLOSED_FRAC` of the measured
    time; 3 with at least one tonic periocular event (1 s or longer); 2 with brief twitches only at
    :data:`RARE_PER_MIN` per minute or more; 1 with brief twitches rarer than that.

    Parameters
    ----------
    n_eye : int
        Periocular events of the side.
    eye_per_min : float
        The same per minute of measured video.
    any_tonic_eye : bool
        Whether any of them is tonic.
    eye_in_spasm_fraction : float | None
        Fraction of measured frames inside a periocular event of the side.
    """
    if n_eye == 0:
        return 0
    if eye_in_spasm_fraction is not None and eye_in_spasm_fraction >= MOSTLY_CLOSED_FRAC:
        return 4
    if any_tonic_eye:
        return 3
    return 2 if eye_per_min >= RARE_PER_MIN else 1


def jrs_severity(eye_closure_p90: float | None, mouth_involved: bool, any_tonic_eye: bool) -> int:
    """Jankovic Rating Scale severity proxy (0-4) of one side.

    0 without periocular events; else by the 90th percentile of the periocular events' peak closure: below
    :data:`SLIGHT_CLOSURE` 1, below :data:`NEAR_COMPLETE_CLOSURE` 2, from it 3, and 4 when such near-complete
    closures come with same-side mouth twitches ("other facial muscles") and at least one tonic spasm.

    Parameters
    ----------
    eye_closure_p90 : float | None
        90th percentile of periocular peak closure (fraction of the resting opening); None without events.
    mouth_involved : bool
        Whether the side has perioral events.
    any_tonic_eye : bool
        Whether any periocular event of the side is tonic.
    """
    if eye_closure_p90 is None:
        return 0
    if eye_closure_p90 < SLIGHT_CLOSURE:
        return 1
    if eye_closure_p90 < NEAR_COMPLETE_CLOSURE:
        return 2
    return 4 if mouth_involved and any_tonic_eye else 3


def smc_grade(n_eye: int, mouth_involved: bool, tonic_closure: bool, time_in_spasm_fraction: float | None
              ) -> int | None:
    """Samsung Medical Center grade proxy (1-4) of one side; None when the eye is not involved.

    1 periocular events only; 2 with same-side perioral events (spread); 3 with a tonic periocular event closing
    the eye :data:`NEAR_COMPLETE_CLOSURE` or more (interference with eye opening); 4 when the side is in spasm
    :data:`MOSTLY_CLOSED_FRAC` or more of the measured time (the video's stand-in for disfiguring asymmetry).

    Parameters
    ----------
    n_eye : int
        Periocular events of the side.
    mouth_involved : bool
        Whether the side has perioral events.
    tonic_closure : bool
        Whether a tonic periocular event reached near-complete closure.
    time_in_spasm_fraction : float | None
        Fraction of measured frames inside any event of the side.
    """
    if n_eye == 0:
        return None
    if time_in_spasm_fraction is not None and time_in_spasm_fraction >= MOSTLY_CLOSED_FRAC:
        return 4
    if tonic_closure:
        return 3
    return 2 if mouth_involved else 1


def _fraction_covered(t: np.ndarray, measured: np.ndarray, onset_s: np.ndarray, offset_s: np.ndarray
                      ) -> float | None:
    """Fraction of measured frames whose time lies inside one of the intervals (inclusive)."""
    if not measured.any():
        return None
    inside = np.zeros(len(t), bool)
    for a, b in zip(np.searchsorted(t, onset_s, "left"), np.searchsorted(t, offset_s, "right")):
        inside[a:b] = True
    return float(inside[measured].mean())


def _quantile(x: np.ndarray, q: float) -> float | None:
    return float(np.percentile(x, q)) if len(x) else None


def measure_side(results: Results, side: str) -> SideMeasures:
    """Measure one side of the face over a recording.

    Parameters
    ----------
    results : Results
        An analysis folder.
    side : {"left", "right"}
        The patient's side.

    Returns
    -------
    SideMeasures
    """
    check_option("side", side, SIDES)
    ev = results.events
    cfg = results.config
    minutes = max(results.measured_minutes, 1e-9)
    mine = ev.side == side
    twitch = mine & np.isin(ev.region, ("periocular", "perioral"))
    eye = mine & (ev.region == "periocular")
    mouth = mine & (ev.region == "perioral")
    start, stop = episode_spans(ev.onset_s[twitch], ev.offset_s[twitch], cfg.coupling_window_s)
    durations = stop - start
    peaks_eye = ev.peak[eye]
    tonic_eye = eye & (ev.kind == "tonic")
    time_in_spasm = _fraction_covered(results.t, results.measured, ev.onset_s[mine], ev.offset_s[mine])
    eye_in_spasm = _fraction_covered(results.t, results.measured, ev.onset_s[eye], ev.offset_s[eye])
    p90 = _quantile(peaks_eye, 90)
    n_eye = int(eye.sum())
    return SideMeasures(
        side=side,
        episodes=len(start),
        episodes_per_min=len(start) / minutes,
        events_per_min={r: float(np.sum(mine & (ev.region == r))) / minutes for r in ("periocular", "perioral",
                                                                                       "brow")},
        episode_durations_s=tuple(float(d) for d in durations),
        median_duration_s=_quantile(durations, 50),
        longest_spasm_s=float(durations.max()) if len(durations) else None,
        tonic_fraction=float(np.mean(ev.kind[twitch] == "tonic")) if twitch.any() else None,
        time_in_spasm_fraction=time_in_spasm,
        eye_in_spasm_fraction=eye_in_spasm,
        eye_closure_median=_quantile(peaks_eye, 50),
        eye_closure_p90=p90,
        mouth_pull_median=_quantile(ev.peak[mouth], 50),
        brow_raise_median=_quantile(ev.peak[mine & (ev.region == "brow")], 50),
        jrs_frequency=jrs_frequency(n_eye, n_eye / minutes, bool(tonic_eye.any()), eye_in_spasm),
        jrs_severity=jrs_severity(p90, bool(mouth.any()), bool(tonic_eye.any())),
        smc_grade=smc_grade(n_eye, bool(mouth.any()), bool(np.any(ev.peak[tonic_eye] >= NEAR_COMPLETE_CLOSURE)),
                            time_in_spasm),
    )
