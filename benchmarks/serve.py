"""``twitchcam serve`` under load: wall time of 4 uploads at once against the command line, page latency meanwhile,
and the server's memory while a 2 GB file streams in.

Run: python benchmarks/serve.py [--clips 4] [--seconds 20] [--rounds 2] [--race] [--upload-gb 2]

1. Makes ``--clips`` clips of ``--seconds`` from ``sample_videos/`` (alternately ``hfs_left.mp4`` and
   ``normal.mp4``; ``tests/data/single_face.mp4`` looped when they are missing).
2. Command line: two ``twitchcam analyze`` processes at once, each working through half of the clips one after
   the other; wall time from start to both exiting, and their CPU seconds. They run at the niceness of the
   server's workers (``--baseline-nice``, default :data:`twitchcam.web.workers.WORKER_NICENESS`): on an idle
   machine niceness changes nothing, and on a shared one it keeps the comparison like for like.
3. Server: ``twitchcam serve`` (default workers: one per core) is started and ready; then all clips are uploaded at
   once and the wall time runs until every session is done (analysis, exports and report written). Meanwhile a
   client asks for a page, the session list, a script, or a session page every 100 ms and records each answer's
   latency, and asks the same of a second, idle server: the control, which shows what the machine's own load
   does to latency at the same moments.
   Runs 2 and 3 alternate ``--rounds`` times in the order A B B A ..., so a load that drifts affects both alike;
   the medians are compared.
   With ``--race``, the two also run once at the same time (4 analyses on the cores at once), where a load from
   elsewhere that comes and goes hits both alike.
4. Memory: a sparse file of ``--upload-gb`` is uploaded to the last server; its peak resident memory (VmHWM)
   before and after is printed. (The probe refuses it afterwards: zeros are not a video.)

The numbers are wall times: the load average of the machine is printed before and after.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np

from twitchcam.video import VideoWriter, iter_frames
from twitchcam.web.workers import WORKER_NICENESS

REPO = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-c", "import sys; from twitchcam.cli import main; sys.exit(main())"]


def make_clips(folder: Path, n: int, seconds: float) -> list[Path]:
    """``n`` clips of ``seconds`` at 30 fps, cut (or looped forward and backward) from the sample videos."""
    sources = [REPO / "sample_videos" / "hfs_left.mp4", REPO / "sample_videos" / "normal.mp4"]
    if not all(p.exists() for p in sources):
        sources = [REPO / "tests" / "data" / "single_face.mp4"]
    clips = []
    for i in range(n):
        frames = [f.image for f in iter_frames(sources[i % len(sources)])]
        loop = frames + frames[::-1]
        path = folder / f"clip{i}_{sources[i % len(sources)].stem}.mp4"
        with VideoWriter(path, 30, (frames[0].shape[1], frames[0].shape[0])) as writer:
            for k in range(int(seconds * 30)):
                writer.write(loop[k % len(loop)])
        clips.append(path)
    return clips


def baseline(clips: list[Path], out: Path, nice: int) -> tuple[float, float]:
    """Wall time and CPU seconds of two ``twitchcam analyze`` processes, each analyzing half the clips in turn."""
    halves = [clips[0::2], clips[1::2]]
    cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    procs = [subprocess.Popen(CLI + ["analyze", *map(str, half), "--out", str(out / f"p{i}"), "--quiet"],
                              stdout=subprocess.DEVNULL, preexec_fn=lambda: os.nice(nice))
             for i, half in enumerate(halves)]
    for proc in procs:
        if proc.wait() != 0:
            raise SystemExit("twitchcam analyze failed")
    wall = time.perf_counter() - t0
    cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process and its live children have used so far."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    # Children are listed by the thread that started them (the prober starts from a pool thread).
    children = [int(c) for task in Path(f"/proc/{pid}/task").iterdir() for c in (task / "children").read_text().split()]
    for p in [pid, *children]:
        fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def start_server(data: Path) -> tuple[subprocess.Popen, str, str]:
    proc = subprocess.Popen(CLI + ["serve", "--data", str(data), "--port", "0"], stdout=subprocess.PIPE, text=True)
    url = re.search(r"http://127\.0\.0\.1:\d+/", proc.stdout.readline()).group(0)
    token = re.search(r'name="twitchcam-token" content="([^"]+)"', httpx.get(url).text).group(1)
    time.sleep(5)  # let the worker processes finish importing, as on a server that has been running a while
    return proc, url, token


def peak_rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024


class LatencyProbe(threading.Thread):
    """Ask the server for something every ``interval_s`` and keep each answer's latency in seconds."""

    def __init__(self, url: str, interval_s: float = 0.1):
        super().__init__(daemon=True)
        self.url, self.interval_s = url, interval_s
        self.latencies: list[tuple[float, str]] = []
        self.stop = threading.Event()
        self.paths = ["", "api/sessions", "static/app.js", "record"]

    def run(self):
        with httpx.Client(base_url=self.url, timeout=10) as client:
            i = 0
            while not self.stop.is_set():
                path = self.paths[i % len(self.paths)]
                t0 = time.perf_counter()
                r = client.get(path)
                self.latencies.append((time.perf_counter() - t0, path))
                r.raise_for_status()
                if path == "api/sessions" and r.json()["sessions"]:
                    sid = r.json()["sessions"][0]["id"]
                    self.paths = ["", "api/sessions", "static/app.js", f"sessions/{sid}"]
                i += 1
                self.stop.wait(self.interval_s)


def run_server_round(clips: list[Path], data: Path, control_url: str, go: threading.Event | None = None) -> dict:
    """Start a server, upload every clip at once, wait for every report; latency probes run on it and on the
    idle control server meanwhile. ``go`` is set when the uploads start."""
    proc, url, token = start_server(data)
    try:
        busy, control = LatencyProbe(url), LatencyProbe(control_url)
        busy.start()
        control.start()
        cpu0 = cpu_seconds(proc.pid)
        if go is not None:
            go.set()
        t0 = time.perf_counter()

        def upload(path: Path) -> str:
            r = httpx.post(url + "api/upload", params={"name": path.name, "label": path.stem},
                           content=path.read_bytes(), headers={"X-Twitchcam-Token": token}, timeout=60)
            r.raise_for_status()
            return r.json()["id"]

        with ThreadPoolExecutor(len(clips)) as pool:
            ids = list(pool.map(upload, clips))
        t_uploaded = time.perf_counter() - t0
        while True:
            states = {s["id"]: s["state"] for s in httpx.get(url + "api/sessions").json()["sessions"]}
            if all(states[i] in ("done", "failed") for i in ids):
                break
            time.sleep(0.1)
        wall = time.perf_counter() - t0
        cpu = cpu_seconds(proc.pid) - cpu0
        for probe in (busy, control):
            probe.stop.set()
            probe.join()
        return {"wall": wall, "cpu": cpu, "uploaded": t_uploaded, "failed": sum(states[i] != "done" for i in ids),
                "busy": busy.latencies, "control": control.latencies, "proc": proc, "url": url, "token": token}
    except BaseException:
        proc.terminate()
        proc.wait(30)
        raise


def describe_latency(latencies: list[tuple[float, str]]) -> str:
    lat = np.array([x for x, _ in latencies]) * 1000
    worst = max(latencies)
    return (f"{len(lat)} requests: median {np.median(lat):.0f} ms, p99 {np.percentile(lat, 99):.0f} ms, "
            f"max {lat.max():.0f} ms (/{worst[1]}), {np.mean(lat < 200):.1%} under 200 ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rounds", type=int, default=2,
                        help="pairs of runs, in the order command line, serve, serve, command line, ...")
    parser.add_argument("--upload-gb", type=float, default=2.0)
    parser.add_argument("--baseline-nice", type=int, default=WORKER_NICENESS)
    parser.add_argument("--race", action="store_true",
                        help="also run the command line and the server at the same time, on the same clips: on a "
                             "machine others load unevenly, both then share the same conditions")
    args = parser.parse_args()
    print("load average before: " + " ".join(f"{x:.1f}" for x in os.getloadavg()))

    with tempfile.TemporaryDirectory(prefix="twitchcam-bench-serve-") as tmp:
        tmp = Path(tmp)
        clips = make_clips(tmp, args.clips, args.seconds)
        print(f"{len(clips)} clips of {args.seconds:.0f} s: {', '.join(p.name for p in clips)}")
        # An idle server beside the busy one: the same requests to it show what the machine's load alone does.
        control_proc, control_url, _ = start_server(tmp / "control")
        walls = {"cli": [], "serve": []}
        cpus = {"cli": [], "serve": []}
        last = None
        try:
            order = [("cli", "serve") if r % 2 == 0 else ("serve", "cli") for r in range(args.rounds)]
            for k, kind in enumerate(x for pair in order for x in pair):
                if kind == "cli":
                    wall, cpu = baseline(clips, tmp / f"cli{k}", args.baseline_nice)
                    print(f"[{k + 1}] two `twitchcam analyze` processes (nice {args.baseline_nice}), "
                          f"{len(clips) // 2} clips each: {wall:.1f} s wall, {cpu:.1f} CPU s")
                else:
                    if last is not None:
                        last["proc"].terminate()
                        last["proc"].wait(30)
                    last = run_server_round(clips, tmp / f"data{k}", control_url)
                    wall, cpu = last["wall"], last["cpu"]
                    failed = f" ({last['failed']} FAILED)" if last["failed"] else ""
                    print(f"[{k + 1}] `twitchcam serve`, {len(clips)} uploads at once: uploaded after "
                          f"{last['uploaded']:.2f} s, every report ready after {wall:.1f} s wall, {cpu:.1f} CPU s "
                          f"(server and workers, exports and report.html included){failed}")
                    print(f"    page latency, this server:         {describe_latency(last['busy'])}")
                    print(f"    page latency, idle control server: {describe_latency(last['control'])}")
                walls[kind].append(wall)
                cpus[kind].append(cpu)
            if args.race:
                race, go = {}, threading.Event()
                thread = threading.Thread(target=lambda: go.wait() and race.update(
                    cli=baseline(clips, tmp / "cli-race", args.baseline_nice)))
                thread.start()
                last["proc"].terminate()
                last["proc"].wait(30)
                last = run_server_round(clips, tmp / "data-race", control_url, go)
                thread.join()
                print(f"race, both at once on the same clips: command line {race['cli'][0]:.1f} s wall "
                      f"({race['cli'][1]:.1f} CPU s), serve {last['wall']:.1f} s wall ({last['cpu']:.1f} CPU s): "
                      f"ratio {last['wall'] / race['cli'][0]:.2f}")
            ratio = np.median(walls["serve"]) / np.median(walls["cli"])
            cpu_ratio = np.median(cpus["serve"]) / np.median(cpus["cli"])
            print(f"median wall time serve / command line: {ratio:.2f} (target <= 1.2); "
                  f"CPU seconds serve / command line: {cpu_ratio:.2f}")

            proc, url, token = last["proc"], last["url"], last["token"]
            size = int(args.upload_gb * (1 << 30))
            big = tmp / "big.mp4"
            with open(big, "wb") as fh:
                fh.truncate(size)
            before = peak_rss_mb(proc.pid)
            t0 = time.perf_counter()
            with open(big, "rb") as fh:
                r = httpx.post(url + "api/upload", params={"name": big.name}, content=fh, timeout=600,
                               headers={"X-Twitchcam-Token": token, "Content-Length": str(size)})
            t_big = time.perf_counter() - t0
            print(f"{args.upload_gb:g} GB upload: {t_big:.1f} s ({size / t_big / 1e6:.0f} MB/s), answered "
                  f"{r.status_code}; server peak memory {before:.0f} MB before, {peak_rss_mb(proc.pid):.0f} MB "
                  "after")
        finally:
            for p in (control_proc, last and last["proc"]):
                if p is not None:
                    p.terminate()
                    p.wait(30)
    print("load average after: " + " ".join(f"{x:.1f}" for x in os.getloadavg()))


if __name__ == "__main__":
    main()
