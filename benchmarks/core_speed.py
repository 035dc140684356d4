"""Throughput of the numpy core (landmarks -> signals -> events -> pattern) on 10 minutes of 30 fps landmarks.

Run: python benchmarks/core_speed.py [--frames 18000] [--repeat 7]

Prints frames per second per stage and for the whole core (best of --repeat runs), on a generated HFS course with
head motion and landmark jitter, so every stage does its full work.
"""

import argparse
import time

from twitchcam.config import Config
from twitchcam.courses import regular_course
from twitchcam.events import detect_events
from twitchcam.pattern import classify_pattern
from twitchcam.pipeline import analyze_landmarks
from twitchcam.signals import compute_signals
from twitchcam.testing import as_twitches, make_landmarks


def best_of(fn, repeat):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=18000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    fps = 30.0
    duration = args.frames / fps
    lm = make_landmarks(duration, fps, as_twitches(regular_course("left", duration, seed=0)),
                        head_yaw_deg=15, head_roll_deg=5, zoom=0.1, noise_px=0.3)
    cfg = Config()
    t_sig, signals = best_of(lambda: compute_signals(lm, cfg), args.repeat)
    t_ev, events = best_of(lambda: detect_events(signals, cfg), args.repeat)
    t_pat, summary = best_of(lambda: classify_pattern(events, signals, cfg), args.repeat)
    total, _ = best_of(lambda: _core(lm, cfg), args.repeat)
    n = len(lm)
    print(f"frames: {n} ({duration / 60:.1f} min at {fps:.0f} fps); events: {len(events)}; "
          f"pattern: {summary.pattern} ({summary.side})")
    for name, t in (("signals", t_sig), ("events", t_ev), ("pattern", t_pat), ("core total", total)):
        print(f"{name:>11}: {t * 1000:8.1f} ms  {n / t:12,.0f} frames/s")


def _core(lm, cfg):
    # What `analyze` runs after the landmarks (the local asymmetry once, for the events and the confidence).
    return analyze_landmarks(lm, cfg)


if __name__ == "__main__":
    main()
