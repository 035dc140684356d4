"""The clinical report of an analysis: one self-contained HTML file a clinician can open anywhere and file.

``report.html`` is rendered from an analysis folder (:mod:`twitchcam.folder`) with a jinja2 template (autoescaped)
and matplotlib figures embedded as base64 SVG. It loads nothing from the network and runs no script (its
Content-Security-Policy forbids both), so it opens from a USB stick or an e-mail attachment as it is.

The per-side measures and severity proxies it shows come from :mod:`twitchcam.severity`; the report prints their
definitions next to the values. When a clinician has reviewed the timeline (:mod:`twitchcam.review`), the report is
of the reviewed timeline, and a section shows the automatic finding beside the reviewed one with every change.
"""

from __future__ import annotations

import datetime as _dt
import functools
import math
from pathlib import Path

import numpy as np

from . import __version__
from .folder import Results, read_results
from .pattern import count_twitches
from .regions import side_order
from .severity import JRS_FREQUENCY_LEVELS, JRS_SEVERITY_LEVELS, SLIGHT_CLOSURE, SMC_GRADES, SideMeasures, measure_side
from .vocabulary import SIDE_COLOURS

REPORT_NAME = "report.html"


def dropped_frames(t: np.ndarray) -> int:
    """Frames missing from the stream, estimated from gaps in the timestamps.

    A gap of more than 1.5 median frame intervals counts as ``round(gap / interval) - 1`` dropped frames.

    Parameters
    ----------
    t : ndarray, shape (n_frames,)
        Presentation times in seconds.
    """
    if len(t) < 3:
        return 0
    dt = np.diff(t)
    step = float(np.median(dt))
    big = dt > 1.5 * step
    return int(np.sum(np.round(dt[big] / step) - 1))


def data_quality(results: Results) -> dict:
    """How far to trust a recording's measurements.

    Returns
    -------
    dict
        ``rows``: list of (label, value, comment) to show; ``level``: ``good`` | ``fair`` | ``poor``;
        ``warnings``: list of sentences.
    """
    video = results.summary["video"]
    found = float(video["face_found_fraction"])
    measured = results.measured_fraction
    fps = float(video["fps"])
    dropped = dropped_frames(results.t)
    scale = results.head_scale[np.isfinite(results.head_scale)]
    zoom = float(np.percentile(scale, 95) / np.percentile(scale, 5) - 1) if scale.size else None
    iod = video.get("iod_px")
    warnings = []
    level = "good"
    if measured < 0.5:
        level = "poor"
        warnings.append(f"The face was measured in only {measured:.0%} of the frames.")
    elif measured < 0.9:
        level = "fair"
        warnings.append(f"The face was measured in {measured:.0%} of the frames; events in the gaps are missed.")
    if fps and fps < 20:
        level = "poor" if fps < 12 else ("fair" if level == "good" else level)
        warnings.append(f"Low frame rate ({fps:.0f} fps): twitches shorter than {2 / fps * 1000:.0f} ms can be "
                        "missed and durations are coarse.")
    if iod is not None and iod < 60:
        level = "fair" if level == "good" else level
        warnings.append(f"The face is small in the picture ({iod:.0f} px between the outer eye corners); small "
                        "twitches may be below the measurement noise. Film closer.")
    n = max(len(results.t), 1)
    if dropped > 0.02 * n:
        level = "fair" if level == "good" else level
        warnings.append(f"About {dropped} frames were dropped by the recorder ({dropped / n:.0%}).")
    rot95 = video.get("head_rotation_p95_deg")
    if rot95 is not None and rot95 > 20:
        level = "fair" if level == "good" else level
        warnings.append(f"The head turned a lot (95th percentile {rot95:.0f}°); frames turned beyond "
                        f"{results.config.max_head_rotation_deg:.0f}° are not measured.")
    decoded = video.get("decoded_fraction")
    if video.get("complete") is False:
        level = "poor"
        warnings.insert(0, f"INCOMPLETE recording: only {decoded:.0%} of the frames the file announces could be "
                           "decoded (truncated or damaged file); everything here describes the decoded part only.")
    several = video.get("several_faces_fraction") or 0.0
    if several > 0:
        warnings.append(f"Several faces were in view in {several:.0%} of the frames (up to "
                        f"{video.get('max_faces')}); the patient is the face followed from frame to frame.")
    rows = [
        ("Decoded", "n/a" if decoded is None else f"{decoded:.1%}",
         "of the frames the file announces" + ("" if video.get("container_duration_s") is None
                                               else f" ({video['container_duration_s']:.1f} s)")),
        ("Face found", f"{found:.1%}", "frames with the patient's face detected"),
        ("Measured", f"{measured:.1%}", f"face found and turned less than "
                                        f"{results.config.max_head_rotation_deg:.0f}° from its usual pose"),
        ("Frame rate", f"{fps:.1f} fps", f"{video['frames']} frames over {video['duration_s']:.1f} s"),
        ("Dropped frames", f"{dropped}", "estimated from gaps in the timestamps"),
        ("Head rotation", "n/a" if video.get("head_rotation_median_deg") is None else
         f"median {video['head_rotation_median_deg']:.1f}°, 95th pct {rot95:.1f}°",
         "compensated by aligning each frame to the head's reference pose"),
        ("Head distance change", "n/a" if zoom is None else f"{zoom:.0%}",
         "spread of apparent face size (5th to 95th percentile); compensated"),
        ("Face size", "n/a" if iod is None else f"{iod:.0f} px", "between the outer eye corners"),
    ]
    return {"rows": rows, "level": level, "warnings": warnings}


def _pct(x: float | None, digits: int = 0) -> str:
    return "n/a" if x is None else f"{x:.{digits}%}"


def _num(x: float | None, fmt: str = ".2f", unit: str = "") -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:{fmt}}{unit}"


def criteria_rows(results: Results) -> list[dict]:
    """Each criterion of the hemifacial-spasm pattern with the measurement behind it, for the report.

    Returns
    -------
    list of dict
        ``name``, ``status`` (``met`` | ``not met`` | ``present`` | ``absent`` | ``not assessed``),
        ``measurement``, ``rule``.
    """
    s = results.summary
    m, c, cfg = s["metrics"], s["criteria"], results.config
    # Without a face there is nothing to judge; without one-sided twitching the side-specific criteria have no side.
    unknown = "not assessed" if s["pattern"] == "insufficient_data" else None
    no_side = "no one-sided twitching" if s.get("side") is None and m["laterality_index"] == 0 else None
    n = m.get("unilateral_events", {})
    # A summary written before twitches were counted: counted here from its events, by the same rule.
    tw = m.get("unilateral_twitches") or {side: count_twitches(results.events, side, cfg.coupling_window_s)
                                          for side in ("left", "right")}
    li = m["laterality_index"]
    rows = [{
        "name": "One-sided",
        "status": unknown or ("met" if c["unilateral"] else "not met"),
        "measurement": f"laterality index {li:+.2f} ({n.get('left', 0)} left vs {n.get('right', 0)} right "
                       f"eye and mouth events; {tw['left']} vs {tw['right']} twitches, an eye "
                       "twitch and its mouth movement counted once)",
        "rule": f"(left − right) / (left + right) of events ≥ {cfg.unilateral_min_li:g} toward the side with "
                f"more twitches (or at most {cfg.unilateral_stray_events} "
                f"twitch{'' if cfg.unilateral_stray_events == 1 else 'es'} on the other side beside "
                f"{2 * cfg.min_events} or more), with at least {cfg.min_events} events; +1 is all left, −1 all "
                "right",
    }]
    cv = m.get("interval_cv")
    rows.append({
        "name": "Irregular intervals",
        "status": unknown or ("not assessed" if cv is None else ("met" if c["irregular"] else "not met")),
        "measurement": ("fewer than three intervals between episodes" if cv is None else
                        f"coefficient of variation {cv:.2f} over {m.get('episodes', 0)} episodes"),
        "rule": f"CV of the intervals between episodes ≥ {cfg.irregular_min_cv:g} (a metronomic rhythm is near 0)",
    })
    coupling, lag = m.get("eye_mouth_coupling"), m.get("eye_mouth_lag_s")
    if no_side:
        measurement = no_side
    elif coupling is None:
        measurement = "no mouth twitches on the affected side"
    else:
        measurement = (f"{coupling:.0%} of mouth twitches overlap an eye twitch or start within "
                       f"{cfg.coupling_window_s:g} s of one")
        if lag is not None:
            measurement += f"; median lag {lag * 1000:+.0f} ms ({'mouth after eye' if lag >= 0 else 'mouth first'})"
    rows.append({
        "name": "Eye → mouth spread (facial nerve territory)",
        "status": unknown or ("met" if c["cn7_spread"] else "not met"),
        "measurement": measurement,
        "rule": f"eye and mouth of the same side both twitch, ≥ {cfg.min_coupling_frac:.0%} of mouth twitches "
                "together with the eye (synkinesis)",
    })
    sign, frac = m.get("other_babinski_sign"), m.get("brow_with_eye_closure_fraction")
    rows.append({
        "name": "Brow elevation during eye closure (“other Babinski sign”)",
        "status": unknown or ("not assessed" if sign is None else ("present" if sign else "absent")),
        "measurement": (no_side or "no eye twitches on the affected side" if sign is None else
                        f"brow raised during {frac:.0%} of eye twitches on the affected side"),
        "rule": "specific for hemifacial spasm when present; often absent, and its absence never counts against it",
    })
    return rows


def red_flags(results: Results) -> list[str]:
    """Findings in these measurements that call for a closer look, in plain sentences."""
    s, m = results.summary, results.summary["metrics"]
    flags = []
    if s["pattern"] == "bilateral" or m.get("bilateral_beyond_blinking"):
        flags.append(f"Both sides involved ({m.get('bilateral_closures', 0)} bilateral closures other than blinks; "
                     f"laterality index {m['laterality_index']:+.2f}). Hemifacial spasm is bilateral in fewer than "
                     "5% of patients, and then asynchronous.")
    ev = results.events
    # In twitches, as the pattern counts both sides (a summary from before they were counted: from its events).
    window = results.config.coupling_window_s
    n_side = m.get("unilateral_twitches") or {side: count_twitches(ev, side, window) for side in ("left", "right")}
    if min(n_side.get("left", 0), n_side.get("right", 0)) >= results.config.min_events:
        flags.append("Twitches on both sides of the face.")
    if m.get("eye_first") is False:
        flags.append("The mouth twitched before the eye: typical hemifacial spasm starts around the eye "
                     "(atypical onset in the lower face deserves attention).")
    cv = m.get("interval_cv")
    if cv is not None and cv < results.config.irregular_min_cv and s["pattern"] != "none":
        flags.append(f"Rhythmic, almost regular twitching (interval CV {cv:.2f}): consider rhythmic myoclonus or "
                     "other rhythmic movement disorders.")
    if s["side"] is not None:
        mouth_only = np.sum((ev.side == s["side"]) & (ev.region == "perioral"))
        eye_n = np.sum((ev.side == s["side"]) & (ev.region == "periocular"))
        if mouth_only and not eye_n:
            flags.append("Mouth twitches without eye involvement: atypical for hemifacial spasm.")
    return flags


def mimickers(results: Results, measures: dict[str, SideMeasures]) -> list[dict]:
    """Conditions that look like hemifacial spasm, each with what these measurements say about it.

    Returns
    -------
    list of dict
        ``name``, ``features`` (what characterizes it clinically), ``measurements`` (what this recording shows).
    """
    s, m = results.summary, results.summary["metrics"]
    side = s["side"]
    li = m["laterality_index"]
    n_bil = m.get("bilateral_closures", 0)
    affected = measures.get(side) if side else None
    eye_n = affected.events_per_min["periocular"] if affected else 0.0
    mouth_n = affected.events_per_min["perioral"] if affected else 0.0

    if m.get("bilateral_beyond_blinking") or s["pattern"] == "bilateral":
        bleph = (f"{n_bil} bilateral eye closures other than blinks, {m.get('blinks_per_minute', 0):.1f} blinks "
                 "per minute: compatible with blepharospasm.")
    else:
        bleph = (f"Twitches one-sided (laterality index {li:+.2f}), {n_bil} bilateral closures other than blinks, "
                 f"{m.get('blinks_per_minute', 0):.1f} blinks per minute: argues against blepharospasm"
                 + (" as the cause." if side else "."))
    coupling = m.get("eye_mouth_coupling")
    tics = ("Premonitory urge and suppressibility cannot be judged from video measurements; ask and examine. ")
    if s["criteria"].get("cn7_spread"):
        tics += (f"Mouth twitching together with the eye ({coupling:.0%} coupled) is the synkinesis of the facial "
                 "nerve, which favours hemifacial spasm.")
    elif side:
        tics += "No eye-mouth synkinesis was documented, so tics remain in the differential."
    if affected and affected.eye_closure_median is not None:
        spread = " with spread to the mouth" if mouth_n else ", eye only"
        small = affected.eye_closure_median < SLIGHT_CLOSURE
        myok = (f"Median closure {affected.eye_closure_median:.0%} of the resting opening{spread}: "
                + ("small eye-only twitches are compatible with eyelid myokymia." if small and not mouth_n else
                   "closures of the lid and spread argue against simple eyelid myokymia."))
    else:
        myok = "No one-sided periocular twitch to judge."
    myok += " Fine rippling below the detection threshold is not captured."
    if affected and eye_n:
        hemimast = ("The eye is involved, which argues against it (hemimasticatory spasm spares the eye). "
                    "Jaw muscles are not measured.")
    elif affected and mouth_n:
        hemimast = "Mouth twitches without the eye: jaw muscles are not measured; examine the masseter and temporalis."
    else:
        hemimast = "No one-sided twitching documented. Jaw muscles are not measured."
    sign = m.get("other_babinski_sign")
    functional = ("Brow raised during eye closure (other Babinski sign): argues against a functional origin. "
                  if sign else "The other Babinski sign was not seen, which says nothing either way. ")
    if affected and affected.tonic_fraction is not None:
        functional += f"Tonic share {affected.tonic_fraction:.0%}. "
    functional += ("Downward pull of the lip and jaw, variability and distractibility are not measured (the mouth "
                   "signal is the pull up and out).")
    return [
        {"name": "Blepharospasm", "features": "Focal dystonia: bilateral, synchronous closure of both eyes, "
         "often increased blinking; the lower face is usually spared.", "measurements": bleph},
        {"name": "Tics", "features": "Brief stereotyped movements preceded by an urge, briefly suppressible, "
         "often starting in childhood, changing in location.", "measurements": tics},
        {"name": "Myokymia", "features": "Fine, undulating, rippling contractions, usually of one eyelid, without "
         "closing the eye; facial myokymia spreading over the face can signal a brainstem lesion.",
         "measurements": myok},
        {"name": "Hemimasticatory spasm", "features": "Trigeminal (CN V) motor disorder: one-sided jaw-closing "
         "spasms of the masseter and temporalis, often with facial hemiatrophy; the eye is spared.",
         "measurements": hemimast},
        {"name": "Functional (psychogenic) facial spasm", "features": "Often tonic, lower-face predominant with the "
         "lip and jaw pulled down and sideways, brow pulled down rather than up, variable and distractible, sudden "
         "onset.", "measurements": functional},
    ]


def _side_rows(measures: dict[str, SideMeasures], sides: tuple[str, str]) -> list[tuple]:
    """Per-side measure table rows: (label, value for sides[0], value for sides[1])."""
    get = lambda f: tuple(f(measures[s]) for s in sides)  # noqa: E731
    return [
        ("Spasm episodes", *get(lambda x: f"{x.episodes}")),
        ("Episodes per minute", *get(lambda x: f"{x.episodes_per_min:.1f}")),
        ("Eye twitches per minute", *get(lambda x: f"{x.events_per_min['periocular']:.1f}")),
        ("Mouth twitches per minute", *get(lambda x: f"{x.events_per_min['perioral']:.1f}")),
        ("Brow raises per minute", *get(lambda x: f"{x.events_per_min['brow']:.1f}")),
        ("Median episode duration", *get(lambda x: _num(x.median_duration_s, ".2f", " s"))),
        ("Longest spasm", *get(lambda x: _num(x.longest_spasm_s, ".2f", " s"))),
        ("Clonic / tonic", *get(lambda x: "n/a" if x.tonic_fraction is None else
                                f"{1 - x.tonic_fraction:.0%} / {x.tonic_fraction:.0%}")),
        ("Time in spasm", *get(lambda x: _pct(x.time_in_spasm_fraction, 1))),
        ("Eye closure at peak (median)", *get(lambda x: _pct(x.eye_closure_median))),
        ("Mouth pull at peak (median)", *get(lambda x: _num(x.mouth_pull_median, ".3f", " IOD"))),
        ("Brow raise at peak (median)", *get(lambda x: _num(x.brow_raise_median, ".3f", " IOD"))),
    ]


@functools.cache
def _template_env():
    # One environment per process: it keeps the compiled templates (compiling the report's costs more than
    # rendering it), and checks the files' times so an edited template is compiled again.
    import jinja2

    # autoescape=True rather than select_autoescape: the templates are named *.html.j2.
    env = jinja2.Environment(loader=jinja2.PackageLoader("twitchcam", "templates"), autoescape=True,
                             trim_blocks=True, lstrip_blocks=True)
    env.globals["side_colours"] = SIDE_COLOURS
    return env


def render_template(name: str, **context) -> str:
    """Render one of the package's templates (``twitchcam/templates/``) with autoescaping."""
    return _template_env().get_template(name).render(**context)


def render_report(out_dir: str | Path, annotated_video: str | Path | None = None) -> Path:
    """Write ``report.html`` into an analysis folder.

    Parameters
    ----------
    out_dir : str | Path
        An analysis folder (see :func:`twitchcam.folder.read_results`).
    annotated_video : str | Path | None
        An annotated video to link from the report; by default ``annotated.webm`` of the folder when present.

    Returns
    -------
    Path
        The written report.
    """
    from . import figures
    from .folder import write_atomic
    from .review_files import review_changes

    results = read_results(out_dir)
    review = (review_changes(read_results(out_dir, reviewed=False), results) if results.timeline == "reviewed"
              else None)
    s = results.summary
    side = s["side"]
    sides = side_order(side)
    measures = {x: measure_side(results, x) for x in ("left", "right")}
    video = Path(annotated_video) if annotated_video else results.out_dir / "annotated.webm"
    video_href = None
    if video.exists():
        video_href = video.name if video.resolve().parent == results.out_dir.resolve() else video.resolve().as_uri()
    affected = measures[side] if side else None
    cfg = results.config
    html = render_template(
        "report.html.j2",
        s=s,
        r=results,
        cfg=cfg,
        side=side,
        sides=sides,
        measures=measures,
        affected=affected,
        criteria=criteria_rows(results),
        side_rows=_side_rows(measures, sides),
        severity=[(x, measures[x]) for x in sides],
        jrs_frequency_levels=JRS_FREQUENCY_LEVELS,
        jrs_severity_levels=JRS_SEVERITY_LEVELS,
        smc_grades=SMC_GRADES,
        quality=data_quality(results),
        flags=red_flags(results),
        mimickers=mimickers(results, measures),
        figs=figures.report_figures(results, sides, measures),
        video_href=video_href,
        review=review,
        files=sorted(p.name for p in results.out_dir.iterdir() if p.is_file() and not p.name.startswith(".")),
        version=__version__,
        rendered=_dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
        analyzed=_dt.datetime.fromtimestamp((results.out_dir / "summary.json").stat().st_mtime)
        .strftime("%Y-%m-%d %H:%M"),
    )
    path = results.out_dir / REPORT_NAME
    write_atomic(path, html)
    return path
