"""The clinical report: severity proxies with exact answers, per-side measures, the self-contained HTML, and how it
renders in headless Chromium (no network request, no console message) at desktop and phone widths; the annotated
video, and the report and compare commands."""

import base64
import dataclasses
import io
import json
import re
import shutil
import struct
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from chromium import Chromium, find_chromium
from matplotlib.lines import Line2D

from twitchcam import figures
from twitchcam.cli import main
from twitchcam.courses import regular_course
from twitchcam.events import one_sided_levels
from twitchcam.folder import read_results, write_analysis
from twitchcam.pipeline import analyze_landmarks
from twitchcam.regions import REGIONS, SIDES
from twitchcam.report import criteria_rows, dropped_frames, render_report
from twitchcam.severity import (
    NEAR_COMPLETE_CLOSURE,
    episode_spans,
    jrs_frequency,
    jrs_severity,
    measure_side,
    smc_grade,
)
from twitchcam.testing import Twitch, as_twitches, make_landmarks


def hfs_twitches(side="left", duration_s=60.0, seed=3, **kw):
    """A left HFS course with the brow raised during its tonic spasm, and one blink."""
    tw = as_twitches(regular_course(side, duration_s, seed=seed, **kw))
    tonic = next(t for t in tw if t.duration_s > 1)
    return tw + [Twitch(tonic.onset_s, tonic.duration_s, side, "brow", 0.06),
                 Twitch(20.5, 0.2, "bilateral", "periocular", 0.9)]


@pytest.fixture(scope="module")
def hfs_dir(tmp_path_factory):
    """An analysis folder of a generated 60 s left hemifacial spasm, named with markup to test escaping."""
    lm = make_landmarks(60, 30, hfs_twitches(), noise_px=0.2, seed=3)
    analysis = analyze_landmarks(lm, source="<script>alert(1)<script>.mp4")
    out = tmp_path_factory.mktemp("hfs")
    write_analysis(analysis, out)
    return out


@pytest.fixture(scope="module")
def hfs_report(hfs_dir):
    return render_report(hfs_dir)


@pytest.fixture(scope="module")
def browser():
    if find_chromium() is None:
        pytest.skip("chromium is not installed (Debian: apt-get install chromium); .ci/run installs it")
    with Chromium() as b:
        yield b


# --- severity proxies: the documented mapping, boundary by boundary ---------------------------------------------

def test_the_one_sided_row_counts_twitches_also_for_a_summary_written_before_they_were_counted(hfs_dir, tmp_path):
    twitches = read_results(hfs_dir).summary["metrics"]["unilateral_twitches"]
    assert twitches["left"] > 0 and twitches["right"] == 0
    expected = f"{twitches['left']} vs {twitches['right']} twitches"
    assert expected in criteria_rows(read_results(hfs_dir))[0]["measurement"]
    older = tmp_path / "older"
    shutil.copytree(hfs_dir, older)
    summary = json.loads((older / "summary.json").read_text())
    del summary["metrics"]["unilateral_twitches"]
    (older / "summary.json").write_text(json.dumps(summary))
    assert expected in criteria_rows(read_results(older))[0]["measurement"]


def test_jrs_frequency_mapping():
    assert jrs_frequency(0, 0.0, False, None) == 0
    assert jrs_frequency(2, 0.5, False, 0.01) == 1          # rare, brief
    assert jrs_frequency(20, 20.0, False, 0.05) == 2        # frequent, all brief (< 1 s)
    assert jrs_frequency(20, 20.0, True, 0.2) == 3          # a spasm of 1 s or more
    assert jrs_frequency(20, 20.0, True, 0.5) == 4          # eye in spasm half the time


def test_jrs_severity_mapping():
    assert jrs_severity(None, False, False) == 0
    assert jrs_severity(0.1, True, True) == 1               # narrowing only
    assert jrs_severity(0.4, True, True) == 2               # partial closure
    assert jrs_severity(NEAR_COMPLETE_CLOSURE, False, True) == 3   # eyelids only
    assert jrs_severity(0.8, True, False) == 3              # no tonic spasm
    assert jrs_severity(0.8, True, True) == 4               # eye + mouth + tonic


def test_smc_grade_mapping():
    assert smc_grade(0, True, False, 0.1) is None           # no periocular involvement: scale does not apply
    assert smc_grade(5, False, False, 0.05) == 1
    assert smc_grade(5, True, False, 0.05) == 2
    assert smc_grade(5, True, True, 0.2) == 3
    assert smc_grade(5, True, True, 0.6) == 4


def test_episode_spans_group_onsets_within_the_window():
    start, stop = episode_spans(np.array([1.0, 1.05, 5.0, 5.2, 9.0]), np.array([1.3, 1.4, 5.1, 6.5, 9.1]), 0.3)
    assert start.tolist() == [1.0, 5.0, 9.0]
    assert stop.tolist() == [1.4, 6.5, 9.1]


def test_dropped_frames_from_timestamp_gaps():
    t = np.r_[np.arange(10) / 30, (np.arange(10) + 13) / 30]     # 3 frames missing
    assert dropped_frames(t) == 3
    assert dropped_frames(np.arange(30) / 30) == 0


def test_measure_side_on_a_known_course(hfs_dir):
    results = read_results(hfs_dir)
    left, right = measure_side(results, "left"), measure_side(results, "right")
    assert left.episodes == results.summary["metrics"]["episodes"]   # the pattern's grouping
    assert left.episodes_per_min == pytest.approx(left.episodes / 1.0, rel=0.01)   # 60 s, all measured
    assert 1.4 < left.longest_spasm_s < 1.7                          # the one 1.5 s tonic spasm
    # A 1.5 s tonic spasm closing the eye 0.6 (over NEAR_COMPLETE_CLOSURE) in 60 s, well under half the time in
    # spasm: interference with eye opening, SMC grade 3.
    assert left.jrs_frequency == 3 and left.smc_grade == 3
    assert right.episodes == 0 and right.jrs_frequency == 0 and right.smc_grade is None
    assert 0 < left.time_in_spasm_fraction < 0.3


# --- the figures -------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def hfs_ms(tmp_path_factory):
    """A left hemifacial spasm in whole-millisecond frame times, as a camera or a video file gives them, and its
    folder.

    ``signals.csv`` keeps times to 0.1 ms; generated times (multiples of 1 / 30 s) would read back a hair off, and
    a frame exactly on a block edge of the local thresholds would change blocks.
    """
    lm = make_landmarks(60, 30, hfs_twitches(), noise_px=0.2, seed=3)
    analysis = analyze_landmarks(dataclasses.replace(lm, t=np.round(lm.t, 3)))
    out = tmp_path_factory.mktemp("hfs_ms")
    write_analysis(analysis, out)
    return analysis, out


def test_a_folder_gives_back_the_signals_the_detector_took(hfs_ms):
    hfs_analysis, hfs_dir = hfs_ms
    # signals.csv keeps five decimals: the noise measured again from it is the analysis' to well under a thousandth
    # of the thresholds it raises.
    signals = read_results(hfs_dir).signals()
    assert set(signals.noise) == set(hfs_analysis.signals.noise)
    for name, noise in hfs_analysis.signals.noise.items():
        np.testing.assert_allclose(signals.noise[name], noise, rtol=0, atol=2e-5)
        assert np.all(noise > 1e-4)
    np.testing.assert_allclose(one_sided_levels(signals, hfs_analysis.config),
                               one_sided_levels(hfs_analysis.signals, hfs_analysis.config), rtol=0, atol=1e-4)


def test_the_traces_draw_the_level_each_side_had_to_reach(hfs_ms):
    hfs_analysis, hfs_dir = hfs_ms
    results = read_results(hfs_dir)
    fig = figures.traces(results, ("left", "right"))
    lines = {line.get_gid(): line for line in fig.findobj(Line2D) if line.get_gid()}
    assert set(lines) == {f"{kind} {side} {region}" for kind in ("signal", "level") for side in SIDES
                          for region in REGIONS}
    cfg = hfs_analysis.config
    levels = one_sided_levels(hfs_analysis.signals, cfg)
    for r, region in enumerate(REGIONS):
        for j, side in enumerate(SIDES):
            drawn = lines[f"level {side} {region}"]
            np.testing.assert_array_equal(drawn.get_xdata(), results.t)
            np.testing.assert_allclose(drawn.get_ydata(), levels[:, r, j], rtol=0, atol=1e-4)
            np.testing.assert_array_equal(lines[f"signal {side} {region}"].get_ydata(),
                                          results.region_signal(region)[:, j])
    right_eye, left_eye = lines["level right periocular"].get_ydata(), lines["level left periocular"].get_ydata()
    assert np.nanmin(right_eye) == pytest.approx(cfg.eye_on_frac, abs=1e-4)
    # Each one-sided eye twitch's peak reaches the drawn level, which held the signal just before it; the right
    # eye had to exceed the closing left eye meanwhile (a fixed threshold line would say it only had to reach 0.11).
    ev = results.events
    eye = (ev.side == "left") & (ev.region == "periocular")
    assert eye.sum() >= 10
    signal = lines["signal left periocular"].get_ydata()
    for onset, offset in zip(ev.onset_s[eye], ev.offset_s[eye]):
        inside = (results.t >= onset) & (results.t <= offset)
        assert np.max(signal[inside] - left_eye[inside]) > 0, onset
        before = (results.t >= onset - 0.3) & (results.t < onset - 0.1)
        assert np.all(signal[before] < left_eye[before]), onset
        assert np.max(right_eye[inside]) > 2 * cfg.eye_on_frac, onset


def test_the_figures_are_svg_with_their_text_as_text(hfs_dir):
    results = read_results(hfs_dir)
    fig = figures.raster(results, ("left", "right"))
    svg = base64.b64decode(figures.svg_base64(fig)).decode("utf-8")
    assert svg.startswith("<?xml") and '<svg xmlns:xlink="http://www.w3.org/1999/xlink" width="756pt"' in svg
    texts = re.findall(r"<text[^>]*>([^<]*)</text>", svg)
    assert {"Left eye", "both eyes", "Right brow", "time (s)", "clonic (&lt; 1 s)", "face not measured"} <= set(texts)
    # Drawn by the browser in the figure's font, or in the nearest sans-serif it has.
    families = set(re.findall(r"font-family: ([^;\"]*)", svg))
    assert len(families) == 1 and all(f.startswith("'DejaVu Sans', ") and f.endswith(", sans-serif") for f in families)
    # No date, fixed ids: the same figure, the same bytes.
    assert figures.svg_base64(figures.raster(results, ("left", "right"))) == figures.svg_base64(fig)


def test_a_recording_of_minutes_is_timed_in_clock_steps_and_its_last_minute_as_a_rate(tmp_path):
    # 150 s of left twitches every 5 s: the time axis ticks every 30 s (0:50, 1:40 read badly), and the last 30 s
    # (6 episodes) are drawn as 12 per minute, not as a count of 6 next to full minutes.
    from twitchcam.testing import Twitch, make_landmarks

    onsets = np.arange(2.0, 150.0, 5.0)
    twitches = [Twitch(t, 0.25, "left", region, amplitude) for t in onsets
                for region, amplitude in (("periocular", 0.6), ("perioral", 0.08))]
    results = read_results(write_analysis(analyze_landmarks(make_landmarks(150, 30, twitches)), tmp_path / "a"))
    fig = figures.traces(results, ("left", "right"))
    labels = [t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text"))
              if re.fullmatch(r"\d+:\d\d", t.get_text())]
    assert labels == ["0:00", "0:30", "1:00", "1:30", "2:00", "2:30"]
    measures = {side: measure_side(results, side) for side in ("left", "right")}
    fig = figures.durations_and_rate(results, measures, ("left", "right"))
    heights = sorted({round(max(y for _, y in path.vertices), 6) for c in fig.findobj(lambda a: hasattr(a, "get_paths"))
                      for path in c.get_paths() if len(path.vertices) == 5 and path.vertices[:, 1].min() == 0})
    assert heights[-1] == 12.0 and 6.0 not in heights


def test_png_holds_the_drawn_picture():
    from PIL import Image

    rgba = np.random.default_rng(0).integers(0, 256, (31, 47, 4), dtype=np.uint8)
    opaque = rgba.copy()
    opaque[..., 3] = 255
    for picture, mode in ((rgba, "RGBA"), (opaque, "RGB")):
        image = Image.open(io.BytesIO(base64.b64decode(figures.encode_png(picture, 110))))
        assert image.mode == mode and image.info["dpi"] == pytest.approx((110, 110), abs=0.01)
        np.testing.assert_array_equal(np.asarray(image), picture[..., :len(mode)])


# --- the HTML itself -------------------------------------------------------------------------------------------

class _Resources(HTMLParser):
    """Every URL-bearing attribute and every script element of a page."""

    def __init__(self):
        super().__init__()
        self.urls, self.scripts = [], 0

    def handle_starttag(self, tag, attrs):
        self.scripts += tag == "script"
        for name, value in attrs:
            if name in ("src", "href", "srcset", "poster", "data", "action") and value:
                self.urls.append((tag, name, value))


def test_report_is_one_self_contained_file(hfs_report):
    html = hfs_report.read_text(encoding="utf-8")
    parser = _Resources()
    parser.feed(html)
    assert parser.scripts == 0
    # The four figures of a left HFS with a tonic spasm (raster, traces, the spasm's close-up, durations), each a
    # phone-width source and a desktop image, all embedded.
    assert [(tag, name) for tag, name, _ in parser.urls] == [("source", "srcset"), ("img", "src")] * 4
    assert all(v.startswith("data:image/svg+xml;base64,") for _, _, v in parser.urls)
    assert "default-src 'none'" in html                      # CSP forbids any fetch
    assert not re.search(r"https?://", html.split("</style>", 1)[1])
    # The finding, every criterion with its number, the proxies and the caveats.
    assert "Pattern consistent with left hemifacial spasm." in html
    for text in ("laterality index +1.00", "coefficient of variation", "median lag", "other Babinski sign",
                 "Jankovic Rating Scale", "SMC grade", "proxies", "high-resolution T2", "angiography",
                 "Blepharospasm", "Tics", "Myokymia", "Hemimasticatory spasm", "Functional"):
        assert text in html, text
    assert "present" in html                                 # the brow sign of this course
    # Autoescaped: the file name with markup is text, not markup.
    assert "&lt;script&gt;alert(1)&lt;script&gt;.mp4" in html and "<script>" not in html
    assert 200_000 < len(html) < 2_000_000


@pytest.mark.model
def test_report_of_a_normal_recording(single_face_analysis, tmp_path):
    write_analysis(single_face_analysis, tmp_path)
    html = render_report(tmp_path).read_text(encoding="utf-8")
    assert "No twitching pattern documented" in html
    assert "Close-up" not in html                             # no spasm to zoom on
    assert "blinks per minute" in html


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


@pytest.mark.browser
@pytest.mark.parametrize("width, mobile", [(1280, False), (390, True)])
def test_report_renders_in_chromium_offline_and_clean(hfs_report, browser, width, mobile, tmp_path):
    load = browser.load(hfs_report.resolve().as_uri(), width, mobile=mobile, expressions={
        "images": "Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)",
        "overflow": "document.documentElement.scrollWidth - window.innerWidth",
        "figure_widths": "Array.from(document.images).map(i => i.naturalWidth)",
    })
    schemes = {u.split(":", 1)[0] for u in load.requests}
    assert schemes <= {"file", "data"}, schemes                # nothing from the network
    assert load.console == []
    assert load.values["images"] is True
    assert load.values["overflow"] <= 0                        # no sideways scrolling on a phone
    # The phone gets the narrow figures (4.6 in, 442 px at the CSS 96 per inch), the desktop the wide ones (10.5 in).
    assert set(load.values["figure_widths"]) == ({442} if mobile else {1008})
    assert _png_size(load.screenshot)[0] == width and load.size[1] > 2000
    (tmp_path / f"report_{width}.png").write_bytes(load.screenshot)


# --- annotated video ------------------------------------------------------------------------------------------

@pytest.mark.model
@pytest.mark.browser
def test_annotated_video_plays_in_a_browser(single_face_analysis, data_dir, tmp_path, browser):
    from twitchcam.annotate import annotate_video
    from twitchcam.video import iter_frames

    write_analysis(single_face_analysis, tmp_path)
    out = annotate_video(data_dir / "single_face.mp4", tmp_path, landmarks=single_face_analysis.landmarks)
    assert out == tmp_path / "annotated.webm"
    frames = list(iter_frames(out))
    original = list(iter_frames(data_dir / "single_face.mp4"))
    assert len(frames) == len(original) == 72
    assert frames[0].image.shape == original[0].image.shape
    # The overlay is there: around the patient's left eye (image right) the picture changed.
    x, y = single_face_analysis.landmarks.xyz[0, 263, :2].astype(int)
    patch = (slice(y - 15, y + 15), slice(x - 40, x + 10))
    changed = np.abs(frames[0].image[patch].astype(int) - original[0].image[patch].astype(int)).max(axis=2) > 60
    assert changed.sum() > 20                                  # the outline, a few dozen pixels

    render_report(tmp_path)
    page = tmp_path / "report.html"
    assert 'src="annotated.webm"' in page.read_text(encoding="utf-8")
    load = browser.load(page.resolve().as_uri(), 1280, expressions={"video": """
        new Promise(resolve => {
          const v = document.querySelector('video');
          const done = () => resolve([v.duration, v.videoWidth, v.videoHeight, v.error && v.error.code]);
          if (v.readyState >= 1) done(); else { v.onloadedmetadata = done; v.onerror = done; v.load(); }
        })"""})
    duration, w, h, error = load.values["video"]
    assert error is None and (w, h) == (640, 360) and 2.0 < duration < 2.8
    assert load.console == []


# --- command line ------------------------------------------------------------------------------------------------

def test_report_command_rewrites_report_and_exports(hfs_dir, capsys):
    (hfs_dir / "report.html").unlink(missing_ok=True)
    assert main(["report", str(hfs_dir), "--export", "vtt,bids"]) == 0
    printed = capsys.readouterr().out.split()
    assert {Path(p).name for p in printed} == {"report.html", "events.vtt", "events.tsv", "events.json"}
    assert (hfs_dir / "report.html").exists()


def test_report_command_errors_are_one_line(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("twitchcam: error:") and "not a twitchcam analysis folder" in err and err.count("\n") == 1
    with pytest.raises(SystemExit) as exc:
        main(["report", str(tmp_path), "--export", "srt"])
    assert exc.value.code == 2


def test_analyze_options_parse():
    from twitchcam.cli import build_parser

    args = build_parser().parse_args(["analyze", "v.mp4"])
    assert args.report is True and args.annotate is False and args.export is None
    args = build_parser().parse_args(["analyze", "v.mp4", "--no-report", "--annotate", "--export", "eaf,bids"])
    assert args.report is False and args.annotate is True and args.export == ("eaf", "bids")
