"""Batch analysis on local processes and on a local Dask cluster; segment-split landmark extraction.

Real footage only (copies of the 2.4 s clip): what is checked is that a batch gives the same files as ``analyze``,
survives a killed worker, resumes, records failures, and that seeking workers stitch the exact sequential timeline.
"""

import json
import multiprocessing
import os
import shutil
import signal

import numpy as np
import pytest

from twitchcam.batch import run_batch
from twitchcam.cli import main
from twitchcam.folder import format_events_csv, format_signals_csv
from twitchcam.landmarker import detect_landmarks, find_model
from twitchcam.manifest import read_manifest
from twitchcam.parallel import detect_landmarks_parallel
from twitchcam.pipeline import analyze
from twitchcam.video import VideoWriter, iter_frames

pytestmark = pytest.mark.model


@pytest.fixture
def archive(tmp_path, data_dir):
    """Two different videos both named clip.mp4, a copy of one under another name, and a corrupt file."""
    root = tmp_path / "archive"
    (root / "a").mkdir(parents=True)
    (root / "b").mkdir()
    shutil.copy(data_dir / "single_face.mp4", root / "a" / "clip.mp4")
    shutil.copy(data_dir / "single_face.mp4", root / "copy.mp4")
    with VideoWriter(root / "b" / "clip.mp4", 30.0, (640, 360)) as writer:
        for frame in iter_frames(data_dir / "single_face.mp4"):
            if frame.index < 48:
                writer.write(frame.image)
    (root / "b" / "broken.mp4").write_bytes((data_dir / "single_face.mp4").read_bytes()[:4000])
    return root


def _same_as_analyze(folder, analysis):
    assert (folder / "events.csv").read_text() == format_events_csv(analysis.events)
    assert (folder / "signals.csv").read_text() == format_signals_csv(analysis.signals)
    summary = json.loads((folder / "summary.json").read_text())
    expected = json.loads(json.dumps(analysis.summary.to_dict()))
    assert {k: summary[k] for k in expected} == expected


def _kill_one(pids):
    """An on_result callback that SIGKILLs one worker process, once, when the first video finishes."""
    def on_result(row):
        if not on_result.killed:
            on_result.killed = True
            os.kill(pids()[0], signal.SIGKILL)
    on_result.killed = False
    return on_result


def test_local_batch_survives_killed_worker_records_failure_and_resumes(archive, tmp_path, single_face_analysis):
    out = tmp_path / "out"
    before = {p.pid for p in multiprocessing.active_children()}
    on_result = _kill_one(lambda: [p.pid for p in multiprocessing.active_children() if p.pid not in before])
    report = run_batch([archive], out, workers=2, report=False, on_result=on_result)

    assert on_result.killed and report.retried >= 1
    rows = {os.path.relpath(r["video"], archive): r for r in report.rows}
    assert sorted(rows) == ["a/clip.mp4", "b/broken.mp4", "b/clip.mp4", "copy.mp4"]
    assert [r["status"] for r in report.failed] == ["failed"] and report.failed[0]["video"].endswith("broken.mp4")
    assert "not a readable video" in report.failed[0]["error"]
    assert {r["status"] for n, r in rows.items() if n != "b/broken.mp4"} == {"done"}
    # Same name, different content: separate folders; every folder holds what analyze writes.
    assert rows["a/clip.mp4"]["out_dir"] != rows["b/clip.mp4"]["out_dir"]
    _same_as_analyze(out / rows["a/clip.mp4"]["out_dir"], single_face_analysis)
    _same_as_analyze(out / rows["copy.mp4"]["out_dir"], single_face_analysis)
    assert read_manifest(out / "batch.csv") == {r["video"]: r for r in report.rows}
    cohort = (out / "cohort.csv").read_text().splitlines()
    assert len(cohort) == 5 and "failed" in cohort[1 + sorted(rows).index("b/broken.mp4")]

    # Resume: finished videos are skipped (their files untouched), the corrupt one is tried again and fails again.
    summary = out / rows["a/clip.mp4"]["out_dir"] / "summary.json"
    mtime = summary.stat().st_mtime_ns
    assert main(["batch", str(archive), "--out", str(out), "--workers", "2", "--no-report"]) == 1
    assert summary.stat().st_mtime_ns == mtime
    again = run_batch([archive / "a", archive / "copy.mp4"], out, workers=2, report=False)
    assert again.ok and again.skipped == 2
    assert main(["batch", str(archive / "*.mp4"), "--out", str(out), "--no-report"]) == 0


def test_dask_local_cluster_matches_analyze_with_a_killed_worker(archive, tmp_path, single_face_analysis):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  scheduler_kwargs={"dashboard": False}) as cluster, \
            distributed.Client(cluster, set_as_default=False) as client:
        on_result = _kill_one(lambda: list(client.run(os.getpid).values()))
        # upload and an explicit model: neither the video nor the model is read from the workers' disk;
        # every file, report.html included, comes back to the client.
        report = run_batch([archive / "a", archive / "copy.mp4"], tmp_path / "out", model=find_model(),
                           scheduler=cluster.scheduler_address, upload=True, on_result=on_result)
    assert on_result.killed
    assert report.ok and len(report.rows) == 2, report.failed
    for row in report.rows:
        _same_as_analyze(tmp_path / "out" / row["out_dir"], single_face_analysis)
        assert "<html" in (tmp_path / "out" / row["out_dir"] / "report.html").read_text()


def test_segment_split_landmarks_equal_sequential(data_dir):
    path = data_dir / "face_noface.mov"
    sequential = detect_landmarks(iter_frames(path))
    seen = []
    split = detect_landmarks_parallel(path, n_workers=2, min_segment_s=1.0, on_progress=seen.append)
    assert seen == sorted(seen) and seen[-1] >= len(sequential), "progress must grow to every frame"
    np.testing.assert_array_equal(split.t, sequential.t)
    np.testing.assert_array_equal(split.face_found, sequential.face_found)
    np.testing.assert_array_equal(split.xyz, sequential.xyz)


def test_analyze_splits_a_long_video_over_workers_with_identical_results(tmp_path, data_dir):
    # 42 s at 10 fps (the real clip looped back and forth): long enough for two 20 s segments, few frames.
    frames = [f.image for f in iter_frames(data_dir / "single_face.mp4")]
    cycle = frames + frames[-2:0:-1]
    path = tmp_path / "long.mp4"
    with VideoWriter(path, 10.0, (frames[0].shape[1], frames[0].shape[0])) as writer:
        for i in range(420):
            writer.write(cycle[i % len(cycle)])
    sequential = analyze(path)
    seen = []
    split = analyze(path, workers=2, progress=lambda done, total: seen.append((done, total)))
    assert format_events_csv(split.events) == format_events_csv(sequential.events)
    assert format_signals_csv(split.signals) == format_signals_csv(sequential.signals)
    assert seen[-1] == (420, 420) and len(seen) > 2, "progress reported while the workers run, up to the total"
