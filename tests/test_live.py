"""Live sessions without a camera: a file, a loopback MJPEG stream served here, a killed session, the window under Xvfb.

Each session test runs a few seconds of real footage through the whole live path (capture, MediaPipe, streaming
core, recorder). The landmark model runs at ~15-30 ms per frame on the CI machine, so the tests stay short.
Markers: ``model`` (loads the MediaPipe model or decodes video), ``display`` (needs Xvfb).
"""

import csv
import http.server
import inspect
import json
import os
import shutil
import signal
import socketserver
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from twitchcam.config import Config
from twitchcam.events import Events
from twitchcam.folder import read_events_csv
from twitchcam.landmarker import find_model
from twitchcam.live import LiveSession, run_session
from twitchcam.live.analysis import EVENTS_LIVE_NAME
from twitchcam.live.markers import MARKERS_COLUMNS, MARKERS_NAME
from twitchcam.live.recording import FRAMES_NAME, VIDEO_NAME, MotionJPEGWriter
from twitchcam.live.session import SESSION_NAME, NewestQueue
from twitchcam.pipeline import analyze
from twitchcam.video import iter_frames, probe_video, read_frame_times
from twitchcam.vocabulary import SIDE_COLOURS, bgr

ROOT = Path(__file__).resolve().parent.parent
CLIP = ROOT / "tests" / "data" / "single_face.mp4"
HFS = ROOT / "sample_videos" / "hfs_left.mp4"
#: What hfs_left.mp4 shows, one row per region per side per movement (sample_videos/README.md).
HFS_TRUTH = read_events_csv(ROOT / "sample_videos" / "hfs_left_truth" / "events.csv")
FRAME_S = 1 / 30
TWITCHCAM = [sys.executable, "-m", "twitchcam.cli"]


def read_markers(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        assert tuple(reader.fieldnames) == MARKERS_COLUMNS
        return list(reader)


def _rows(events: Events) -> list[tuple[str, str, str]]:
    return [(str(s), str(r), str(k)) for s, r, k in zip(events.side, events.region, events.kind)]


def assert_truth(events: Events, truth: Events, tolerance_s: float = 2 * FRAME_S) -> None:
    """``events`` are ``truth`` row for row, in order: same side, region and kind, onset within ``tolerance_s``."""
    assert _rows(events) == _rows(truth), (_rows(events), _rows(truth))
    np.testing.assert_allclose(events.onset_s, truth.onset_s, atol=tolerance_s)


def test_newest_queue_drops_the_oldest_frame():
    q = NewestQueue(3, lossless=False)
    dropped = [q.put(i) for i in range(5)]
    assert dropped == [False, False, False, True, True]
    assert [q.get() for _ in range(3)] == [2, 3, 4]
    q.put(5)
    q.close()
    assert [q.get(), q.get()] == [5, None]
    assert q.maxlen == 3


@pytest.mark.model
def test_motion_jpeg_writer_is_readable_closed_and_cut_mid_frame(tmp_path):
    frames = [f.image for f in iter_frames(CLIP)][:10]
    with MotionJPEGWriter(tmp_path / "v.avi", 30.0, (640, 360)) as writer:
        for image in frames:
            writer.write(image)
    info = probe_video(tmp_path / "v.avi")
    assert (info.width, info.height, info.n_frames_hint, info.fps_nominal) == (640, 360, 10, 30.0)
    back = list(iter_frames(tmp_path / "v.avi"))
    assert len(back) == 10 and abs(back[-1].t - 9 / 30) < 1e-6
    assert np.abs(back[3].image.astype(int) - frames[3]).mean() < 2
    # What a kill leaves: no index, open-ended sizes, the last frame cut short.
    with MotionJPEGWriter(tmp_path / "cut.avi", 30.0, (640, 360)) as writer:
        for image in frames:
            writer.write(image)
        data = (tmp_path / "cut.avi").read_bytes()
    (tmp_path / "cut.avi").write_bytes(data[:-3000])
    assert len(list(iter_frames(tmp_path / "cut.avi"))) == 9


@pytest.mark.model
def test_replay_writes_the_analyze_outputs_and_the_live_files(tmp_path):
    session = LiveSession(CLIP, tmp_path / "s")
    session.start()
    session.add_marker("patient says it started", t=1.0)
    session.wait()
    result = session.finish()
    out = tmp_path / "s"
    for name in (VIDEO_NAME, FRAMES_NAME, EVENTS_LIVE_NAME, MARKERS_NAME, SESSION_NAME, "events.csv",
                 "summary.json", "signals.csv", "config.json", "report.html"):
        assert (out / name).is_file(), name
    assert "<html" in (out / "report.html").read_text()
    assert result.status == "complete" and result.ended_by == "end of file"
    stats = json.loads((out / SESSION_NAME).read_text())
    assert stats["status"] == "complete"
    assert stats["frames"] == {"captured": 72, "analyzed": 72, "dropped": 0, "recorded": 72, "not_recorded": 0}
    # The final outputs are the offline analysis of the session's landmarks: the clip's one natural blink.
    assert read_events_csv(out / "events.csv").kind.tolist() == ["blink"]
    live = read_events_csv(out / EVENTS_LIVE_NAME)
    assert live.kind.tolist() == ["blink"] and live.side.tolist() == ["bilateral"]
    assert [m["label"] for m in read_markers(out / MARKERS_NAME)] == ["patient says it started"]
    times = read_frame_times(out / VIDEO_NAME)
    np.testing.assert_allclose(times, [f.t for f in iter_frames(CLIP)], atol=1e-6)
    with pytest.raises(FileExistsError):
        LiveSession(CLIP, out)


class _MJPEGHandler(http.server.BaseHTTPRequestHandler):
    """Serves ``jpegs`` once as a multipart/x-mixed-replace stream at ``fps``, then hangs up (a camera unplugged)."""

    jpegs: list = []
    fps = 30.0

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
        self.end_headers()
        start = time.monotonic()
        try:
            for i, jpg in enumerate(self.jpegs):
                time.sleep(max(0.0, start + i / self.fps - time.monotonic()))
                self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % len(jpg)
                                 + jpg + b"\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.server.unplugged.set()

    def log_message(self, *args):
        pass


@pytest.fixture
def mjpeg_camera():
    """A network camera on 127.0.0.1 that streams the clip once and then disappears; yields its URL."""
    _MJPEGHandler.jpegs = [cv2.imencode(".jpg", f.image)[1].tobytes() for f in iter_frames(CLIP)] * 2
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _MJPEGHandler)
    server.daemon_threads = True
    server.unplugged = threading.Event()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def unplug():
        server.unplugged.wait(30)
        server.shutdown()
        server.server_close()

    threading.Thread(target=unplug, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/video.mjpg"
    server.unplugged.set()


@pytest.mark.model
def test_session_json_records_every_live_parameter(tmp_path):
    """Each argument of LiveSession and run_session that shapes events_live.csv, given a value not its default."""
    config = Config(inference_threads=1)
    given = {"duration_s": 0.5, "chunk_s": 0.3, "analysis_queue_s": 0.7, "record_queue_s": 1.5, "size": (320, 240),
             "warmup_s": 1.5, "overlay_max_lag_s": 0.2, "model": find_model()}
    out = tmp_path / "s"
    result = run_session(CLIP, out, config, window=False, realtime=True, **given)
    doc = json.loads((out / SESSION_NAME).read_text())
    assert doc["status"] == "complete" and result.ended_by == "duration reached"
    assert (doc["source"], doc["source_kind"], doc["realtime"]) == ("single_face.mp4", "file", True)
    assert doc["parameters"] == {**given, "size": [320, 240], "model": str(find_model()), "landmark_models": 1,
                                 "history_s": 20.0, "detect_every_s": 1.0, "noise_every_s": 5.0,
                                 "detect_window_s": 12.0, "lost_after_s": 2.0, "window": False}
    assert Config.from_json(out / "config.json") == config
    # Nothing a caller can set is left out: every argument but the source, the folder, the settings (in
    # config.json), the pacing (beside the parameters) and the callback.
    arguments = set(inspect.signature(LiveSession).parameters) | set(inspect.signature(run_session).parameters)
    recorded = set(doc["parameters"]) | {"source", "realtime"}
    assert arguments - recorded == {"out_dir", "config", "on_event", "markers_from_stdin", "options"}


@pytest.mark.model
def test_a_network_camera_that_disappears_ends_the_session_cleanly(tmp_path, mjpeg_camera):
    out = tmp_path / "s"
    proc = subprocess.run([*TWITCHCAM, "live", "--source", mjpeg_camera, "--no-window", "--out", str(out)],
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("twitchcam: error: http://127.0.0.1:") and "lost after" in lines[0]
    assert str(out) in lines[0]
    stats = json.loads((out / SESSION_NAME).read_text())
    assert stats["status"] == "source_lost"
    # The command line's choices are recorded with the session: a stream, no window.
    assert (stats["source_kind"], stats["realtime"], stats["parameters"]["window"]) == ("stream", False, False)
    assert stats["frames"]["captured"] >= 130 and stats["frames"]["recorded"] == stats["frames"]["captured"]
    # Everything so far is kept: the recording, its frame times, and the offline outputs.
    times = read_frame_times(out / VIDEO_NAME)
    assert len(times) == stats["frames"]["recorded"]
    # 144 frames paced at 30 fps take 4.8 s; a loaded machine stretches the capture clock, never shortens it.
    assert 4.0 < times[-1] < 10.0 and np.all(np.diff(times) > 0)
    assert sum(1 for _ in iter_frames(out / VIDEO_NAME)) == len(times)
    assert (out / "summary.json").is_file() and (out / "events.csv").is_file()


@pytest.mark.model
def test_a_killed_session_leaves_a_readable_recording(tmp_path):
    # A replay (not --realtime) drops nothing, so what the session has found when it is killed is exactly the
    # input's known truth so far; the paced, lossy path is killed nowhere but is the other session tests' input.
    out = tmp_path / "s"
    proc = subprocess.Popen([*TWITCHCAM, "live", "--source", str(HFS), "--no-window", "--out", str(out)],
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 90
        marked = False
        while time.monotonic() < deadline:
            rows = (out / FRAMES_NAME).read_text().count("\n") - 1 if (out / FRAMES_NAME).exists() else 0
            if rows > 30 and not marked:
                proc.stdin.write(b"eyelid flutter, left\n")
                proc.stdin.flush()
                marked = True
            events = (out / EVENTS_LIVE_NAME).read_text().count("\n") - 1 if (out / EVENTS_LIVE_NAME).exists() else 0
            # Two events: the left eye's first twitch (0.8 s) and the first blink (3.5 s).
            if rows > 120 and events >= 2:
                break
            assert proc.poll() is None, proc.stderr.read().decode()
            time.sleep(0.1)
        else:
            pytest.fail("the live session did not record 4 s and two events in 90 s")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    assert proc.returncode == -signal.SIGKILL
    # The events, markers and frame times written so far are complete CSV files; the events are the truth's
    # first ones, in order (a left twitch first, then a blink: not a blink alone).
    events = read_events_csv(out / EVENTS_LIVE_NAME)
    assert 2 <= len(events) <= 5, _rows(events)
    assert_truth(events, HFS_TRUTH[:len(events)])
    assert [m["label"] for m in read_markers(out / MARKERS_NAME)] == ["eyelid flutter, left"]
    assert json.loads((out / SESSION_NAME).read_text())["status"] == "running"
    # The video, cut mid-write, is analyzed as any other; at most the frame being written is lost.
    times = read_frame_times(out / VIDEO_NAME)
    result = subprocess.run([*TWITCHCAM, "analyze", str(out / VIDEO_NAME), "--out", str(tmp_path / "after"), "-q"],
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    n_video = len(np.loadtxt(tmp_path / "after" / "signals.csv", delimiter=",", skiprows=1, usecols=0, ndmin=1))
    assert 0 <= n_video - len(times) <= 1, (len(times), n_video)
    # It holds the truth's movements that ended in it (0.3 s before its end, so that they are seen to end), and
    # none that had not begun; one cut short by the kill may be found or not.
    after = read_events_csv(tmp_path / "after" / "events.csv")
    ended = int(np.sum(HFS_TRUTH.offset_s < times[-1] - 0.3))
    begun = int(np.sum(HFS_TRUTH.onset_s < times[-1]))
    assert ended >= 2 and ended <= len(after) <= begun, (ended, _rows(after), begun)
    assert_truth(after, HFS_TRUTH[:len(after)])


def _nearest(times: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Index of the time in sorted ``times`` nearest to each of ``t``."""
    i = np.clip(np.searchsorted(times, t), 1, len(times) - 1)
    return np.where(np.abs(times[i - 1] - t) <= np.abs(times[i] - t), i - 1, i)


def _dropped_frames(out: Path) -> np.ndarray:
    """Video frame indices the live analysis did not see (dropped), from frame times and signals.csv."""
    times = read_frame_times(out / VIDEO_NAME)
    analyzed = np.loadtxt(out / "signals.csv", delimiter=",", skiprows=1, usecols=0, ndmin=1)
    seen = np.zeros(len(times), bool)
    seen[_nearest(times, analyzed)] = True
    return np.flatnonzero(~seen)


@pytest.mark.model
def test_live_events_match_analyze_on_the_recorded_video(tmp_path):
    out = tmp_path / "s"
    result = run_session(HFS, out, window=False, realtime=True, duration_s=10.0)
    assert result.stats["frames"]["recorded"] == result.stats["frames"]["captured"]
    offline = analyze(out / VIDEO_NAME).events
    live = read_events_csv(out / EVENTS_LIVE_NAME)
    times = read_frame_times(out / VIDEO_NAME)
    dropped = _dropped_frames(out)
    # Live times are capture times; the AVI's are index / fps. Compare frames of the video: the live onset's
    # frame is the one captured at that time.
    live_onset = _nearest(times, live.onset_s)
    live_offset = _nearest(times, live.offset_s)
    margin = 3  # merge_gap_s at 30 fps, plus one

    def near_drop(a, b):
        return bool(np.any((dropped >= a - margin) & (dropped <= b + margin)))

    compared = 0
    for i in range(len(offline)):
        a, b = int(offline.onset_frame[i]), int(offline.offset_frame[i])
        if near_drop(a, b) or b >= len(times) - margin:
            continue
        same = ((live.side == offline.side[i]) & (live.region == offline.region[i])
                & (live.kind == offline.kind[i]) & (np.abs(live_onset - a) <= 1))
        assert same.any(), f"offline event {offline[i:i + 1]} not found live; dropped frames {dropped.tolist()}"
        compared += 1
    for i in range(len(live)):
        if near_drop(live_onset[i], live_offset[i]):
            continue
        same = ((offline.side == live.side[i]) & (offline.region == live.region[i])
                & (np.abs(offline.onset_frame - live_onset[i]) <= 1))
        assert same.any(), f"live event {live[i:i + 1]} not found offline"
    # Under 10 % of frames dropped, most of the ~9 events of these 10 s are compared.
    if len(dropped) < 0.1 * len(times):
        assert compared >= 5, (compared, len(offline), dropped.tolist())


def _read_xwd(path: Path) -> np.ndarray:
    """The screen of an Xvfb started with -fbdir (an XWD file, 24-bit TrueColor), as BGR, shape (h, w, 3)."""
    data = path.read_bytes()
    fields = struct.unpack(">25I", data[:100])
    header_size, width, height, bits_per_pixel, bytes_per_line, ncolors = (fields[0], fields[4], fields[5],
                                                                            fields[11], fields[12], fields[19])
    assert bits_per_pixel == 32
    pixels = np.frombuffer(data, np.uint8, count=height * bytes_per_line, offset=header_size + 12 * ncolors)
    return pixels.reshape(height, bytes_per_line // 4, 4)[:, :width, :3].copy()


@pytest.fixture
def xvfb(tmp_path):
    """A virtual X display whose screen can be read as a file; yields (DISPLAY, screen file)."""
    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed (.ci/run installs it)")
    fbdir = tmp_path / "fb"
    fbdir.mkdir()
    for number in range(91, 120):
        if not Path(f"/tmp/.X11-unix/X{number}").exists() and not Path(f"/tmp/.X{number}-lock").exists():
            break
    proc = subprocess.Popen(["Xvfb", f":{number}", "-screen", "0", "1280x720x24", "-fbdir", str(fbdir),
                             "-nolisten", "tcp"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    screen = fbdir / "Xvfb_screen0"
    deadline = time.monotonic() + 10
    while not (screen.exists() and Path(f"/tmp/.X11-unix/X{number}").exists()):
        assert proc.poll() is None and time.monotonic() < deadline, "Xvfb did not start"
        time.sleep(0.05)
    yield f":{number}", screen
    proc.terminate()
    proc.wait(10)


def _side_pixels(img: np.ndarray, colour) -> np.ndarray:
    return np.abs(img.astype(int) - colour).sum(axis=2) < 60


#: The window paints each side in the report's colours (twitchcam.vocabulary).
LEFT_BGR, RIGHT_BGR = bgr(SIDE_COLOURS["left"]), bgr(SIDE_COLOURS["right"])


@pytest.mark.display
@pytest.mark.model
def test_the_window_shows_a_mirrored_preview_with_each_side_where_it_appears(tmp_path, xvfb):
    display, screen = xvfb
    env = {**os.environ, "DISPLAY": display}
    # Now and then (about 1 run in 7 here) the OpenCV window of a session started right after Xvfb never gets
    # drawn on the virtual screen: an X start-up race outside twitchcam. A second session is then tried once.
    for attempt in range(2):
        out = tmp_path / f"s{attempt}"
        # The session is stopped with SIGINT once the screenshot is taken; --duration only bounds a slow machine's
        # wait, and must leave room for start-up and the 2 s warm-up under load.
        command = [*TWITCHCAM, "live", "--source", str(HFS), "--realtime", "--duration", "22", "--out", str(out)]
        proc = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        shot = None
        try:
            # Take the screen once the analysis has warmed up and the tracked regions are drawn.
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and proc.poll() is None:
                pixels = _read_xwd(screen)
                rows = (out / FRAMES_NAME).read_text().count("\n") - 1 if (out / FRAMES_NAME).exists() else 0
                if rows >= 75 and pixels.any():
                    ys, xs = np.nonzero(pixels.any(axis=2))
                    window = pixels[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
                    preview = window[:360, 230:870]
                    if _side_pixels(preview, LEFT_BGR).sum() > 30 and _side_pixels(preview, RIGHT_BGR).sum() > 30:
                        shot = pixels
                        break
                time.sleep(0.1)
            keys = shutil.which("xdotool") is not None and shot is not None
            if keys:
                # The keys, as a clinician presses them: space puts a marker, r pauses the recording.
                xdo = {"env": env, "check": True, "capture_output": True, "timeout": 10}
                window_id = subprocess.run(["xdotool", "search", "--name", "twitchcam live"], text=True,
                                           **xdo).stdout.split()[0]
                subprocess.run(["xdotool", "windowfocus", window_id], **xdo)
                subprocess.run(["xdotool", "key", "space"], **xdo)
                time.sleep(0.5)
                subprocess.run(["xdotool", "key", "r"], **xdo)
                time.sleep(1.0)
            proc.send_signal(signal.SIGINT)
        finally:
            stderr = proc.communicate(timeout=60)[1].decode()
        if shot is not None or proc.returncode != 0:
            break
    assert proc.returncode == 0, stderr
    assert shot is not None, "the window never showed the tracked regions"
    assert json.loads((out / SESSION_NAME).read_text())["parameters"]["window"] is True
    if keys:
        assert len(read_markers(out / MARKERS_NAME)) == 1
        frames = json.loads((out / SESSION_NAME).read_text())["frames"]
        assert frames["recorded"] < frames["captured"] - 15, frames
    cv2.imwrite(str(tmp_path / "screen.png"), shot)
    print(f"screenshot: {tmp_path / 'screen.png'}")
    ys, xs = np.nonzero(shot.any(axis=2))
    window = shot[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    # Panel, 640x360 preview, panel; status bar below.
    h, w = window.shape[:2]
    assert abs(w - (640 + 2 * 230)) <= 4 and abs(h - (360 + 34)) <= 4, window.shape
    panel_l, preview, panel_r = window[:360, :230], window[:360, 230:870], window[:360, 870:1100]
    # The patient's LEFT panel is on the left in the left side's colour, the RIGHT panel in the right's.
    assert _side_pixels(panel_l, LEFT_BGR).sum() > 100 and _side_pixels(panel_r, LEFT_BGR).sum() == 0
    assert _side_pixels(panel_r, RIGHT_BGR).sum() > 100 and _side_pixels(panel_l, RIGHT_BGR).sum() == 0
    # The preview is the video mirrored: it matches a flipped frame better than any unflipped one.
    frames = [f.image for f in iter_frames(HFS)][:400:4]
    flipped = min(np.abs(preview.astype(int) - cv2.flip(f, 1)).mean() for f in frames)
    straight = min(np.abs(preview.astype(int) - f).mean() for f in frames)
    assert flipped < 0.6 * straight, (flipped, straight)
    # The patient's LEFT eye (the image's right, unmirrored) is outlined on the preview's left, the RIGHT on its
    # right, each with its side's colour and letter.
    left_x = np.nonzero(_side_pixels(preview, LEFT_BGR))[1]
    right_x = np.nonzero(_side_pixels(preview, RIGHT_BGR))[1]
    assert left_x.mean() < 320 < right_x.mean()
