"""Time to render ``report.html`` of an analysis folder next to a floor measured in the same run.

Run: python benchmarks/report_speed.py [FOLDER] [--rounds 5]

Without FOLDER, ``sample_videos/hfs_left.mp4`` is analyzed first (``twitchcam analyze --no-report``) into a
temporary folder. Two situations are measured, each in rounds alternating with its floor so that a change of load
hits both alike:

- ``warm``: in this process, after one render that imported matplotlib and loaded its fonts: the report step of
  ``twitchcam analyze``, where MediaPipe has imported matplotlib already. Floor: reading the folder back
  (:func:`twitchcam.folder.read_results`), which the render starts with.
- ``cold``: ``twitchcam report FOLDER`` in a fresh interpreter (importing matplotlib included). Floor: a fresh
  interpreter that imports ``twitchcam.folder`` and reads the folder back.

For each it prints the median wall and CPU time, the median per-round ratio to the floor, and how many cores OTHER
processes kept busy meanwhile (from /proc/stat, less this process's and its children's use): near 0 is an idle
machine, 2 on a 2-core machine means every core was contended. The goal (issue 12): warm well under 0.5 s.
"""

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from twitchcam.folder import read_results
from twitchcam.report import render_report

REPO = Path(__file__).resolve().parents[1]


def cpu_s() -> float:
    """CPU seconds of this process and of its ended children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def busy_cores() -> float:
    """Core-seconds the whole machine has been busy since boot (Linux /proc/stat; 0 elsewhere)."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except OSError:
        return 0.0
    idle = fields[3] + fields[4]  # idle and iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def measure(fn) -> dict:
    """Wall and CPU seconds of ``fn()``, and the cores other processes used meanwhile."""
    wall0, cpu0, busy0 = time.perf_counter(), cpu_s(), busy_cores()
    fn()
    wall, cpu = time.perf_counter() - wall0, cpu_s() - cpu0
    return {"wall": wall, "cpu": cpu, "others": max(busy_cores() - busy0 - cpu, 0.0) / wall}


def python(code: str):
    """Run ``code`` in a fresh interpreter, as a command would start."""
    return lambda: subprocess.run([sys.executable, "-c", code], check=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.folder) if args.folder else Path(tmp) / "hfs_left"
        if not args.folder:
            subprocess.run([sys.executable, "-c", "import sys; from twitchcam.cli import main; sys.exit(main())",
                            "analyze", str(REPO / "sample_videos" / "hfs_left.mp4"), "--out", str(folder),
                            "--no-report"], check=True, stdout=subprocess.DEVNULL)
        runs = {
            "warm floor": lambda: read_results(folder),
            "warm report": lambda: render_report(folder),
            "cold floor": python(f"from twitchcam.folder import read_results; read_results({str(folder)!r})"),
            "cold report": python(f"from twitchcam.cli import main; main(['report', {str(folder)!r}])"),
        }
        render_report(folder)  # imports matplotlib and loads its fonts, as MediaPipe has done in an analysis
        results = {name: [] for name in runs}
        load_before = os.getloadavg()
        for r in range(args.rounds):
            names = list(runs)
            for name in names[r % len(names):] + names[:r % len(names)]:
                results[name].append(measure(runs[name]))
        load_after = os.getloadavg()
        n_frames = len(read_results(folder).t)

    def median(name, key):
        return statistics.median(m[key] for m in results[name])

    def ratio(a, b):
        return statistics.median(x["wall"] / y["wall"] for x, y in zip(results[a], results[b]))

    print(f"folder: {folder.name}, {n_frames} frames; {args.rounds} rounds; load average (1 min) "
          f"{load_before[0]:.2f} before, {load_after[0]:.2f} after; {os.cpu_count()} cores")
    print(f"{'':>12} {'wall s':>8} {'CPU s':>8} {'other cores busy':>17}")
    for name in results:
        print(f"{name:>12} {median(name, 'wall'):8.3f} {median(name, 'cpu'):8.3f} {median(name, 'others'):17.2f}")
    warm, cold = median("warm report", "wall"), median("cold report", "wall") - median("cold floor", "wall")
    print(f"warm report / floor: {ratio('warm report', 'warm floor'):.1f}   render {warm:.3f} s (goal: well under "
          f"0.5 s on an idle machine)")
    print(f"cold report / floor: {ratio('cold report', 'cold floor'):.2f}   {cold:.3f} s more than the floor "
          "(matplotlib's import included)")


if __name__ == "__main__":
    main()
