"""Live capture (``twitchcam live``): cameras, network streams and files played at their real pace, and the
crash-safe Motion-JPEG recording of what was captured.

Frames are :class:`twitchcam.video.Frame` objects stamped with the monotonic clock; opening a source goes through
the same OpenCV settings as a video file (:mod:`twitchcam.video`).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from .video import Frame, TimestampRepair, VideoError, open_capture, quiet_native_stderr


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
        import time

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
        import time

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


def _u32(*values: int) -> bytes:
    return b"".join(int(v).to_bytes(4, "little") for v in values)


def _u16(*values: int) -> bytes:
    return b"".join(int(v).to_bytes(2, "little") for v in values)


class MotionJPEGWriter:
    """A Motion-JPEG AVI written so that every frame is in the file as soon as :meth:`write` returns.

    OpenCV's AVI writers keep up to 1 MiB (its own Motion-JPEG writer) or 512 KiB (FFmpeg's) in memory, so a
    killed recorder loses the last seconds of a 640x360 recording, or everything in its first second. Here each
    frame is JPEG-encoded and appended as one ``00dc`` chunk with one ``write`` call on an unbuffered file; a kill
    loses at most the frame being written. Until :meth:`close` the RIFF and ``movi`` sizes are 0 ("to the end of
    the file", which FFmpeg and so ``twitchcam analyze`` read) and there is no index; closing writes the ``idx1``
    index and the real sizes (when the file stays under 4 GiB, the limit of a plain AVI; a longer recording keeps
    the open-ended form, which reads the same).

    Parameters
    ----------
    path : str | Path
        Output ``.avi`` file (created, or truncated).
    fps : float
        Nominal frame rate stored in the header; the container's timestamps are index / fps.
    size : tuple of int
        ``(width, height)`` in pixels.
    quality : int
        JPEG quality, 0-100.
    """

    def __init__(self, path: str | Path, fps: float, size: tuple[int, int], quality: int = 95):
        self.path = Path(path)
        self.size = size
        self.quality = quality
        self.n_frames = 0
        self._index: list[tuple[int, int]] = []  # (offset from the 'movi' fourcc, size) of each frame chunk
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(self.path, "wb", buffering=0)
        w, h = size
        rate, scale = int(round(fps * 1000)), 1000
        avih = _u32(int(round(1e6 / fps)), 0, 0, 0x10, 0, 0, 1, 0, w, h, 0, 0, 0, 0)
        strh = (b"vidsMJPG" + _u32(0) + _u16(0, 0) + _u32(0, scale, rate, 0, 0, 0, 0xFFFFFFFF, 0)
                + _u16(0, 0, w, h))
        strf = _u32(40, w, h) + _u16(1, 24) + b"MJPG" + _u32(w * h * 3, 0, 0, 0, 0)
        strl = b"strl" + b"strh" + _u32(len(strh)) + strh + b"strf" + _u32(len(strf)) + strf
        hdrl = b"hdrl" + b"avih" + _u32(len(avih)) + avih + b"LIST" + _u32(len(strl)) + strl
        header = b"RIFF" + _u32(0) + b"AVI " + b"LIST" + _u32(len(hdrl)) + hdrl + b"LIST" + _u32(0) + b"movi"
        self._total_frames_at = 12 + 8 + 4 + 8 + 16  # dwTotalFrames in avih
        self._length_at = 12 + 8 + 4 + 8 + len(avih) + 8 + 4 + 8 + 32  # dwLength in strh
        self._movi_size_at = len(header) - 8
        self._movi_at = len(header) - 4
        self._fh.write(header)
        self._end = len(header)

    def write(self, image: np.ndarray) -> None:
        """Append one BGR frame of shape (height, width, 3); it is in the file when this returns."""
        if (image.shape[1], image.shape[0]) != self.size:
            raise ValueError(f"frame size {image.shape[1]}x{image.shape[0]} != writer size {self.size}")
        ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, self.quality])
        if not ok:
            raise VideoError(f"{self.path}: cannot encode a frame as JPEG")
        data = jpeg.tobytes()
        pad = b"\0" if len(data) % 2 else b""
        self._fh.write(b"00dc" + _u32(len(data)) + data + pad)
        self._index.append((self._end - self._movi_at, len(data)))
        self._end += 8 + len(data) + len(pad)
        self.n_frames += 1

    def sync(self) -> None:
        """Ask the operating system to put what was written on the disk (against power loss, not needed against
        a crash).
        """
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        """Write the index and the sizes, and close the file."""
        if self._fh.closed:
            return
        index = b"".join(b"00dc" + _u32(0x10, offset, size) for offset, size in self._index)
        if self._end + 8 + len(index) < 2 ** 32:
            self._fh.write(b"idx1" + _u32(len(index)) + index)
            for at, value in ((4, self._end + 8 + len(index) - 8), (self._movi_size_at, self._end - self._movi_at),
                              (self._total_frames_at, self.n_frames), (self._length_at, self.n_frames)):
                self._fh.seek(at)
                self._fh.write(_u32(value))
        self._fh.close()

    def __enter__(self) -> MotionJPEGWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
