"""The command line end to end: the output contract, exit codes and one-line errors."""

import csv
import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import numpy as np
import pytest

from twitchcam.cli import main

SCHEMAS = Path(__file__).parents[1] / "twitchcam" / "schemas"


def run_cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "twitchcam.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=300)


@pytest.mark.model
def test_analyze_writes_the_output_contract(data_dir, tmp_path):
    out = tmp_path / "out"
    proc = run_cli("analyze", data_dir / "single_face.mp4", "--out", out, "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert "single_face.mp4" in proc.stdout
    assert proc.stderr == ""  # MediaPipe's native log lines are kept off the user's terminal

    with open(out / "events.csv", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["onset_s", "offset_s", "side", "region", "kind", "peak", "score"]
    onsets = [float(r[0]) for r in rows[1:]]
    assert onsets == sorted(onsets)
    event_schema = json.loads((SCHEMAS / "events.schema.json").read_text())
    for r in rows[1:]:
        row = dict(zip(rows[0], r))
        for key in ("onset_s", "offset_s", "peak"):
            row[key] = float(row[key])
        row["score"] = float(row["score"]) if row["score"] else None
        jsonschema.validate(row, event_schema)
    # The clip is a normal face with one natural blink.
    assert [(r[2], r[4]) for r in rows[1:]] == [("bilateral", "blink")]
    assert 0.7 < float(rows[1][0]) < 1.0

    summary = json.loads((out / "summary.json").read_text())
    jsonschema.validate(summary, json.loads((SCHEMAS / "summary.schema.json").read_text()))
    assert summary["pattern"] == "none"
    assert summary["side"] is None
    assert summary["video"]["frames"] == 72
    assert summary["video"]["fps"] == pytest.approx(30.0)
    assert summary["video"]["face_found_fraction"] == 1.0

    with open(out / "signals.csv", newline="") as fh:
        signal_rows = list(csv.reader(fh))
    assert len(signal_rows) == 1 + 72
    assert signal_rows[0][:4] == ["t_s", "face_found", "measured", "eye_closure_left"]
    config = json.loads((out / "config.json").read_text())
    assert config["running_mode"] == "image"


@pytest.mark.model
def test_several_videos_get_one_folder_each_and_failures_do_not_stop_the_rest(data_dir, tmp_path, capsys):
    fake = tmp_path / "fake.mp4"
    fake.write_text("not a video")
    out = tmp_path / "out"
    code = main(["analyze", str(fake), str(data_dir / "single_face.mp4"), str(data_dir / "no_face.mp4"),
                 "--out", str(out), "-q"])
    err = capsys.readouterr().err
    assert code == 1
    assert (out / "single_face" / "events.csv").exists()
    assert not (out / "fake").exists()
    lines = [line for line in err.splitlines() if line.startswith("twitchcam:")]
    assert any("fake.mp4: not a readable video" in line for line in lines)
    assert any("no_face.mp4: no face found in any frame" in line for line in lines)
    summary = json.loads((out / "no_face" / "summary.json").read_text())
    assert summary["pattern"] == "insufficient_data"


def test_usage_errors_exit_2(tmp_path):
    proc = run_cli("analyze")
    assert proc.returncode == 2
    proc = run_cli("frobnicate")
    assert proc.returncode == 2


def test_missing_model_is_a_one_line_usage_error(data_dir, tmp_path):
    proc = run_cli("analyze", data_dir / "single_face.mp4", "--out", tmp_path, "-q", "--model", tmp_path / "x.task")
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0
    assert "model file not found" in proc.stderr


@pytest.mark.model
def test_package_api_is_lazy_and_returns_the_same_result(data_dir):
    code = ("import sys, twitchcam; assert 'cv2' not in sys.modules and 'mediapipe' not in sys.modules; "
            f"a = twitchcam.analyze({str(data_dir / 'single_face.mp4')!r}); "
            "print(a.pattern, len(a.events), len(a.landmarks))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["none", "1", "72"]


@pytest.mark.model
def test_simulate_then_analyze_end_to_end(data_dir, tmp_path):
    """The two commands a clinician uses for a sensitivity check: make a known-truth clip, analyze it."""
    proc = run_cli("simulate", data_dir / "single_face.jpg", "--out", tmp_path, "--generator", "eye_only",
                   "--side", "right", "--duration", "8", "--seed", "3", "--name", "check")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "check.mp4").exists()
    truth = json.loads((tmp_path / "check_truth" / "summary.json").read_text())
    assert (truth["pattern"], truth["side"]) == ("unilateral_other", "right")
    proc = run_cli("analyze", tmp_path / "check.mp4", "--out", tmp_path / "result", "-q", "--no-report")
    assert proc.returncode == 0, proc.stderr
    with open(tmp_path / "result" / "events.csv", newline="") as fh:
        found = list(csv.DictReader(fh))
    with open(tmp_path / "check_truth" / "events.csv", newline="") as fh:
        expected = list(csv.DictReader(fh))
    # Every event of the truth is found, and nothing else: same side, region and kind, onsets within 2 frames (the
    # clip is 30 fps), the bilateral blinks too.
    key = lambda r: (r["side"], r["region"], r["kind"])  # noqa: E731
    assert len(expected) >= 3 and {r["side"] for r in expected} <= {"right", "bilateral"}
    assert [key(r) for r in found] == [key(r) for r in expected]
    np.testing.assert_allclose([float(r["onset_s"]) for r in found], [float(r["onset_s"]) for r in expected],
                               atol=2 / 30)


def _format(args, **paths):
    return [str(a).format(**paths) for a in args]


@pytest.mark.parametrize("args, message", [
    (["analyze", "{video}", "--out", "{tmp}/out", "--running-mode", "fast"],
     "argument --running-mode: running mode must be one of image, video, got 'fast'"),
    (["analyze", "{video}", "--out", "{tmp}/out", "--config", "{tmp}/missing.json"], "--config {tmp}/missing.json"),
    (["batch", "{video}", "--out", "{tmp}/out", "--scheduler", "local", "--split-long", "60"],
     "twitchcam: error: --split-long runs on local processes only; drop it or --scheduler"),
    (["serve", "--data", "{tmp}/out", "--host", "0.0.0.0"],
     "twitchcam: error: --host 0.0.0.0 would let other machines reach patient videos"),
    (["simulate", "{video}", "--out", "{tmp}/out", "--stretch", "all"],
     "argument --stretch: stretch must be one of rest, whole, got 'all'"),
    (["live", "--no-window", "--source", "{video}", "--out", "{tmp}/out", "--size", "1280x0"],
     "argument --size: must be WIDTHxHEIGHT in pixels, e.g. 1280x720, got '1280x0'"),
])
def test_a_usage_error_exits_2_in_one_line_before_any_work(data_dir, tmp_path, args, message):
    proc = run_cli(*_format(args, video=data_dir / "single_face.mp4", tmp=tmp_path))
    assert proc.returncode == 2, proc.stderr
    assert message.format(tmp=tmp_path) in proc.stderr.strip().splitlines()[-1]
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    assert not (tmp_path / "out").exists()                 # refused before any folder was made or video read


@pytest.mark.parametrize("args, message", [
    pytest.param(["analyze", "{tmp}/fake.mp4", "--out", "{tmp}/out", "-q"], "fake.mp4: not a readable video",
                 marks=pytest.mark.model),
    (["report", "{tmp}"], "not a twitchcam analysis folder (missing summary.json, events.csv, signals.csv, "
                          "config.json)"),
    (["compare", "{tmp}", "{tmp}", "--out", "{tmp}/out"], "not a twitchcam analysis folder"),
    (["review-stats", "{tmp}"], "no folder holding both events.csv and events_reviewed.csv"),
])
def test_an_input_that_fails_exits_1_in_one_line(tmp_path, args, message):
    (tmp_path / "fake.mp4").write_text("not a video")
    proc = run_cli(*_format(args, tmp=tmp_path))
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("twitchcam: error: ") and message in lines[0]


def test_the_version_is_written_once():
    import importlib.metadata

    import twitchcam

    proc = run_cli("--version")
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"twitchcam {twitchcam.__version__}"
    # pyproject.toml takes the version from twitchcam.__version__ (dynamic), so the installed one is the same.
    assert importlib.metadata.version("twitchcam") == twitchcam.__version__
