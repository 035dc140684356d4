"""The clinician's review: the record (decisions saved atomically, replayed, validated), the summary recomputed from
the reviewed timeline, exports, report and cohort from it, review-stats against the accuracy benchmark's rules, the
ELAN round trip, the review API, and the review page in headless Chromium.

Sessions are built from synthetic landmarks (:mod:`twitchcam.testing`) and a small generated video: no MediaPipe.
"""

from __future__ import annotations

import csv
import dataclasses
import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from twitchcam.config import Config
from twitchcam.courses import regular_course
from twitchcam.folder import read_events_csv, read_results, write_analysis
from twitchcam.pipeline import analyze_landmarks
from twitchcam.review import REJECT_REASONS, ReviewError, apply_decision, derive_kind, reviewed_events
from twitchcam.review_files import load_review, open_review, record_decision, reviewed_summary, write_review
from twitchcam.testing import Twitch, as_twitches, make_landmarks

if importlib.util.find_spec("starlette") and importlib.util.find_spec("httpx"):
    # The server of the serve tests, started as they start it (so it gets in as their browser does).
    from test_serve import server  # noqa: F401 (a fixture, used by name)

REPO = Path(__file__).resolve().parents[1]
SCHEMAS = REPO / "twitchcam" / "schemas"
SID = "20260101-100000-0000000a"
DURATION_S = 20.0


def write_hfs_analysis(out: Path, duration_s: float = DURATION_S) -> Path:
    """A left hemifacial spasm of ``duration_s`` with two blinks, analyzed from synthetic landmarks into ``out``."""
    twitches = as_twitches(regular_course("left", duration_s, seed=0, rate_per_min=30)) + [
        Twitch(t, 0.2, "bilateral", "periocular", 0.9) for t in (6.3, 15.1)]
    analysis = analyze_landmarks(make_landmarks(duration_s, 30.0, twitches, noise_px=0.2, seed=0),
                                 source="clip.webm")
    write_analysis(analysis, out)
    return out


def make_review_session(data: Path, sid: str = SID, duration_s: float = DURATION_S) -> Path:
    """A done ``twitchcam serve`` session of a synthetic left HFS, with a small playable video and its exports."""
    import cv2

    from twitchcam.exports import write_exports
    from twitchcam.video import VideoWriter

    folder = data / sid
    write_hfs_analysis(folder / "results", duration_s)
    write_exports(folder / "results", "bids,vtt,eaf", video=folder / "video.webm")
    fps, size = 10, (160, 90)
    with VideoWriter(folder / "video.webm", fps, size) as writer:
        for i in range(int(duration_s * fps)):
            image = np.full((size[1], size[0], 3), 60, np.uint8)
            cv2.putText(image, f"{i / fps:4.1f}", (30, 55), cv2.FONT_HERSHEY_SIMPLEX, 0.9, (255, 255, 255), 2)
            writer.write(image)
    record = {"id": sid, "label": "Review test", "created": "2026-01-01T10:00:00", "original_name": "clip.webm",
              "video": "video.webm", "size_bytes": (folder / "video.webm").stat().st_size, "frame_size": list(size),
              "state": "done", "error": ""}
    (folder / "session.json").write_text(json.dumps(record))
    return folder


@pytest.fixture
def folder(tmp_path) -> Path:
    return write_hfs_analysis(tmp_path / "analysis")


def _validate(out: Path) -> None:
    """events_reviewed.csv and summary_reviewed.json against the schemas of events.csv and summary.json."""
    jsonschema = pytest.importorskip("jsonschema")
    row_schema = json.loads((SCHEMAS / "events.schema.json").read_text())
    text = (out / "events_reviewed.csv").read_text()
    assert text.splitlines()[0] == "onset_s,offset_s,side,region,kind,peak,score"
    for row in csv.DictReader(text.splitlines()):
        typed = {k: float(v) if k in ("onset_s", "offset_s", "peak") else v for k, v in row.items()}
        typed["score"] = float(typed["score"]) if typed["score"] else None
        jsonschema.validate(typed, row_schema)
    jsonschema.validate(json.loads((out / "summary_reviewed.json").read_text()),
                        json.loads((SCHEMAS / "summary.schema.json").read_text()))


# ---- the record ------------------------------------------------------------------------------------------------
def test_moving_the_edges_of_a_blink_keeps_it_a_blink_until_it_lasts_a_tonic_spasm():
    # The detector times a blink at half its depth, so a blink's span may exceed blink_max_s (0.5 s); a reviewer
    # who moves its edges does not make it a spasm. A bilateral closure without a kind is judged by its span.
    cfg = Config()
    assert derive_kind("bilateral", 0.63, cfg, previous="blink") == "blink"
    assert derive_kind("bilateral", 1.2, cfg, previous="blink") == "tonic"
    assert derive_kind("bilateral", 0.63, cfg, previous="clonic") == "clonic"
    assert derive_kind("bilateral", 0.4, cfg) == "blink"
    assert derive_kind("left", 0.3, cfg, previous="clonic") == "clonic"


def test_decisions_replay_validate_and_keep_the_original(folder):
    review, results = open_review(folder)
    assert review.decisions == () and review.progress()["pending"] == len(results.events) == 18
    first = review.events[0]
    at = "2026-01-01T10:00:00+00:00"
    review = apply_decision(review, {"action": "reject", "event": first.id, "reason": "blink", "note": "lid only"},
                            "Dr A", results, at)
    second = review.events[1]
    review = apply_decision(review, {"action": "edit", "event": second.id,
                                     "changes": {"onset_s": second.onset_s - 0.1, "offset_s": second.onset_s + 1.2}},
                            "Dr B", results, at)
    review = apply_decision(review, {"action": "add", "changes": {"onset_s": 3.0, "side": "right"}}, "Dr B", results,
                            at)
    edited, added = review.event(second.id), review.event("r0")
    assert review.event(first.id).status == "rejected" and review.event(first.id).reason == "blink"
    assert edited.status == "accepted" and edited.kind == "tonic"  # 1.3 s: the kind follows the duration
    assert added.status == "added" and (added.offset_s, added.region) == (3.3, "periocular") and added.peak > 0
    assert review.reviewers == ["Dr A", "Dr B"]
    assert review.progress() | {} == {**review.progress(), "rejected": 1, "added": 1, "corrected": 1, "reviewed": 2}
    assert [d["n"] for d in review.decisions] == [1, 2, 3]
    assert review.decisions[1]["before"] == {k: getattr(second, k) for k in second.values()}
    # The reviewed timeline drops the rejected event and has the added one; the original is kept as it was.
    events = reviewed_events(review)
    assert len(events) == 18 and 3.0 in events.onset_s and first.onset_s not in events.onset_s[:1]
    assert review.original[0]["onset_s"] == first.onset_s
    # Going back to the automatic event.
    review = apply_decision(review, {"action": "reset", "event": second.id}, "Dr B", results, at)
    assert review.event(second.id).values() == second.values() and review.event(second.id).status == "pending"
    bad = [({"action": "reject", "event": first.id}, "reason"),
           ({"action": "reject", "event": first.id, "reason": "sneeze"}, "reason"),
           ({"action": "edit", "event": first.id, "changes": {"side": "bilateral", "region": "perioral"}}, "bilateral"),
           ({"action": "edit", "event": first.id, "changes": {"kind": "blink"}}, "blink"),
           ({"action": "edit", "event": first.id, "changes": {"offset_s": first.onset_s - 1}}, "offset"),
           ({"action": "edit", "event": first.id, "changes": {"peak": 3}}, "changed"),
           ({"action": "accept", "event": "a999"}, "no event"),
           ({"action": "reset", "event": "r0"}, "added event"),
           ({"action": "add", "changes": {"onset_s": "soon"}}, "number"),
           ({"action": "add", "changes": {"onset_s": DURATION_S - 0.1}}, "after the end of the video"),
           ({"action": "shout"}, "action")]
    for decision, words in bad:
        with pytest.raises(ReviewError, match=words):
            apply_decision(review, decision, "Dr B", results)
    with pytest.raises(ReviewError, match="reviewer"):
        apply_decision(review, {"action": "accept", "event": first.id}, "  ", results)


def test_without_decisions_the_reviewed_summary_is_the_automatic_one(folder):
    review, results = open_review(folder)
    doc = reviewed_summary(results, review)
    automatic = json.loads((folder / "summary.json").read_text())
    assert doc.pop("review")["automatic_pattern"] == automatic["pattern"] == "hemifacial_spasm"
    doc = json.loads(json.dumps(doc))
    # events.csv keeps times to the millisecond, so a time measured from them may differ by a millisecond.
    for key in ("eye_mouth_lag_s", "longest_spasm_s"):
        assert doc["metrics"].pop(key) == pytest.approx(automatic["metrics"].pop(key), abs=1.5e-3)
    assert doc == automatic


def test_saves_are_atomic_and_the_summary_is_recomputed(folder, monkeypatch):
    real_replace, real_fsync = os.replace, os.fsync
    replaced, synced = [], []
    monkeypatch.setattr(os, "replace", lambda a, b: (replaced.append((Path(a), Path(b))), real_replace(a, b)))
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
    results = read_results(folder, reviewed=False)
    mouth = [f"a{i}" for i in range(len(results.events)) if results.events.region[i] == "perioral"]
    for event in mouth:
        record_decision(folder, {"action": "reject", "event": event, "reason": "voluntary_expression"}, "Dr A")
    # Each file went through a temporary file in the same folder, flushed to disk, renamed over the old one.
    names = [b.name for _, b in replaced]
    assert names == ["review.json", "events_reviewed.csv", "summary_reviewed.json"] * len(mouth)
    assert all(a.parent == b.parent == folder and a.name.startswith(".") for a, b in replaced)
    assert len(synced) >= len(replaced)
    assert not [p for p in folder.iterdir() if p.name.endswith(".tmp")]
    _validate(folder)
    # Without the mouth the eye-mouth spread is gone: no longer the hemifacial-spasm pattern.
    summary = json.loads((folder / "summary_reviewed.json").read_text())
    assert summary["pattern"] == "unilateral_other" and summary["side"] == "left"
    assert summary["criteria"]["cn7_spread"] is False and summary["review"]["reviewers"] == ["Dr A"]
    assert summary["review"]["progress"]["rejected"] == len(mouth)
    assert json.loads((folder / "summary.json").read_text())["pattern"] == "hemifacial_spasm"  # never touched
    reviewed = read_results(folder)
    assert reviewed.timeline == "reviewed" and "perioral" not in set(reviewed.events.region)

    # A save cut short after review.json: the decision is kept, and the files made from it are made again.
    def fail_after_record(a, b):
        if Path(b).name != "review.json":
            raise OSError("disk full")
        real_replace(a, b)

    monkeypatch.setattr(os, "replace", fail_after_record)
    with pytest.raises(OSError):
        record_decision(folder, {"action": "accept", "event": "a0"}, "Dr A")
    monkeypatch.setattr(os, "replace", real_replace)
    review, results = open_review(folder)
    assert review.event("a0").status == "accepted" and len(review.decisions) == len(mouth) + 1
    write_review(folder, review, results)
    assert json.loads((folder / "summary_reviewed.json").read_text())["review"]["progress"]["decisions"] == \
        len(mouth) + 1


def test_a_review_survives_kill_9_mid_save(folder):
    """Decisions recorded in a loop by another process, killed with SIGKILL: every file is whole and readable."""
    script = ("import itertools, sys\nfrom twitchcam.review_files import record_decision\n"
              "for k in itertools.count():\n"
              "    record_decision(sys.argv[1], {'action': 'accept' if k % 2 else 'reject', 'event': f'a{k % 18}',"
              " 'reason': 'other'}, 'Dr K')\n"
              "    print(k, flush=True)\n")
    proc = subprocess.Popen([sys.executable, "-c", script, str(folder)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "0"
    time.sleep(0.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    saved = 1 + len(proc.stdout.read().split())           # decisions the loop finished saving (it printed each)
    review = load_review(folder)
    # Those, and the one being saved when the kill came if its review.json was renamed into place already.
    assert len(review.decisions) in (saved, saved + 1)
    review_json = json.loads((folder / "review.json").read_text())
    assert review_json["events"] == [ev.to_dict() for ev in review.events]  # the record replays to its own state
    # The timeline is the record's, or one decision behind it when the kill fell between the two files.
    from twitchcam.folder import format_events_csv
    from twitchcam.review import replay

    behind = dataclasses.replace(review, events=replay(review.original, review.decisions[:-1], Config()))
    assert (folder / "events_reviewed.csv").read_text() in (format_events_csv(reviewed_events(review)),
                                                             format_events_csv(reviewed_events(behind)))
    assert json.loads((folder / "summary_reviewed.json").read_text())["review"]["progress"]["decisions"] in (
        len(review.decisions), len(review.decisions) - 1)


# ---- downstream: exports, report, cohort -------------------------------------------------------------------------
def test_exports_report_and_cohort_use_the_reviewed_timeline(folder, caplog):
    import xml.etree.ElementTree as ET

    from twitchcam.cohort import cohort_row, format_cohort_html
    from twitchcam.exports import write_exports
    from twitchcam.report import render_report

    record_decision(folder, {"action": "reject", "event": "a0", "reason": "talking"}, "Dr A")
    record_decision(folder, {"action": "add", "changes": {"onset_s": 2.5, "offset_s": 2.7, "side": "left",
                                                          "region": "perioral"}}, "Dr A")
    record_decision(folder, {"action": "accept", "event": "a1"}, "Dr --> B")  # "-->" would end a WebVTT note
    reviewed = read_events_csv(folder / "events_reviewed.csv")
    write_exports(folder, "bids,vtt,eaf")
    rows = (folder / "events.tsv").read_text().splitlines()[1:]
    assert [float(r.split("\t")[0]) for r in rows] == pytest.approx(reviewed.onset_s.tolist())
    sidecar = json.loads((folder / "events.json").read_text())
    assert "reviewed by Dr A" in sidecar["TimelineSource"] and "1 rejected" in sidecar["TimelineSource"]
    vtt = (folder / "events.vtt").read_text()
    assert "Timeline: reviewed by Dr A, Dr -> B" in vtt
    assert vtt.count("-->") == len(re.findall(r"^\d+$", vtt, re.M))  # one per cue, none in the note
    import webvtt

    assert len(webvtt.from_string(vtt).captions) == vtt.count("-->")
    eaf = ET.parse(folder / "events.eaf").getroot()
    assert "reviewed by Dr A" in eaf.find("HEADER/PROPERTY[@NAME='twitchcam_timeline']").text
    assert len(eaf.findall(".//ALIGNABLE_ANNOTATION")) == len(reviewed)

    html = render_report(folder).read_text()
    assert "Clinician review: automatic versus reviewed" in html and "Timeline: reviewed by Dr A" in html
    assert "talking" in html and "added" in html

    row = cohort_row({"video": "clip.webm", "out_dir": folder.name, "status": "done"}, folder.parent)
    summary = json.loads((folder / "summary_reviewed.json").read_text())
    assert row["timeline"] == "reviewed" and row["pattern"] == summary["pattern"]
    assert "use the timeline as a clinician reviewed it" in format_cohort_html([row])

    # The analysis run again: the review belongs to the old events.csv and is not applied to the new one.
    write_hfs_analysis(folder, 15.0)
    with caplog.at_level("WARNING"):
        assert read_results(folder).timeline == "automatic"
    assert "earlier analysis" in caplog.text
    with pytest.raises(ReviewError, match="another events.csv"):
        open_review(folder)


# ---- review-stats: the accuracy benchmark's numbers ----------------------------------------------------------------
def _accuracy_module():
    spec = importlib.util.spec_from_file_location("accuracy_benchmark", REPO / "benchmarks" / "accuracy.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _reference_match(pred, truth, tolerance_s=0.25) -> int:
    """The rule of benchmarks/accuracy.py as it stood when scoring moved into the package, kept as the reference."""
    from scipy.optimize import linear_sum_assignment

    p = pred[np.isin(pred.side, ("left", "right"))]
    t = truth[np.isin(truth.side, ("left", "right"))]
    if len(p) == 0 or len(t) == 0:
        return 0
    same = (p.side[:, None] == t.side[None, :]) & (p.region[:, None] == t.region[None, :])
    gap = np.abs(p.onset_s[:, None] - t.onset_s[None, :])
    ok = same & (gap <= tolerance_s)
    rows, cols = linear_sum_assignment(np.where(ok, gap, 1e6))
    return int(ok[rows, cols].sum())


def _perturbed(events, rng):
    """Automatic events as a detector might get them wrong: some missed, shifted, on the wrong side, or extra."""
    from twitchcam.events import Events

    keep = rng.random(len(events)) > 0.2
    onset = events.onset_s + rng.normal(0, 0.12, len(events))
    side = np.where((rng.random(len(events)) < 0.1) & (events.side != "bilateral"),
                    np.where(events.side == "left", "right", "left"), events.side)
    extra = 3
    return Events.from_columns(
        np.r_[np.maximum(onset[keep], 0), rng.uniform(0, 18, extra)],
        np.r_[np.maximum(onset[keep], 0) + events.duration_s[keep], rng.uniform(18, 19, extra)],
        np.r_[side[keep], ["right"] * extra], np.r_[events.region[keep], ["periocular", "perioral", "brow"]],
        np.r_[events.kind[keep], ["clonic"] * extra], np.r_[events.peak[keep], [0.3] * extra])


def test_matching_is_one_to_one_and_optimal():
    from twitchcam.events import Events
    from twitchcam.scoring import detection_score, match_events, score_case, score_totals

    def table(onsets, side="left", region="periocular"):
        n = len(onsets)
        return Events.from_columns(onsets, np.asarray(onsets) + 0.1, [side] * n, [region] * n, ["clonic"] * n,
                                   [0.5] * n)

    # Nearest-first would pair 0.2 with 0.1 and leave 0.0 without a partner within 0.25 s of 0.3: two is optimal.
    m = match_events(table([0.0, 0.2]), table([0.1, 0.3]))
    assert m.true_positives == 2 and m.onset_error_s.tolist() == pytest.approx([-0.1, -0.1])
    assert match_events(table([1.0, 1.05]), table([1.0])).true_positives == 1  # one to one
    assert match_events(table([1.0]), table([1.0], side="right")).true_positives == 0  # same side only
    assert match_events(table([1.0]), table([1.0], region="perioral")).true_positives == 0  # same region only
    assert match_events(table([1.0]), table([1.26])).true_positives == 0  # beyond the tolerance
    assert match_events(table([1.0], side="bilateral"), table([1.0], side="bilateral")).n_true == 0  # not scored
    assert detection_score(0, 0, 3).f1 == 0.0 and np.isnan(detection_score(0, 0, 3).precision)
    totals = score_totals([score_case("a", table([0.0, 5.0]), table([0.05]), "none", "none", None, None, 60.0),
                           score_case("b", table([2.0]), table([]), "none", "bilateral", None, None, 30.0)])
    assert totals.overall.true_positives == 1 and totals.overall.n_predicted == 3
    assert totals.pattern_agreement == 0.5 and np.isnan(totals.side_agreement)
    assert totals.false_unilateral_per_min == pytest.approx(2.0)  # 1 event in the 30 s without any reviewed one


def test_review_stats_gives_the_accuracy_benchmarks_numbers(tmp_path, capsys):
    from twitchcam.cli import main
    from twitchcam.folder import write_events_csv

    rng = np.random.default_rng(5)
    folders, rows = [], []
    for k in range(4):
        out = write_hfs_analysis(tmp_path / f"s{k}", 20.0 if k < 3 else 10.0)
        truth = read_events_csv(out / "events.csv")
        if k == 3:  # a session where the reviewer rejected every twitch: a negative case
            truth = truth[truth.side == "bilateral"]
        write_events_csv(truth, out / "events_reviewed.csv")
        auto = _perturbed(read_events_csv(out / "events.csv"), rng)
        write_events_csv(auto, out / "events.csv")
        # The reviewed pattern as review would compute it (summary_reviewed.json absent: review-stats computes it).
        folders.append(out)
        summary = json.loads((out / "summary.json").read_text())
        from twitchcam.review_files import reviewed_truth

        _, truth_pattern, truth_side = reviewed_truth(out)
        p = sum(np.isin(auto.side, ("left", "right")))
        t = sum(np.isin(truth.side, ("left", "right")))
        rows.append({"case": out.name, "truth_pattern": truth_pattern, "pattern": summary["pattern"],
                     "truth_side": truth_side, "side": summary["side"], "tp": _reference_match(auto, truth),
                     "n_pred": int(p), "n_true": int(t), "duration_s": summary["video"]["duration_s"],
                     "wall_s": None, "negative": t == 0})
    assert rows[3]["negative"] and rows[3]["truth_pattern"] != rows[3]["pattern"]
    assert 0 < sum(r["tp"] for r in rows) < sum(r["n_true"] for r in rows)

    # The benchmark matches with twitchcam.scoring; its totals are checked against the frozen reference rule.
    expected = _accuracy_module().totals(rows)

    assert main(["review-stats", str(tmp_path), "--json", str(tmp_path / "stats.json")]) == 0
    printed = capsys.readouterr().out
    stats = json.loads((tmp_path / "stats.json").read_text())
    totals = stats["totals"]
    assert totals["n_cases"] == 4 and [Path(s["folder"]).name for s in stats["sessions"]] == ["s0", "s1", "s2", "s3"]
    for key in ("precision", "recall", "f1"):
        assert totals["overall"][key] == pytest.approx(expected[key], abs=1e-12), key
    assert totals["pattern_agreement"] == pytest.approx(expected["pattern_accuracy"])
    assert totals["side_agreement"] == pytest.approx(expected["side_accuracy"])
    assert totals["false_unilateral_per_min"] == pytest.approx(expected["false_unilateral_per_min"])
    assert sum(s["true_positives"] for s in stats["sessions"]) == sum(r["tp"] for r in rows)
    regions = totals["per_region"]
    assert sum(regions[r]["true_positives"] for r in regions) == totals["overall"]["true_positives"]
    assert sum(regions[r]["n_true"] for r in regions) == totals["overall"]["n_true"]
    assert abs(totals["onset_error_median_s"]) < 0.25 and totals["onset_error_mean_abs_s"] > 0
    assert "all unilateral" in printed and "pattern agreement" in printed and "periocular" in printed

    assert main(["review-stats", str(tmp_path / "s0" / "nothing")]) == 1
    assert "no such file" in capsys.readouterr().err


# ---- ELAN round trip -------------------------------------------------------------------------------------------
def test_review_import_from_an_edited_elan_file(folder, tmp_path, capsys):
    from pympi import Eaf

    from twitchcam.cli import main
    from twitchcam.exports import write_exports

    write_exports(folder, "eaf")
    auto = read_events_csv(folder / "events.csv")
    eaf = Eaf(str(folder / "events.eaf"))
    tier = "left periocular"
    annotations = sorted(eaf.get_annotation_data_for_tier(tier))
    removed, moved = annotations[0], annotations[1]
    eaf.remove_annotation(tier, (removed[0] + removed[1]) // 2)
    eaf.remove_annotation(tier, (moved[0] + moved[1]) // 2)
    eaf.add_annotation(tier, moved[0] + 100, moved[1] + 1200, "tonic")
    eaf.add_annotation("right perioral", 4000, 4200, "clonic")
    edited = tmp_path / "edited.eaf"
    eaf.to_file(str(edited))

    assert main(["review-import", str(folder), str(edited), "--reviewer", "Dr E"]) == 0
    out = capsys.readouterr().out
    assert "1 corrected, 1 rejected, 1 added" in out and f"{len(auto) - 2} accepted" in out
    review = load_review(folder)
    assert review.reviewers == ["Dr E"] and review.progress()["complete"]
    reviewed = read_events_csv(folder / "events_reviewed.csv")
    assert len(reviewed) == len(auto)  # one removed, one added
    assert removed[0] / 1000 not in reviewed.onset_s
    assert (moved[0] + 100) / 1000 in reviewed.onset_s and 4.0 in reviewed.onset_s
    assert set(zip(reviewed.side, reviewed.region)) >= {("right", "perioral")}
    _validate(folder)
    # Imported again unchanged: nothing more to decide.
    assert main(["review-import", str(folder), str(edited), "--reviewer", "Dr E"]) == 0
    assert "0 accepted, 0 corrected, 0 rejected, 0 added" in capsys.readouterr().out

    eaf.add_tier("my notes")
    eaf.add_annotation("my notes", 1000, 2000, "patient laughed")
    eaf.to_file(str(edited))
    assert main(["review-import", str(folder), str(edited)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "tier 'my notes' is not one twitchcam understands" in err
    (tmp_path / "broken.eaf").write_text("<ANNOTATION_DOCUMENT")
    assert main(["review-import", str(folder), str(tmp_path / "broken.eaf")]) == 1
    assert "not an ELAN .eaf file" in capsys.readouterr().err
    assert len(load_review(folder).decisions) == len(review.decisions)  # a refused file changes nothing


# ---- the review API ------------------------------------------------------------------------------------------
def _wait_published(client, sid, timeout_s=60.0):
    deadline = time.monotonic() + timeout_s
    while client.get(f"/api/sessions/{sid}/review").json()["publishing"]:
        assert time.monotonic() < deadline, "report and exports not rewritten in time"
        time.sleep(0.1)


def test_review_api_saves_each_decision_and_rewrites_report_and_exports(tmp_path):
    pytest.importorskip("starlette")
    from test_serve import AUTH, _client

    data = tmp_path / "data"
    folder = make_review_session(data)
    with _client(data, warm_workers=False) as client:
        page = client.get(f"/sessions/{SID}/review")
        assert page.status_code == 200 and "/static/review.js" in page.text
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert client.get("/static/review.js").headers["content-type"].startswith("text/javascript")
        assert f'href="/sessions/{SID}/review"' in client.get(f"/sessions/{SID}").text
        state = client.get(f"/api/sessions/{SID}/review").json()
        assert state["video"] == f"/sessions/{SID}/video" and state["duration_s"] == DURATION_S
        assert [r["id"] for r in state["reasons"]] == list(REJECT_REASONS)
        assert state["reviewed"] is None and state["automatic"]["pattern"] == "hemifacial_spasm"
        first = state["events"][0]

        url = f"/api/sessions/{SID}/review"
        decision = {"reviewer": "Dr A", "decision": {"action": "reject", "event": first["id"], "reason": "blink"}}
        assert client.post(url, json=decision).status_code == 403  # the page's token is needed
        assert not (folder / "results" / "review.json").exists()
        r = client.post(url, json=decision, headers=AUTH)
        assert r.status_code == 200, r.text
        assert r.json()["events"][0]["status"] == "rejected" and r.json()["reviewed"]["pattern"]
        assert (folder / "results" / "review.json").exists()  # saved before the answer
        r = client.post(url, json={"reviewer": "Dr A", "decision": {"action": "add", "changes": {
            "onset_s": 11.0, "side": "left", "region": "perioral"}}}, headers=AUTH)
        assert r.json()["progress"]["added"] == 1
        for bad, status in (({"reviewer": "Dr A", "decision": {"action": "reject", "event": "a1"}}, 422),
                            ({"reviewer": "", "decision": {"action": "accept", "event": "a1"}}, 422),
                            ({"decision": {}}, 400)):
            r = client.post(url, json=bad, headers=AUTH)
            assert r.status_code == status and "Traceback" not in r.text and r.json()["error"]
        assert client.post(url, content=b"x" * 70_000, headers=AUTH).status_code == 400
        assert client.get("/api/sessions/20260101-000000-00000000/review").status_code == 404
        _wait_published(client, SID)
        results = folder / "results"
        assert "Clinician review: automatic versus reviewed" in (results / "report.html").read_text()
        tsv_onsets = [float(line.split("\t")[0]) for line in (results / "events.tsv").read_text().splitlines()[1:]]
        assert 11.0 in tsv_onsets and first["onset_s"] not in tsv_onsets
        session_page = client.get(f"/sessions/{SID}").text
        assert "events_reviewed.csv" in session_page and "Continue the review" in session_page
        assert "A clinician has reviewed the events" in session_page
        assert client.get(f"/sessions/{SID}/results/events_reviewed.csv").text.startswith("onset_s,offset_s")

    # Another server on the same folder: everything is there.
    with _client(data, warm_workers=False) as client:
        state = client.get(f"/api/sessions/{SID}/review").json()
        assert state["events"][0]["status"] == "rejected" and state["progress"]["added"] == 1
        assert state["reviewers"] == ["Dr A"]


# ---- the review page in headless Chromium ------------------------------------------------------------------------
@pytest.fixture
def review_data(tmp_path) -> Path:
    """The data folder of the ``server`` fixture (``tmp_path / "data"``) with one done session to review."""
    make_review_session(tmp_path / "data")
    return tmp_path / "data"


def _row_states(page) -> list[str]:
    return page.eval_on_selector_all("#events tbody tr", "rows => rows.map((r) => r.className)")


def _wait_saved(page, count: int) -> None:
    """Wait until ``count`` events carry a decision (polled: the page's CSP forbids wait_for_function's eval)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        decided = [c for c in _row_states(page) if "status-pending" not in c]
        if page.inner_text("#saved").startswith("Saved") and len(decided) >= count:
            return
        time.sleep(0.05)
    raise AssertionError(f"not saved: {page.inner_text('#saved')}")


@pytest.mark.browser
def test_review_page_keyboard_reload_and_kill_9(review_data, server, tmp_path):  # noqa: F811 (the fixture)
    from test_serve import CHROMIUM, CHROMIUM_FLAGS, _require_browser, _sign_in

    _require_browser()
    from playwright.sync_api import sync_playwright

    url, proc = server
    origin = re.match(r"https?://[^/]+/", url).group(0)
    results = review_data / SID / "results"
    automatic = read_events_csv(results / "events.csv")
    outside, errors = [], []

    def local_only(route):
        if route.request.url.startswith(origin):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.route("**/*", local_only)
        page.on("pageerror", lambda err: errors.append(str(err)))
        _sign_in(page, url)
        page.goto(f"{origin}sessions/{SID}/review")
        page.wait_for_selector("#events tbody tr")
        assert len(_row_states(page)) == len(automatic)
        # Keyboard only from here: the reviewer's name field has the focus while it is empty.
        page.keyboard.type("Dr P")
        page.keyboard.press("Enter")
        assert page.input_value("#reviewer") == "Dr P"

        # n jumps to the first event: the video a little before its onset, playing; p and n step through them.
        page.keyboard.press("n")
        assert "selected" in _row_states(page)[0]
        time.sleep(0.3)
        t, paused = page.eval_on_selector("#video", "v => [v.currentTime, v.paused]")
        assert max(0, automatic.onset_s[0] - 0.7) - 0.05 <= t <= automatic.offset_s[0] + 0.9 and not paused
        page.keyboard.press("n")
        assert "selected" in _row_states(page)[1]
        # Reject the second event as a blink (r, then its number): saved, and the next event is selected.
        page.keyboard.press("r")
        assert page.is_visible("#reasons")
        page.keyboard.press("1")
        _wait_saved(page, 1)
        states = _row_states(page)
        assert "status-rejected" in states[1] and "selected" in states[2]
        # The third's onset one frame later; then, without waiting for the server, accept it and the fourth: keys
        # pressed quickly are queued, none dropped.
        page.keyboard.press("]")
        page.keyboard.press("a")
        page.keyboard.press("a")
        _wait_saved(page, 3)
        # Click the timeline near its start (the cursor goes there), move on 19 s with Shift+Right (1 s each), and
        # add a missed event at the cursor.
        page.keyboard.press("Escape")
        page.click("#tracks", position={"x": 5, "y": 5})
        for _ in range(19):
            page.keyboard.press("Shift+ArrowRight")
        cursor_s = float(page.inner_text("#clock").split()[0])
        assert 19 < cursor_s < 19.5
        page.keyboard.press("m")
        _wait_saved(page, 4)
        assert "Dr P" in page.inner_text("#progress") and "1 added" in page.inner_text("#progress")
        assert "status-added" in _row_states(page)[-1]
        # Drag the added event's offset end to the right on the timeline, past the end of the video: it stops there.
        box = page.query_selector(".ev.selected .handle.off").bounding_box()
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.mouse.down()
        page.mouse.move(box["x"] + 200, box["y"] + box["height"] / 2, steps=4)
        page.mouse.up()
        _wait_saved(page, 4)
        deadline = time.monotonic() + 10
        while "0.30 s" in page.inner_text("#current") and time.monotonic() < deadline:
            time.sleep(0.05)
        dragged = float(page.inner_text("#events tbody tr:last-child td:nth-child(3)"))
        assert dragged == DURATION_S
        page.screenshot(path=str(tmp_path / "review_1280.png"), full_page=True)

        # A reload shows the same state; the page fits a tablet without sideways scrolling.
        page.set_viewport_size({"width": 800, "height": 1100})
        page.reload()
        page.wait_for_selector("#events tbody tr.status-added")
        after = _row_states(page)
        assert "status-rejected" in after[1] and "status-added" in after[-1]
        assert "status-accepted" in after[2] and "status-accepted" in after[3] and "status-pending" in after[4]
        assert page.evaluate("document.documentElement.scrollWidth") <= 800
        page.screenshot(path=str(tmp_path / "review_800.png"), full_page=True)
        # The report and the exports are written again from the reviewed timeline (in the background).
        deadline = time.monotonic() + 60
        while page.request.get(f"{origin}api/sessions/{SID}/review").json()["publishing"]:
            assert time.monotonic() < deadline
            time.sleep(0.2)
        browser.close()
    assert errors == [] and outside == []

    # The server killed outright: every decision is on disk, and what is made from it agrees.
    proc.send_signal(signal.SIGKILL)
    proc.wait(20)
    review = load_review(results)
    assert [d["action"] for d in review.decisions] == ["reject", "edit", "accept", "accept", "add", "edit"]
    assert [d["event"] for d in review.decisions[:4]] == ["a1", "a2", "a2", "a3"]
    assert review.decisions[0]["reason"] == "blink" and {d["by"] for d in review.decisions} == {"Dr P"}
    reviewed = read_events_csv(results / "events_reviewed.csv")
    assert len(reviewed) == len(automatic) and automatic.onset_s[1] not in reviewed.onset_s
    assert reviewed.onset_s[-1] == pytest.approx(cursor_s, abs=0.006) and reviewed.offset_s[-1] == dragged
    _validate(results)
    summary = json.loads((results / "summary_reviewed.json").read_text())
    assert summary["review"]["progress"] == review.progress()
    tsv = [float(line.split("\t")[0]) for line in (results / "events.tsv").read_text().splitlines()[1:]]
    assert tsv == pytest.approx(reviewed.onset_s.tolist())
    report = (results / "report.html").read_text()
    assert "Clinician review: automatic versus reviewed" in report and "blink" in report
