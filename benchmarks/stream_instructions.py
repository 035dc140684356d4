"""The streaming core's cost per frame in CPU instructions, which the load of a shared machine cannot change.

Run: python benchmarks/stream_instructions.py [--ref COMMIT] [--seconds 40] [--chunk 12]

Counts the instructions of `twitchcam.stream.StreamingAnalyzer` on ``--seconds`` of landmarks pushed ``--chunk``
frames at a time, under Valgrind's cachegrind (``valgrind`` must be installed; it runs Python some 50 times slower):
once with the pushes and once without (loading and making the landmarks only), the difference divided by the
frames. Two inputs: real landmarks (the sample clip ``sample_videos/hfs_left.mp4``, simulated left hemifacial spasm
on a real face, looped forward and backward) and generated ones (`twitchcam.courses.regular_course` with head motion).
With ``--ref``, the same for that commit of this repository (checked out in a temporary git worktree), and the ratio.
Thread CPU time of the same runs is in ``benchmarks/live.py --core``; it varies by tens of per cent while other work
runs, instruction counts by well under one.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]

#: The child: import the streaming core, make the landmarks, then push them (``stream``) or not (``none``).
CHILD = """
import sys
import numpy as np
from twitchcam.landmarks import Landmarks
from twitchcam.stream import StreamingAnalyzer
from twitchcam.testing import make_landmarks
try:
    from twitchcam.courses import regular_course
    from twitchcam.testing import as_twitches
    def course(side, duration_s, seed):
        return as_twitches(regular_course(side, duration_s, seed=seed))
except ImportError:  # a --ref commit from before the regular course moved to twitchcam.courses
    from twitchcam.testing import hfs_course as course
mode, kind, seconds, chunk, cache = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
n = int(round(seconds * 30))
if kind == "real":
    d = np.load(cache)
    cycle = np.concatenate([np.arange(len(d["xyz"])), np.arange(len(d["xyz"]) - 2, 0, -1)])
    index = np.resize(cycle, n)
    lm = Landmarks(np.arange(n) / 30, d["xyz"][index], d["found"][index], d["n"][index],
                   tuple(int(v) for v in d["size"]))
else:
    lm = make_landmarks(n / 30, 30, course("left", n / 30, seed=0), head_yaw_deg=10, head_roll_deg=4,
                        zoom=0.05, noise_px=0.15)
chunks = [lm[s:s + chunk] for s in range(0, n, chunk)]
if mode == "stream":
    analyzer = StreamingAnalyzer()
    for c in chunks:
        analyzer.push(c)
    analyzer.finish()
"""


def sample_landmarks(path: Path) -> Path:
    """The sample clip's landmarks (MediaPipe, once), saved where every run reads them."""
    if not path.exists():
        from twitchcam.landmarker import detect_landmarks
        from twitchcam.video import iter_frames

        lm = detect_landmarks(iter_frames(REPO / "sample_videos" / "hfs_left.mp4"))
        np.savez(path, xyz=lm.xyz, found=lm.face_found, n=lm.n_faces, size=np.array(lm.frame_size))
    return path


def instructions(tree: Path, mode: str, kind: str, args, cache: Path) -> int:
    """Instructions Valgrind counted for one child run on the package in ``tree``."""
    # One BLAS thread: idle BLAS threads spin, and their instructions would vary from run to run.
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONHASHSEED": "0", "OPENBLAS_NUM_THREADS": "1",
           "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    run = subprocess.run(["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
                          sys.executable, "-c", CHILD, mode, kind, str(args.seconds), str(args.chunk), str(cache)],
                         cwd=tree, env=env, capture_output=True, text=True, check=True)
    return int(re.search(r"I\s+refs:\s+([\d,]+)", run.stderr).group(1).replace(",", ""))


def per_frame(tree: Path, kind: str, args, cache: Path) -> float:
    frames = int(round(args.seconds * 30))
    return (instructions(tree, "stream", kind, args, cache) - instructions(tree, "none", kind, args, cache)) / frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ref", help="also count this commit of the repository, and give the ratio")
    parser.add_argument("--seconds", type=float, default=40.0)
    parser.add_argument("--chunk", type=int, default=12)
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed (Debian: apt-get install valgrind): nothing measured")
    with tempfile.TemporaryDirectory() as tmp:
        cache = sample_landmarks(Path(tmp) / "hfs_left_landmarks.npz")
        trees = {"this tree": REPO}
        if args.ref:
            ref_tree = Path(tmp) / "ref"
            subprocess.run(["git", "worktree", "add", "--detach", str(ref_tree), args.ref], cwd=REPO, check=True,
                           capture_output=True)
            trees[args.ref] = ref_tree
        try:
            print(f"streaming core, instructions per frame, {args.seconds:g} s at 30 fps in {args.chunk}-frame chunks")
            counts = {}
            for name, tree in trees.items():
                counts[name] = {kind: per_frame(tree, kind, args, cache) for kind in ("real", "generated")}
                print(f"{name:>12}: real {counts[name]['real']:>9,.0f}   generated {counts[name]['generated']:>9,.0f}")
            if args.ref:
                ratio = {kind: counts["this tree"][kind] / counts[args.ref][kind] for kind in ("real", "generated")}
                print(f"{'ratio':>12}: real {ratio['real']:>9.2f}   generated {ratio['generated']:>9.2f}")
        finally:
            if args.ref:
                subprocess.run(["git", "worktree", "remove", "--force", str(trees[args.ref])], cwd=REPO,
                               capture_output=True)


if __name__ == "__main__":
    main()
