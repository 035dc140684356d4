"""Live mode: frame rate, drops, latencies, core cost and CPU use; streaming core cost; live/offline agreement.

Run: python benchmarks/live.py [--seconds 120] [--sizes 640x480,1280x720] [--no-window]
                               [--core | --agreement | --budget]

``session`` (default): a file paced at 30 fps (``twitchcam live --source FILE --realtime``) for --seconds at each
size, with the window (on $DISPLAY, or on an Xvfb started here when there is none and Xvfb is installed). The input
is sample_videos/hfs_left.mp4 (simulated left hemifacial spasm, 640x360) looped forward and backward and scaled
and centre-cropped to each size, written as Motion-JPEG (what a webcam delivers). Prints, per size: frames
captured and dropped, capture-to-display and capture-to-event latency (median, p95), landmark time per frame,
streaming core cost per frame (wall and thread CPU time), and CPU use of the process (100 % = one core).

``--core``: cost per frame of the streaming core alone (twitchcam.stream.StreamingAnalyzer) on 2 minutes of
generated landmarks at 30 fps, per chunk size, in thread CPU time (immune to other processes on a shared machine),
next to the cost of one small numpy operation on this machine for scale.

``--agreement``: share of offline events (twitchcam.pipeline.analyze_landmarks) that the streaming analyzer
reports with the same side, region and kind and an onset within one frame, on generated landmarks at several
levels of landmark jitter, and on the real clips' landmarks that ``benchmarks/accuracy.py`` cached; then live and
offline events against the truth on the tuning clips' cases (never the hold-out's).

``--budget``: CPU time per frame of each stage alone (decoding the Motion-JPEG input, encoding the recording, the
landmark model, the streaming core, drawing the window, showing it), per size, and the cores they need at 30 fps:
what a live session costs, whatever else the computer is doing.

The machine's load average is printed with every result: on a shared computer it explains drops.
"""

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from twitchcam.config import Config
from twitchcam.courses import regular_course
from twitchcam.events import Events
from twitchcam.landmarker import detect_landmarks
from twitchcam.landmarks import Landmarks
from twitchcam.live import run_session
from twitchcam.pipeline import analyze_landmarks
from twitchcam.signals import compute_signals
from twitchcam.stream import StreamingAnalyzer
from twitchcam.testing import as_twitches, make_landmarks
from twitchcam.video import VideoWriter, iter_frames

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / "sample_videos" / "hfs_left.mp4"


def load() -> str:
    return " ".join(f"{v:.1f}" for v in os.getloadavg())


def make_input(path: Path, size: tuple[int, int], seconds: float) -> Path:
    """Loop the sample clip forward and backward to ``seconds`` at 30 fps, scaled and centre-cropped to ``size``."""
    if path.exists():
        return path
    frames = [f.image for f in iter_frames(SOURCE)]
    w, h = size
    fh, fw = frames[0].shape[:2]
    scale = max(w / fw, h / fh)
    sw, sh = round(fw * scale), round(fh * scale)
    x0, y0 = (sw - w) // 2, (sh - h) // 2
    frames = [cv2.resize(f, (sw, sh), interpolation=cv2.INTER_LINEAR)[y0:y0 + h, x0:x0 + w] for f in frames]
    loop = frames + frames[::-1]
    tmp = path.with_name(f".{path.name}")
    with VideoWriter(tmp, 30, size) as writer:
        for i in range(int(seconds * 30)):
            writer.write(loop[i % len(loop)])
    tmp.rename(path)
    return path


def work_and_display(args) -> tuple[Path, subprocess.Popen | None]:
    """The folder for inputs and sessions (--work, or a new temporary one), and an Xvfb if the window needs one."""
    work = Path(args.work or tempfile.mkdtemp(prefix="twitchcam-live-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    return work, None if args.no_window else start_xvfb()


def start_xvfb() -> subprocess.Popen | None:
    """A virtual display for the window when there is no display and Xvfb is installed."""
    if os.environ.get("DISPLAY") or shutil.which("Xvfb") is None:
        return None
    number = next(n for n in range(90, 200) if not Path(f"/tmp/.X11-unix/X{n}").exists())
    proc = subprocess.Popen(["Xvfb", f":{number}", "-screen", "0", "1920x1080x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while not Path(f"/tmp/.X11-unix/X{number}").exists():
        time.sleep(0.05)
    os.environ["DISPLAY"] = f":{number}"
    return proc


def fmt(stats: dict | None) -> str:
    return "-" if not stats else f"{stats['median']:.0f} / {stats['p95']:.0f}"


def bench_sessions(args) -> None:
    work, xvfb = work_and_display(args)
    window = not args.no_window and bool(os.environ.get("DISPLAY"))
    where = f"on {os.environ['DISPLAY']}{' (Xvfb)' if xvfb else ''}" if window else "off"
    print(f"session: file paced at 30 fps for {args.seconds:.0f} s, window {where}; {os.cpu_count()} CPUs")
    print(f"{'size':>9} {'frames':>6} {'dropped':>7} {'disp fps':>8} {'cap->display ms':>16} {'cap->event ms':>14} "
          f"{'landmarks ms':>13} {'core us/frame':>14} {'CPU %':>6}  load before/after")
    try:
        for size_text in args.sizes.split(","):
            size = tuple(int(v) for v in size_text.split("x"))
            clip = make_input(work / f"input_{size_text}_{args.seconds:.0f}s.avi", size, args.seconds)
            out = work / f"session_{size_text}"
            shutil.rmtree(out, ignore_errors=True)
            before = load()
            result = run_session(clip, out, window=window, realtime=True)
            s = result.stats
            frames = s["frames"]
            lat = s["latency_ms"]
            display = lat["capture_to_display"]
            disp_fps = (display["n"] / result.duration_s) if display else 0.0
            core = s["core_us_per_frame"]
            print(f"{size_text:>9} {frames['captured']:>6} {frames['dropped']:>7} {disp_fps:>8.1f} "
                  f"{fmt(display):>16} {fmt(lat['capture_to_event']):>14} {fmt(s['landmarks_ms']):>13} "
                  f"{core['wall']:>6.0f} / {core['cpu']:<5.0f} {s['cpu_percent']:>6.0f}  {before} / {load()}")
    finally:
        if xvfb is not None:
            xvfb.terminate()
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)


def stream_cost(lm, chunk: int) -> tuple[float, float, int]:
    analyzer = StreamingAnalyzer()
    cpu0, wall0 = time.thread_time(), time.perf_counter()
    for s in range(0, len(lm), chunk):
        analyzer.push(lm[s:s + chunk])
    analyzer.finish()
    return ((time.thread_time() - cpu0) / len(lm) * 1e6, (time.perf_counter() - wall0) / len(lm) * 1e6,
            analyzer.n_detections)


def real_landmarks(seconds: float) -> Landmarks:
    """Landmarks of the sample clip (real face, simulated left HFS), looped forward and backward to ``seconds`` at
    30 fps: a live session's input, with real landmark jitter and many events."""
    lm = detect_landmarks(iter_frames(SOURCE))
    cycle = np.concatenate([np.arange(len(lm)), np.arange(len(lm) - 2, 0, -1)])
    index = np.resize(cycle, int(round(seconds * 30)))
    return Landmarks(np.arange(len(index)) / 30, lm.xyz[index], lm.face_found[index], lm.n_faces[index],
                     lm.frame_size)


def bench_core(args) -> None:
    a = np.random.default_rng(0).random(8)
    start = time.thread_time()
    for _ in range(100_000):
        a * a
    op_us = (time.thread_time() - start) / 100_000 * 1e6
    print(f"streaming core on 2 min of landmarks at 30 fps, thread CPU time, best of {args.repeat}; one numpy op "
          f"on 8 floats costs {op_us:.2f} us here; load {load()}")
    inputs = {
        "generated (HFS course, head motion, 0.15 px jitter)":
            make_landmarks(120, 30, as_twitches(regular_course("left", 120, seed=0)), head_yaw_deg=10,
                           head_roll_deg=4, zoom=0.05, noise_px=0.15),
        f"real ({SOURCE.name} looped)": real_landmarks(120),
    }
    for name, lm in inputs.items():
        print(name)
        print(f"{'chunk':>6} {'chunk ms':>8} {'CPU us/frame':>13} {'wall us/frame':>14} {'detections':>10}")
        for chunk in (1, 4, 8, 12, 16, 30):
            cpu, wall, detections = min((stream_cost(lm, chunk) for _ in range(args.repeat)), key=lambda r: r[0])
            print(f"{chunk:>6} {chunk / 30 * 1000:>8.0f} {cpu:>13.0f} {wall:>14.0f} {detections:>10}")


def _process_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def bench_budget(args) -> None:
    """CPU time per frame of each stage alone (process CPU, so MediaPipe's own threads count), per size."""
    from twitchcam.landmarker import LandmarkDetector
    from twitchcam.live.display import Overlay, Window, render

    work, xvfb = work_and_display(args)
    n = 150
    print(f"CPU time per frame of each stage alone, {n} frames; load {load()}")
    print(f"{'size':>9} {'decode':>7} {'encode':>7} {'landmarks':>9} {'core':>6} {'render':>7} {'imshow':>7} "
          f"{'total':>7} {'cores at 30 fps':>15}")
    try:
        for size_text in args.sizes.split(","):
            size = tuple(int(v) for v in size_text.split("x"))
            clip = make_input(work / f"input_{size_text}_{n / 30:.0f}s.avi", size, n / 30)
            cost = {}
            start = _process_cpu()
            frames = [f for f in iter_frames(clip)][:n]
            cost["decode"] = (_process_cpu() - start) / n
            start = _process_cpu()
            with VideoWriter(work / "encode.avi", 30, size) as writer:
                for f in frames:
                    writer.write(f.image)
            cost["encode"] = (_process_cpu() - start) / n
            with LandmarkDetector() as detector:
                start = _process_cpu()
                xyz = [detector.detect(f.image, f.t)[0] for f in frames]
                cost["landmarks"] = (_process_cpu() - start) / n
            lm = make_landmarks(n / 30, 30, as_twitches(regular_course("left", n / 30, seed=0)))
            cost["core"] = stream_cost(lm, 8)[0] / 1e6
            thresholds = {"eye_closure": 0.1, "mouth_pull": 0.02, "brow_raise": 0.012}
            meters = {k: np.array([0.05, 0.01]) for k in thresholds}
            start = _process_cpu()
            pictures = [render(f.image, Overlay(x, meters, thresholds, {}, [], fps=30.0, latency_ms=20.0))
                        for f, x in zip(frames, xyz)]
            cost["render"] = (_process_cpu() - start) / n
            cost["imshow"] = float("nan")
            if os.environ.get("DISPLAY"):
                window = Window("twitchcam benchmark")
                start = _process_cpu()
                for picture in pictures:
                    window.show(picture)
                cost["imshow"] = (_process_cpu() - start) / n
                window.close()
            total = sum(v for v in cost.values() if np.isfinite(v))
            cells = " ".join(f"{cost[k] * 1000:>{w}.1f}" for k, w in (("decode", 7), ("encode", 7),
                                                                       ("landmarks", 9), ("core", 6),
                                                                       ("render", 7), ("imshow", 7)))
            print(f"{size_text:>9} {cells} {total * 1000:>7.1f} {total * 30:>15.2f}   (ms per frame)")
    finally:
        if xvfb is not None:
            xvfb.terminate()
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)


def match_rate(live: Events, offline: Events) -> tuple[int, int]:
    used: set[int] = set()
    for i in range(len(live)):
        for j in range(len(offline)):
            if (j not in used and (live.side[i], live.region[i], live.kind[i])
                    == (offline.side[j], offline.region[j], offline.kind[j])
                    and abs(int(live.onset_frame[i]) - int(offline.onset_frame[j])) <= 1):
                used.add(j)
                break
    return len(used), max(len(live), len(offline))


def live_and_offline(lm: Landmarks, cfg: Config, chunk: int = 8) -> tuple[Events, Events]:
    """The events the streaming analyzer reports on ``lm`` pushed ``chunk`` frames at a time, and the offline ones."""
    analyzer = StreamingAnalyzer(cfg)
    live = Events.concatenate([analyzer.push(lm[s:s + chunk]).events for s in range(0, len(lm), chunk)]
                              + [analyzer.finish().events])
    return live, analyze_landmarks(lm, cfg).events


def bench_agreement(args) -> None:
    print("live vs offline on generated landmarks (3 x 90 s, HFS course, head motion): events with the same side, "
          "region and kind and onsets within one frame")
    cfg = Config()
    for noise in (0.0, 0.15, 0.3, 0.6):
        matched = total = 0
        for seed in range(3):
            lm = make_landmarks(90, 30, as_twitches(regular_course("left", 90, seed=seed)),
                                head_yaw_deg=10, head_roll_deg=4, zoom=0.05, noise_px=noise, seed=seed)
            live, offline = live_and_offline(lm, cfg)
            m, n = match_rate(live, offline)
            matched, total = matched + m, total + n
        eye_noise = compute_signals(lm, cfg).noise["eye_closure"].mean()
        print(f"  jitter {noise:.2f} px (eye-closure noise {eye_noise:.3f}; real footage ~0.013): "
              f"{matched}/{total} = {matched / max(total, 1):.1%}")
    # Real faces: the landmarks benchmarks/accuracy.py cached of the real clips, untouched and injected.
    cached = sorted((REPO / "benchmarks" / "_work" / "landmarks").glob("*_image.npz"))
    cached = [p for p in cached if p.name.startswith(("real_", "inj_"))]
    if not cached:
        print("  real faces: no landmarks cached (run benchmarks/accuracy.py with the real clips first)")
        return
    print(f"live vs offline on the {len(cached)} real clips and injected cases that benchmarks/accuracy.py cached "
          "(its landmarks, 8-frame chunks): the same match")
    matched = total = 0
    for path in cached:
        live, offline = live_and_offline(Landmarks.load(path), cfg)
        m, n = match_rate(live, offline)
        matched, total = matched + m, total + n
        print(f"  {path.stem.removesuffix('_image'):<40} offline {len(offline):>3} live {len(live):>3} "
              f"matched {m:>3}")
    print(f"  real faces in all: {matched}/{total} = {matched / max(total, 1):.1%}")
    bench_truth(cfg)


def bench_truth(cfg: Config) -> None:
    """Live and offline events against the truth, on the tuning clips only: the hold-out is for accuracy.py's
    one look."""
    from accuracy import REAL, TUNING_CLIPS, WORK, Case, labelled_winks, with_winks

    from twitchcam.folder import read_events_csv
    from twitchcam.scoring import detection_score, match_events

    if not REAL.is_dir():
        # Its annotations label the winks of an untouched clip, which are true events: without them they would
        # count as false.
        print(f"  against the truth: skipped, no real clips' folder at {REAL}")
        return
    clips = {Path(c).stem: c for c in TUNING_CLIPS}
    n_cases = 0
    counts = {"live": np.zeros(3, int), "offline": np.zeros(3, int)}
    false = {"live": 0, "offline": 0}
    minutes = 0.0
    for path in sorted((WORK / "landmarks").glob("*_image.npz")):
        name = path.stem.removesuffix("_image")
        stem = name.removeprefix("real_").removeprefix("inj_").split("_hfs_")[0]
        if not name.startswith(("real_", "inj_")) or stem not in clips:
            continue
        truth_csv = WORK / "videos" / f"{name}_truth" / "events.csv"
        if name.startswith("inj_") and not truth_csv.exists():
            print(f"  {name}: no truth cached ({truth_csv}), not scored")
            continue
        lm = Landmarks.load(path)
        events = dict(zip(("live", "offline"), live_and_offline(lm, cfg)))
        n_cases += 1
        if name.startswith("inj_"):
            for k, ev in events.items():
                counts[k] += match_events(ev, read_events_csv(truth_csv)).counts()
        elif name.startswith("real_"):
            # The labelled winks of an untouched clip are true one-sided events, and their mouth and brow with them.
            winks = labelled_winks(Case(name, clips[stem], None, kind="real"), REAL, lm.t)
            minutes += (lm.t[-1] - lm.t[0] + np.median(np.diff(lm.t))) / 60  # as a video's duration
            for k, ev in events.items():
                tp, n_pred, _ = match_events(ev[~with_winks(ev, winks)], winks).counts()
                false[k] += n_pred - tp
    if not n_cases:
        print("  against the truth: no tuning case cached (run benchmarks/accuracy.py --set tuning first)")
        return
    print(f"live and offline against the truth on {n_cases} tuning cases only (untouched and injected, cached by "
          "benchmarks/accuracy.py, with --repeats if it was run so; one-sided events, as it scores them)")
    for k in counts:
        d = detection_score(*counts[k])
        print(f"  {k:>7}: injected P {d.precision:.3f} R {d.recall:.3f} F1 {d.f1:.3f} ({counts[k][0]} of "
              f"{counts[k][2]} true found, {counts[k][1]} reported) | untouched clips: {false[k]} false one-sided "
              f"events in {minutes:.1f} min")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--sizes", default="640x480,1280x720")
    parser.add_argument("--no-window", action="store_true")
    parser.add_argument("--work", help="keep the inputs and sessions in this folder")
    parser.add_argument("--core", action="store_true", help="only the streaming core's cost")
    parser.add_argument("--agreement", action="store_true", help="only the live/offline agreement")
    parser.add_argument("--budget", action="store_true", help="only the CPU time per frame of each stage")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if args.core:
        bench_core(args)
    elif args.agreement:
        bench_agreement(args)
    elif args.budget:
        bench_budget(args)
    else:
        bench_sessions(args)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
