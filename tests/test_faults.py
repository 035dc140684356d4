"""Faults and bad input (issue 13): killed runs leave no workers behind, every bad input is one line and the
documented exit code, and nothing recorded is lost or presented as complete when it is not."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

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


def test_killing_batch_leaves_no_worker(archive, tmp_path):
    _killed_leaves_no_worker(["batch", archive, "--out", tmp_path / "out", "-j", "2", "--no-report"], 2,
                             signal.SIGKILL)


def test_killing_a_split_analyze_leaves_no_worker(long_clip, tmp_path):
    _killed_leaves_no_worker(["analyze", long_clip, "--out", tmp_path / "out", "-j", "2", "-q"], 2, signal.SIGKILL)


def test_terminated_batch_stops_its_workers_and_keeps_its_manifest(archive, tmp_path):
    from twitchcam.batch import read_manifest

    proc = _killed_leaves_no_worker(["batch", archive, "--out", tmp_path / "out", "-j", "2", "--no-report"], 2,
                                    signal.SIGTERM)
    err = proc.stderr.read()
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert err.strip().splitlines()[-1] == "twitchcam: terminated" and "Traceback" not in err
    rows = read_manifest(tmp_path / "out" / "batch.csv")
    assert len(rows) == 3 and {r["status"] for r in rows.values()} <= {"pending", "done"}
