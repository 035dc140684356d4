"""Make docs/review.png, the review page screenshot in the README: analyze sample_videos/hfs_left.mp4 (with the
annotated video and the exports) into a session of a fresh ``twitchcam serve`` data folder, start the server, open
the session's review page in headless Chromium (Playwright) at 1280 px, make a few decisions with the keyboard as a
reviewer would, and store the top of the page as a 256-colour PNG under 300 KB.

Run from the repository root (needs Debian's chromium and twitchcam[serve]):
    python docs/make_review_screenshot.py [DATA_DIR]
The data folder is kept in DATA_DIR (default: a temporary folder), so the session can be opened again with
``twitchcam serve --data DATA_DIR``.
"""

import io
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image
from playwright.sync_api import sync_playwright

from twitchcam.annotate import annotate_video
from twitchcam.folder import write_analysis
from twitchcam.pipeline import analyze
from twitchcam.web.workers import write_extras

ROOT = Path(__file__).resolve().parents[1]
WIDTH, HEIGHT = 1280, 880
MAX_BYTES = 300_000
SID = "20260301-100000-0000cafe"
# A reviewer's first minute: play the first events, accept two, reject one as a blink, accept one after moving its
# onset a frame earlier, add a missed event where the next one's playback has got to, then play the next and pause.
KEYS = ["n", "a", "a", "r", "1", "[", "a", "m", "n"]


def make_session(data: Path) -> Path:
    """A done session of the sample video in a serve data folder."""
    video = ROOT / "sample_videos" / "hfs_left.mp4"
    folder = data / SID
    results = folder / "results"
    analysis = analyze(video)
    write_analysis(analysis, results)
    annotate_video(video, results, landmarks=analysis.landmarks)
    shutil.copy(video, folder / "video.mp4")
    write_extras(results, folder / "video.mp4")
    record = {"id": SID, "label": "Sample: simulated left HFS", "created": "2026-03-01T10:00:00",
              "original_name": video.name, "video": "video.mp4", "size_bytes": video.stat().st_size,
              "frame_size": list(analysis.landmarks.frame_size), "state": "done", "error": ""}
    (folder / "session.json").write_text(json.dumps(record))
    return folder


def main() -> None:
    data = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="twitchcam-review-"))
    make_session(data)
    server = subprocess.Popen([sys.executable, "-m", "twitchcam.cli", "serve", "--data", str(data), "--port", "0",
                               "--workers", "1"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = re.search(r"http://127\.0\.0\.1:\d+/", server.stdout.readline()).group(0)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=shutil.which("chromium"),
                                         args=["--headless", "--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": WIDTH, "height": HEIGHT})
            errors = []
            page.on("pageerror", lambda err: errors.append(str(err)))
            page.goto(url)
            page.goto(f"{url}sessions/{SID}/review")
            page.wait_for_selector("#events tbody tr")
            page.fill("#reviewer", "Dr. Example")
            page.press("#reviewer", "Enter")
            for key in KEYS:
                page.keyboard.press(key)
                time.sleep(1.2)
            time.sleep(0.6)
            page.eval_on_selector("#video", "v => v.pause()")
            shot = page.screenshot(full_page=True)
            browser.close()
        if errors:
            raise SystemExit(f"page errors: {errors}")
    finally:
        server.terminate()
        server.wait(20)
    full = Image.open(io.BytesIO(shot)).convert("RGB")
    (data / "review-full.png").write_bytes(shot)
    top = full.crop((0, 0, WIDTH, min(HEIGHT, full.height)))
    # Octree keeps the page's flat colours exact (median cut gave the timeline's green and purple to the video).
    small = top.quantize(colors=256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
    target = ROOT / "docs" / "review.png"
    small.save(target, optimize=True)
    size = target.stat().st_size
    if size > MAX_BYTES:
        raise SystemExit(f"{target}: {size} bytes, more than {MAX_BYTES}")
    print(f"{target}: {top.width}x{top.height}, {size} bytes; the full page and the data folder in {data}")


if __name__ == "__main__":
    main()
