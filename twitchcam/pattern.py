"""The pattern of a recording's events: is it the one of hemifacial spasm?

Hemifacial spasm (HFS) is called only when the three criteria hold (``irregular`` may be not assessed, see there),
each reported with the number behind it:

``unilateral``
    Twitches of the eye and mouth are one-sided: enough unilateral events, and a laterality index
    (left - right) / (left + right) of at least ``unilateral_min_li`` in absolute value, or no more than
    ``unilateral_stray_events`` twitches on the other side (a stray false detection) beside at least twice
    ``min_events`` on this one, counting an eye twitch and the mouth movement with it once
    (:func:`count_twitches`). HFS is bilateral in <5%.
``irregular``
    Episodes on the affected side come at irregular intervals: coefficient of variation of the inter-episode
    intervals of at least ``irregular_min_cv`` (a metronomic rhythm, as in some tics or rhythmic myoclonus, is
    near 0). Needs at least three intervals; with fewer it is not assessed (None) and not held against the
    pattern, which is then borderline.
``cn7_spread``
    The spasm involves the facial-nerve (CN VII) distribution beyond the eye: the same side's periocular AND
    perioral regions both twitch, and the mouth twitches together with the eye (synkinesis: at least
    ``min_coupling_frac`` of perioral events overlap a periocular event or start within ``coupling_window_s`` of
    one).

Otherwise the pattern is ``unilateral_other`` (one-sided but not all of the above: eye only, mouth only,
rhythmic), ``bilateral`` (repeated forceful closures of both eyes beyond normal blinking, as in blepharospasm, or
twitches of both sides, each side with at least ``min_events``), ``none`` (fewer than ``min_events`` twitches on
either side: blinks, a few long blinks, an emotional squint or a wink or two are normal) or ``insufficient_data``
(the face was found in too little of the recording).

One-sided evidence is judged on its own: bilateral closures never outvote it (they are reported beside it, as a
red flag). Bilateral closures count only beyond normal blinking: at least ``bilateral_min_closures`` closures
longer than a blink (``blink_max_s``, timed at half their depth) and at least ``bilateral_min_per_min`` of them per
minute. A normal face blinks ~17 times a minute at rest and ~26 in conversation, 100-400 ms each; some blinks are
longer.

``confidence`` says how sure the finding is: ``clear``, or ``borderline`` with the reasons (few events, events near
the threshold, much head motion, much expression); see :func:`assess_confidence`.

Brow elevation on the affected side during eye closure (the "other Babinski sign") is specific for HFS but often
absent: it is reported, and its absence never counts against HFS.

This is documentation, not diagnosis: the wording is "pattern consistent with ...".
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .asymmetry import local_asymmetry
from .config import Config
from .events import Events
from .regions import REGIONS
from .signals import Signals

PATTERNS = ("hemifacial_spasm", "unilateral_other", "bilateral", "none", "insufficient_data")


@dataclass(frozen=True)
class Summary:
    """The classified pattern, its criteria and the measurements behind them.

    Parameters
    ----------
    pattern : str
        One of :data:`PATTERNS`.
    side : str | None
        The affected side (the patient's) for one-sided patterns, else None.
    criteria : dict of str to bool or None
        ``unilateral``, ``irregular``, ``cn7_spread``.
    metrics : dict
        Numbers behind the criteria and descriptive measures (see :func:`classify_pattern`).
    video : dict
        ``duration_s``, ``frames``, ``fps``, ``face_found_fraction``, and head-motion measures.
    finding : str
        One sentence in plain words.
    notes : list of str
        Remarks on data quality and red flags.
    confidence : dict
        How sure the finding is (:func:`assess_confidence`).
    """

    pattern: str
    side: str | None
    criteria: dict
    metrics: dict
    video: dict
    finding: str
    notes: list = field(default_factory=list)
    confidence: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.pattern not in PATTERNS:
            raise ValueError(f"pattern must be one of {PATTERNS}, got {self.pattern!r}")

    def to_dict(self) -> dict:
        """The ``summary.json`` document."""
        return {"pattern": self.pattern, "side": self.side, "finding": self.finding, "criteria": self.criteria,
                "metrics": self.metrics, "video": self.video, "notes": self.notes, "confidence": self.confidence}


def episode_spans(onset_s: np.ndarray, offset_s: np.ndarray, window_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Group events whose onsets follow each other within ``window_s`` into episodes.

    Parameters
    ----------
    onset_s, offset_s : ndarray, shape (n_events,)
        Event times in seconds, any order.
    window_s : float
        Largest gap between consecutive onsets within one episode, in seconds.

    Returns
    -------
    start_s, stop_s : ndarray, shape (n_episodes,)
        First onset and last offset of each episode, in seconds.
    """
    if len(onset_s) == 0:
        return np.zeros(0), np.zeros(0)
    order = np.argsort(onset_s, kind="stable")
    on, off = onset_s[order], offset_s[order]
    group = np.cumsum(np.r_[True, np.diff(on) > window_s]) - 1
    n = int(group[-1]) + 1
    stop = np.full(n, -np.inf)
    np.maximum.at(stop, group, off)
    return on[np.r_[True, np.diff(group) > 0]], stop


def _coupling(eye_onset_s: np.ndarray, eye_offset_s: np.ndarray, mouth_onset_s: np.ndarray,
              mouth_offset_s: np.ndarray, window_s: float):
    """Fraction of mouth events with an eye event, and the median mouth-minus-eye onset lag (s).

    A mouth event is with an eye event when it overlaps it or starts within ``window_s`` of its onset: the coupling
    the detector and :func:`count_twitches` judge synkinesis by (the mouth may join a tonic spasm later). The lag
    is over the coupled mouth events, each to the onset of the eye event it overlaps, or else the nearest one.

    Parameters
    ----------
    eye_onset_s, eye_offset_s : ndarray, shape (n_eye,)
    mouth_onset_s, mouth_offset_s : ndarray, shape (n_mouth,)
        Seconds.
    window_s : float

    Returns
    -------
    fraction : float | None
        None without mouth events.
    lag_s : float | None
        None without coupled mouth events.
    """
    if len(mouth_onset_s) == 0 or len(eye_onset_s) == 0:
        return (None if len(mouth_onset_s) == 0 else 0.0), None
    diff = mouth_onset_s[:, None] - eye_onset_s[None, :]
    overlap = (mouth_onset_s[:, None] <= eye_offset_s[None, :]) & (mouth_offset_s[:, None] >= eye_onset_s[None, :])
    distance = np.abs(diff)
    coupled = ((distance <= window_s) | overlap).any(axis=1)
    # Each coupled mouth event's lag is to the eye event it is coupled with: the nearest one it overlaps if any (a
    # mouth joining a tonic spasm late lags the spasm's onset, not a later twitch's), else the nearest onset.
    partner = np.where(overlap.any(axis=1), np.where(overlap, distance, np.inf).argmin(axis=1), distance.argmin(axis=1))
    partner = diff[np.arange(len(mouth_onset_s)), partner]
    lag = float(np.median(partner[coupled])) if coupled.any() else None
    return float(coupled.mean()), lag


def count_twitches(events: Events, side: str, window_s: float) -> int:
    """One-sided eye and mouth twitches of a side, an eye twitch and the mouth movement with it counted once.

    Each periocular event is a twitch, and so is each perioral event that neither overlaps a periocular event of
    the same side nor starts within ``window_s`` of one (the coupling the detector judges synkinesis by).

    Parameters
    ----------
    events : Events
    side : str
        ``left`` or ``right``.
    window_s : float
        ``coupling_window_s``, s.

    Returns
    -------
    int
    """
    mine = events.side == side
    eye, mouth = mine & (events.region == "periocular"), mine & (events.region == "perioral")
    e_on, e_off = events.onset_s[eye], events.offset_s[eye]
    m_on, m_off = events.onset_s[mouth][:, None], events.offset_s[mouth][:, None]
    with_eye = ((np.abs(m_on - e_on) <= window_s) | ((m_on <= e_off) & (m_off >= e_on))).any(axis=1)
    return int(eye.sum() + np.sum(~with_eye))


def video_facts(signals: Signals) -> dict:
    """Duration, frame count, frame rate and data-quality measures of a recording."""
    t = signals.t
    n = len(t)
    duration = float(t[-1] - t[0] + (np.median(np.diff(t)) if n > 1 else 0)) if n else 0.0
    fps = float(1 / np.median(np.diff(t))) if n > 1 else 0.0
    found = signals.face_found
    rot = signals.head_rotation_deg[signals.measured]
    return {
        "duration_s": round(duration, 3),
        "frames": int(n),
        "fps": round(fps, 3),
        "face_found_fraction": round(float(found.mean()), 4) if n else 0.0,
        "measured_fraction": round(float(signals.measured.mean()), 4) if n else 0.0,
        "head_rotation_median_deg": round(float(np.median(rot)), 2) if rot.size else None,
        "head_rotation_p95_deg": round(float(np.percentile(rot, 95)), 2) if rot.size else None,
        "iod_px": round(float(signals.iod_px), 1) if np.isfinite(signals.iod_px) else None,
    }


def classify_pattern(events: Events, signals: Signals, config: Config | None = None,
                     asymmetry: tuple[np.ndarray, np.ndarray] | None = None) -> Summary:
    """Classify the pattern of a recording's events.

    Parameters
    ----------
    events : Events
        Output of :func:`twitchcam.events.detect_events`.
    signals : Signals
        The signals the events came from (for time base and data quality).
    config : Config | None
        Criteria thresholds.
    asymmetry : tuple of ndarray | None
        ``local_asymmetry(signals, config)`` when the caller has computed it for the events already.

    Returns
    -------
    Summary
        ``metrics`` holds ``laterality_index``, ``unilateral_events`` and ``unilateral_twitches`` per side
        (:func:`count_twitches`), ``interval_cv`` (None when fewer than three intervals),
        ``eye_mouth_coupling`` (None without perioral events), ``eye_mouth_lag_s``, ``eye_first``,
        ``events_per_minute`` per side, ``episodes``, ``blinks_per_minute``, ``tonic_fraction``,
        ``longest_spasm_s``, ``time_in_spasm_fraction``, and brow measures (``other_babinski_sign``).
    """
    cfg = config or Config()
    video = video_facts(signals)
    found_s = video["duration_s"] * video["measured_fraction"]
    minutes = max(found_s / 60, 1e-9)

    twitch = np.isin(events.region, ("periocular", "perioral"))
    uni = np.isin(events.side, ("left", "right")) & twitch
    n_side = {s: int(np.sum(uni & (events.side == s))) for s in ("left", "right")}
    n_uni = n_side["left"] + n_side["right"]
    bilateral = events.side == "bilateral"
    n_bil = int(np.sum(bilateral & (events.kind != "blink")))
    bil_per_min = n_bil / minutes
    beyond_blinking = bool(n_bil >= cfg.bilateral_min_closures and bil_per_min >= cfg.bilateral_min_per_min)
    li = (n_side["left"] - n_side["right"]) / n_uni if n_uni else 0.0
    twitches = {s: count_twitches(events, s, cfg.coupling_window_s) for s in ("left", "right")}
    # The side with more twitches (an eye twitch and the mouth movement with it counted once, as the pattern
    # counts them below), by events when the twitches are even: two eye-and-mouth pairs are not more than three
    # eye twitches.
    lead = np.sign(twitches["left"] - twitches["right"]) or np.sign(li)
    side = "left" if lead > 0 else "right" if lead < 0 else None

    metrics: dict = {
        "laterality_index": round(float(li), 4),
        "interval_cv": None,
        "eye_mouth_coupling": None,
        "eye_mouth_lag_s": None,
        "eye_first": None,
        "events_per_minute": {s: round(float(np.sum(events.side == s)) / minutes, 3)
                              for s in ("left", "right", "bilateral")},
        "unilateral_events": n_side,
        "unilateral_twitches": twitches,
        "bilateral_closures": n_bil,
        "bilateral_closures_per_minute": round(float(bil_per_min), 3),
        "bilateral_beyond_blinking": beyond_blinking,
        "blinks_per_minute": round(float(np.sum(events.kind == "blink")) / minutes, 3),
        "episodes": 0,
        "tonic_fraction": None,
        "longest_spasm_s": None,
        "time_in_spasm_fraction": None,
        "brow_events": {s: int(np.sum((events.region == "brow") & (events.side == s))) for s in ("left", "right")},
        "other_babinski_sign": None,
        "brow_with_eye_closure_fraction": None,
    }
    criteria = {"unilateral": False, "irregular": False, "cn7_spread": False}

    if side is not None:
        mine = uni & (events.side == side)
        eye_rows, mouth_rows = mine & (events.region == "periocular"), mine & (events.region == "perioral")
        eye, mouth = events.onset_s[eye_rows], events.onset_s[mouth_rows]  # sorted, as the events are
        episodes, _ = episode_spans(events.onset_s[mine], events.offset_s[mine], cfg.coupling_window_s)
        intervals = np.diff(episodes)
        if len(intervals) >= 3:
            metrics["interval_cv"] = round(float(intervals.std(ddof=1) / intervals.mean()), 4)
        coupling, lag = _coupling(eye, events.offset_s[eye_rows], mouth, events.offset_s[mouth_rows],
                                  cfg.coupling_window_s)
        metrics["eye_mouth_coupling"] = None if coupling is None else round(coupling, 4)
        metrics["eye_mouth_lag_s"] = None if lag is None else round(lag, 3)
        if len(eye) and len(mouth):
            metrics["eye_first"] = bool(eye[0] <= mouth[0] + cfg.coupling_window_s)
        metrics["episodes"] = int(len(episodes))
        dur = events.duration_s[mine]
        metrics["tonic_fraction"] = round(float(np.mean(events.kind[mine] == "tonic")), 4)
        metrics["longest_spasm_s"] = round(float(dur.max()), 3)
        in_spasm = np.zeros(len(signals.t), bool)
        for a, b in zip(events.onset_frame[mine], events.offset_frame[mine]):
            if a >= 0:
                in_spasm[a:b + 1] = True
        metrics["time_in_spasm_fraction"] = round(float(in_spasm[signals.measured].mean()), 4) \
            if signals.measured.any() else None

        brow_rows = (events.region == "brow") & (events.side == side)
        if eye_rows.any():
            eye_on, eye_off = events.onset_s[eye_rows], events.offset_s[eye_rows]
            b_on, b_off = events.onset_s[brow_rows], events.offset_s[brow_rows]
            with_brow = ((b_on[None, :] <= eye_off[:, None]) & (b_off[None, :] >= eye_on[:, None])).any(axis=1)
            metrics["brow_with_eye_closure_fraction"] = round(float(with_brow.mean()), 4)
            metrics["other_babinski_sign"] = bool(with_brow.any())

        # A stray twitch on the other side counts as one only beside enough twitches on this one (twice min_events,
        # the number below which the finding is borderline): one against three is not a stray. Both sides are
        # counted in twitches: a false eye twitch with the mouth movement beside it is one stray, not two.
        stray = (twitches["right" if side == "left" else "left"] <= cfg.unilateral_stray_events
                 and twitches[side] >= 2 * cfg.min_events)
        # The laterality index toward the side (events may lead on the other side when the twitches lead here).
        toward = li if side == "left" else -li
        criteria["unilateral"] = bool(n_uni >= cfg.min_events and (toward >= cfg.unilateral_min_li or stray))
        # Fewer than three intervals cannot show a rhythm either way: not assessed (None), and not held against
        # the pattern (a metronomic rhythm, the mimicker this excludes, needs intervals to be seen).
        criteria["irregular"] = (None if metrics["interval_cv"] is None
                                 else bool(metrics["interval_cv"] >= cfg.irregular_min_cv))
        criteria["cn7_spread"] = bool(len(eye) and len(mouth) and coupling is not None
                                      and coupling >= cfg.min_coupling_frac)

    notes: list[str] = []
    # Counted in twitches, as the stray rule counts them: a false eye twitch with the mouth movement beside it is
    # one twitch, and two such are not "both sides" beside five.
    n_major = twitches[side] if side else 0
    both_sides = min(twitches.values()) >= cfg.min_events
    finding = None
    if video["measured_fraction"] < cfg.min_face_found_frac or found_s < cfg.min_analyzable_s:
        pattern = "insufficient_data"
        notes.append(f"face found and measured in {video['measured_fraction']:.0%} of frames ({found_s:.1f} s)")
        finding = insufficient_reason(video, found_s, cfg)
    elif both_sides and not criteria["unilateral"]:
        pattern = "bilateral"
    elif n_major >= cfg.min_events:
        # One-sided evidence stands on its own; bilateral closures beside it are a red flag, not a vote.
        pattern = ("hemifacial_spasm" if criteria["unilateral"] and criteria["cn7_spread"]
                   and criteria["irregular"] is not False else "unilateral_other")
        if beyond_blinking:
            notes.append(f"{n_bil} bilateral eye closures beyond blinking were also seen ({bil_per_min:.1f} per "
                         "minute): bilateral involvement is a red flag")
    elif beyond_blinking:
        pattern = "bilateral"
    else:
        pattern = "none"
    out_side = side if pattern in ("hemifacial_spasm", "unilateral_other") else None
    _, spread = local_asymmetry(signals, cfg) if asymmetry is None else asymmetry
    confidence = assess_confidence(pattern, out_side, events, signals, video, cfg, criteria, spread, twitches)
    return Summary(pattern, out_side, criteria, metrics, video, finding or describe(pattern, out_side), notes,
                   confidence)


def assess_confidence(pattern: str, side: str | None, events: Events, signals: Signals, video: dict,
                      config: Config, criteria: dict, spread: np.ndarray, twitches: dict) -> dict:
    """How sure a finding is, and why it may be borderline.

    A finding is ``borderline`` when it rests on few twitches (fewer than twice ``min_events`` on the affected side,
    an eye twitch and the mouth movement with it counted once, :func:`count_twitches`), on events near their
    threshold (median ``score`` below :data:`CLEAR_SCORE`), or on a recording with much head motion (95th percentile
    of the rotation above :data:`BORDERLINE_ROTATION_DEG`) or much expression (talking, laughing: the asymmetry
    thresholds were raised by the local spread in more than :data:`BORDERLINE_EXPRESSIVE_FRAC` of the frames).
    ``none`` is borderline when one-sided events were seen but too few to make a pattern. Hemifacial spasm is
    borderline too when its rhythm was not assessed (``criteria`` with ``irregular`` None: fewer than three
    intervals between episodes). ``insufficient_data`` has no confidence of its own.

    Parameters
    ----------
    pattern, side : str, str | None
        The finding.
    events : Events
    signals : Signals
    video : dict
        :func:`video_facts` of the signals.
    config : Config
    criteria : dict
        The criteria of the finding (``irregular`` None: the rhythm was not assessed).
    spread : ndarray, shape (n_frames, 3)
        The local spread of each region's asymmetry (:func:`twitchcam.asymmetry.local_asymmetry`).
    twitches : dict of str to int
        One-sided twitches per side (:func:`count_twitches`), as the pattern counted them.

    Returns
    -------
    dict
        ``level`` (``clear`` | ``borderline`` | ``not_assessed``), ``reasons`` (plain sentences), and the numbers:
        ``events_on_side``, ``twitches_on_side`` (from ``twitches``; None without a side), ``median_score``,
        ``near_threshold_fraction`` (events with score below :data:`CLEAR_SCORE`), ``head_rotation_p95_deg``,
        ``expressive_fraction``.
    """
    uni = np.isin(events.side, ("left", "right")) & np.isin(events.region, ("periocular", "perioral"))
    mine = uni & (events.side == side) if side else uni
    scores = events.score[mine]
    scores = scores[np.isfinite(scores)]
    # Eye and mouth only: brows move with talking and count only with an eye event anyway.
    eye, mouth = spread[:, REGIONS.index("periocular")], spread[:, REGIONS.index("perioral")]
    raised = ((config.asym_local_k * eye > config.eye_asym_frac * EXPRESSIVE_RAISE)
              | (config.asym_local_k * mouth > config.mouth_asym_iod * EXPRESSIVE_RAISE))
    measured = signals.measured
    expressive = float(raised[measured].mean()) if measured.any() else 0.0
    out = {
        "level": "clear",
        "reasons": [],
        "events_on_side": int(mine.sum()),
        "twitches_on_side": twitches[side] if side else None,
        "median_score": round(float(np.median(scores)), 3) if len(scores) else None,
        "near_threshold_fraction": round(float(np.mean(scores < CLEAR_SCORE)), 4) if len(scores) else None,
        "head_rotation_p95_deg": video["head_rotation_p95_deg"],
        "expressive_fraction": round(expressive, 4),
    }
    if pattern == "insufficient_data":
        out["level"] = "not_assessed"
        return out
    reasons = out["reasons"]
    if pattern in ("hemifacial_spasm", "unilateral_other"):
        if out["twitches_on_side"] < 2 * config.min_events:
            reasons.append(f"few twitches ({out['twitches_on_side']} on the {side} side, an eye twitch and its mouth "
                           "movement counted once)")
        if len(scores) and np.median(scores) < CLEAR_SCORE:
            reasons.append(f"events near their threshold (median score {np.median(scores):.2f})")
    elif uni.any() and pattern == "none":
        reasons.append(f"{int(uni.sum())} one-sided eye or mouth events, too few for a pattern")
    rotation = video["head_rotation_p95_deg"]
    if rotation is not None and rotation > BORDERLINE_ROTATION_DEG:
        reasons.append(f"much head motion (95th percentile {rotation:.0f}°)")
    if expressive > BORDERLINE_EXPRESSIVE_FRAC:
        reasons.append(f"much expression or talking ({expressive:.0%} of the time)")
    if pattern == "hemifacial_spasm" and criteria["irregular"] is None:
        reasons.append("too few episodes to judge their rhythm")
    if reasons:
        out["level"] = "borderline"
    return out


#: An event's ``score`` (asymmetry over its local threshold) from which it counts as clear, not near threshold.
CLEAR_SCORE = 1.5
#: 95th percentile of head rotation (degrees) above which a finding is borderline.
BORDERLINE_ROTATION_DEG = 15.0
#: Fraction of frames with raised thresholds (much expression) above which a finding is borderline.
BORDERLINE_EXPRESSIVE_FRAC = 0.3
#: A frame is expressive when the local spread raised a threshold to more than this multiple of its fixed value.
EXPRESSIVE_RAISE = 3.0


def insufficient_reason(video: dict, measured_s: float, cfg: Config) -> str:
    """The ``insufficient_data`` finding with its true reason: too short, face not found, or turned away.

    Parameters
    ----------
    video : dict
        :func:`video_facts` of the recording.
    measured_s : float
        Seconds of video in which the face was measured.
    cfg : Config
        Uses ``min_face_found_frac`` and ``min_analyzable_s``.
    """
    found, measured = video["face_found_fraction"], video["measured_fraction"]
    if video["duration_s"] < cfg.min_analyzable_s and measured >= cfg.min_face_found_frac:
        return (f"Insufficient data: the recording is only {video['duration_s']:.1f} s long; at least "
                f"{cfg.min_analyzable_s:g} s with the face measured are needed.")
    if found < cfg.min_face_found_frac:
        return (f"Insufficient data: the face was found in only {found:.0%} of the recording (at least "
                f"{cfg.min_face_found_frac:.0%} needed).")
    if measured < cfg.min_face_found_frac:
        return (f"Insufficient data: the face was found in {found:.0%} of the recording but turned too far away "
                f"to be measured in much of it (measured in {measured:.0%}, at least {cfg.min_face_found_frac:.0%} "
                "needed).")
    return (f"Insufficient data: the face was measured for only {measured_s:.1f} s; at least "
            f"{cfg.min_analyzable_s:g} s are needed.")


def describe(pattern: str, side: str | None) -> str:
    """One plain sentence for a pattern; documentation wording, never a diagnosis."""
    return {
        "hemifacial_spasm": f"Pattern consistent with {side} hemifacial spasm.",
        "unilateral_other": f"One-sided ({side}) facial twitching that does not meet every criterion of the "
                            "hemifacial-spasm pattern.",
        "bilateral": "Bilateral pattern: synchronous or two-sided eye closures or twitches "
                     "(consider blepharospasm and other mimickers).",
        "none": "No twitching pattern documented beyond normal blinking.",
        "insufficient_data": "Insufficient data: the face was not found in enough of the recording.",
    }[pattern]
