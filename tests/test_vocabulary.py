"""One side has one colour, and a pattern one name, in every view."""

import numpy as np
import pytest

from twitchcam import annotate, figures, report
from twitchcam.config import Config
from twitchcam.live import display
from twitchcam.vocabulary import PATTERN_LABELS, REGION_SIGNALS, SIDE_COLOURS, SIGNAL_REGIONS, bgr

pytestmark = pytest.mark.core


def test_bgr_of_the_report_colours():
    assert bgr("#d55e00") == (0, 94, 213)
    assert bgr("#0072b2") == (178, 114, 0)


@pytest.mark.parametrize("side", ["left", "right"])
def test_a_side_has_one_colour_in_every_view(side):
    """Report (its style sheet), figures, annotated video and live window draw a side in the same colour."""
    css = report.render_template("base.html.j2")
    assert f"--{side}: {SIDE_COLOURS[side]};" in css
    assert figures.SIDE_COLORS[side] == SIDE_COLOURS[side]
    assert annotate.COLORS[side] == bgr(SIDE_COLOURS[side])
    assert display.SIDE_COLOR[side] == bgr(SIDE_COLOURS[side])


def test_the_live_window_paints_each_side_in_its_colour():
    """The drawn window, not only its table: the side panel's heading is in the side's colour."""
    ov = display.Overlay(xyz=None, meters=None, thresholds={s: 0.1 for s in REGION_SIGNALS.values()}, counts={})
    frame = display.render(np.zeros((360, 640, 3), np.uint8), ov)
    colours = {tuple(int(c) for c in px) for px in frame.reshape(-1, 3)}
    for side in ("left", "right"):
        assert bgr(SIDE_COLOURS[side]) in colours, side


def test_regions_signals_and_thresholds_are_paired_by_name():
    assert {SIGNAL_REGIONS[s]: s for s in REGION_SIGNALS.values()} == REGION_SIGNALS
    cfg = Config()
    assert cfg.on_thresholds == {"periocular": cfg.eye_on_frac, "perioral": cfg.mouth_on_iod,
                                 "brow": cfg.brow_on_iod}


def test_cohort_and_web_use_one_pattern_wording():
    from twitchcam import cohort, pattern
    assert set(PATTERN_LABELS) == set(pattern.PATTERNS)
    assert cohort.PATTERN_LABELS is PATTERN_LABELS
