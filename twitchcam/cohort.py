"""The cohort of a batch: one row per video (``cohort.csv``) and a one-page summary (``cohort.html``).

Rows are built from each video's analysis folder (:func:`twitchcam.folder.read_results`), so a cohort can be
rebuilt from a batch's output folder at any time, whichever machine ran the analyses.

Rates are per minute of *measured* video (face found and not turned away), as in ``summary.json``. Sides are the
PATIENT's. The per-side columns (:data:`SIDE_COLUMNS`, prefixed ``left_`` / ``right_``) are those of the clinical
report (:func:`twitchcam.severity.measure_side`): rates per region and of episodes, tonic share, time in spasm,
90th percentile of eye closure, and the JRS frequency / severity and SMC grade proxies (documentation aids, not
ratings). ``bilateral_periocular_per_min`` counts synchronous closures of both eyes that are not blinks; blinks
are in ``blinks_per_min``.

When a video's folder holds a clinician's review (:mod:`twitchcam.review`), its row is built from the reviewed
timeline and summary, and its ``timeline`` column says ``reviewed`` (else ``automatic``).

Quality flags
-------------
``failed`` (no analysis), ``incomplete(N%_decoded)`` (a truncated or damaged file of which only N % of the frames
its container announces could be decoded, below ``Config.min_decoded_frac``; ``decoded_fraction`` is its column),
``insufficient_data`` (pattern), ``face_found<80%`` and ``measured<80%`` (fraction of frames with a face, and with
a face that was measured, below :data:`QUALITY_MIN_FRAC`).

Rows are rebuilt from the folders at the end of every batch run (reading each ``signals.csv``), so the cohort
always covers the whole manifest. The summary documents patterns ("consistent with ..."); it is not a diagnosis of
anyone in the cohort.
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
import os
from pathlib import Path

import numpy as np

from . import __version__
from .folder import read_results, write_atomic
from .pattern import PATTERNS
from .regions import REGIONS, SIDES
from .severity import measure_side
from .vocabulary import PATTERN_LABELS

#: Below this fraction of frames with a face (or measured), a video is flagged.
QUALITY_MIN_FRAC = 0.8
#: Per-side columns, from :func:`twitchcam.severity.measure_side`, each prefixed with ``left_`` and ``right_``.
SIDE_COLUMNS = (*(f"{region}_per_min" for region in REGIONS), "episodes_per_min", "tonic_fraction",
                "time_in_spasm_fraction", "eye_closure_p90", "jrs_frequency", "jrs_severity", "smc_grade")
COHORT_COLUMNS = (
    "video", "out_dir", "status", "timeline", "pattern", "side", "duration_s", "decoded_fraction",
    "face_found_fraction", "measured_fraction",
    *(f"{side}_{column}" for side in SIDES for column in SIDE_COLUMNS),
    "bilateral_periocular_per_min", "blinks_per_min",
    "laterality_index", "interval_cv", "eye_mouth_coupling", "longest_spasm_s", "other_babinski_sign",
    "unilateral", "irregular", "cn7_spread",
    "quality_flags", "error",
)


def _value(x):
    """A CSV cell: empty for None, floats to 4 decimals."""
    if x is None:
        return ""
    return round(x, 4) if isinstance(x, float) else x


def cohort_row(manifest_row: dict, out_dir: str | Path) -> dict:
    """One cohort row from a manifest row and the batch's output folder.

    Parameters
    ----------
    manifest_row : dict
        A row of ``batch.csv`` (``video``, ``status``, ``out_dir``, ``error`` ...).
    out_dir : str | Path
        The batch's output folder; the video's analysis folder is ``out_dir / manifest_row["out_dir"]``.

    Returns
    -------
    dict
        Keys :data:`COHORT_COLUMNS`; empty strings where a value does not exist.
    """
    row = dict.fromkeys(COHORT_COLUMNS, "")
    row.update(video=manifest_row["video"], out_dir=manifest_row["out_dir"], status=manifest_row["status"],
               error=manifest_row.get("error", ""))
    folder = Path(out_dir) / manifest_row["out_dir"]
    if manifest_row["status"] != "done" or not (folder / "summary.json").is_file():
        row["quality_flags"] = manifest_row["status"]
        return row
    results = read_results(folder)
    summary, events = results.summary, results.events
    video, metrics, criteria = summary["video"], summary["metrics"], summary["criteria"]
    row.update(timeline=results.timeline, pattern=summary["pattern"], side=summary["side"] or "",
               duration_s=video["duration_s"], decoded_fraction=_value(video.get("decoded_fraction")),
               face_found_fraction=video["face_found_fraction"], measured_fraction=video["measured_fraction"])
    for side in SIDES:
        measures = measure_side(results, side)
        for region in REGIONS:
            row[f"{side}_{region}_per_min"] = _value(measures.events_per_min[region])
        for column in SIDE_COLUMNS[len(REGIONS):]:
            row[f"{side}_{column}"] = _value(getattr(measures, column))
    minutes = results.measured_minutes
    bilateral = int(np.sum((events.side == "bilateral") & (events.kind != "blink")))
    row["bilateral_periocular_per_min"] = _value(bilateral / minutes) if minutes > 0 else ""
    row["blinks_per_min"] = _value(metrics.get("blinks_per_minute"))
    for key in ("laterality_index", "interval_cv", "eye_mouth_coupling", "longest_spasm_s", "other_babinski_sign"):
        row[key] = _value(metrics.get(key))
    row.update({k: criteria[k] for k in ("unilateral", "irregular", "cn7_spread")})
    flags = []
    if video.get("complete") is False:
        flags.append(f"incomplete({video['decoded_fraction']:.0%}_decoded)")
    if summary["pattern"] == "insufficient_data":
        flags.append("insufficient_data")
    if video["face_found_fraction"] < QUALITY_MIN_FRAC:
        flags.append(f"face_found<{QUALITY_MIN_FRAC:.0%}")
    if video["measured_fraction"] < QUALITY_MIN_FRAC:
        flags.append(f"measured<{QUALITY_MIN_FRAC:.0%}")
    row["quality_flags"] = ";".join(flags)
    return row


def format_cohort_csv(rows: list[dict]) -> str:
    """Render cohort rows as CSV text with the :data:`COHORT_COLUMNS` header."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, COHORT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


_TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>twitchcam cohort: {{ rows|length }} videos</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
h1 { font-size: 1.4em; margin-bottom: 0.2em; } h2 { font-size: 1.1em; margin-top: 1.4em; }
table { border-collapse: collapse; margin: 0.4em 0; } th, td { padding: 2px 10px; border-bottom: 1px solid #ddd; }
th { text-align: left; background: #f4f4f4; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
.muted { color: #666; } .flag { color: #a40; } .bar { background: #4a7bb7; height: 10px; display: inline-block; }
.cards { display: flex; gap: 1em; } .card { border: 1px solid #ddd; border-radius: 4px; padding: 0.5em 1em; }
.card b { font-size: 1.5em; display: block; }
</style></head><body>
<h1>Cohort summary</h1>
<p class="muted">{{ rows|length }} videos &middot; twitchcam {{ version }} &middot; {{ rendered }}.
Patterns are documented from video (wording: "consistent with"); this page is not a diagnosis.
{% if n_reviewed %}{{ n_reviewed }} of {{ done|length }} analyzed videos use the timeline as a clinician reviewed it
(marked "reviewed"); the others the automatic one.
{% else %}Every timeline is automatic (none was reviewed by a clinician).{% endif %}</p>
<div class="cards">
{% for status, n in status_counts %}<div class="card"><b>{{ n }}</b>{{ status }}</div>{% endfor %}
<div class="card"><b>{{ flagged|length }}</b>with quality flags</div>
</div>

<h2>Patterns</h2>
<table><tr><th>Pattern</th><th>Videos</th><th>Share of analyzed</th><th></th></tr>
{% for p in patterns %}<tr><td>{{ p.label }}</td><td class="n">{{ p.n }}</td><td class="n">{{ p.share }}</td>
<td><span class="bar" style="width: {{ p.width }}px"></span></td></tr>
{% endfor %}</table>

<h2>Affected side (one-sided patterns, the patient's side)</h2>
<table><tr><th>Pattern</th><th>Left</th><th>Right</th></tr>
{% for label, left, right in sides %}
<tr><td>{{ label }}</td><td class="n">{{ left }}</td><td class="n">{{ right }}</td></tr>
{% endfor %}</table>

<h2>Quality flags</h2>
{% if flagged %}<table><tr><th>Video</th><th>Flags</th><th>Face found</th><th>Error</th></tr>
{% for r in flagged %}<tr><td>{{ r.name }}</td><td class="flag">{{ r.flags }}</td>
<td class="n">{{ r.face }}</td><td>{{ r.error }}</td></tr>
{% endfor %}</table>
{% else %}<p>None: every video was analyzed with a face found and measured in at least {{ min_frac }} of its frames.</p>
{% endif %}

<h2>Videos</h2>
<table><tr><th>Video</th><th>Pattern</th><th>Side</th><th>Duration</th><th>Face found</th>
<th>Eye twitches /min L&nbsp;|&nbsp;R</th><th>Mouth twitches /min L&nbsp;|&nbsp;R</th>
<th>Severity proxies, affected side</th><th>Folder</th></tr>
{% for r in videos %}<tr><td>{{ r.name }}</td>
<td>{{ r.pattern_label }}{% if r.timeline == "reviewed" %} <span class="muted">(reviewed)</span>{% endif %}</td>
<td>{{ r.side }}</td>
<td class="n">{{ r.duration }}</td><td class="n">{{ r.face }}</td><td class="n">{{ r.eye }}</td>
<td class="n">{{ r.mouth }}</td><td>{{ r.severity }}</td>
<td>{% if r.href %}<a href="{{ r.href }}">{{ r.out_dir }}</a>{% endif %}</td></tr>
{% endfor %}</table>
<p class="muted">Every column, for all videos: cohort.csv. Per video: report.html (when written), events.csv,
summary.json, signals.csv in its folder. Rates are per minute of measured video. Severity proxies map measurements
onto the Jankovic Rating
Scale (frequency/severity, 0-4) and the SMC grade (I-IV) as the clinical report states; they are documentation
aids, not ratings.</p>
</body></html>
"""


def _pct(x) -> str:
    return "" if x == "" else f"{float(x):.0%}"


def _severity(row: dict) -> str:
    side = row["side"]
    if not side:
        return ""
    smc = row[f"{side}_smc_grade"]
    grade = f", SMC {'I' * smc if smc < 4 else 'IV'}" if smc != "" else ""
    return f"JRS {row[f'{side}_jrs_frequency']}/{row[f'{side}_jrs_severity']}{grade}"


def _link(out_dir: str | Path | None, folder: str) -> str:
    """Relative link to a video's report, else its summary, when the file exists."""
    for name in ("report.html", "summary.json"):
        if out_dir is not None and (Path(out_dir) / folder / name).is_file():
            return f"{folder}/{name}"
    return ""


def _duration(seconds) -> str:
    if seconds == "":
        return ""
    minutes, secs = divmod(round(float(seconds)), 60)
    return f"{minutes}:{secs:02d}"


def format_cohort_html(rows: list[dict], out_dir: str | Path | None = None) -> str:
    """Render the one-page cohort summary (self-contained HTML, no script, nothing loaded from the network).

    Parameters
    ----------
    rows : list of dict
        Cohort rows (:func:`cohort_row`).
    out_dir : str | Path | None
        The batch's output folder, to link the analysis folders that exist.
    """
    import jinja2

    done = [r for r in rows if r["pattern"]]
    status_counts = [(s, sum(r["status"] == s for r in rows)) for s in ("done", "failed", "pending")]
    patterns = []
    for p in PATTERNS:
        n = sum(r["pattern"] == p for r in done)
        patterns.append({"label": PATTERN_LABELS[p], "n": n, "share": f"{n / len(done):.0%}" if done else "",
                         "width": round(200 * n / len(done)) if done else 0})
    sides = [(PATTERN_LABELS[p], *(sum(r["pattern"] == p and r["side"] == s for r in done) for s in SIDES))
             for p in ("hemifacial_spasm", "unilateral_other")]
    # Videos are named by their path below the archive's common folder: names alone may repeat.
    root = os.path.commonpath([str(Path(r["video"]).parent) for r in rows]) if rows else ""
    pair = lambda r, region: " | ".join(str(r[f"{s}_{region}_per_min"]) for s in SIDES)  # noqa: E731
    videos = [{**r, "name": os.path.relpath(r["video"], root) if root else r["video"],
               "pattern_label": PATTERN_LABELS.get(r["pattern"], r["status"]),
               "duration": _duration(r["duration_s"]), "face": _pct(r["face_found_fraction"]),
               "eye": pair(r, "periocular") if r["pattern"] else "",
               "mouth": pair(r, "perioral") if r["pattern"] else "",
               "flags": r["quality_flags"].replace(";", ", "), "severity": _severity(r),
               "href": _link(out_dir, r["out_dir"])} for r in rows]
    env = jinja2.Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)
    return env.from_string(_TEMPLATE).render(
        rows=rows, videos=videos, done=done, n_reviewed=sum(r["timeline"] == "reviewed" for r in done),
        status_counts=[c for c in status_counts if c[1]], patterns=patterns,
        sides=sides, flagged=[v for v in videos if v["quality_flags"]], min_frac=f"{QUALITY_MIN_FRAC:.0%}",
        version=__version__, rendered=_dt.datetime.now().strftime("%Y-%m-%d %H:%M"))


def write_cohort(out_dir: str | Path, manifest_rows: list[dict]) -> tuple[Path, Path]:
    """Write ``cohort.csv`` and ``cohort.html`` into a batch's output folder.

    Parameters
    ----------
    out_dir : str | Path
        The batch's output folder.
    manifest_rows : list of dict
        Rows of ``batch.csv``, one per video.

    Returns
    -------
    tuple of Path
        The CSV and the HTML file.
    """
    out = Path(out_dir)
    rows = [cohort_row(r, out) for r in manifest_rows]
    write_atomic(out / "cohort.csv", format_cohort_csv(rows))
    write_atomic(out / "cohort.html", format_cohort_html(rows, out))
    return out / "cohort.csv", out / "cohort.html"
