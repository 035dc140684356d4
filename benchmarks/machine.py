"""What the benchmarks measure of the machine: this process's CPU time, the cores the whole machine kept busy, and
both around one call, so that a time can be told apart from the load it was measured under.

Imported by the benchmark scripts run from the repository (``python benchmarks/NAME.py`` puts this folder on the path).
"""

import os
import resource
import time
from pathlib import Path


def cpu_s() -> float:
    """CPU seconds of this process and of its ended children (worker processes are reaped before this is read)."""
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
