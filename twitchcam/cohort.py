"""The cohort of a batch: one row per video (``cohort.csv``) and a one-page summary (``cohort.html``).

Rows are built from each video's analysis folder (``summary.json`` and ``events.csv``), so a cohort can be rebuilt
from a batch's output folder at any time, whichever machine ran the analyses.

Rates are per minute of *measured* video (face found and not turned away), as in ``summary.json``. Sides are the
PATIENT's. ``bilateral_periocular_per_min`` counts synchronous closures of both eyes that are not blinks; blinks
are in ``blinks_per_min``. ``{side}_tonic_fraction`` is the fraction of that side's periocular and perioral events
lasting ``tonic_min_s`` or more (empty without such events).

Quality flags
-------------
``failed`` (no analysis), ``insufficient_data`` (pattern), ``face_found<80%`` and ``measured<80%`` (fraction of
frames with a face, and with a face that was measured, below :data:`QUALITY_MIN_FRAC`).

The summary documents patterns ("consistent with ..."); it is not a diagnosis of anyone in the cohort.
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
import json
import os
from pathlib import Path

import numpy as np

from . import __version__
from .outputs import read_events_csv, write_atomic
from .pattern import PATTERNS

#: Below this fraction of frames with a face (or measured), a video is flagged.
QUALITY_MIN_FRAC = 0.8
SIDES = ("left", "right")
REGIONS = ("periocular", "perioral", "brow")
COHORT_COLUMNS = (
    "video", "out_dir", "status", "pattern", "side", "duration_s", "face_found_fraction", "measured_fraction",
    *(f"{side}_{region}_per_min" for side in SIDES for region in REGIONS),
    "bilateral_periocular_per_min", "blinks_per_min",
    "left_tonic_fraction", "right_tonic_fraction",
    "laterality_index", "interval_cv", "eye_mouth_coupling", "episodes", "longest_spasm_s",
    "time_in_spasm_fraction", "other_babinski_sign",
    "unilateral", "irregular", "cn7_spread",
    "quality_flags", "error",
)
PATTERN_LABELS = {
    "hemifacial_spasm": "consistent with hemifacial spasm",
    "unilateral_other": "one-sided, not every HFS criterion",
    "bilateral": "bilateral",
    "none": "no twitching beyond blinks",
    "insufficient_data": "insufficient data",
}


def _round(x, digits: int = 4):
    return "" if x is None else round(float(x), digits)


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
    flags = []
    if manifest_row["status"] != "done" or not (folder / "summary.json").is_file():
        flags.append("failed" if manifest_row["status"] == "failed" else manifest_row["status"])
        row["quality_flags"] = ";".join(flags)
        return row
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    events = read_events_csv(folder / "events.csv")
    video, metrics, criteria = summary["video"], summary["metrics"], summary["criteria"]
    minutes = video["duration_s"] * video["measured_fraction"] / 60
    rate = (lambda n: round(n / minutes, 3)) if minutes > 0 else (lambda n: "")
    row.update(pattern=summary["pattern"], side=summary["side"] or "", duration_s=video["duration_s"],
               face_found_fraction=video["face_found_fraction"], measured_fraction=video["measured_fraction"])
    for side in SIDES:
        mine = events.side == side
        for region in REGIONS:
            row[f"{side}_{region}_per_min"] = rate(int(np.sum(mine & (events.region == region))))
        twitch = mine & np.isin(events.region, ("periocular", "perioral"))
        row[f"{side}_tonic_fraction"] = _round(np.mean(events.kind[twitch] == "tonic")) if twitch.any() else ""
    row["bilateral_periocular_per_min"] = rate(int(np.sum((events.side == "bilateral") & (events.kind != "blink"))))
    row["blinks_per_min"] = rate(int(np.sum(events.kind == "blink")))
    for key in ("laterality_index", "interval_cv", "eye_mouth_coupling", "episodes", "longest_spasm_s",
                "time_in_spasm_fraction", "other_babinski_sign"):
        value = metrics.get(key)
        row[key] = "" if value is None else value
    row.update({k: criteria[k] for k in ("unilateral", "irregular", "cn7_spread")})
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
Patterns are documented from video (wording: "consistent with"); this page is not a diagnosis.</p>
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
{% for label, left, right in sides %}<tr><td>{{ label }}</td><td class="n">{{ left }}</td><td class="n">{{ right }}</td></tr>
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
<th>Eye twitches /min L&nbsp;|&nbsp;R</th><th>Mouth twitches /min L&nbsp;|&nbsp;R</th><th>Folder</th></tr>
{% for r in videos %}<tr><td>{{ r.name }}</td><td>{{ r.pattern_label }}</td><td>{{ r.side }}</td>
<td class="n">{{ r.duration }}</td><td class="n">{{ r.face }}</td><td class="n">{{ r.eye }}</td>
<td class="n">{{ r.mouth }}</td>
<td>{% if r.href %}<a href="{{ r.href }}">{{ r.out_dir }}</a>{% endif %}</td></tr>
{% endfor %}</table>
<p class="muted">Every column, for all videos: cohort.csv. Per video: events.csv, summary.json, signals.csv in
its folder. Rates are per minute of measured video.</p>
</body></html>
"""


def _pct(x) -> str:
    return "" if x == "" else f"{float(x):.0%}"


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
               "flags": r["quality_flags"].replace(";", ", "),
               "href": f"{r['out_dir']}/summary.json"
               if out_dir is not None and (Path(out_dir) / r["out_dir"] / "summary.json").is_file() else ""}
              for r in rows]
    env = jinja2.Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)
    return env.from_string(_TEMPLATE).render(
        rows=rows, videos=videos, status_counts=[c for c in status_counts if c[1]], patterns=patterns,
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
