"""Comparing two sessions of one patient: the change per side, the table, the JSON and HTML, the command."""

import json

import pytest

from twitchcam.cli import main
from twitchcam.compare import compare_sessions, format_change, format_table, format_value, write_comparison
from twitchcam.courses import regular_course
from twitchcam.folder import write_analysis
from twitchcam.pipeline import analyze_landmarks
from twitchcam.testing import as_twitches, make_landmarks


def _session(tmp_path_factory, name, **course):
    lm = make_landmarks(60, 30, as_twitches(regular_course("left", 60, **course)), noise_px=0.2, seed=1)
    out = tmp_path_factory.mktemp(name)
    write_analysis(analyze_landmarks(lm, source=f"{name}.mp4"), out)
    return out


@pytest.fixture(scope="module")
def before(tmp_path_factory):
    return _session(tmp_path_factory, "before", seed=11, rate_per_min=24)


@pytest.fixture(scope="module")
def after(tmp_path_factory):
    """Fewer and weaker left-sided twitches, as after botulinum toxin."""
    return _session(tmp_path_factory, "after", seed=12, rate_per_min=6, eye_amplitude=0.35)


def test_formatting():
    assert format_value(None, ".1f") == "n/a"
    assert format_value(3, "roman") == "III"
    assert format_value(0.125, ".1%") == "12.5%"
    assert format_change(20.0, 5.0, ".1f") == "-15.0 (-75%)"
    assert format_change(0.0, 2.0, ".1f") == "+2.0"
    assert format_change(0.25, 0.1, ".0%") == "-15 points"
    assert format_change(2, 1, "roman") == "-1 grade"
    assert format_change(None, 1.0, ".1f") == "n/a"


def test_compare_sessions_reports_the_change_per_side(before, after):
    c = compare_sessions(before, after, ("before", "after"))
    assert c.sides == ("left", "right")
    assert c.a.pattern == "hemifacial_spasm" and c.a.side == "left"
    rows = {(r["side"], r["key"]): r for r in c.rows}
    assert len(c.rows) == 2 * 12
    rate = rows[("left", "episodes_per_min")]
    assert rate["a"] > 15 and rate["b"] < 10 and rate["delta"] == pytest.approx(rate["b"] - rate["a"])
    assert rows[("left", "eye_closure_median")]["delta"] < 0
    assert rows[("right", "episodes_per_min")]["a"] == rows[("right", "episodes_per_min")]["b"] == 0
    assert rows[("right", "smc_grade")]["change"] == "n/a"
    table = format_table(c)
    assert "before" in table and "after" in table and "Spasm episodes per minute" in table
    assert "not a diagnosis" in table


def test_write_comparison(before, after, tmp_path):
    c = compare_sessions(before, after)
    js, page = write_comparison(c, tmp_path / "cmp")
    doc = json.loads(js.read_text())
    assert doc["a"]["side"] == "left" and doc["a"]["measures"]["left"]["episodes"] > doc["b"]["measures"]["left"][
        "episodes"]
    html = page.read_text(encoding="utf-8")
    assert "default-src 'none'" in html and "http://" not in html.split("</style>")[1]
    assert html.count("data:image/png;base64,") == 4           # both rasters, wide and narrow
    assert "Change is B − A" in html


def test_compare_command(before, after, tmp_path, capsys):
    assert main(["compare", str(before), str(after), "--out", str(tmp_path), "--labels", "pre", "post"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("pre: Pattern consistent with left hemifacial spasm.")
    assert (tmp_path / "compare.html").exists() and (tmp_path / "compare.json").exists()
    assert main(["compare", str(before), str(tmp_path / "missing"), "--out", str(tmp_path)]) == 1
