"""What a live session writes so that a crash or a kill loses nothing: the recording ``video.avi`` and its frame
times ``video.frames.csv`` (:class:`Recorder`, the recorder thread), and the appended logs ``events_live.csv`` and
``markers.csv`` (:class:`AppendedCSV`).

Crash safety
------------
Every byte reaches the operating system when it is written: a crash or a kill loses at most the frame being
written. The disk itself is asked to catch up every 2 s (the recording) or at every row (the logs), against power
loss.

``video.avi``
    The raw, unmirrored video as captured: Motion-JPEG (:class:`MotionJPEGWriter`), every frame compressed on its
    own, so the file stays readable (``twitchcam analyze``) when cut mid-write.
``video.frames.csv``
    ``frame,t_s,capture_index``: one row per frame of ``video.avi``, its capture time in session seconds, written
    with the frame. The AVI's own timestamps are index / nominal fps; these are the real ones (a paused
    recording, a camera slower than it claims), and :func:`twitchcam.video.read_frame_times` reads them back.
"""

from __future__ import annotations

import os
import queue
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from ..video import VideoError
from .capture import Captured

VIDEO_NAME = "video.avi"
FRAMES_NAME = "video.frames.csv"
FRAMES_COLUMNS = ("frame", "t_s", "capture_index")
#: Seconds between requests that the disk catch up with the recording.
SYNC_EVERY_S = 2.0

_END = object()


class AppendedCSV:
    """A CSV file whose rows reach the operating system, and the disk, as soon as they are appended.

    Parameters
    ----------
    path : str | Path
        The file (created, or truncated).
    header : str
        The header line, with its newline.
    """

    def __init__(self, path: str | Path, header: str):
        self.path = Path(path)
        self._fh = open(self.path, "w", encoding="utf-8", newline="", buffering=1)
        self._fh.write(header)
        self._fh.flush()

    def append(self, rows: str) -> None:
        """Append rows (whole lines); a kill right after cannot lose them."""
        self._fh.write(rows)
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        """Close the file."""
        self._fh.close()


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


class Recorder:
    """The recorder thread's work: captured frames to ``video.avi``, their capture times to ``video.frames.csv``.

    The files are created with the first frame (the recording has that frame's size). A frame of another size (a
    camera that came back at another resolution) is left out and counted in :attr:`n_other_size`.

    Parameters
    ----------
    out_dir : str | Path
        The session folder.
    fps : float
        Nominal frame rate for the AVI header (its timestamps are index / fps; the real ones are in
        ``video.frames.csv``).
    maxlen : int
        Frames that may wait for the disk; 0 for no bound (a replay, whose capture waits instead).

    Attributes
    ----------
    n_recorded : int
        Frames written so far.
    n_other_size : int
        Frames left out because their size differs from the recording's.
    """

    def __init__(self, out_dir: str | Path, fps: float, maxlen: int = 0):
        self.out = Path(out_dir)
        self.fps = fps
        self.n_recorded = 0
        self.n_other_size = 0
        self._queue: queue.Queue = queue.Queue(maxsize=maxlen)

    def offer(self, item: Captured, wait: bool) -> bool:
        """Queue a frame for the disk; False if the queue was full and it was left out (never when ``wait``)."""
        try:
            self._queue.put(item, block=wait)
        except queue.Full:
            return False
        return True

    def behind(self) -> bool:
        """Whether the disk (or the encoder) is behind: a bounded queue at least half full."""
        maxlen = self._queue.maxsize
        return maxlen > 0 and self._queue.qsize() >= maxlen // 2

    def close(self, alive: Callable[[], bool]) -> None:
        """Let :meth:`run` write what is queued and return; waits for room while ``alive()`` says it still runs."""
        while True:
            try:
                self._queue.put(_END, timeout=0.5)
                return
            except queue.Full:
                if not alive():
                    return

    def run(self) -> None:
        """Write queued frames until :meth:`close` (the thread's body)."""
        writer = None
        frames_fh = None
        try:
            while True:
                item = self._queue.get()
                if item is _END:
                    break
                image = item.frame.image
                if writer is None:
                    writer = MotionJPEGWriter(self.out / VIDEO_NAME, self.fps, (image.shape[1], image.shape[0]))
                    # Line-buffered: each row reaches the operating system with its frame.
                    frames_fh = open(self.out / FRAMES_NAME, "w", encoding="utf-8", newline="", buffering=1)
                    frames_fh.write(",".join(FRAMES_COLUMNS) + "\n")
                    synced = time.monotonic()
                if (image.shape[1], image.shape[0]) != writer.size:
                    self.n_other_size += 1
                    continue
                writer.write(image)
                frames_fh.write(f"{self.n_recorded},{item.frame.t:.6f},{item.frame.index}\n")
                self.n_recorded += 1
                if time.monotonic() - synced > SYNC_EVERY_S:
                    # A crash loses nothing the operating system has; a power cut, what is not on the disk yet.
                    writer.sync()
                    os.fsync(frames_fh.fileno())
                    synced = time.monotonic()
        finally:
            if writer is not None:
                writer.close()
            if frames_fh is not None:
                frames_fh.close()
