"""Two sessions of the same patient side by side, e.g. before and after botulinum toxin: per side, how often, how
long and how strongly the face twitched, the severity proxies, and the change.

The change is ``B - A`` (and relative to ``A`` when ``A`` is not zero): a negative change means less of it in
session B. Which session is "before" is the caller's: ``twitchcam compare BEFORE AFTER``. Sides are the patient's.
Nothing checks that both recordings show the same patient, or were filmed the same way; the data-quality lines
say how comparable they are.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from .folder import Results, read_results
from .regions import SIDES, side_order
from .severity import SideMeasures, measure_side

#: Rows of a comparison: SideMeasures attribute, label, format, unit shown after the value.
MEASURES = (
    ("episodes_per_min", "Spasm episodes per minute", ".1f", ""),
    ("eye_per_min", "Eye twitches per minute", ".1f", ""),
    ("mouth_per_min", "Mouth twitches per minute", ".1f", ""),
    ("median_duration_s", "Median episode duration", ".2f", " s"),
    ("longest_spasm_s", "Longest spasm", ".2f", " s"),
    ("tonic_fraction", "Tonic share of events", ".0%", ""),
    ("time_in_spasm_fraction", "Time in spasm", ".1%", ""),
    ("eye_closure_median", "Eye closure at peak (median)", ".0%", ""),
    ("mouth_pull_median", "Mouth pull at peak (median)", ".3f", " IOD"),
    ("jrs_frequency", "JRS frequency proxy (0-4)", "d", ""),
    ("jrs_severity", "JRS severity proxy (0-4)", "d", ""),
    ("smc_grade", "SMC grade proxy (I-IV)", "roman", ""),
)


def _value(m: SideMeasures, key: str):
    if key == "eye_per_min":
        return m.events_per_min["periocular"]
    if key == "mouth_per_min":
        return m.events_per_min["perioral"]
    return getattr(m, key)


def format_value(value, fmt: str, unit: str = "") -> str:
    """A measure as text: ``n/a`` for None, roman numerals for ``fmt="roman"``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if fmt == "roman":
        return ("I", "II", "III", "IV")[int(value) - 1]
    return f"{value:{fmt}}{unit}"


def format_change(a, b, fmt: str, unit: str = "") -> str:
    """``B - A`` as text with its sign, and relative to A when A is not zero."""
    if a is None or b is None:
        return "n/a"
    d = b - a
    if fmt == "roman":
        return f"{d:+d} grade" if d else "0"
    if fmt.endswith("%"):
        text = f"{d * 100:+.{fmt[1:-1] or '0'}f} points"
    else:
        text = f"{d:+{fmt}}{unit}"
    if a and fmt not in ("d",) and not fmt.endswith("%"):
        text += f" ({d / a:+.0%})"
    return text


@dataclass(frozen=True)
class Session:
    """One compared session: where it came from and what was found.

    Parameters
    ----------
    label : str
        How the session is named in the table (e.g. ``A: before``).
    out_dir : str
        Its analysis folder.
    source : str
        The analyzed video's file name.
    finding : str
        The finding sentence of ``summary.json``.
    pattern : str
    side : str | None
    duration_s : float
    measured_fraction : float
        Fraction of frames in which the face was measured.
    measures : dict of str to SideMeasures
        Per side, ``left`` and ``right``.
    """

    label: str
    out_dir: str
    source: str
    finding: str
    pattern: str
    side: str | None
    duration_s: float
    measured_fraction: float
    measures: dict

    @classmethod
    def from_results(cls, results: Results, label: str) -> Session:
        """Measure an analysis folder's sides."""
        return cls(label, str(results.out_dir), results.source_name, results.summary.get("finding", ""),
                   results.summary["pattern"], results.summary["side"], results.duration_s,
                   results.measured_fraction, {s: measure_side(results, s) for s in SIDES})


@dataclass(frozen=True)
class Comparison:
    """Two sessions and the per-side rows comparing them.

    Parameters
    ----------
    a, b : Session
        The first (e.g. before) and second session.
    sides : tuple of str
        Sides in the order shown: the affected side first.
    rows : list of dict
        ``side``, ``key``, ``label``, ``a``, ``b`` (values, None when not applicable), ``a_text``, ``b_text``,
        ``change`` (text), ``delta`` (``b - a`` or None).
    notes : list of str
        What limits the comparison (different lengths, poor data, a changed pattern).
    """

    a: Session
    b: Session
    sides: tuple
    rows: list
    notes: list

    def to_dict(self) -> dict:
        """A JSON-ready document of the comparison."""
        def session(s: Session) -> dict:
            return {"label": s.label, "out_dir": s.out_dir, "source": s.source, "finding": s.finding,
                    "pattern": s.pattern, "side": s.side, "duration_s": s.duration_s,
                    "measured_fraction": s.measured_fraction,
                    "measures": {k: v.to_dict() for k, v in s.measures.items()}}

        return {"a": session(self.a), "b": session(self.b), "sides": list(self.sides),
                "rows": [{k: r[k] for k in ("side", "key", "label", "a", "b", "delta")} for r in self.rows],
                "notes": self.notes}


def compare_sessions(dir_a: str | Path, dir_b: str | Path, labels: tuple[str, str] | None = None) -> Comparison:
    """Compare two analysis folders of the same patient.

    Parameters
    ----------
    dir_a, dir_b : str | Path
        Analysis folders; the change is B - A.
    labels : tuple of str | None
        Names of the sessions; by default ``A: <folder>`` and ``B: <folder>``.

    Returns
    -------
    Comparison
    """
    ra, rb = read_results(dir_a), read_results(dir_b)
    labels = labels or (f"A: {ra.out_dir.name}", f"B: {rb.out_dir.name}")
    a, b = Session.from_results(ra, labels[0]), Session.from_results(rb, labels[1])
    affected = a.side or b.side
    sides = side_order(affected)
    rows = []
    for side in sides:
        for key, label, fmt, unit in MEASURES:
            va, vb = _value(a.measures[side], key), _value(b.measures[side], key)
            rows.append({"side": side, "key": key, "label": label, "a": va, "b": vb,
                         "a_text": format_value(va, fmt, unit), "b_text": format_value(vb, fmt, unit),
                         "change": format_change(va, vb, fmt, unit),
                         "delta": None if va is None or vb is None else vb - va})
    notes = []
    if min(a.duration_s, b.duration_s) < 0.5 * max(a.duration_s, b.duration_s):
        notes.append(f"The recordings differ in length ({a.duration_s:.0f} s vs {b.duration_s:.0f} s): rates are "
                     "per minute, but rare events and the longest spasm depend on how long one films.")
    for s in (a, b):
        if s.measured_fraction < 0.8:
            notes.append(f"{s.label}: the face was measured in only {s.measured_fraction:.0%} of frames.")
    if a.side and b.side and a.side != b.side:
        notes.append(f"The affected side differs ({a.side} vs {b.side}): check that both are the same patient and "
                     "that neither video is mirrored.")
    if a.pattern != b.pattern:
        notes.append(f"The pattern changed: {a.pattern.replace('_', ' ')} → {b.pattern.replace('_', ' ')}.")
    return Comparison(a, b, sides, rows, notes)


def format_table(comparison: Comparison) -> str:
    """The comparison as a plain-text table for a terminal."""
    c = comparison
    head = ("Measure", "Side", c.a.label, c.b.label, "Change (B - A)")
    body = [(r["label"], r["side"], r["a_text"], r["b_text"], r["change"]) for r in c.rows]
    widths = [max(len(str(row[i])) for row in [head, *body]) for i in range(len(head))]
    line = lambda row: "  ".join(str(v).ljust(w) if i < 2 else str(v).rjust(w)  # noqa: E731
                                 for i, (v, w) in enumerate(zip(row, widths))).rstrip()
    out = [f"{c.a.label}: {c.a.finding}", f"{c.b.label}: {c.b.finding}", "", line(head),
           line(["-" * w for w in widths])]
    previous = None
    for row in body:
        if previous is not None and row[1] != previous:
            out.append("")
        out.append(line(row))
        previous = row[1]
    out += [f"Note: {n}" for n in c.notes]
    out.append("Proxies, not ratings; a documentation aid, not a diagnosis. Sides are the patient's.")
    return "\n".join(out) + "\n"


def write_comparison(comparison: Comparison, out_dir: str | Path) -> list[Path]:
    """Write ``compare.json`` and a self-contained ``compare.html`` into ``out_dir``.

    Returns
    -------
    list of Path
        The JSON and HTML files.
    """
    import datetime as _dt

    from . import __version__, figures
    from .folder import write_atomic, write_json
    from .report import render_template

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    js = out / "compare.json"
    write_json(comparison.to_dict(), js)
    rasters = []
    import matplotlib

    for session in (comparison.a, comparison.b):
        results = read_results(session.out_dir)
        entry = {"caption": f"{session.label}: {session.source}, {session.duration_s:.0f} s."}
        for layout, (_, dpi) in figures.LAYOUTS.items():
            with matplotlib.rc_context(figures.STYLES[layout]):
                entry[layout] = figures.png_base64(figures.raster(results, comparison.sides, layout), dpi)
        rasters.append(entry)
    html = render_template("compare.html.j2", c=comparison, rasters=rasters, version=__version__,
                           rendered=_dt.datetime.now().strftime("%Y-%m-%d %H:%M"))
    page = out / "compare.html"
    write_atomic(page, html)
    return [js, page]
