"""``twitchcam serve``: the API through Starlette's TestClient, and the pages end to end in headless Chromium.

The browser tests drive the system Chromium (Debian's ``chromium``, which ``.ci/run`` installs) with Playwright's
Python package; every request the browser makes to anything but the local server is aborted and fails the test.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("starlette")
pytest.importorskip("httpx")

with warnings.catch_warnings():
    # Starlette 1.x suggests its httpx fork for the TestClient; httpx itself still works.
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient  # noqa: E402

from twitchcam.web.app import create_app  # noqa: E402

pytestmark = pytest.mark.model

DATA = Path(__file__).parent / "data"
TOKEN = "test-token"
AUTH = {"X-Twitchcam-Token": TOKEN}


def _client(data: Path, **kwargs) -> TestClient:
    """A client signed in as the person who started the server: the one place the tests sign in."""
    app = create_app(data, workers=1, token=TOKEN, **kwargs)
    # Server errors are answered as the app answers them, not raised into the test.
    client = TestClient(app, base_url="http://127.0.0.1", raise_server_exceptions=False)
    # The login address sets the token cookie (answered by the middleware, before the app starts).
    r = client.get("/", params={"token": TOKEN}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/", r.text
    return client


def _upload(client: TestClient, path: Path, name: str | None = None, label: str = ""):
    return client.post("/api/upload", params={"name": name or path.name, "label": label},
                       content=path.read_bytes(), headers=AUTH)


def _wait_done(client: TestClient, sid: str, timeout_s: float = 120.0) -> tuple[dict, list[dict]]:
    """Poll a session until it is done or failed; returns it and every state seen."""
    seen = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        s = client.get(f"/api/sessions/{sid}").json()
        seen.append(s)
        if s["state"] in ("done", "failed"):
            return s, seen
        time.sleep(0.05)
    raise AssertionError(f"session {sid} not finished after {timeout_s} s: {seen[-1]}")


def _check_annotation(client: TestClient, sid: str) -> None:
    assert client.post(f"/api/sessions/{sid}/annotate").status_code == 403
    r = client.post(f"/api/sessions/{sid}/annotate", headers=AUTH)
    assert r.status_code == 202 and r.json()["state"] == "annotating"
    s, _ = _wait_done(client, sid)
    assert s["state"] == "done" and s["error"] == "", s
    video = client.get(f"/sessions/{sid}/results/annotated.webm")
    assert video.headers["content-type"] == "video/webm" and video.content[:4] == b"\x1aE\xdf\xa3"
    assert video.headers["content-disposition"].startswith("attachment")
    assert client.post(f"/api/sessions/{sid}/annotate", headers=AUTH).status_code == 409


def test_upload_progress_report_download_delete(tmp_path):
    data = tmp_path / "data"
    with _client(data) as client:
        # A name with folders in it is display text only.
        r = _upload(client, DATA / "single_face.mp4", name="../../etc/single_face.mp4", label="Patient <b>A</b>")
        assert r.status_code == 201, r.text
        sid = r.json()["id"]
        assert re.fullmatch(r"\d{8}-\d{6}-[0-9a-f]{8}", sid)
        assert sorted(p.name for p in (data / sid).glob("[!.]*")) == ["session.json", "video.mp4"]
        assert not (tmp_path / "etc").exists()

        s, seen = _wait_done(client, sid)
        assert s["state"] == "done", s
        running = [x["progress"] for x in seen if x["state"] == "running" and x["progress"]["frames_done"] > 0]
        assert running and all(p["frames_total"] == 72 for p in running)
        assert s["pattern"] == "none" and s["duration_s"] == pytest.approx(2.4, abs=0.05)
        assert s["original_name"] == "single_face.mp4" and s["label"] == "Patient <b>A</b>"

        listed = client.get("/api/sessions").json()["sessions"]
        assert [x["id"] for x in listed] == [sid]
        assert set(listed[0]["events_per_minute"]) >= {"left", "right"}

        page = client.get(f"/sessions/{sid}")
        assert page.status_code == 200
        assert "Patient &lt;b&gt;A&lt;/b&gt;" in page.text and "<b>A</b>" not in page.text
        assert s["finding"] in page.text
        csp = page.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]

        events = client.get(f"/sessions/{sid}/results/events.csv")
        assert events.status_code == 200
        assert events.text.splitlines()[0] == "onset_s,offset_s,side,region,kind,peak,score"
        assert events.headers["content-disposition"].startswith("attachment")
        assert events.headers["x-content-type-options"] == "nosniff"
        assert events.headers["content-type"].startswith("text/csv")
        summary = client.get(f"/sessions/{sid}/results/summary.json")
        assert json.loads(summary.text)["pattern"] == "none"
        assert json.loads(summary.text)["source"]["file"] == "single_face.mp4"  # the user's name, not the stored one
        video = client.get(f"/sessions/{sid}/video")
        assert video.content == (DATA / "single_face.mp4").read_bytes()
        assert video.headers["content-disposition"].startswith("attachment")
        if (data / sid / "results" / "report.html").exists():
            report = client.get(f"/sessions/{sid}/results/report.html")
            csp = report.headers["content-security-policy"]
            assert csp.startswith("sandbox") and "allow-scripts" not in csp and "default-src 'none'" in csp
            assert 'sandbox="allow-same-origin" src="/sessions/' in page.text

        # The annotated video, on demand: written whole, then offered for download.
        if importlib.util.find_spec("twitchcam.annotate") is None:
            assert client.post(f"/api/sessions/{sid}/annotate", headers=AUTH).status_code == 409
        else:
            _check_annotation(client, sid)

        # Only listed files are served: no way out of the results folder.
        for bad in (f"/sessions/{sid}/results/../session.json", f"/sessions/{sid}/results/..%2Fsession.json",
                    f"/sessions/{sid}/results/%2e%2e/video.mp4", "/sessions/..%2F..%2Fetc/results/passwd",
                    "/sessions/20260101-000000-00000000/results/events.csv"):
            r = client.get(bad)
            assert r.status_code == 404, bad
            assert "Traceback" not in r.text

        assert client.delete(f"/api/sessions/{sid}").status_code == 403
        assert client.delete(f"/api/sessions/{sid}", headers={"X-Twitchcam-Token": "wrong"}).status_code == 403
        assert (data / sid).exists()
        assert client.delete(f"/api/sessions/{sid}", headers=AUTH).status_code == 204
        assert not (data / sid).exists()
        assert client.get("/api/sessions").json()["sessions"] == []
        assert client.get(f"/sessions/{sid}").status_code == 404


def test_upload_rejects_what_is_not_a_face_video(tmp_path):
    from twitchcam.video import VideoWriter

    data = tmp_path / "data"
    text = tmp_path / "notes.mp4"
    text.write_text("Patient notes, not a video.\n" * 50)
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes((DATA / "single_face.mp4").read_bytes()[:60_000])
    tiny = tmp_path / "tiny.avi"
    with VideoWriter(tiny, 30, (64, 48)) as writer:
        for _ in range(5):
            writer.write(np.full((48, 64, 3), 128, np.uint8))
    big = tmp_path / "big.mp4"
    big.write_bytes(b"\0" * ((1 << 20) + 10))

    with _client(data, max_upload_mb=1, warm_workers=False) as client:
        for path, status, words in ((text, 422, "not a video"), (truncated, 422, "not a video"),
                                    (tiny, 422, "too small"), (big, 413, "larger than")):
            r = _upload(client, path)
            assert r.status_code == status, (path.name, r.text)
            assert path.name in r.json()["error"] and words in r.json()["error"]
        r = client.post("/api/upload", params={"name": "x.mp4"}, content=b"", headers=AUTH)
        assert r.status_code == 400
        # Without the token nothing is even received.
        r = client.post("/api/upload", params={"name": "x.mp4"}, content=text.read_bytes())
        assert r.status_code == 403 and "token" in r.json()["error"]
        # A page asked for under another host name (DNS rebinding) is refused.
        assert client.get("/", headers={"Host": "evil.example:8765"}).status_code == 400
        assert client.get("/api/sessions").json()["sessions"] == []
        # Page assets come from the package only.
        r = client.get("/static/app.js")
        assert r.headers["content-type"].startswith("text/javascript") and "X-Twitchcam-Token" in r.text
        for bad in ("/static/..%2Fapp.py", "/static/../app.py", "/static/app.py"):
            assert client.get(bad).status_code == 404
        # A bug shows one sentence, never a stack trace.
        store = client.app.state.store
        store.list = lambda: 1 / 0
        r = client.get("/api/sessions")
        assert r.status_code == 500 and "console" in r.json()["error"]
        assert "Traceback" not in r.text and "ZeroDivision" not in r.text
        del store.list
    assert [p.name for p in data.iterdir() if not p.name.startswith(".")] == []
    assert list((data / ".incoming").iterdir()) == []


def _fake_session(data: Path, sid: str, state: str, video: Path | None = None) -> Path:
    folder = data / sid
    folder.mkdir(parents=True)
    record = {"id": sid, "label": f"label {sid[-1]}", "created": "2026-01-01T10:00:00", "original_name": "a.mp4",
              "video": "video.mp4", "size_bytes": 1, "frame_size": [640, 360], "state": state, "error": ""}
    (folder / "session.json").write_text(json.dumps(record))
    if video is not None:
        shutil.copy(video, folder / "video.mp4")
    return folder


def test_restart_rebuilds_sessions_and_requeues_interrupted(tmp_path):
    from twitchcam.courses import regular_course
    from twitchcam.folder import write_analysis
    from twitchcam.pipeline import analyze_landmarks
    from twitchcam.testing import as_twitches, make_landmarks

    data = tmp_path / "data"
    done = _fake_session(data, "20260101-100000-0000000a", "running")
    course = as_twitches(regular_course("left", 20.0, seed=1))
    write_analysis(analyze_landmarks(make_landmarks(20.0, 30.0, course)), done / "results")
    interrupted = _fake_session(data, "20260101-100000-0000000b", "running", DATA / "single_face.mp4")
    (interrupted / ".results-x1.tmp").mkdir()
    (interrupted / ".results-x1.tmp" / "events.csv").write_text("onset_s,off")  # half-written
    _fake_session(data, "20260101-100000-0000000c", "failed")
    (data / ".incoming").mkdir()
    (data / ".incoming" / "abc.part").write_bytes(b"partial upload")

    with _client(data) as client:
        sessions = {s["id"][-1]: s for s in client.get("/api/sessions").json()["sessions"]}
        assert sorted(sessions) == ["a", "b", "c"]
        written = json.loads((done / "results" / "summary.json").read_text())
        assert sessions["a"]["state"] == "done" and sessions["a"]["pattern"] == written["pattern"]
        assert sessions["a"]["side"] == "left" and sessions["a"]["events_per_minute"]["left"] > 5
        assert sessions["b"]["state"] in ("queued", "running")
        assert sessions["c"]["state"] == "failed"
        assert not (interrupted / ".results-x1.tmp").exists()
        assert list((data / ".incoming").iterdir()) == []
        s, _ = _wait_done(client, sessions["b"]["id"])
        assert s["state"] == "done"
        assert (interrupted / "results" / "events.csv").read_text().startswith("onset_s,offset_s,side")


def test_a_wait_for_a_worker_ends_quietly_when_another_thread_stops_the_worker():
    # The shutdown race: AnalysisQueue.close() stops a worker (closing its pipe, setting conn and process to None)
    # while the slot thread waits for that worker's next message. The wait ends with None, not an AttributeError.
    from twitchcam.web.workers import _Child

    class Process:
        alive = True

        def is_alive(self):
            return self.alive

        def kill(self):
            self.alive = False

        def join(self, timeout):
            pass

    class Pipe:
        closed = False

        def poll(self, timeout):
            child.stop()  # another thread's close(), during the wait
            return False

        def close(self):
            self.closed = True

    child = _Child(target=None)
    pipe, process = Pipe(), Process()
    child.conn, child.process = pipe, process
    assert child.receive(5.0) is None
    assert pipe.closed and not process.alive and child.conn is None and child.process is None
    assert child.receive(5.0) is None  # a wait that begins after the stop


def test_a_session_cancelled_while_its_worker_starts_is_not_analyzed_and_cancel_returns():
    # A session deleted just as its analysis begins: the slot has taken the job but its worker process is not
    # running yet. cancel() finds no process to stop (it raised AttributeError), and the job must not start after.
    import threading
    from types import SimpleNamespace

    from twitchcam.web.workers import AnalysisQueue, _Child

    session = SimpleNamespace(id="s1", state="queued", original_name="a.mp4")
    states, sent, errors = [], [], []
    store = SimpleNamespace(get=lambda sid: session, set_state=lambda sid, state, *a: states.append(state),
                            video_path=lambda s: Path("a.mp4"), folder=lambda sid: Path("out"))
    analyses = AnalysisQueue(store, n_workers=1)

    def delete():
        try:
            analyses.cancel("s1")
        except Exception as error:  # noqa: BLE001 - the test reports what the thread raised
            errors.append(error)

    deleting = threading.Thread(target=delete)

    class Child(_Child):
        def ensure(self):
            deleting.start()  # the delete request, while the process starts
            while "s1" not in analyses._cancelled:
                time.sleep(0.001)
            time.sleep(0.2)  # cancel() looks for the process now, before it exists
            self.process = SimpleNamespace(is_alive=lambda: True, kill=lambda: None, exitcode=None)
            self.conn = SimpleNamespace(send=sent.append)

    analyses._jobs.put(("s1", "analyze"))
    analyses._jobs.put(None)
    analyses._work(Child(target=None))
    deleting.join(5)
    assert not deleting.is_alive() and errors == []
    assert sent == [] and states == ["running"] and "s1" not in analyses._running


# ---- end to end in headless Chromium -------------------------------------------------------------------------
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]


def _require_browser():
    """Skip without Playwright or Chromium, except in CI, where ``.ci/run`` installs both and a skip would hide it."""
    missing = None
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing = "the playwright package"
    if not Path(CHROMIUM).exists():
        missing = "chromium"
    if missing and os.environ.get("CI"):
        pytest.fail(f"{missing} is not installed; .ci/run should install it")
    if missing:
        pytest.skip(f"{missing} is not installed")


def write_y4m(video: Path, out: Path) -> None:
    """Convert a clip to YUV4MPEG2, the format Chromium's fake camera plays (in a loop)."""
    import cv2

    from twitchcam.video import iter_frames

    with open(out, "wb") as fh:
        for frame in iter_frames(video):
            h, w = frame.image.shape[:2]
            if frame.index == 0:
                fh.write(f"YUV4MPEG2 W{w} H{h} F30:1 Ip A1:1 C420jpeg\n".encode())
            fh.write(b"FRAME\n" + cv2.cvtColor(frame.image, cv2.COLOR_BGR2YUV_I420).tobytes())


#: The token of each ``server`` by its address, read from the login address it printed.
SERVER_TOKENS: dict[str, str] = {}


def _sign_in(page, url: str) -> None:
    """Open a running ``server``'s login address in a browser page: the one place the browser tests sign in."""
    page.goto(f"{url}?token={SERVER_TOKENS[url]}")


@pytest.fixture
def server(tmp_path):
    """``twitchcam serve`` in a subprocess on a free port; yields ``(url, process)``."""
    proc = subprocess.Popen(
        [sys.executable, "-c", "import sys; from twitchcam.cli import main; sys.exit(main())", "serve",
         "--data", str(tmp_path / "data"), "--port", "0", "--workers", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    line = proc.stdout.readline()
    match = re.search(r"(http://127\.0\.0\.1:\d+/)\?token=([\w-]+)", line)
    assert match, line
    SERVER_TOKENS[match.group(1)] = match.group(2)
    yield match.group(1), proc
    proc.terminate()
    proc.wait(20)


def _peak_rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024


@pytest.mark.browser
def test_browser_upload_report_and_record(server, tmp_path):
    _require_browser()
    from playwright.sync_api import sync_playwright

    url, proc = server
    clip = tmp_path / "face.y4m"
    write_y4m(DATA / "single_face.mp4", clip)
    outside = []

    def local_only(route):
        if route.request.url.startswith(url):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    with sync_playwright() as pw:
        # Playwright gives the browser a fresh profile of its own.
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS + [
            f"--use-file-for-fake-video-capture={clip}"])
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.route("**/*", local_only)
        errors = []
        page.on("pageerror", lambda err: errors.append(str(err)))

        # Drop a video on the page, with a label; the table follows the analysis without a reload.
        _sign_in(page, url)
        assert page.url == url, "the login address sends the browser on without the token"
        page.fill("#label", "E2E upload")
        drop = page.evaluate_handle(
            """([b64, name]) => {
                const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
                const dt = new DataTransfer();
                dt.items.add(new File([bytes], name, { type: "video/mp4" }));
                return dt;
            }""", [base64.b64encode((DATA / "single_face.mp4").read_bytes()).decode(), "single_face.mp4"])
        page.dispatch_event("#drop", "drop", {"dataTransfer": drop})
        page.wait_for_selector("#uploads li.ok", timeout=30_000)
        page.wait_for_selector("#sessions tr[data-state=done]", timeout=120_000)
        row = page.inner_text("#sessions tbody tr")
        assert "E2E upload" in row and "report ready" in row and "none beyond blinking" in row
        page.screenshot(path=str(tmp_path / "index.png"), full_page=True)

        page.click("#sessions tbody tr a")
        page.wait_for_selector(".finding")
        if page.query_selector("iframe#report"):
            frame = page.frame_locator("iframe#report")
            assert "report" in frame.locator("h1").first.inner_text(timeout=10_000).lower()
        else:
            assert page.query_selector("#summary")
        page.screenshot(path=str(tmp_path / "session.png"), full_page=True)

        # Record 5 s from the fake camera; the preview is mirrored; the clip becomes a session that gets analyzed.
        page.goto(url + "record")
        page.fill("#label", "E2E recording")
        page.select_option("#duration", "5")
        page.click("#camera")
        deadline = time.monotonic() + 10  # polled from here: the page's CSP forbids wait_for_function's eval
        while page.eval_on_selector("#preview", "v => v.videoWidth") == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert page.eval_on_selector("#preview", "v => getComputedStyle(v).transform") == "matrix(-1, 0, 0, 1, 0, 0)"
        page.click("#record")
        page.wait_for_url(re.compile(r".*/sessions/\d{8}-\d{6}-[0-9a-f]{8}$"), timeout=30_000)
        page.wait_for_selector(".finding, .error", timeout=120_000)
        assert page.query_selector(".finding"), page.inner_text("#status")
        assert "E2E recording" in page.inner_text("h1")
        page.goto(url)
        page.wait_for_selector("#sessions tbody tr:nth-child(2)")
        assert page.inner_text("#sessions tbody tr:first-child td:first-child a") == "E2E recording"
        browser.close()
    assert errors == []
    assert outside == []

    # A large upload streams to disk: the server's peak memory does not grow with the file.
    import httpx

    before = _peak_rss_mb(proc.pid)
    token = SERVER_TOKENS[url]
    assert httpx.get(url).status_code == 403, "a request without the token gets nothing"
    big = tmp_path / "big.mp4"
    with open(big, "wb") as fh:
        fh.truncate(128 << 20)  # sparse: costs no disk
    with open(big, "rb") as fh:
        r = httpx.post(url + "api/upload", params={"name": "big.mp4"}, content=fh,
                       headers={"X-Twitchcam-Token": token, "Content-Length": str(128 << 20)}, timeout=60)
    assert r.status_code == 422  # received whole, then refused by the probe: zeros are not a video
    assert _peak_rss_mb(proc.pid) - before < 48
