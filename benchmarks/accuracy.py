"""Accuracy of ``twitchcam analyze`` against known truth: twitches injected into real face footage.

Run: python benchmarks/accuracy.py [--set tuning|holdout|all] [--workers 2] [--reuse]

Builds a suite of cases from the real footage in ``tests/data`` with :func:`twitchcam.simulate.simulate` (HFS left
and right, eye only, mouth only, rhythmic, blepharospasm-like, normal, head sway, low-amplitude HFS at ~30 %
closure) plus untouched real clips, runs the whole ``analyze`` on each video, and prints per case and overall:

- pattern accuracy, side accuracy (cases whose truth has a side);
- precision, recall and F1 of unilateral events: a detected and a true event match when they have the same side
  and region and their onsets are within 0.25 s, one to one (optimal assignment);
- false unilateral events per minute on the negative cases (truth without unilateral events);
- wall time of ``analyze`` per video-second.

Two sets use disjoint seeds. ``tuning`` is what the defaults in :class:`twitchcam.config.Config` were chosen on;
``holdout`` was never looked at while tuning, so its numbers are the honest ones.

Videos and their landmarks are cached in ``benchmarks/_work/`` (git-ignored); ``--reuse`` re-scores cached
landmarks without re-running MediaPipe, for quick experiments with settings (``--config FILE``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data"
WORK = REPO / "benchmarks" / "_work"
ONSET_TOLERANCE_S = 0.25
DURATION_S = 30.0


@dataclass(frozen=True)
class Case:
    """One benchmark video: a simulation recipe, or an untouched real clip (``generator`` None)."""

    name: str
    source: str
    generator: str | None
    side: str = "left"
    amplitude: float = 1.0
    seed: int = 0
    duration_s: float = DURATION_S
    truth_pattern: str = "none"


def suite(seed_base: int) -> list[Case]:
    """The cases of one set; ``seed_base`` separates the tuning and hold-out sets."""
    s = seed_base
    return [
        Case(f"hfs_left_video_{s}", "single_face.mp4", "hfs", "left", seed=s),
        Case(f"hfs_right_video_{s}", "single_face.mp4", "hfs", "right", seed=s + 1),
        Case(f"hfs_left_photo_{s}", "astronaut.jpg", "hfs", "left", seed=s + 2),
        Case(f"hfs_right_photo_{s}", "0-f15-hao-ph.jpg", "hfs", "right", seed=s + 3),
        Case(f"hfs_low30_left_{s}", "single_face.mp4", "hfs", "left", amplitude=0.35, seed=s + 4),
        Case(f"hfs_low30_right_{s}", "single_face.jpg", "hfs", "right", amplitude=0.35, seed=s + 5),
        Case(f"eye_only_right_{s}", "single_face.mp4", "eye_only", "right", seed=s + 6),
        Case(f"mouth_only_left_{s}", "0-f1-su-ph.jpg", "mouth_only", "left", seed=s + 7),
        Case(f"rhythmic_left_{s}", "single_face.jpg", "rhythmic", "left", seed=s + 8),
        Case(f"blepharospasm_{s}", "single_face.mp4", "blepharospasm", seed=s + 9),
        Case(f"normal_video_{s}", "single_face.mp4", "normal", seed=s + 10),
        Case(f"normal_photo_{s}", "15-f13-anc-ph.jpg", "normal", seed=s + 11),
        Case(f"sway_photo_{s}", "astronaut.jpg", "sway", seed=s + 12),
        Case(f"sway_video_{s}", "single_face.mp4", "sway", seed=s + 13),
    ]


#: Untouched real clips of a normal face: no twitch. In noface_face.mov the face is in view for only ~43 % of the
#: clip, which is ``insufficient_data`` by the default rule.
REAL_CASES = [Case("real_single_face", "single_face.mp4", None),
              Case("real_noface_face", "noface_face.mov", None, truth_pattern="insufficient_data")]

SETS = {"tuning": suite(0) + REAL_CASES, "holdout": suite(1000)}


def prepare(case: Case) -> tuple[Path, Path | None]:
    """The case's video and truth folder, simulating it unless cached."""
    if case.generator is None:
        return DATA / case.source, None
    from twitchcam.simulate import simulate

    out = WORK / "videos"
    video = out / f"{case.name}.mp4"
    truth = out / f"{case.name}_truth"
    if not (video.exists() and (truth / "summary.json").exists()):
        simulate(DATA / case.source, out, generator=case.generator, side=case.side, duration_s=case.duration_s,
                 seed=case.seed, amplitude=case.amplitude, name=case.name)
    return video, truth


def run_case(case: Case, reuse: bool, config_path: str | None) -> dict:
    """Simulate (or reuse), analyze and score one case; returns a JSON-ready row."""
    from twitchcam.config import Config
    from twitchcam.events import Events
    from twitchcam.landmarks import Landmarks
    from twitchcam.outputs import read_events_csv
    from twitchcam.pipeline import analyze, analyze_landmarks

    cfg = Config.from_json(config_path) if config_path else Config()
    video, truth_dir = prepare(case)
    cache = WORK / "landmarks" / f"{case.name}_{cfg.running_mode}.npz"
    wall = None
    if reuse and cache.exists():
        analysis = analyze_landmarks(Landmarks.load(cache), cfg, source=str(video))
    else:
        t0 = time.perf_counter()
        analysis = analyze(video, cfg)
        wall = time.perf_counter() - t0
        cache.parent.mkdir(parents=True, exist_ok=True)
        analysis.landmarks.save(cache)
    if truth_dir is None:
        truth_events, truth_pattern, truth_side = Events.empty(), case.truth_pattern, None
    else:
        truth_events = read_events_csv(truth_dir / "events.csv")
        summary = json.loads((truth_dir / "summary.json").read_text())
        truth_pattern, truth_side = summary["pattern"], summary["side"]
    tp, n_pred, n_true = match_unilateral(analysis.events, truth_events)
    duration = analysis.summary.video["duration_s"]
    return {
        "case": case.name, "truth_pattern": truth_pattern, "pattern": analysis.pattern,
        "truth_side": truth_side, "side": analysis.side, "tp": tp, "n_pred": n_pred, "n_true": n_true,
        "duration_s": duration, "wall_s": wall, "negative": n_true == 0,
        "criteria": analysis.summary.criteria,
        "metrics": {k: analysis.summary.metrics[k] for k in ("laterality_index", "interval_cv", "eye_mouth_coupling")},
    }


def match_unilateral(pred, truth) -> tuple[int, int, int]:
    """One-to-one matching of unilateral events (same side and region, onsets within the tolerance).

    Returns
    -------
    true_positives, n_predicted, n_true : int
    """
    p = pred[np.isin(pred.side, ("left", "right"))]
    t = truth[np.isin(truth.side, ("left", "right"))]
    if len(p) == 0 or len(t) == 0:
        return 0, len(p), len(t)
    same = (p.side[:, None] == t.side[None, :]) & (p.region[:, None] == t.region[None, :])
    gap = np.abs(p.onset_s[:, None] - t.onset_s[None, :])
    ok = same & (gap <= ONSET_TOLERANCE_S)
    cost = np.where(ok, gap, 1e6)
    rows, cols = linear_sum_assignment(cost)
    return int(ok[rows, cols].sum()), len(p), len(t)


def report(name: str, rows: list[dict]) -> dict:
    """Print one set's table and totals; return the totals."""
    print(f"\n== {name} set ({len(rows)} cases) ==")
    print(f"{'case':<24} {'truth':<18} {'found':<18} {'side':<12} {'TP/pred/true':>13} {'s/video-s':>9}")
    for r in rows:
        side = f"{r['truth_side'] or '-'}/{r['side'] or '-'}"
        wall = f"{r['wall_s'] / r['duration_s']:.2f}" if r["wall_s"] else "cached"
        mark = "" if r["pattern"] == r["truth_pattern"] else "  <-- pattern"
        print(f"{r['case']:<24} {r['truth_pattern']:<18} {r['pattern']:<18} {side:<12} "
              f"{r['tp']:>4}/{r['n_pred']:>3}/{r['n_true']:>3} {wall:>9}{mark}")
    tp = sum(r["tp"] for r in rows)
    n_pred = sum(r["n_pred"] for r in rows)
    n_true = sum(r["n_true"] for r in rows)
    precision = tp / n_pred if n_pred else float("nan")
    recall = tp / n_true if n_true else float("nan")
    f1 = 2 * precision * recall / (precision + recall) if tp else 0.0
    sided = [r for r in rows if r["truth_side"]]
    neg = [r for r in rows if r["negative"]]
    neg_minutes = sum(r["duration_s"] for r in neg) / 60
    timed = [r for r in rows if r["wall_s"]]
    totals = {
        "pattern_accuracy": np.mean([r["pattern"] == r["truth_pattern"] for r in rows]),
        "side_accuracy": np.mean([r["side"] == r["truth_side"] for r in sided]) if sided else float("nan"),
        "precision": precision, "recall": recall, "f1": f1,
        "false_unilateral_per_min": sum(r["n_pred"] for r in neg) / neg_minutes if neg else float("nan"),
        "wall_s_per_video_s": (sum(r["wall_s"] for r in timed) / sum(r["duration_s"] for r in timed)
                               if timed else float("nan")),
    }
    print(f"pattern accuracy {totals['pattern_accuracy']:.2f} | side accuracy {totals['side_accuracy']:.2f} | "
          f"unilateral events P {precision:.2f} R {recall:.2f} F1 {f1:.2f} | "
          f"false unilateral events/min on negatives {totals['false_unilateral_per_min']:.2f} | "
          f"wall s per video-s {totals['wall_s_per_video_s']:.2f}")
    return totals


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", choices=("tuning", "holdout", "all"), default="all")
    parser.add_argument("--workers", type=int, default=2, help="parallel processes (default: 2)")
    parser.add_argument("--reuse", action="store_true", help="re-score cached landmarks (no MediaPipe)")
    parser.add_argument("--config", help="JSON settings to evaluate instead of the defaults")
    parser.add_argument("--cases", help="comma-separated substrings: run only matching cases")
    parser.add_argument("--json", help="also write the results as JSON to this file")
    args = parser.parse_args()
    sets = ("tuning", "holdout") if args.set == "all" else (args.set,)
    results = {}
    t0 = time.perf_counter()
    for set_name in sets:
        cases = SETS[set_name]
        if args.cases:
            cases = [c for c in cases if any(s in c.name for s in args.cases.split(","))]
        with ProcessPoolExecutor(max_workers=args.workers) as pool:
            rows = list(pool.map(run_case, cases, [args.reuse] * len(cases), [args.config] * len(cases)))
        results[set_name] = {"cases": rows, "totals": report(set_name, rows)}
    print(f"\ntotal wall time {time.perf_counter() - t0:.0f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
