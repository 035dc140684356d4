"""Wall time of batch analysis: 8 clips one after another vs a local process pool vs a local Dask cluster, and one
long video read sequentially vs split in time segments over the cores.

Run: python benchmarks/batch.py [--clips 8] [--clip-s 15] [--repeat 3] [--long-s 600 120] [--workers N]
[--skip-clips] [--one-core]

Clips and long videos are made in a temporary folder by looping tests/data/single_face.mp4 back and forth (a real
face, no jump cut) with twitchcam.video.VideoWriter. Every timing is end to end: the sequential run is
``analyze`` + ``write_analysis`` per clip in one process (what ``twitchcam analyze`` does), once as it is and once
bound to one core; the pool and Dask runs
are ``run_batch`` without report.html (hashing, worker start-up, manifest, cohort included; Dask also starts its
cluster), with workers
bound to one core each (the default) and, for comparison, unbound. The long
video is ``analyze`` vs ``detect_landmarks_parallel`` + ``analyze_landmarks``; its events must be identical.

The machine may be shared: the load average is printed before and after each measurement. CPU seconds (this
process and its finished children) are printed too: CPU/wall of the sequential run shows how many cores one
analysis process uses, and the parallel runs' CPU relative to the sequential one is their overhead (start-up,
warm-up before seams), which competing load does not change.
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from machine import cpu_s

from twitchcam.batch import run_batch
from twitchcam.folder import format_events_csv, write_analysis
from twitchcam.parallel import detect_landmarks_parallel
from twitchcam.pipeline import analyze, analyze_landmarks
from twitchcam.video import VideoWriter, iter_frames, probe_video

CLIP = Path(__file__).resolve().parent.parent / "tests" / "data" / "single_face.mp4"


def make_video(path: Path, duration_s: float) -> Path:
    """Loop the test clip forwards and backwards up to ``duration_s`` seconds at its frame rate."""
    frames = [f.image for f in iter_frames(CLIP)]
    cycle = frames + frames[-2:0:-1]
    info = probe_video(CLIP)
    with VideoWriter(path, info.fps_nominal, (info.width, info.height)) as writer:
        for i in range(round(duration_s * info.fps_nominal)):
            writer.write(cycle[i % len(cycle)])
    return path


def load() -> str:
    return "load {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def bench_clips(tmp: Path, n_clips: int, clip_s: float, workers: int, repeat: int) -> None:
    clips = tmp / "clips"
    for i in range(n_clips):
        # Each clip its own length so that no two are identical (identical copies would be analyzed once).
        make_video(clips / f"clip{i}.mp4", clip_s + i / 30)
    n_frames = sum(probe_video(p).n_frames_hint for p in clips.iterdir())
    print(f"{n_clips} clips of ~{clip_s:.0f} s, {n_frames} frames; {workers} workers; {repeat} rounds; {load()}")
    analyze(CLIP)  # import and first-detector costs out of the sequential timing, as a warm process would
    # "sequential" is what `twitchcam analyze` does one video after another (its inference already runs one
    # MediaPipe instance per core); "sequential 1 core" is the same bound to one core: the cost of one video on
    # one core, which a pool with one worker per core multiplies.
    modes = (("sequential", None, None), ("sequential 1 core", None, "one core"), ("local pool", None, True),
             ("pool unbound", None, False), ("dask local", "local", True))
    best: dict[str, tuple[float, float]] = {}
    for round_ in range(repeat):
        for label, scheduler, bind in modes:
            out = tmp / f"{label.replace(' ', '_')}_{round_}"
            t0, c0 = time.perf_counter(), cpu_s()
            if bind is None:
                for path in sorted(clips.iterdir()):
                    write_analysis(analyze(path), out / path.stem)
            elif bind == "one core":
                cores = os.sched_getaffinity(0)
                os.sched_setaffinity(0, {min(cores)})  # threads started from here on inherit it
                try:
                    for path in sorted(clips.iterdir()):
                        write_analysis(analyze(path), out / path.stem)
                finally:
                    os.sched_setaffinity(0, cores)
            else:
                report = run_batch([clips], out, workers=workers, scheduler=scheduler, report=False,
                                   bind_cores=bind)
                assert report.ok and report.skipped == 0, report.failed
                same = all((tmp / f"sequential_{round_}" / Path(r["video"]).stem / "events.csv").read_text()
                           == (out / r["out_dir"] / "events.csv").read_text() for r in report.rows)
                assert same, f"{label}: events differ from the sequential analysis"
            wall, cpu = time.perf_counter() - t0, cpu_s() - c0
            print(f"  round {round_ + 1} {label:<17}: {wall:6.1f} s  CPU {cpu:6.1f} s  CPU/wall {cpu / wall:.2f}  "
                  f"{load()}", flush=True)
            best[label] = min(best.get(label, (np.inf, 0.0)), (wall, cpu))
    seq_wall, seq_cpu = best["sequential"]
    one_wall = best["sequential 1 core"][0]
    print(f"best of {repeat} (events identical to sequential in every run):")
    for label, _, _ in modes:
        wall, cpu = best[label]
        print(f"  {label:<17}: {wall:6.1f} s  ({wall / n_frames * 1000:.1f} ms/frame)  speed-up "
              f"{seq_wall / wall:.2f}x  ({wall / seq_wall:.2f} of sequential; {wall / one_wall:.2f} of sequential "
              f"on 1 core)  CPU {cpu / seq_cpu:.2f}x sequential's")


def bench_long(tmp: Path, duration_s: float, workers: int, one_core: bool) -> None:
    path = make_video(tmp / f"long_{duration_s:.0f}s.mp4", duration_s)
    print(f"long video {duration_s / 60:.1f} min ({probe_video(path).n_frames_hint} frames); {workers} workers; "
          f"{load()}")
    t0, c0 = time.perf_counter(), cpu_s()
    sequential = analyze(path)
    t_seq = time.perf_counter() - t0
    seq_cpu = cpu_s() - c0
    print(f"  sequential : {t_seq:7.1f} s  (CPU {seq_cpu:.1f} s)  {load()}")
    if one_core:
        cores = os.sched_getaffinity(0)
        os.sched_setaffinity(0, {min(cores)})
        try:
            t0, c0 = time.perf_counter(), cpu_s()
            analyze(path)
            t_one = time.perf_counter() - t0
            print(f"  sequential on 1 core: {t_one:7.1f} s  (CPU {cpu_s() - c0:.1f} s)  {load()}")
        finally:
            os.sched_setaffinity(0, cores)
    t0, c0 = time.perf_counter(), cpu_s()
    landmarks = detect_landmarks_parallel(path, workers, sequential.config)
    split = analyze_landmarks(landmarks, sequential.config, source=str(path), video=probe_video(path))
    t_split = time.perf_counter() - t0
    cpu = cpu_s() - c0
    same_lm = bool(len(landmarks) == len(sequential.landmarks)
                   and (landmarks.t == sequential.landmarks.t).all()
                   and ((landmarks.xyz == sequential.landmarks.xyz)
                        | (landmarks.xyz != landmarks.xyz)).all())
    same_ev = format_events_csv(split.events) == format_events_csv(sequential.events)
    print(f"  split      : {t_split:7.1f} s  speed-up {t_seq / t_split:.2f}x  (CPU {cpu:.1f} s = "
          f"{cpu / seq_cpu:.2f}x sequential's)  landmarks identical: {same_lm}  "
          f"events identical: {same_ev} ({len(split.events)} events)  {load()}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=8)
    parser.add_argument("--clip-s", type=float, default=15.0)
    parser.add_argument("--long-s", type=float, nargs="*", default=[600.0, 120.0])
    parser.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--repeat", type=int, default=1, help="rounds of the clip benchmark; best of them")
    parser.add_argument("--skip-clips", action="store_true")
    parser.add_argument("--one-core", action="store_true", help="long videos: also time analyze bound to one core")
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory(prefix="twitchcam-bench-") as tmp:
        if not args.skip_clips:
            bench_clips(Path(tmp), args.clips, args.clip_s, args.workers, args.repeat)
        for duration_s in args.long_s:
            bench_long(Path(tmp), duration_s, args.workers, args.one_core)


if __name__ == "__main__":
    main()
