"""End-to-end speed of ``twitchcam analyze`` next to its floor, decode + landmark inference alone, in one run.

Run: python benchmarks/analyze_speed.py [VIDEO] [--seconds 20] [--repeat 2]

Without VIDEO, a 640x360 clip is made by looping tests/data/single_face.mp4 (forward and backward) to --seconds.
Prints video-seconds analyzed per wall-second for: decoding alone; decode + inference run one after the other in
one thread (the floor the issue names); and the whole ``analyze`` (decoding overlapped with inference in a
background thread, then signals, events and pattern).
"""

import argparse
import tempfile
import time
from pathlib import Path

from twitchcam.config import Config
from twitchcam.landmarker import LandmarkDetector
from twitchcam.pipeline import analyze
from twitchcam.video import VideoWriter, iter_frames

REPO = Path(__file__).resolve().parents[1]


def make_clip(path: Path, seconds: float) -> Path:
    frames = [f.image for f in iter_frames(REPO / "tests" / "data" / "single_face.mp4")]
    loop = frames + frames[::-1]
    n = int(seconds * 30)
    with VideoWriter(path, 30, (frames[0].shape[1], frames[0].shape[0])) as writer:
        for i in range(n):
            writer.write(loop[i % len(loop)])
    return path


def decode_only(path):
    import cv2

    cap = cv2.VideoCapture(str(path))
    n = 0
    while cap.read()[0]:
        n += 1
    cap.release()
    return n


def decode_and_infer(path, detector):
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


def timed(fn, repeat):
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("video", nargs="?")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--running-mode", default="image", choices=("image", "video"))
    args = parser.parse_args()
    cfg = Config(running_mode=args.running_mode)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(args.video) if args.video else make_clip(Path(tmp) / "clip.mp4", args.seconds)
        frames = list(iter_frames(path))
        duration = frames[-1].t - frames[0].t + (frames[1].t - frames[0].t)
        size = frames[0].image.shape[1::-1]
        del frames
        t_decode = timed(lambda: decode_only(path), args.repeat)
        with LandmarkDetector(cfg) as detector:
            t_floor = timed(lambda: decode_and_infer(path, detector), args.repeat)
        t_analyze = timed(lambda: analyze(path, cfg), args.repeat)
    print(f"clip: {size[0]}x{size[1]}, {duration:.1f} s; running mode {cfg.running_mode}")
    for name, t in (("decode only", t_decode), ("floor: decode + inference", t_floor),
                    ("twitchcam analyze", t_analyze)):
        print(f"{name:>26}: {t:7.2f} s  {duration / t:6.2f} video-s per wall-s  "
              f"{t / (duration * 30) * 1000:6.2f} ms/frame")
    print(f"analyze / floor: {t_analyze / t_floor:.3f}")


if __name__ == "__main__":
    main()
