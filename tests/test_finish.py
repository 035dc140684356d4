"""One way to finish an analysis folder: the analysis files, then what is made from them, failures as asked."""

import logging

import pytest

from twitchcam.folder import finish_analysis_folder
from twitchcam.pipeline import analyze_landmarks
from twitchcam.testing import Twitch, make_landmarks

ANALYSIS_FILES = ("events.csv", "summary.json", "signals.csv", "config.json")


@pytest.fixture(scope="module")
def analysis():
    return analyze_landmarks(make_landmarks(20, 30.0, [Twitch(5.0, 0.3, "left", "periocular", 0.6)]))


def test_the_folder_ends_with_its_report(analysis, tmp_path):
    written = finish_analysis_folder(analysis, tmp_path)
    assert written == [tmp_path / "report.html"]
    for name in ANALYSIS_FILES:
        assert (tmp_path / name).is_file(), name
    assert "<html" in (tmp_path / "report.html").read_text()


def test_a_failed_extra_is_raised_or_logged_as_asked(analysis, tmp_path, caplog):
    # An export that cannot be written (a file where its name is) stands for any failing extra.
    (tmp_path / "events.vtt").mkdir(parents=True)
    with pytest.raises(OSError):
        finish_analysis_folder(analysis, tmp_path, exports=("vtt",))
    with caplog.at_level(logging.ERROR, logger="twitchcam.folder"):
        written = finish_analysis_folder(analysis, tmp_path, exports=("vtt",), raise_extras=False)
    assert written == [tmp_path / "report.html"], "the report is still written after a failed export"
    assert "could not be written" in caplog.text and "twitchcam report" in caplog.text
