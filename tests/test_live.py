"""Live sessions without a camera: a file, a loopback MJPEG stream served here, a killed session, the window under Xvfb.

Each test runs a few seconds of real footage through the whole live path (capture, MediaPipe, streaming core,
recorder). The landmark model runs at ~15-30 ms per frame on the CI machine, so the tests stay short.
"""

import csv
import http.server
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

from twitchcam.capture import MotionJPEGWriter
from twitchcam.folder import read_events_csv
from twitchcam.live import (
    EVENTS_LIVE_NAME,
    FRAMES_NAME,
    MARKERS_COLUMNS,
    MARKERS_NAME,
    SESSION_NAME,
    VIDEO_NAME,
    LiveSession,
    _NewestQueue,
    run_session,
)
from twitchcam.pipeline import analyze
from twitchcam.video import iter_frames, probe_video, read_frame_times
from twitchcam.vocabulary import SIDE_COLOURS, bgr

ROOT = Path(__file__).resolve().parent.parent
CLIP = ROOT / "tests" / "data" / "single_face.mp4"
HFS = ROOT / "sample_videos" / "hfs_left.mp4"
TWITCHCAM = [sys.executable, "-m", "twitchcam.cli"]


def read_markers(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        assert tuple(reader.fieldnames) == MARKERS_COLUMNS
        return list(reader)


def test_newest_queue_drops_the_oldest_frame():
    q = _NewestQueue(3, lossless=False)
    dropped = [q.put(i) for i in range(5)]
    assert dropped == [False, False, False, True, True]
    assert [q.get() for _ in range(3)] == [2, 3, 4]


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
    # Every live parameter that shapes events_live.csv is recorded with the session.
    assert stats["parameters"]["chunk_s"] == 0.4 and stats["parameters"]["warmup_s"] == 2.0
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
    assert stats["frames"]["captured"] >= 130 and stats["frames"]["recorded"] == stats["frames"]["captured"]
    # Everything so far is kept: the recording, its frame times, and the offline outputs.
    times = read_frame_times(out / VIDEO_NAME)
    assert len(times) == stats["frames"]["recorded"]
    # 144 frames paced at 30 fps take 4.8 s; a loaded machine stretches the capture clock, never shortens it.
    assert 4.0 < times[-1] < 10.0 and np.all(np.diff(times) > 0)
    assert sum(1 for _ in iter_frames(out / VIDEO_NAME)) == len(times)
    assert (out / "summary.json").is_file() and (out / "events.csv").is_file()


def test_a_killed_session_leaves_a_readable_recording(tmp_path):
    out = tmp_path / "s"
    proc = subprocess.Popen([*TWITCHCAM, "live", "--source", str(HFS), "--realtime", "--no-window", "--out",
                             str(out)], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
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
            if rows > 120 and events >= 1:
                break
            assert proc.poll() is None, proc.stderr.read().decode()
            time.sleep(0.1)
        else:
            pytest.fail("the live session did not record 4 s and one event in 90 s")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    assert proc.returncode == -signal.SIGKILL
    # The events, markers and frame times written so far are complete CSV files.
    events = read_events_csv(out / EVENTS_LIVE_NAME)
    assert len(events) >= 1 and set(events.side) <= {"left", "bilateral"}
    assert [m["label"] for m in read_markers(out / MARKERS_NAME)] == ["eyelid flutter, left"]
    assert json.loads((out / SESSION_NAME).read_text())["status"] == "running"
    # The video, cut mid-write, is analyzed as any other; at most the frame being written is lost.
    times = read_frame_times(out / VIDEO_NAME)
    result = subprocess.run([*TWITCHCAM, "analyze", str(out / VIDEO_NAME), "--out", str(tmp_path / "after"), "-q"],
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    n_video = len(np.loadtxt(tmp_path / "after" / "signals.csv", delimiter=",", skiprows=1, usecols=0, ndmin=1))
    assert 0 <= n_video - len(times) <= 1, (len(times), n_video)
    assert read_events_csv(tmp_path / "after" / "events.csv").side.tolist()


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
