"""End-to-end speed of ``twitchcam analyze`` next to its floor, and what the report adds, measured in one run.

Run: python benchmarks/analyze_speed.py [VIDEO] [--seconds 20] [--rounds 3]

Without VIDEO, a 640x360 clip is made by looping tests/data/single_face.mp4 (forward and backward) to --seconds.
Each round runs, one after the other and in a rotating order so that a change of load hits all alike:

- ``floor``: decoding and VIDEO-mode inference one after the other in one thread, one MediaPipe instance, the
  model loaded beforehand (issue 12's floor; twitchcam's own detector, so a cheaper inference lowers it too);
- ``analyze``: ``twitchcam.pipeline.analyze`` as ``twitchcam analyze`` calls it (every core), model loading,
  signals, events and pattern included, no files written;
- ``one instance``: the same with ``inference_threads=1``, the reference "never slower than one instance";
- ``N processes``: the landmarks from one segment process per core (``twitchcam.parallel``, what ``analyze -j N``
  does with a video of 40 s or more), then the same analysis;
- ``report``: ``render_report`` of the folder the analysis was written to (the figures and the HTML).

For each it prints the median wall time, CPU time (this process and its children), CPU per frame, and how many
cores OTHER processes kept busy meanwhile (from /proc/stat, less this process's own use): near 0 is an idle
machine, 2 on a 2-core machine means every core was contended. The ratios are medians of the per-round ratios.
The goal (issue 12): analyze / floor <= 0.55 on 2 idle cores with CPU / floor <= 1, and analyze / one instance
<= 1 on a loaded machine.
"""

import argparse
import os
import statistics
import tempfile
from pathlib import Path

from machine import measure

from twitchcam.config import Config, available_cores
from twitchcam.folder import write_analysis
from twitchcam.landmarker import LandmarkDetector
from twitchcam.parallel import detect_landmarks_parallel
from twitchcam.pipeline import analyze, analyze_landmarks
from twitchcam.report import render_report
from twitchcam.video import VideoWriter, iter_frames, probe_video

REPO = Path(__file__).resolve().parents[1]


def make_clip(path: Path, seconds: float) -> Path:
    frames = [f.image for f in iter_frames(REPO / "tests" / "data" / "single_face.mp4")]
    loop = frames + frames[::-1]
    n = int(seconds * 30)
    with VideoWriter(path, 30, (frames[0].shape[1], frames[0].shape[0])) as writer:
        for i in range(n):
            writer.write(loop[i % len(loop)])
    return path


def decode_and_infer(path, detector) -> int:
    import cv2

    cap = cv2.VideoCapture(str(path))
    n = 0
    while True:
        ok, image = cap.read()
        if not ok:
            break
        detector.detect(image, cap.get(cv2.CAP_PROP_POS_MSEC) / 1000)
        n += 1
    cap.release()
    return n


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("video", nargs="?")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    cores = available_cores()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(args.video) if args.video else make_clip(Path(tmp) / "clip.mp4", args.seconds)
        info = probe_video(path)
        n_frames = sum(1 for _ in iter_frames(path))
        out = Path(tmp) / "out"

        def floor():
            # The model is loaded outside the timing: the floor is decoding and inference alone.
            with LandmarkDetector(Config(running_mode="video")) as detector:
                return measure(lambda: decode_and_infer(path, detector))

        def analyze_all():
            analyses = []
            timing = measure(lambda: analyses.append(analyze(path, workers=cores)))
            write_analysis(analyses[0], out)
            results["report"].append(measure(lambda: render_report(out)))
            return timing

        def analyze_one():
            return measure(lambda: analyze(path, Config(inference_threads=1), workers=1))

        def analyze_processes():
            return measure(lambda: analyze_landmarks(detect_landmarks_parallel(path, cores, min_segment_s=1.0)))

        runs = {"floor": floor, "analyze": analyze_all, "one instance": analyze_one,
                f"{cores} processes": analyze_processes}
        results = {name: [] for name in (*runs, "report")}
        load_before = os.getloadavg()
        for r in range(args.rounds):
            names = list(runs)
            for name in names[r % len(names):] + names[:r % len(names)]:
                results[name].append(runs[name]())
        load_after = os.getloadavg()

    def median(name, key):
        return statistics.median(m[key] for m in results[name])

    def ratio(a, b, key="wall"):
        return statistics.median(x[key] / y[key] for x, y in zip(results[a], results[b]))

    print(f"clip: {info.width}x{info.height}, {n_frames} frames ({n_frames / (info.fps_nominal or 30):.1f} s); "
          f"{cores} cores; {args.rounds} rounds; load average (1 min) {load_before[0]:.2f} before, "
          f"{load_after[0]:.2f} after")
    print(f"{'':>14} {'wall s':>8} {'CPU s':>8} {'CPU ms/frame':>13} {'other cores busy':>17}")
    for name in results:
        print(f"{name:>14} {median(name, 'wall'):8.2f} {median(name, 'cpu'):8.2f} "
              f"{median(name, 'cpu') / n_frames * 1000:13.2f} {median(name, 'others'):17.2f}")
    print(f"analyze / floor:        wall {ratio('analyze', 'floor'):.3f}   CPU {ratio('analyze', 'floor', 'cpu'):.3f}"
          "   (goal on idle cores: wall <= 0.55, CPU <= 1)")
    print(f"analyze / one instance: wall {ratio('analyze', 'one instance'):.3f}"
          "   (goal on a loaded machine: <= 1)")
    split = f"{cores} processes"
    print(f"analyze / {split}:    wall {ratio('analyze', split):.3f}   CPU {ratio('analyze', split, 'cpu'):.3f}"
          "   (below 1: threads in one process do better)")
    print(f"report: {median('report', 'wall'):.2f} s wall, {median('report', 'cpu'):.2f} s CPU "
          "(goal: well under 0.5 s)")


if __name__ == "__main__":
    main()
