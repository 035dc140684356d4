"""The pattern of a recording's events: is it the one of hemifacial spasm?

Hemifacial spasm (HFS) is called only when all three criteria hold, each reported with the number behind it:

``unilateral``
    Twitches of the eye and mouth are one-sided: enough unilateral events, and a laterality index
    (left - right) / (left + right) of at least ``unilateral_min_li`` in absolute value. HFS is bilateral in <5%.
``irregular``
    Episodes on the affected side come at irregular intervals: coefficient of variation of the inter-episode
    intervals of at least ``irregular_min_cv`` (a metronomic rhythm, as in some tics or rhythmic myoclonus, is
    near 0). Needs at least three intervals; with fewer it is unknown and not met.
``cn7_spread``
    The spasm involves the facial-nerve (CN VII) distribution beyond the eye: the same side's periocular AND
    perioral regions both twitch, and the mouth twitches together with the eye (synkinesis: at least
    ``min_coupling_frac`` of perioral events start within ``coupling_window_s`` of a periocular event).

Otherwise the pattern is ``unilateral_other`` (one-sided but not all of the above: eye only, mouth only,
rhythmic), ``bilateral`` (synchronous closures of both eyes as in blepharospasm, or twitches of both sides),
``none`` (fewer than ``min_events`` twitches; blinks alone are normal) or ``insufficient_data`` (the face was found
in too little of the recording).

Brow elevation on the affected side during eye closure (the "other Babinski sign") is specific for HFS but often
absent: it is reported, and its absence never counts against HFS.

This is documentation, not diagnosis: the wording is "pattern consistent with ...".
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .config import Config
from .events import Events
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
    criteria : dict of str to bool
        ``unilateral``, ``irregular``, ``cn7_spread``.
    metrics : dict
        Numbers behind the criteria and descriptive measures (see :func:`classify_pattern`).
    video : dict
        ``duration_s``, ``frames``, ``fps``, ``face_found_fraction``, and head-motion measures.
    finding : str
        One sentence in plain words.
    """

    pattern: str
    side: str | None
    criteria: dict
    metrics: dict
    video: dict
    finding: str
    notes: list = field(default_factory=list)

    def __post_init__(self):
        if self.pattern not in PATTERNS:
            raise ValueError(f"pattern must be one of {PATTERNS}, got {self.pattern!r}")

    def to_dict(self) -> dict:
        """The ``summary.json`` document."""
        return {"pattern": self.pattern, "side": self.side, "finding": self.finding, "criteria": self.criteria,
                "metrics": self.metrics, "video": self.video, "notes": self.notes}


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


def _coupling(eye_onsets: np.ndarray, mouth_onsets: np.ndarray, window_s: float):
    """Fraction of mouth onsets within ``window_s`` of an eye onset, and the median mouth-minus-eye lag (s)."""
    if len(mouth_onsets) == 0 or len(eye_onsets) == 0:
        return (None if len(mouth_onsets) == 0 else 0.0), None
    diff = mouth_onsets[:, None] - eye_onsets[None, :]
    nearest = diff[np.arange(len(mouth_onsets)), np.abs(diff).argmin(axis=1)]
    coupled = np.abs(nearest) <= window_s
    lag = float(np.median(nearest[coupled])) if coupled.any() else None
    return float(coupled.mean()), lag


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


def classify_pattern(events: Events, signals: Signals, config: Config | None = None) -> Summary:
    """Classify the pattern of a recording's events.

    Parameters
    ----------
    events : Events
        Output of :func:`twitchcam.events.detect_events`.
    signals : Signals
        The signals the events came from (for time base and data quality).
    config : Config | None
        Criteria thresholds.

    Returns
    -------
    Summary
        ``metrics`` holds ``laterality_index``, ``interval_cv`` (None when fewer than three intervals),
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
    li = (n_side["left"] - n_side["right"]) / n_uni if n_uni else 0.0
    side = "left" if li > 0 else "right" if li < 0 else None

    metrics: dict = {
        "laterality_index": round(float(li), 4),
        "interval_cv": None,
        "eye_mouth_coupling": None,
        "eye_mouth_lag_s": None,
        "eye_first": None,
        "events_per_minute": {s: round(float(np.sum(events.side == s)) / minutes, 3)
                              for s in ("left", "right", "bilateral")},
        "unilateral_events": n_side,
        "bilateral_closures": n_bil,
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
        eye = np.sort(events.onset_s[mine & (events.region == "periocular")])
        mouth = np.sort(events.onset_s[mine & (events.region == "perioral")])
        episodes, _ = episode_spans(events.onset_s[mine], events.offset_s[mine], cfg.coupling_window_s)
        intervals = np.diff(episodes)
        if len(intervals) >= 3:
            metrics["interval_cv"] = round(float(intervals.std(ddof=1) / intervals.mean()), 4)
        coupling, lag = _coupling(eye, mouth, cfg.coupling_window_s)
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

        eye_rows = mine & (events.region == "periocular")
        brow_rows = (events.region == "brow") & (events.side == side)
        if eye_rows.any():
            eye_on, eye_off = events.onset_s[eye_rows], events.offset_s[eye_rows]
            b_on, b_off = events.onset_s[brow_rows], events.offset_s[brow_rows]
            with_brow = ((b_on[None, :] <= eye_off[:, None]) & (b_off[None, :] >= eye_on[:, None])).any(axis=1)
            metrics["brow_with_eye_closure_fraction"] = round(float(with_brow.mean()), 4)
            metrics["other_babinski_sign"] = bool(with_brow.any())

        criteria["unilateral"] = bool(n_uni >= cfg.min_events and abs(li) >= cfg.unilateral_min_li)
        criteria["irregular"] = bool(metrics["interval_cv"] is not None
                                     and metrics["interval_cv"] >= cfg.irregular_min_cv)
        criteria["cn7_spread"] = bool(len(eye) and len(mouth) and coupling is not None
                                      and coupling >= cfg.min_coupling_frac)

    notes: list[str] = []
    finding = None
    if video["measured_fraction"] < cfg.min_face_found_frac or found_s < cfg.min_analyzable_s:
        pattern = "insufficient_data"
        notes.append(f"face found and measured in {video['measured_fraction']:.0%} of frames ({found_s:.1f} s)")
        finding = insufficient_reason(video, found_s, cfg)
    elif n_bil >= cfg.min_events and n_bil >= cfg.bilateral_max_frac * (n_bil + n_uni):
        pattern = "bilateral"
    elif n_uni < cfg.min_events:
        pattern = "none"
    elif not criteria["unilateral"]:
        pattern = "bilateral"
    elif criteria["irregular"] and criteria["cn7_spread"]:
        pattern = "hemifacial_spasm"
    else:
        pattern = "unilateral_other"
    out_side = side if pattern in ("hemifacial_spasm", "unilateral_other") else None
    return Summary(pattern, out_side, criteria, metrics, video, finding or describe(pattern, out_side), notes)


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
