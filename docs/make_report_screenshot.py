"""Make docs/report.png, the report screenshot in the README: analyze sample_videos/hfs_left.mp4 with the annotated
video, render report.html, open it in headless Chromium at desktop width, keep the top of the page (finding,
criteria, timeline) and store it as a 256-colour PNG under 300 KB.

Run from the repository root (needs Debian's chromium):  python docs/make_report_screenshot.py [OUT_DIR]
The analysis folder is kept in OUT_DIR (default: a temporary folder) so the full report can be looked at too.
"""

import io
import sys
import tempfile
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from chromium import Chromium  # noqa: E402

from twitchcam.annotate import annotate_video  # noqa: E402
from twitchcam.folder import write_analysis  # noqa: E402
from twitchcam.pipeline import analyze  # noqa: E402
from twitchcam.report import render_report  # noqa: E402

WIDTH = 1280
HEIGHT = 1780
MAX_BYTES = 300_000


def main() -> None:
    out_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="twitchcam-report-"))
    video = ROOT / "sample_videos" / "hfs_left.mp4"
    analysis = analyze(video)
    write_analysis(analysis, out_dir)
    annotate_video(video, out_dir, landmarks=analysis.landmarks)
    report = render_report(out_dir)
    with Chromium() as browser:
        load = browser.load(report.resolve().as_uri(), WIDTH)
        phone = browser.load(report.resolve().as_uri(), 390, mobile=True)
    if load.console or phone.console:
        raise SystemExit(f"console messages: {load.console + phone.console}")
    for shot, name in ((load.screenshot, "desktop"), (phone.screenshot, "phone")):
        (out_dir / f"report-{name}.png").write_bytes(shot)
    page = Image.open(io.BytesIO(load.screenshot)).convert("RGB")
    top = page.crop((0, 0, WIDTH, min(HEIGHT, page.height)))
    small = top.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    target = ROOT / "docs" / "report.png"
    small.save(target, optimize=True)
    size = target.stat().st_size
    if size > MAX_BYTES:
        raise SystemExit(f"{target}: {size} bytes, more than {MAX_BYTES}")
    print(f"{target}: {top.width}x{top.height}, {size} bytes; full screenshots in {out_dir}")


if __name__ == "__main__":
    main()
