"""Accuracy of ``twitchcam analyze`` against known truth, on real faces first.

Run: python benchmarks/accuracy.py [--set tuning|holdout|all] [--real DIR] [--workers 2] [--reuse]

Three kinds of case, each analyzed with the whole ``analyze``:

- ``real``: untouched real clips of normal faces (``--real``, default ``../shared/data/real`` beside the
  repository: webcam, TV interviews, talking heads, actors' expressions; see that folder's README for where each
  comes from). Expected pattern ``none``. The two voluntary winks of ``liveportrait_d3`` (hand-labelled in its
  ``annotations/``) are true one-sided eye closures: reporting them as events is right, as a pattern it is not.
- ``injected``: the same clips with hemifacial spasm injected by ``twitchcam simulate --stretch whole``: the whole
  clip, with its own talking, blinks, expressions and head turns, played forward and back to 30 s.
- ``synthetic``: the earlier suite, twitches injected into the resting stretch of a short clip or into animated
  photos from ``tests/data``; a sanity check of the simulator, not of real faces.

The real clips are split by clip into ``tuning`` (what the defaults were chosen on) and ``holdout`` (never looked
at while tuning): no clip is in both, untouched or injected. Without the real folder those cases are skipped with
a message. Printed per case and per kind of case:

- pattern accuracy, side accuracy (cases whose truth has a side);
- precision, recall and F1 of unilateral events: a detected and a true event match when they have the same side
  and region and their onsets are within 0.25 s, one to one (optimal assignment; :mod:`twitchcam.scoring`, the
  rules ``twitchcam review-stats`` uses too);
- false unilateral events per minute: unmatched detected one-sided events on the cases without injected twitches;
- wall time of ``analyze`` per video-second.

Videos and their landmarks are cached in ``benchmarks/_work/`` (git-ignored); ``--reuse`` re-scores cached
landmarks without re-running MediaPipe, for quick experiments with settings (``--config FILE``).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from twitchcam.regions import REGIONS

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data"
REAL = REPO.parent / "shared" / "data" / "real"
WORK = REPO / "benchmarks" / "_work"
DURATION_S = 30.0
#: Length of an injected real case, s: the clip is played forward and back to fill it.
INJECTED_S = 30.0

#: The real clips, split by clip. Each set has a webcam, TV footage, a talking head and actors' expressions.
TUNING_CLIPS = ("openface_default.wmv", "openface_video14.wmv", "ytf_tony_blair.avi", "sadtalker_katiehill.mp4",
                "liveportrait_d3.mp4", "liveportrait_d9.mp4", "retalking_1.mp4")
HOLDOUT_CLIPS = ("openface_changelighting.wmv", "ytf_bill_gates.avi", "ytf_gloria_estefan.avi", "retalking_2.mp4",
                 "liveportrait_d12.mp4", "liveportrait_d18.mp4")
#: Clips with deliberate one-sided movements of their own: not used as footage for injected cases, whose truth
#: could not count them.
NO_INJECTION = ("liveportrait_d3.mp4",)


@dataclass(frozen=True)
class Case:
    """One benchmark video: a simulation recipe, or an untouched clip (``generator`` None).

    ``kind`` is ``synthetic`` (source in ``tests/data``), ``real`` or ``injected`` (source in the real folder).
    """

    name: str
    source: str
    generator: str | None
    side: str = "left"
    amplitude: float = 1.0
    seed: int = 0
    duration_s: float = DURATION_S
    truth_pattern: str = "none"
    kind: str = "synthetic"


def suite(seed_base: int) -> list[Case]:
    """The synthetic cases of one set; ``seed_base`` separates the tuning and hold-out sets."""
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


def real_suite(clips: tuple[str, ...], seed_base: int, repeats: int = 1) -> list[Case]:
    """Untouched and injected cases of real clips: each clip as it is, and with left and right HFS injected.

    ``repeats`` > 1 injects each clip that many times, with other seeds (other twitch times, amplitudes and
    intervals on the same footage; named ``..._r1``, ``..._r2``): more cases to tune on without another clip.
    """
    cases = []
    for k, clip in enumerate(clips):
        stem = Path(clip).stem
        cases.append(Case(f"real_{stem}", clip, None, kind="real"))
        if clip in NO_INJECTION:
            continue
        for r in range(repeats):
            for j, side in enumerate(("left", "right")):
                cases.append(Case(f"inj_{stem}_hfs_{side}" + (f"_r{r}" if r else ""), clip, "hfs", side,
                                  seed=seed_base + 100 * r + 2 * k + j, duration_s=INJECTED_S, kind="injected"))
    return cases


#: Untouched clips of tests/data: no twitch. In noface_face.mov the face is in view for only ~43 % of the clip,
#: which is ``insufficient_data`` by the default rule.
DATA_CASES = [Case("data_single_face", "single_face.mp4", None),
              Case("data_noface_face", "noface_face.mov", None, truth_pattern="insufficient_data")]


def sets(real_dir: Path | None, repeats: int = 1) -> dict[str, list[Case]]:
    """The tuning and hold-out sets; without ``real_dir`` only their synthetic cases.

    ``repeats`` injects the tuning clips that many times (:func:`real_suite`); the hold-out always once.
    """
    real = real_dir is not None
    return {"tuning": suite(0) + DATA_CASES + (real_suite(TUNING_CLIPS, 2000, repeats) if real else []),
            "holdout": suite(1000) + (real_suite(HOLDOUT_CLIPS, 3000) if real else [])}


def source_path(case: Case, real_dir: Path | None) -> Path:
    return (DATA if case.kind == "synthetic" else real_dir) / case.source


def prepare(case: Case, real_dir: Path | None) -> tuple[Path, Path | None]:
    """The case's video and truth folder, simulating it unless cached."""
    if case.generator is None:
        return source_path(case, real_dir), None
    from twitchcam.simulate import simulate

    out = WORK / "videos"
    video = out / f"{case.name}.mp4"
    truth = out / f"{case.name}_truth"
    if not (video.exists() and (truth / "summary.json").exists()):
        simulate(source_path(case, real_dir), out, generator=case.generator, side=case.side,
                 duration_s=case.duration_s, seed=case.seed, amplitude=case.amplitude, name=case.name,
                 stretch="rest" if case.kind == "synthetic" else "whole")
    return video, truth


def labelled_winks(case: Case, real_dir: Path, t: np.ndarray):
    """The hand-labelled one-sided eye closures of an untouched real clip, as truth events (none for most clips).

    ``annotations/<stem>.events_manual.csv`` gives 0-based decoded frame indices and the subject's side; their
    times are the analysis's own frame times.
    """
    from twitchcam.events import Events

    path = real_dir / "annotations" / f"{Path(case.source).stem}.events_manual.csv"
    if not path.exists():
        return Events.empty()
    rows = [r for r in csv.DictReader(line for line in path.read_text().splitlines() if not line.startswith("#"))
            if r["type"] == "wink"]
    side = [r["side_subject"].removeprefix("subject-") for r in rows]
    start, end = (np.array([int(r[k]) for r in rows], int) for k in ("start", "end"))
    return Events.from_columns(t[start], t[end], side, ["periocular"] * len(rows), ["clonic"] * len(rows),
                               [1.0] * len(rows), start, end)


def with_winks(events, winks) -> np.ndarray:
    """Mouth and brow events of a wink's side during the wink: the wink's own one-sided movement, not false.

    Returns
    -------
    ndarray, shape (n_events,), bool
    """
    if not len(winks):
        return np.zeros(len(events), bool)
    during = ((events.side[:, None] == winks.side[None, :]) & (events.onset_s[:, None] <= winks.offset_s[None, :])
              & (events.offset_s[:, None] >= winks.onset_s[None, :])).any(axis=1)
    return during & (events.region != "periocular")


def run_case(case: Case, reuse: bool, config_path: str | None, real_dir: Path | None) -> dict:
    """Simulate (or reuse), analyze and score one case; returns a JSON-ready row."""
    from twitchcam.config import Config
    from twitchcam.events import Events
    from twitchcam.folder import read_events_csv
    from twitchcam.landmarks import Landmarks
    from twitchcam.pipeline import analyze, analyze_landmarks
    from twitchcam.scoring import match_events

    cfg = Config.from_json(config_path) if config_path else Config()
    video, truth_dir = prepare(case, real_dir)
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
    predicted = analysis.events
    if truth_dir is None:
        truth_events = labelled_winks(case, real_dir, analysis.landmarks.t) if case.kind == "real" else Events.empty()
        truth_pattern, truth_side = case.truth_pattern, None
        predicted = predicted[~with_winks(predicted, truth_events)]
    else:
        truth_events = read_events_csv(truth_dir / "events.csv")
        summary = json.loads((truth_dir / "summary.json").read_text())
        truth_pattern, truth_side = summary["pattern"], summary["side"]
    match = match_events(predicted, truth_events)
    tp, n_pred, n_true = match.counts()
    duration = analysis.summary.video["duration_s"]
    return {
        "case": case.name, "kind": case.kind, "truth_pattern": truth_pattern, "pattern": analysis.pattern,
        "truth_side": truth_side, "side": analysis.side, "tp": tp, "n_pred": n_pred, "n_true": n_true,
        "by_region": {region: match.counts(region) for region in REGIONS},
        "duration_s": duration, "wall_s": wall, "negative": case.generator in (None, "normal", "sway"),
        "criteria": analysis.summary.criteria,
        "metrics": {k: analysis.summary.metrics.get(k) for k in ("laterality_index", "interval_cv",
                                                                  "eye_mouth_coupling")},
        "confidence": analysis.summary.to_dict().get("confidence"),
    }


def totals(rows: list[dict]) -> dict:
    """Pattern and side accuracy, unilateral-event precision, recall and F1, false events per minute."""
    from twitchcam.scoring import detection_score

    pooled = detection_score(*(sum(r[key] for r in rows) for key in ("tp", "n_pred", "n_true")))
    # Per region where the rows count per region (the benchmark's do; review-stats' rows count only in all).
    regional = all("by_region" in r for r in rows)
    by_region = {region: detection_score(*(sum(r["by_region"][region][k] for r in rows) for k in range(3)))
                 for region in REGIONS} if regional else {}
    sided = [r for r in rows if r["truth_side"]]
    neg = [r for r in rows if r["negative"]]
    neg_minutes = sum(r["duration_s"] for r in neg) / 60
    timed = [r for r in rows if r["wall_s"]]
    return {
        "cases": len(rows),
        "pattern_accuracy": float(np.mean([r["pattern"] == r["truth_pattern"] for r in rows])),
        "side_accuracy": float(np.mean([r["side"] == r["truth_side"] for r in sided])) if sided else float("nan"),
        "precision": pooled.precision, "recall": pooled.recall, "f1": pooled.f1,
        "by_region": {region: {"precision": d.precision, "recall": d.recall, "f1": d.f1}
                      for region, d in by_region.items()},
        # Unmatched one-sided events on cases without injected twitches (the labelled winks are matched).
        "false_unilateral_per_min": (sum(r["n_pred"] - r["tp"] for r in neg) / neg_minutes
                                     if neg else float("nan")),
        "negative_minutes": neg_minutes,
        "wall_s_per_video_s": (sum(r["wall_s"] for r in timed) / sum(r["duration_s"] for r in timed)
                               if timed else float("nan")),
    }


def report(name: str, rows: list[dict]) -> dict:
    """Print one set's table and totals per kind of case; return the totals."""
    print(f"\n== {name} set ({len(rows)} cases) ==")
    print(f"{'case':<34} {'truth':<17} {'found':<17} {'side':<12} {'TP/pred/true':>13} {'conf':<10} {'s/video-s':>9}")
    for r in rows:
        side = f"{r['truth_side'] or '-'}/{r['side'] or '-'}"
        wall = f"{r['wall_s'] / r['duration_s']:.2f}" if r["wall_s"] else "cached"
        mark = "" if r["pattern"] == r["truth_pattern"] else "  <-- pattern"
        conf = (r.get("confidence") or {}).get("level", "-")
        print(f"{r['case']:<34} {r['truth_pattern']:<17} {r['pattern']:<17} {side:<12} "
              f"{r['tp']:>4}/{r['n_pred']:>3}/{r['n_true']:>3} {conf:<10} {wall:>9}{mark}")
    out = {}
    for kind in ("real", "injected", "synthetic"):
        mine = [r for r in rows if r["kind"] == kind]
        if not mine:
            continue
        t = out[kind] = totals(mine)
        print(f"{kind:>9}: {t['cases']} cases | pattern accuracy {t['pattern_accuracy']:.2f} | "
              f"side accuracy {t['side_accuracy']:.2f} | unilateral events P {t['precision']:.2f} "
              f"R {t['recall']:.2f} F1 {t['f1']:.2f} | false unilateral events/min {t['false_unilateral_per_min']:.2f}"
              f" over {t['negative_minutes']:.1f} min | wall s per video-s {t['wall_s_per_video_s']:.2f}")
        if kind != "real" and t["by_region"]:
            print(" " * 11 + " | ".join(f"{region} P {d['precision']:.2f} R {d['recall']:.2f} F1 {d['f1']:.2f}"
                                        for region, d in t["by_region"].items()))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", choices=("tuning", "holdout", "all"), default="all")
    parser.add_argument("--real", type=Path, default=REAL,
                        help="folder of the real clips and their annotations (default: %(default)s)")
    parser.add_argument("--workers", type=int, default=2, help="parallel processes (default: 2)")
    parser.add_argument("--reuse", action="store_true", help="re-score cached landmarks (no MediaPipe)")
    parser.add_argument("--config", help="JSON settings to evaluate instead of the defaults")
    parser.add_argument("--cases", help="comma-separated substrings: run only matching cases")
    parser.add_argument("--kinds", default="real,injected,synthetic",
                        help="comma-separated kinds of case to run (default: %(default)s)")
    parser.add_argument("--json", help="also write the results as JSON to this file")
    parser.add_argument("--repeats", type=int, default=1,
                        help="inject each tuning clip this many times, with other seeds (default: 1)")
    args = parser.parse_args()
    real_dir = args.real if all((args.real / clip).exists() for clip in TUNING_CLIPS + HOLDOUT_CLIPS) else None
    if real_dir is None:
        print(f"real clips not found in {args.real}: the real and injected cases are skipped, so these numbers "
              "measure the simulator only (get the clips from the sources listed in that folder's README and "
              "pass --real DIR)", file=sys.stderr)
    names = ("tuning", "holdout") if args.set == "all" else (args.set,)
    kinds = set(args.kinds.split(","))
    results = {}
    t0 = time.perf_counter()
    for set_name in names:
        cases = [c for c in sets(real_dir, args.repeats)[set_name] if c.kind in kinds]
        if args.cases:
            cases = [c for c in cases if any(s in c.name for s in args.cases.split(","))]
        n = len(cases)
        with ProcessPoolExecutor(max_workers=args.workers) as pool:
            rows = list(pool.map(run_case, cases, [args.reuse] * n, [args.config] * n, [real_dir] * n))
        results[set_name] = {"cases": rows, "totals": report(set_name, rows)}
    print(f"\ntotal wall time {time.perf_counter() - t0:.0f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
