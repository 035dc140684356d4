"""Timeline exports: BIDS events, WebVTT captions and ELAN files, each read back by a parser other than the one
that wrote it (plain text for BIDS, a WebVTT parser written from the specification and Chromium's own for the
captions, ElementTree for ELAN) and compared event by event with events.csv."""

import json
import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from chromium import Chromium, find_chromium

from twitchcam.courses import regular_course
from twitchcam.exports import EAF_TIERS, FORMATS, MIN_CAPTION_S, caption_cues, parse_formats, write_exports
from twitchcam.folder import read_events_csv, read_results, write_analysis
from twitchcam.pipeline import analyze_landmarks
from twitchcam.testing import Twitch, as_twitches, make_landmarks


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory):
    """A 40 s right hemifacial spasm with blinks, and every export of it."""
    twitches = as_twitches(regular_course("right", 40, seed=7)) + [
        Twitch(t, 0.2, "bilateral", "periocular", 0.9) for t in (6.3, 19.1)]
    analysis = analyze_landmarks(make_landmarks(40, 30, twitches, noise_px=0.2, seed=7), source="clip.mp4")
    out = tmp_path_factory.mktemp("exports")
    write_analysis(analysis, out)
    written = write_exports(out, "bids,vtt,eaf")
    assert [p.name for p in written] == ["events.tsv", "events.json", "events.vtt", "events.eaf"]
    return out


@pytest.fixture(scope="module")
def events(out_dir):
    ev = read_events_csv(out_dir / "events.csv")
    assert len(ev) > 20 and set(ev.side) == {"right", "bilateral"}
    return ev


def test_parse_formats():
    assert parse_formats("bids, VTT,eaf,bids") == ("bids", "vtt", "eaf")
    assert parse_formats(["eaf"]) == ("eaf",)
    for bad in ("srt", "", "bids,srt"):
        with pytest.raises(ValueError, match="bids, vtt, eaf"):
            parse_formats(bad)
    assert FORMATS == ("bids", "vtt", "eaf")


def test_bids_events_round_trip(out_dir, events):
    lines = (out_dir / "events.tsv").read_text(encoding="utf-8").splitlines()
    header = lines[0].split("\t")
    assert header[:2] == ["onset", "duration"]               # BIDS: onset and duration first
    rows = [dict(zip(header, line.split("\t"))) for line in lines[1:]]
    assert len(rows) == len(events)
    assert np.allclose([float(r["onset"]) for r in rows], events.onset_s, atol=5e-4)
    assert np.allclose([float(r["duration"]) for r in rows], events.duration_s, atol=1e-3)
    assert [r["side"] for r in rows] == events.side.tolist()
    assert [r["region"] for r in rows] == events.region.tolist()
    assert [r["kind"] for r in rows] == events.kind.tolist()
    assert np.allclose([float(r["peak"]) for r in rows], events.peak, atol=1e-4)
    # sample is the frame of the onset: at 30 fps, onset * 30.
    assert np.array_equal([int(r["sample"]) for r in rows], np.round(events.onset_s * 30).astype(int))
    sidecar = json.loads((out_dir / "events.json").read_text(encoding="utf-8"))
    assert set(header) <= set(sidecar)                       # every column described
    assert sidecar["onset"]["Units"] == "s"
    assert {r["trial_type"] for r in rows} <= set(sidecar["trial_type"]["Levels"])
    assert "PATIENT" in sidecar["side"]["Description"]


_TIMING = re.compile(r"^(\d{2,}):(\d{2}):(\d{2})\.(\d{3}) --> (\d{2,}):(\d{2}):(\d{2})\.(\d{3})(?: .*)?$")


def parse_webvtt(text: str) -> list[tuple[float, float, list[str]]]:
    """A small WebVTT parser following the specification's cue syntax (blocks separated by blank lines)."""
    assert text.startswith("WEBVTT")
    cues = []
    for block in re.split(r"\n{2,}", text.strip())[1:]:
        lines = block.split("\n")
        if lines[0].startswith("NOTE"):
            continue
        timing = next(i for i, line in enumerate(lines) if "-->" in line)
        m = _TIMING.match(lines[timing])
        assert m, lines[timing]
        g = [int(x) for x in m.groups()]
        start = g[0] * 3600 + g[1] * 60 + g[2] + g[3] / 1000
        end = g[4] * 3600 + g[5] * 60 + g[6] + g[7] / 1000
        cues.append((start, end, lines[timing + 1:]))
    return cues


def _check_cues(cues, events):
    starts = [c[0] for c in cues]
    assert starts == sorted(starts)
    assert all(a < b for a, b, _ in cues)
    assert all(cues[i][1] <= cues[i + 1][0] + 1e-6 for i in range(len(cues) - 1))   # never overlapping
    for i in range(len(events)):
        who = "BOTH eyes" if events.side[i] == "bilateral" else \
            f"{events.side[i].upper()} {dict(periocular='eye', perioral='mouth', brow='brow')[events.region[i]]}"
        label = f"{who}: {events.kind[i]} {events.duration_s[i]:.2f} s"
        onset, end = events.onset_s[i], events.onset_s[i] + max(MIN_CAPTION_S, events.duration_s[i])
        # On screen from its onset until at least MIN_CAPTION_S or its duration later, without a gap.
        shown = sorted((a, b) for a, b, lines in cues if label in lines and a < end - 1e-3 and b > onset)
        assert shown and shown[0][0] == pytest.approx(onset, abs=1e-3), label
        assert all(shown[k][1] == pytest.approx(shown[k + 1][0], abs=1e-3) for k in range(len(shown) - 1))
        assert shown[-1][1] >= end - 1e-3


def test_webvtt_round_trip(out_dir, events):
    text = (out_dir / "events.vtt").read_text(encoding="utf-8")
    cues = parse_webvtt(text)
    assert "patient's sides" in text
    assert len(cues) == len(caption_cues(read_results(out_dir)))
    _check_cues(cues, events)


@pytest.mark.browser
def test_webvtt_is_read_by_chromium(out_dir, events):
    """The captions as a browser's <track> reads them: what a video player shows."""
    if find_chromium() is None:
        pytest.skip("chromium is not installed (Debian: apt-get install chromium); .ci/run installs it")
    page = out_dir / "captions.html"
    page.write_text('<!DOCTYPE html><video><track id="t" kind="captions" src="events.vtt" default></video>')
    with Chromium(flags=("--allow-file-access-from-files",)) as browser:
        load = browser.load(page.resolve().as_uri(), 800, expressions={"cues": """
            new Promise(resolve => {
              const t = document.getElementById('t');
              setTimeout(() => resolve('timeout'), 15000);
              const done = () => resolve(Array.from(t.track.cues).map(c => [c.startTime, c.endTime, c.text]));
              t.track.mode = 'hidden';
              if (t.readyState === 2) done(); else { t.onload = done; t.onerror = () => resolve('error'); }
            })"""})
    assert load.console == []
    cues = [(a, b, text.split("\n")) for a, b, text in load.values["cues"]]
    assert cues == parse_webvtt((out_dir / "events.vtt").read_text(encoding="utf-8"))
    _check_cues(cues, events)


def test_eaf_round_trip(out_dir, events):
    root = ET.parse(out_dir / "events.eaf").getroot()
    assert root.tag == "ANNOTATION_DOCUMENT"
    media = root.find("HEADER/MEDIA_DESCRIPTOR")
    assert media.get("MEDIA_URL").endswith("clip.mp4") and media.get("MIME_TYPE") == "video/mp4"
    assert media.get("RELATIVE_MEDIA_URL").endswith("clip.mp4")
    slots = {s.get("TIME_SLOT_ID"): int(s.get("TIME_VALUE")) for s in root.iter("TIME_SLOT")}
    tiers = {t.get("TIER_ID"): t for t in root.iter("TIER")}
    assert tuple(tiers) == EAF_TIERS
    got = []
    for tier_id, tier in tiers.items():
        side, region = tier_id.split(" ")
        for ann in tier.iter("ALIGNABLE_ANNOTATION"):
            kind, peak = ann.find("ANNOTATION_VALUE").text.split(" peak=")
            got.append((slots[ann.get("TIME_SLOT_REF1")], slots[ann.get("TIME_SLOT_REF2")], side, region, kind,
                        float(peak)))
    expected = [(int(round(a * 1000)), max(int(round(b * 1000)), int(round(a * 1000)) + 1), s, r, k, p)
                for a, b, s, r, k, p in zip(events.onset_s, events.offset_s, events.side, events.region,
                                            events.kind, np.round(events.peak, 4))]
    assert sorted(got) == sorted(expected)


def test_eaf_links_the_video_and_the_annotated_video(out_dir, tmp_path):
    video = tmp_path / "videos" / "clip.mp4"
    video.parent.mkdir()
    video.write_bytes(b"not decoded here")
    (out_dir / "annotated.webm").write_bytes(b"")
    try:
        write_exports(out_dir, ["eaf"], video=video)
    finally:
        (out_dir / "annotated.webm").unlink()
    media = ET.parse(out_dir / "events.eaf").getroot().findall("HEADER/MEDIA_DESCRIPTOR")
    assert [m.get("MIME_TYPE") for m in media] == ["video/mp4", "video/webm"]
    assert media[0].get("MEDIA_URL") == video.resolve().as_uri()
    assert (out_dir / media[0].get("RELATIVE_MEDIA_URL")).resolve() == video.resolve()
    assert media[1].get("RELATIVE_MEDIA_URL") == "./annotated.webm"
