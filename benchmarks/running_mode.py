"""Why IMAGE running mode: measured twitch amplitude and cost in MediaPipe's IMAGE vs VIDEO mode.

Run: python benchmarks/running_mode.py [--seconds 20]

Simulates a left hemifacial spasm on the real clip tests/data/single_face.mp4 (brief clonic eyelid twitches,
80-600 ms), extracts landmarks in both running modes, and prints for each mode the median measured peak eye
closure of the twitching eye at the true events (as a fraction of the requested closure), the number of true
unilateral events detected, the landmark cost per frame, and how far the two modes' landmarks differ. VIDEO mode
is documented to track landmarks between frames and smooth them, which would blunt brief twitches; with the
mediapipe release installed here (1.2.x) the two modes were measured to give identical landmarks.
"""

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from twitchcam.config import Config
from twitchcam.folder import read_events_csv
from twitchcam.landmarker import detect_landmarks
from twitchcam.pipeline import analyze_landmarks
from twitchcam.simulate import simulate
from twitchcam.video import iter_frames

REPO = Path(__file__).resolve().parents[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        sim = simulate(REPO / "tests" / "data" / "single_face.mp4", tmp, generator="eye_only", side="left",
                       duration_s=args.seconds, seed=args.seed)
        truth = read_events_csv(Path(tmp) / f"{sim.video.stem}_truth" / "events.csv")
        twitches = truth[(truth.side == "left") & (truth.region == "periocular")]
        landmarks = {}
        for mode in ("image", "video"):
            cfg = Config(running_mode=mode)
            t0 = time.perf_counter()
            lm = detect_landmarks(iter_frames(sim.video), cfg)
            cost_ms = (time.perf_counter() - t0) / len(lm) * 1000
            landmarks[mode] = lm
            analysis = analyze_landmarks(lm, cfg)
            closure = analysis.signals.eye_closure[:, 0]
            ratios = []
            for on, off, req in zip(twitches.onset_s, twitches.offset_s, twitches.peak):
                window = (lm.t >= on - 0.05) & (lm.t <= off + 0.05)
                ratios.append(np.nanmax(closure[window]) / req)
            found = analysis.events[(analysis.events.side == "left") & (analysis.events.region == "periocular")]
            hits = sum(np.any(np.abs(found.onset_s - on) <= 0.25) for on in twitches.onset_s)
            durations = twitches.offset_s - twitches.onset_s
            print(f"{mode:>5} mode: measured/requested closure median {np.median(ratios):.2f} "
                  f"(brief <0.3 s: {np.median(np.array(ratios)[durations < 0.3]):.2f}); "
                  f"detected {hits}/{len(twitches)} twitches; {cost_ms:.1f} ms/frame")
        diff = np.abs(landmarks["image"].xyz - landmarks["video"].xyz)
        print(f"landmarks IMAGE vs VIDEO: max difference {np.nanmax(diff):.3f} px, median {np.nanmedian(diff):.3f} px")


if __name__ == "__main__":
    main()
