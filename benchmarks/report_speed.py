"""Time to render ``report.html`` of an analysis folder, next to a floor measured in the same run.

Run: python benchmarks/report_speed.py [FOLDER] [--rounds 5]

Without FOLDER, ``sample_videos/hfs_left.mp4`` is analyzed first (``twitchcam analyze --no-report``) into a
temporary folder. Three situations, each run in rounds that alternate with its floor so that a change of load hits
both alike:

- ``analyze``: the report step of ``twitchcam analyze``: the first render in an interpreter that has imported
  matplotlib already (MediaPipe does), so templates are compiled and fonts loaded in it. Floor: reading the folder
  back (:func:`twitchcam.folder.read_results`, what the render starts with) in the same interpreter.
- ``again``: a further render in this process (a server or a batch rendering many reports). Floor: reading the
  folder back.
- ``command``: ``twitchcam report FOLDER`` in a fresh interpreter, importing matplotlib included. Floor: a fresh
  interpreter that imports ``twitchcam.folder`` and reads the folder back.

It prints the median wall time of each, the median of the per-round ratios to the floor, CPU time, and how many
cores OTHER processes kept busy meanwhile (from /proc/stat, less this process's and its children's use): near 0 is
an idle machine, 2 on a 2-core machine means every core was contended. The goal (issue 12): the report step of
``analyze`` well under 0.5 s on an idle machine.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from machine import measure

from twitchcam.folder import read_results
from twitchcam.report import render_report

REPO = Path(__file__).resolve().parents[1]


def python(code: str, *args: str) -> str:
    """Run ``code`` in a fresh interpreter, as a command would start; its output."""
    return subprocess.run([sys.executable, "-c", code, *args], check=True, capture_output=True, text=True).stdout


#: The report step of an analysis: matplotlib imported as MediaPipe imports it, then the folder read back (the
#: floor) and the report rendered, each timed.
ANALYZE_STEP = """
import sys, time
import matplotlib.pyplot
from twitchcam.folder import read_results
from twitchcam.report import render_report
t0 = time.perf_counter()
read_results(sys.argv[1])
t1 = time.perf_counter()
render_report(sys.argv[1])
print(t1 - t0, time.perf_counter() - t1)
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.folder) if args.folder else Path(tmp) / "hfs_left"
        if not args.folder:
            python("import sys; from twitchcam.cli import main; sys.exit(main())", "analyze",
                   str(REPO / "sample_videos" / "hfs_left.mp4"), "--out", str(folder), "--no-report")
        step = []

        def analyze_step():
            step.append([float(x) for x in python(ANALYZE_STEP, str(folder)).split()])

        runs = {
            "analyze step": analyze_step,
            "again floor": lambda: read_results(folder),
            "again": lambda: render_report(folder),
            "command floor": lambda: python("import sys; from twitchcam.folder import read_results; "
                                            "read_results(sys.argv[1])", str(folder)),
            "command": lambda: python("import sys; from twitchcam.cli import main; main(['report', sys.argv[1]])",
                                      str(folder)),
        }
        render_report(folder)  # "again" follows a first render
        results = {name: [] for name in runs}
        load_before = os.getloadavg()
        for r in range(args.rounds):
            names = list(runs)
            for name in names[r % len(names):] + names[:r % len(names)]:
                results[name].append(measure(runs[name]))
        load_after = os.getloadavg()
        n_frames = len(read_results(folder).t)

    def median(name, key="wall"):
        return statistics.median(m[key] for m in results[name])

    def ratio(a, b):
        return statistics.median(x["wall"] / y["wall"] for x, y in zip(results[a], results[b]))

    print(f"folder: {folder.name}, {n_frames} frames; {args.rounds} rounds; load average (1 min) "
          f"{load_before[0]:.2f} before, {load_after[0]:.2f} after; {os.cpu_count()} cores")
    floor_s, render_s = (statistics.median(x) for x in zip(*step))
    print(f"{'':>14} {'wall s':>8} {'CPU s':>8} {'other cores busy':>17}")
    print(f"{'analyze floor':>14} {floor_s:8.3f} {'':>8} {median('analyze step', 'others'):17.2f}")
    print(f"{'analyze step':>14} {render_s:8.3f} {'':>8} {median('analyze step', 'others'):17.2f}")
    for name in list(results)[1:]:
        print(f"{name:>14} {median(name):8.3f} {median(name, 'cpu'):8.3f} {median(name, 'others'):17.2f}")
    print(f"analyze step: render {render_s:.3f} s, {statistics.median(r / f for f, r in step):.1f}x reading the "
          "folder back (goal: well under 0.5 s on an idle machine)")
    print(f"again:        render {median('again'):.3f} s, {ratio('again', 'again floor'):.1f}x reading the folder back")
    print(f"command:      {median('command'):.3f} s, {ratio('command', 'command floor'):.2f}x a fresh interpreter "
          f"reading the folder back ({median('command') - median('command floor'):.3f} s more, matplotlib's import "
          "included)")


if __name__ == "__main__":
    main()
