"""Live capture: frames from cameras, network streams and files played at their real pace, stamped with the
monotonic clock when they are captured.

Frames are :class:`twitchcam.video.Frame` objects whose ``t`` is session time (seconds since the first frame);
:class:`Captured` adds the ``time.monotonic()`` reading that latencies are measured from. Opening a source goes
through the same OpenCV settings as a video file (:mod:`twitchcam.video`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2

from ..video import Frame, TimestampRepair, VideoError, open_capture, quiet_native_stderr


@dataclass(frozen=True)
class Captured:
    """A frame and the ``time.monotonic()`` reading when it was captured (the start of every latency)."""

    frame: Frame
    captured_at: float


class CaptureSource:
    """Frames as they are captured from a camera, a network stream or a file, stamped with the monotonic clock.

    Iterating yields :class:`Frame` objects whose ``t`` is the ``time.monotonic()`` reading when the frame was
    captured, in seconds after the first frame's (``t0_monotonic``): real capture times, never index / fps. Read
    it from one thread; :meth:`stop` may be called from any.

    Parameters
    ----------
    source : int | str | Path
        A camera index (``0``), a URL OpenCV/FFmpeg can open (``http://host/video.mjpg``, ``rtsp://...``), or a
        video file.
    realtime : bool
        For a file: deliver each frame at its presentation time, as a camera would, so the consumer must keep up.
        Without it a file is read as fast as it is consumed and ``t`` is the file's own timestamps (a replay that
        loses nothing).
    size : tuple of int | None
        ``(width, height)`` to request from a camera (it may choose another).
    lost_after_s : float
        A camera or stream that delivers no frame for this long (reconnecting meanwhile) has disappeared: the
        iteration ends and :attr:`ended_by` says so.

    Attributes
    ----------
    kind : str
        ``camera``, ``stream`` or ``file``.
    label : str
        How to name the source in messages (``camera 0``, the URL, the file name).
    fps_nominal : float
        What the device or container reports; 0 when unknown. Reported, never used to make time.
    t0_monotonic : float | None
        ``time.monotonic()`` when the first frame was captured.
    ended_by : str | None
        Why the iteration ended: ``end of file``, ``stopped``, or ``<label> disconnected`` / ``<label> lost``.
    """

    def __init__(self, source: int | str | Path, realtime: bool = False, size: tuple[int, int] | None = None,
                 lost_after_s: float = 2.0):
        self.source = source
        self.realtime = realtime
        self.lost_after_s = lost_after_s
        self.t0_monotonic: float | None = None
        self.ended_by: str | None = None
        self._stop = threading.Event()
        text = str(source)
        if isinstance(source, int) or text.isdigit():
            self.kind, self.label = "camera", f"camera {int(text)}"
            self.source = int(text)
        elif "://" in text:
            self.kind, self.label = "stream", text
        else:
            self.kind, self.label = "file", Path(text).name
        self._size = size
        self._cap = self._open()
        self.fps_nominal = float(self._cap.get(cv2.CAP_PROP_FPS) or 0.0)
        if not 0 < self.fps_nominal < 1000:
            self.fps_nominal = 0.0

    def _open(self) -> cv2.VideoCapture:
        if self.kind == "file":
            return open_capture(self.source)
        if self.kind == "camera":
            # Backends that do not have the camera log an error line each while OpenCV tries them in turn.
            with quiet_native_stderr():
                cap = cv2.VideoCapture(self.source)
            if cap.isOpened() and self._size:
                cap.set(cv2.CAP_PROP_FRAME_WIDTH, self._size[0])
                cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self._size[1])
        else:
            # Bounded waits, so a stream that stops answering is noticed instead of blocking the capture forever.
            timeout_ms = int(max(self.lost_after_s, 1.0) * 1000)
            cap = cv2.VideoCapture(str(self.source), cv2.CAP_FFMPEG,
                                   [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, 2 * timeout_ms,
                                    cv2.CAP_PROP_READ_TIMEOUT_MSEC, timeout_ms])
        if not cap.isOpened():
            hint = " (is it connected, or in use by another program?)" if self.kind == "camera" else ""
            raise VideoError(f"{self.label}: cannot open{hint}")
        return cap

    def stop(self) -> None:
        """Ask the iteration to end after the frame being read."""
        self._stop.set()

    def __iter__(self) -> Iterator[Frame]:
        repair = TimestampRepair(self.label)
        index = 0
        pace_start = None
        failing_since = None
        try:
            while not self._stop.is_set():
                ok, image = self._cap.read()
                if not ok or image is None:
                    if self.kind == "file":
                        self.ended_by = "end of file"
                        break
                    failing_since = failing_since or time.monotonic()
                    if not self._reconnect(failing_since + self.lost_after_s):
                        break
                    continue
                failing_since = None
                if self.kind == "file" and self.realtime:
                    pts = repair(self._cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0)
                    if pace_start is None:
                        pace_start = time.monotonic() - pts
                    delay = pace_start + pts - time.monotonic()
                    if delay > 0 and self._stop.wait(delay):
                        break
                now = time.monotonic()
                if self.t0_monotonic is None:
                    self.t0_monotonic = now
                if self.kind == "file" and not self.realtime:
                    t = repair(self._cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0)
                else:
                    t = now - self.t0_monotonic
                yield Frame(index, t, image)
                index += 1
            if self.ended_by is None:
                self.ended_by = "stopped" if self._stop.is_set() else f"{self.label} disconnected"
        finally:
            self._cap.release()

    def _reconnect(self, deadline: float) -> bool:
        """After a failed read, reopen the source until ``deadline`` (monotonic); False when it is gone."""
        if time.monotonic() < deadline and self._stop.wait(0.05):
            return False
        while not self._stop.is_set() and time.monotonic() < deadline:
            self._cap.release()
            try:
                self._cap = self._open()
            except VideoError:
                self._stop.wait(0.2)
                continue
            return True
        if not self._stop.is_set():
            self.ended_by = f"{self.label} {'disconnected' if self.kind == 'camera' else 'lost'}"
        return False
