"""Faults and bad input (issue 13): killed runs leave no workers behind, every bad input is one line and the
documented exit code, and nothing recorded is lost or presented as complete when it is not."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from twitchcam.video import VideoWriter, iter_frames


def _cli(*args, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "twitchcam.cli", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kwargs)


def _children(pid: int) -> set[int]:
    """Every process whose parent is ``pid``."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(entry.name))
    return found


def _alive(pids: set[int]) -> set[int]:
    alive = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            alive.add(pid)
    return alive


def _wait_for_children(proc: subprocess.Popen, n: int, timeout_s: float = 60.0) -> set[int]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        kids = _children(proc.pid)
        if len(kids) >= n:
            return kids
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.1)
    raise AssertionError(f"fewer than {n} worker processes after {timeout_s} s")


def _wait_gone(pids: set[int], timeout_s: float) -> set[int]:
    deadline = time.monotonic() + timeout_s
    while _alive(pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    return _alive(pids)


def _loop_clip(data_dir, path: Path, n_frames: int, fps: float = 10.0) -> Path:
    """The real 2.4 s clip looped back and forth to ``n_frames`` frames."""
    frames = [f.image for f in iter_frames(data_dir / "single_face.mp4")]
    cycle = frames + frames[-2:0:-1]
    with VideoWriter(path, fps, (frames[0].shape[1], frames[0].shape[0])) as writer:
        for i in range(n_frames):
            writer.write(cycle[i % len(cycle)])
    return path


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory, data_dir):
    """42 s at 10 fps: long enough for analyze -j 2 to split it over two workers."""
    return _loop_clip(data_dir, tmp_path_factory.mktemp("long") / "long.mp4", 420)


@pytest.fixture(scope="module")
def archive(tmp_path_factory, data_dir):
    """Three different 20 s videos: each keeps a batch worker busy for a few seconds."""
    root = tmp_path_factory.mktemp("archive")
    for i, name in enumerate("abc"):
        _loop_clip(data_dir, root / f"{name}.mp4", 200 + 10 * i)
    return root


def _killed_leaves_no_worker(args, n_workers: int, sig: int) -> subprocess.Popen:
    proc = _cli(*args)
    workers = _wait_for_children(proc, n_workers)
    time.sleep(3)  # the workers are analyzing now
    workers = _alive(workers | _children(proc.pid))
    proc.send_signal(sig)
    proc.wait(30)
    left = _wait_gone(workers, 15)
    assert not left, f"worker processes {sorted(left)} outlived their parent"
    return proc


@pytest.mark.model
def test_killing_batch_leaves_no_worker(archive, tmp_path):
    _killed_leaves_no_worker(["batch", archive, "--out", tmp_path / "out", "-j", "2", "--no-report"], 2,
                             signal.SIGKILL)


@pytest.mark.model
def test_killing_a_split_analyze_leaves_no_worker(long_clip, tmp_path):
    _killed_leaves_no_worker(["analyze", long_clip, "--out", tmp_path / "out", "-j", "2", "-q"], 2, signal.SIGKILL)


@pytest.mark.model
def test_terminated_batch_stops_its_workers_and_keeps_its_manifest(archive, tmp_path):
    from twitchcam.manifest import read_manifest

    proc = _killed_leaves_no_worker(["batch", archive, "--out", tmp_path / "out", "-j", "2", "--no-report"], 2,
                                    signal.SIGTERM)
    err = proc.stderr.read()
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert err.strip().splitlines()[-1] == "twitchcam: terminated" and "Traceback" not in err
    rows = read_manifest(tmp_path / "out" / "batch.csv")
    assert len(rows) == 3 and {r["status"] for r in rows.values()} <= {"pending", "done"}


# -- analyze: several videos, --out, --config, --model -------------------------------------------------------------


def _no_decoding(monkeypatch):
    """Make any analysis fail the test: what is checked must be refused before a frame is decoded."""
    def refuse(*args, **kwargs):
        raise AssertionError("the video was analyzed before the bad option was found")
    monkeypatch.setattr("twitchcam.pipeline.analyze", refuse)


def _one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("twitchcam: error: ") and "Traceback" not in err, err
    return lines[0]


@pytest.mark.model
def test_several_videos_go_on_past_a_failed_output_folder(data_dir, tmp_path, capsys):
    from twitchcam.cli import main

    videos = []
    for name in "ABC":
        videos.append(tmp_path / f"{name}.mp4")
        videos[-1].write_bytes((data_dir / "single_face.mp4").read_bytes())
    out = tmp_path / "out"
    out.mkdir()
    (out / "A").write_text("a file where A's folder would go")
    code = main(["analyze", *map(str, videos), "--out", str(out), "-q", "--no-report"])
    captured = capsys.readouterr()
    assert code == 1
    errors = [line for line in captured.err.splitlines() if line.startswith("twitchcam: error:")]
    assert len(errors) == 1 and str(out / "A") in errors[0] and "Errno" not in errors[0], captured.err
    assert (out / "B" / "summary.json").exists() and (out / "C" / "summary.json").exists()
    assert "B.mp4" in captured.out and "C.mp4" in captured.out


@pytest.mark.parametrize("where", ["file", "proc", "readonly"])
def test_an_unusable_out_is_refused_before_decoding(data_dir, tmp_path, capsys, monkeypatch, where):
    from twitchcam.cli import main

    if where == "readonly" and os.geteuid() == 0:
        pytest.skip("root writes into read-only folders")
    out = {"file": tmp_path / "taken", "proc": Path("/proc/twitchcam-out"), "readonly": tmp_path / "ro" / "out"}[where]
    if where == "file":
        out.write_text("x")
    if where == "readonly":
        out.parent.mkdir()
        out.parent.chmod(0o500)
    _no_decoding(monkeypatch)
    for command in (["analyze", str(data_dir / "single_face.mp4")], ["batch", str(data_dir / "single_face.mp4")]):
        assert main([*command, "--out", str(out)]) == 2
        line = _one_error_line(capsys.readouterr().err)
        assert f"--out {out}: cannot write results there" in line and "Errno" not in line


@pytest.mark.parametrize("text, field", [
    ('{"eye_on_frac": []}', "eye_on_frac"), ('{"eye_on_frac": null}', "eye_on_frac"),
    ('{"min_events": "3"}', "min_events"), ('{"noise_k": NaN}', "noise_k"),
    ('{"merge_gap_s": Infinity}', "merge_gap_s"),
    ('{"max_side_px": 0}', "max_side_px"), ('{"baseline_block_s": 0}', "baseline_block_s"),
    ('{"inference_threads": 100000}', "inference_threads"), ('{"running_mode": 3}', "running_mode"),
    ('{"frobnicate": 1}', "frobnicate"), ('[]', "JSON object"), ('{"eye_on_frac": 0.1', "not valid JSON"),
])
def test_a_bad_config_is_one_line_exit_2_naming_file_and_field(data_dir, tmp_path, capsys, monkeypatch, text, field):
    from twitchcam.cli import main

    path = tmp_path / "settings.json"
    path.write_text(text)
    _no_decoding(monkeypatch)
    assert main(["analyze", str(data_dir / "single_face.mp4"), "--out", str(tmp_path / "out"), "-q",
                 "--config", str(path)]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert str(path) in line and field in line


def test_a_missing_config_or_model_is_exit_2(data_dir, tmp_path, capsys, monkeypatch):
    from twitchcam.cli import main

    _no_decoding(monkeypatch)
    video = str(data_dir / "single_face.mp4")
    for command in ("analyze", "batch"):
        assert main([command, video, "--out", str(tmp_path / "out"), "--config", str(tmp_path / "absent.json")]) == 2
        assert "absent.json: cannot read the settings" in _one_error_line(capsys.readouterr().err)
        assert main([command, video, "--out", str(tmp_path / "out"), "--model", str(tmp_path / "absent.task")]) == 2
        assert "model file not found" in _one_error_line(capsys.readouterr().err)


# -- Config: one place that validates every setting ----------------------------------------------------------------


def test_every_numeric_setting_has_a_range_and_both_ends_run_the_core():
    import dataclasses

    from twitchcam.config import RANGES, Config
    from twitchcam.pipeline import analyze_landmarks
    from twitchcam.testing import make_landmarks

    numeric = {f.name for f in dataclasses.fields(Config)} - {"running_mode"}
    assert numeric == set(RANGES)
    landmarks = make_landmarks(6.0, 30.0)
    for name, (low, high) in RANGES.items():
        for value in (low, high):
            try:
                cfg = Config(**{name: value})
            except ValueError as err:  # a cross-field rule (e.g. off <= on) may refuse one end with the defaults
                assert "must not exceed" in str(err)
                continue
            analyze_landmarks(landmarks, cfg)
        for bad in (low - 1, high + 1, float("nan"), float("inf"), None, "1", [], True):
            with pytest.raises(ValueError, match=f"^{name} must be .* from {low} to {high}, got "):
                Config(**{name: bad})


@pytest.mark.model
def test_config_json_round_trips_and_a_bad_one_fails_the_report_in_one_line(single_face_analysis, tmp_path):
    from twitchcam.config import Config
    from twitchcam.folder import read_results, write_analysis

    out = write_analysis(single_face_analysis, tmp_path / "out")
    assert Config.from_json(out / "config.json") == single_face_analysis.config
    (out / "config.json").write_text('{"noise_k": null}')
    with pytest.raises(ValueError, match=r"config\.json: noise_k must be a number from 0.0 to 100.0, got None"):
        read_results(out)


# -- a truncated recording is flagged incomplete everywhere it is shown ----------------------------------------------


@pytest.fixture(scope="module")
def truncated_avi(tmp_path_factory, data_dir):
    """An 8 s Motion-JPEG recording whose header announces 240 frames, cut to its first 30 % of bytes."""
    from twitchcam.live.recording import MotionJPEGWriter

    frames = [f.image for f in iter_frames(data_dir / "single_face.mp4")]
    root = tmp_path_factory.mktemp("truncated")
    with MotionJPEGWriter(root / "whole.avi", 30.0, (640, 360)) as writer:
        for i in range(240):
            writer.write(frames[i % len(frames)])
    data = (root / "whole.avi").read_bytes()
    (root / "cut.avi").write_bytes(data[:int(0.3 * len(data))])
    return root / "cut.avi"


@pytest.mark.model
def test_a_truncated_recording_is_flagged_incomplete(truncated_avi, tmp_path, capsys):
    import json

    from twitchcam.cli import main
    from twitchcam.cohort import cohort_row
    from twitchcam.web.sessions import Session

    out = tmp_path / "out"
    assert main(["analyze", str(truncated_avi), "--out", str(out), "-q"]) == 0
    assert "INCOMPLETE: only 30% of the file could be decoded" in capsys.readouterr().out
    summary = json.loads((out / "summary.json").read_text())
    video = summary["video"]
    assert (video["complete"], video["container_frames"], video["container_duration_s"]) == (False, 240, 8.0)
    assert 0.28 < video["decoded_fraction"] < 0.32 and video["frames"] < 80
    assert any(n.startswith("INCOMPLETE: only 30% of the 8.0 s recording") for n in summary["notes"])
    report = (out / "report.html").read_text()
    assert "INCOMPLETE recording: only 30%" in report
    row = cohort_row({"video": str(truncated_avi), "out_dir": "out", "status": "done"}, tmp_path)
    assert row["quality_flags"].startswith("incomplete(30%_decoded)") and row["decoded_fraction"] == 0.3
    session = Session("20260101-000000-00000000", "", "", "cut.avi", "video.avi", 1, (640, 360), "done",
                      summary=summary).to_dict()
    assert session["complete"] is False and session["decoded_fraction"] == 0.3
    # A whole file is complete.
    assert main(["analyze", str(truncated_avi.with_name("whole.avi")), "--out", str(tmp_path / "whole"), "-q",
                 "--no-report"]) == 0
    assert json.loads((tmp_path / "whole" / "summary.json").read_text())["video"]["complete"] is True


# -- the reason given for insufficient_data is the true one ---------------------------------------------------------


@pytest.mark.model
def test_a_short_clip_says_it_is_short_and_a_faceless_one_says_no_face(data_dir, tmp_path):
    from twitchcam.pipeline import analyze, analyze_landmarks
    from twitchcam.testing import make_landmarks

    short = _loop_clip(data_dir, tmp_path / "short.mp4", 15, fps=30.0)  # 0.5 s, the face in every frame
    summary = analyze(short).summary
    assert summary.pattern == "insufficient_data" and summary.video["face_found_fraction"] == 1.0
    assert summary.finding == ("Insufficient data: the recording is only 0.5 s long; at least 2 s with the face "
                               "measured are needed.")
    assert "found in only 0%" in analyze(data_dir / "no_face.mp4").summary.finding
    half = make_landmarks(20.0, 30.0, missing=[(0.0, 14.0)])
    assert "found in only 30%" in analyze_landmarks(half).summary.finding


# -- several faces: counted, reported, and never measured in the patient's place ------------------------------------


@pytest.mark.model
def test_several_faces_are_reported_and_never_measured_for_the_patient(data_dir):
    from twitchcam.landmarker import detect_landmarks
    from twitchcam.pipeline import analyze_landmarks
    from twitchcam.video import Frame, read_image

    photo = read_image(data_dir / "multi_face.jpg")
    hidden = photo.copy()
    hidden[300:490, 670:830] = 128  # the patient (the larger face, on the right) covered: only the other remains
    images = [photo] * 4 + [hidden] * 2 + [photo] * 2
    lm = detect_landmarks([Frame(i, i / 30, image) for i, image in enumerate(images)])
    assert lm.n_faces.tolist() == [2, 2, 2, 2, 1, 1, 2, 2]
    assert lm.face_found.tolist() == [True] * 4 + [False] * 2 + [True] * 2
    assert np.isnan(lm.xyz[4:6]).all()
    patient_x = lm.xyz[lm.face_found, :, 0].mean(axis=1)
    assert (patient_x > 680).all()  # always the face on the right, never the other one

    summary = analyze_landmarks(lm).summary
    assert summary.video["several_faces_fraction"] == 0.75 and summary.video["max_faces"] == 2
    assert any(n.startswith("Several faces were in view in 75% of frames (up to 2)") for n in summary.notes)


# -- FFmpeg's own log is quiet unless --verbose ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def damaged_clip(tmp_path_factory, data_dir):
    """The real clip with zeroed bytes through its frames: FFmpeg logs a line per damaged frame."""
    import random

    data = bytearray((data_dir / "single_face.mp4").read_bytes())
    rng = random.Random(1)
    for _ in range(60):
        i = rng.randrange(len(data) // 10, len(data) - 1000)
        data[i:i + 8] = bytes(8)
    path = tmp_path_factory.mktemp("damaged") / "damaged.mp4"
    path.write_bytes(bytes(data))
    return path


@pytest.mark.model
@pytest.mark.parametrize("command", ["analyze", "batch"])
def test_ffmpeg_log_is_quiet_unless_verbose(damaged_clip, tmp_path, command):
    # The environment of a user's shell: nothing set for OpenCV (this test process has it set by twitchcam).
    env = {k: v for k, v in os.environ.items() if k != "OPENCV_FFMPEG_LOGLEVEL"}
    args = [command, damaged_clip, "--out", tmp_path / "quiet", "--no-report"]
    if command == "analyze":
        args.append("-q")  # no progress bar
    proc = _cli(*args, env=env)
    out, err = proc.communicate(timeout=120)
    assert "FFMPEG" not in out + err and not [line for line in err.splitlines() if not line.startswith("twitchcam")]
    if command == "analyze":
        # OpenCV prints FFmpeg's lines on stdout, as "[OPENCV:FFMPEG:16] error while decoding MB ...".
        proc = _cli("--verbose", *args[:3], tmp_path / "verbose", *args[4:], env=env)
        out, err = proc.communicate(timeout=120)
        assert "FFMPEG" in out + err, "--verbose shows FFmpeg's lines"


# -- serve: the token on every request, a cookie from the login address, a private data folder ----------------------


def test_serve_answers_nothing_without_its_token_and_keeps_its_folder_private(tmp_path):
    pytest.importorskip("starlette")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient

    from twitchcam.web.app import create_app
    from twitchcam.web.guard import cookie_name

    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    sid = "20260101-100000-0000000a"
    (data / sid).mkdir()
    (data / sid / "session.json").write_text(json.dumps(
        {"id": sid, "label": "Patient A", "created": "2026-01-01T10:00:00", "original_name": "a.mp4",
         "video": "video.mp4", "size_bytes": 1, "frame_size": [640, 360], "state": "failed", "error": "x"}))
    (data / sid / "video.mp4").write_bytes(b"patient video")
    app = create_app(data, workers=1, token="the-token", warm_workers=False)
    assert data.stat().st_mode & 0o777 == 0o700, "the data folder is its owner's only"
    with TestClient(app, base_url="http://127.0.0.1", raise_server_exceptions=False) as stranger:
        # Another local account (or another site's page) knows the address but not the token.
        for path in ("/", "/record", "/api/sessions", f"/api/sessions/{sid}", f"/sessions/{sid}",
                     f"/sessions/{sid}/video", "/static/app.js"):
            r = stranger.get(path)
            assert r.status_code == 403 and b"patient video" not in r.content and "Patient A" not in r.text, path
            assert "the-token" not in r.text
        assert stranger.delete(f"/api/sessions/{sid}").status_code == 403
        assert stranger.get("/", params={"token": "guess"}).status_code == 403
        assert (data / sid / "video.mp4").exists()

        # The login address: a cookie, HttpOnly and SameSite=Strict, then the page without the token in its address.
        r = stranger.get("/record", params={"token": "the-token"}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/record"
        cookie = r.headers["set-cookie"]
        assert cookie.startswith(f"{cookie_name(80)}=the-token;")
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
        assert stranger.get("/api/sessions").json()["sessions"][0]["label"] == "Patient A"
        assert stranger.get(f"/sessions/{sid}/video").content == b"patient video"
        # Signed in, a change still needs the page's header (a cross-site form cannot send it).
        assert stranger.delete(f"/api/sessions/{sid}").status_code == 403
        assert stranger.delete(f"/api/sessions/{sid}", headers={"X-Twitchcam-Token": "the-token"}).status_code == 204


# -- batch: an existing batch.csv is read strictly and never overwritten when it cannot be ---------------------------


@pytest.mark.parametrize("content, words", [
    (b"name,result\nx.mp4,ok\n", "not a twitchcam batch manifest"),
    (b"video,sha256,config_sha256,status,pattern,side,error,out_dir,elapsed_s\n/x.mp4,ab,cd,done,none\n",
     "line 2 is not a manifest row"),
    (b"\xff\xfe\x00binary\x00", "not a twitchcam batch manifest"),
])
def test_an_unreadable_batch_csv_is_one_line_and_kept(data_dir, tmp_path, capsys, content, words):
    from twitchcam.cli import main

    out = tmp_path / "out"
    out.mkdir()
    (out / "batch.csv").write_bytes(content)
    assert main(["batch", str(data_dir / "single_face.mp4"), "--out", str(out), "--no-report"]) == 1
    line = _one_error_line(capsys.readouterr().err)
    assert f"{out / 'batch.csv'}: {words}" in line and "move it away" in line
    assert (out / "batch.csv").read_bytes() == content


# -- serve: a form upload stores the file, never the form's framing --------------------------------------------------


def test_multipart_parser_keeps_only_the_file_whatever_the_chunking():
    from twitchcam.web.multipart import MultipartError, MultipartFile, boundary_of

    video = bytes(range(256)) * 3 + b"\r\n--not-the-boundary\r\n"  # a look-alike inside
    body = (b"preamble\r\n--XYZ\r\nContent-Disposition: form-data; name=\"label\"\r\n\r\nPatient A\r\n"
            b"--XYZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"clip.mp4\"\r\n"
            b"Content-Type: video/mp4\r\n\r\n" + video + b"\r\n--XYZ--\r\n")
    assert boundary_of('multipart/form-data; boundary="XYZ"') == "XYZ" and boundary_of("video/mp4") is None
    for size in (1, 2, 3, 7, 64, len(body)):
        form = MultipartFile("XYZ")
        got = b"".join(form.feed(body[i:i + size]) for i in range(0, len(body), size))
        form.close()
        assert got == video and form.filename == "clip.mp4" and form.fields == {"label": "Patient A"}, size
    cut = MultipartFile("XYZ")
    cut.feed(body[:-12])
    with pytest.raises(MultipartError, match="cut short"):
        cut.close()
    with pytest.raises(MultipartError, match="more than one file"):
        MultipartFile("XYZ").feed(body.replace(b"name=\"label\"", b"name=\"a\"; filename=\"b.mp4\""))


@pytest.mark.model
def test_a_form_upload_is_stored_as_the_video_itself(tmp_path, data_dir):
    pytest.importorskip("starlette")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient

    from twitchcam.web.app import create_app

    video = (data_dir / "single_face.mp4").read_bytes()
    app = create_app(tmp_path / "data", workers=1, token="t", warm_workers=False)
    with TestClient(app, base_url="http://127.0.0.1") as client:
        auth = {"X-Twitchcam-Token": "t"}
        # What curl -F file=@single_face.mp4 -F label=... sends.
        r = client.post("/api/upload", files={"file": ("single_face.mp4", video, "video/mp4")},
                        data={"label": "Form upload"}, headers=auth)
        assert r.status_code == 201, r.text
        s = r.json()
        assert (s["original_name"], s["label"]) == ("single_face.mp4", "Form upload")
        assert (tmp_path / "data" / s["id"] / s["video"]).read_bytes() == video
        r = client.post("/api/upload", headers={**auth, "content-type": "multipart/form-data; boundary=B"},
                        content=b"--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.mp4\"\r\n\r\n"
                                + video[:5000])
        assert r.status_code == 400 and "cut short" in r.json()["error"]


# -- no traceback from any option -------------------------------------------------------------------------------------


@pytest.mark.parametrize("argv", [
    ["serve", "--port", "70000"], ["serve", "--port", "-1"], ["serve", "--workers", "-1"],
    ["serve", "--max-upload-mb", "0"], ["batch", "x.mp4", "--workers", "-1"], ["batch", "x.mp4", "--split-long", "nan"],
    ["analyze", "x.mp4", "-j", "0"], ["simulate", "x.jpg", "--out", "o", "--amplitude", "nan"],
    ["simulate", "x.jpg", "--out", "o", "--fps", "0"], ["live", "--no-window", "--duration", "-1"],
    ["live", "--no-window", "--camera", "-2"], ["live", "--no-window", "--size", "0x0"],
    ["live", "--no-window", "--size", "1280"], ["simulate", "x.jpg", "--out", "o", "--amplitude", "0"],
    ["review-stats", "d", "--tolerance", "-1"], ["analyze", "x.mp4", "--running-mode", "fast"],
])
def test_bad_option_values_are_usage_errors(argv, capsys):
    from twitchcam.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "error: argument" in err and "Traceback" not in err


def test_an_unforeseen_failure_is_one_line(tmp_path, capsys, monkeypatch):
    from twitchcam.cli import main

    def unforeseen(*args, **kwargs):
        raise KeyError("side")

    monkeypatch.setattr("twitchcam.report.render_report", unforeseen)
    assert main(["report", str(tmp_path)]) == 1
    line = _one_error_line(capsys.readouterr().err)
    assert "internal error (KeyError: 'side'); run with --verbose" in line
