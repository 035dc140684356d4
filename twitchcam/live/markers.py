"""Clinician markers of a live session: ``markers.csv``, one row ``t_s,wall_clock,label`` per marker (the space key
in the window, or a line typed on standard input), appended and pushed to the disk as each is put.

``t_s`` is session time in seconds (the frames' clock), ``wall_clock`` the local time with its UTC offset.
"""

from __future__ import annotations

import csv
import datetime
import io
import os
import threading
import time
from pathlib import Path

from .capture import CaptureSource
from .recording import AppendedCSV

MARKERS_NAME = "markers.csv"
MARKERS_COLUMNS = ("t_s", "wall_clock", "label")


class MarkerLog:
    """``markers.csv`` of one session; markers may be put from any thread.

    Parameters
    ----------
    out_dir : str | Path
        The session folder.
    clock : CaptureSource
        The source whose first frame starts session time (a marker put before it is at 0 s).

    Attributes
    ----------
    count : int
        Markers put so far.
    """

    def __init__(self, out_dir: str | Path, clock: CaptureSource):
        self._clock = clock
        self._log = AppendedCSV(Path(out_dir) / MARKERS_NAME, ",".join(MARKERS_COLUMNS) + "\n")
        self._lock = threading.Lock()
        self.count = 0

    def add(self, label: str = "", t: float | None = None) -> float:
        """Put a marker at session time ``t`` in seconds (default: now); returns its time."""
        if t is None:
            t0 = self._clock.t0_monotonic
            t = time.monotonic() - t0 if t0 is not None else 0.0
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerow(
            [f"{t:.3f}", datetime.datetime.now().astimezone().isoformat(timespec="milliseconds"), label])
        with self._lock:
            self._log.append(buf.getvalue())
            self.count += 1
        return t

    def follow(self, fd: int, stop: threading.Event) -> None:
        """Take each line read from a file descriptor as a marker with that label, until ``stop`` or its end."""
        def read():
            pending = b""
            while not stop.is_set():
                try:
                    data = os.read(fd, 4096)
                except OSError:
                    return
                if not data:
                    return
                pending += data
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    self.add(line.decode("utf-8", "replace").strip())

        # os.read rather than sys.stdin: a thread blocked in it holds no Python lock at interpreter exit.
        threading.Thread(target=read, name="twitchcam-markers", daemon=True).start()

    def close(self) -> None:
        """Close the file (a marker put afterwards raises ValueError)."""
        with self._lock:
            self._log.close()
