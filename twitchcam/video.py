"""Frames from a video file, with presentation timestamps: the one module that does video I/O with OpenCV.

Time conventions
----------------
Every frame carries ``t``, its presentation time in seconds, read from the container with
``CAP_PROP_POS_MSEC`` after each read, so variable-frame-rate footage (phones) keeps its real timing. The
nominal frame rate is never used to make time. Timestamps that do not increase strictly (a container glitch) are
repaired to the previous timestamp plus the median frame interval, with one warning.

Orientation
-----------
Phone videos store their rotation as metadata; OpenCV's FFmpeg backend applies it when decoding
(``CAP_PROP_ORIENTATION_AUTO``, on by default and forced on here), so frames arrive upright and
``VideoInfo.rotation_deg`` reports what was applied.

Decoding runs in a background thread that keeps a small bounded queue filled, so decoding overlaps with landmark
inference and memory stays flat however long the video is.
"""

from __future__ import annotations

import contextlib
import csv
import logging
import math
import os
import queue
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .config import check_option

logger = logging.getLogger(__name__)

# OpenCV's own warnings (e.g. when probing a file that is not a video) duplicate the one-line errors raised here.
cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
#: Environment variable of OpenCV's FFmpeg backend for FFmpeg's own log level (AV_LOG_*: -8 quiet, 16 error,
#: 24 warning), read when the first capture opens. FFmpeg prints a line per damaged frame ("header damaged",
#: "marker does not match f_code": 2518 lines for one damaged sample here) straight to stderr, burying the one-line
#: messages; neither cv2.setLogLevel nor cv2.utils.logging silences them in OpenCV 5.1, this does. Quiet unless
#: the user set it, or asked ``twitchcam --verbose`` (:func:`ffmpeg_log_level`). Worker processes inherit it.
FFMPEG_LOGLEVEL_ENV = "OPENCV_FFMPEG_LOGLEVEL"
os.environ.setdefault(FFMPEG_LOGLEVEL_ENV, "-8")


def ffmpeg_log_level(verbose: bool) -> None:
    """Let FFmpeg's warnings and errors through (``verbose``) or keep them quiet; call before opening a video."""
    os.environ[FFMPEG_LOGLEVEL_ENV] = "24" if verbose else "-8"

#: File suffixes read as a still photo rather than a video.
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


@contextlib.contextmanager
def quiet_native_stderr():
    """Silence what native libraries print straight to the stderr file descriptor.

    MediaPipe logs graph set-up lines (XNNPACK delegate, feedback tensors) and OpenCV's FFmpeg backend logs codec
    tag notes when a writer opens; they are informational and would bury twitchcam's one-line messages. Errors
    still surface as Python exceptions.
    """
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # stderr replaced by an object without a descriptor
        yield
        return
    sys.stderr.flush()
    saved = os.dup(fd)
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), fd)
        try:
            yield
        finally:
            os.dup2(saved, fd)
            os.close(saved)


class VideoError(RuntimeError):
    """A video cannot be opened or decoded; the message is one line meant for the user."""


class TimestampsNotIncreasing(RuntimeError):
    """A stretch of video read after a seek has timestamps that do not increase: a sequential read would have
    repaired them (:func:`iter_frames`), so the stretch cannot be placed on the sequential timeline.
    """


#: How far before the wanted start :func:`iter_frames_between` first seeks: seeks land a few frames off.
SEEK_MARGIN_S = 1.0


@dataclass(frozen=True)
class Frame:
    """One decoded frame.

    Parameters
    ----------
    index : int
        0-based position in the decoded stream.
    t : float
        Presentation time in seconds from the start of the stream.
    image : ndarray, shape (height, width, 3), dtype uint8
        The frame in BGR order, upright.
    """

    index: int
    t: float
    image: np.ndarray


@dataclass(frozen=True)
class VideoInfo:
    """What the container says about a video before decoding it.

    Parameters
    ----------
    path : str
        The file.
    width, height : int
        Frame size in pixels after rotation.
    n_frames_hint : int
        The container's frame count; an estimate (used for progress bars), 0 when unknown.
    fps_nominal : float
        The container's nominal frame rate; reported, never used to make time.
    rotation_deg : int
        Rotation metadata applied when decoding (0, 90, 180 or 270).
    """

    path: str
    width: int
    height: int
    n_frames_hint: int
    fps_nominal: float
    rotation_deg: int


def open_capture(path: str | Path) -> cv2.VideoCapture:
    """Open a video file with the settings every reader here uses (FFmpeg, orientation applied).

    Raises
    ------
    VideoError
        If the file does not exist or cannot be opened as a video.
    """
    path = Path(path)
    if not path.exists():
        raise VideoError(f"{path}: no such file")
    if path.is_dir():
        raise VideoError(f"{path}: is a folder, not a video")
    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    if not cap.isOpened():
        raise VideoError(f"{path}: not a readable video (OpenCV/FFmpeg could not open it)")
    cap.set(cv2.CAP_PROP_ORIENTATION_AUTO, 1)
    return cap


def probe_video(path: str | Path) -> VideoInfo:
    """Read a video's header and decode its first frame.

    Raises
    ------
    VideoError
        If the file is missing, is not a video, or has no decodable frame.
    """
    cap = open_capture(path)
    try:
        ok, image = cap.read()
        if not ok or image is None:
            raise VideoError(f"{path}: contains no decodable video frame")
        return VideoInfo(
            path=str(path),
            width=int(image.shape[1]),
            height=int(image.shape[0]),
            n_frames_hint=max(int(cap.get(cv2.CAP_PROP_FRAME_COUNT)), 0),
            fps_nominal=float(cap.get(cv2.CAP_PROP_FPS) or 0.0),
            rotation_deg=int(cap.get(cv2.CAP_PROP_ORIENTATION_META) or 0) % 360,
        )
    finally:
        cap.release()


class TimestampRepair:
    """Make a stream of timestamps strictly increasing, warning once when a repair was needed."""

    def __init__(self, source: str):
        self.source = source
        self.last: float | None = None
        self.steps: list[float] = []
        self.repaired = 0

    def __call__(self, t: float) -> float:
        """The next timestamp in seconds, repaired to the previous one plus the median step if it does not increase."""
        if self.last is not None:
            if not np.isfinite(t) or t <= self.last:
                step = float(np.median(self.steps)) if self.steps else 1 / 30
                t = self.last + step
                self.repaired += 1
                if self.repaired == 1:
                    logger.warning("%s: timestamps do not increase; repaired from the median frame interval",
                                   self.source)
            elif len(self.steps) < 256:
                self.steps.append(t - self.last)
        self.last = t
        return t


def read_frame_times(video: str | Path) -> np.ndarray | None:
    """The capture times of a recorded video's frames, from its ``<stem>.frames.csv`` (None if there is none).

    Parameters
    ----------
    video : str | Path
        A video, e.g. ``video.avi`` written by a live session next to ``video.frames.csv``.

    Returns
    -------
    ndarray, shape (n_rows,), float64 | None
        Session time in seconds of frame ``i`` of the video at row ``i``. A row is written after its frame, so
        after a kill the video may hold one frame more than listed. None when there is no sidecar or it holds
        no complete row (the container's timestamps are used then).
    """
    path = Path(video).with_suffix(".frames.csv")
    if not path.exists():
        return None
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    # The last line may be cut short by a kill; keep the complete rows.
    times = np.array([float(r["t_s"]) for r in rows if r.get("t_s") not in (None, "")])
    return times if len(times) else None


def iter_frames(path: str | Path, queue_size: int = 8) -> Iterator[Frame]:
    """Decode a video file frame by frame, in a background thread.

    Parameters
    ----------
    path : str | Path
        The video file.
    queue_size : int
        How many decoded frames may wait for the consumer; bounds memory.

    Yields
    ------
    Frame
        Frames in presentation order with strictly increasing ``t`` in seconds.

    Raises
    ------
    VideoError
        If the file cannot be opened or yields no frame at all. A file truncated mid-stream yields the frames
        before the damage and logs a warning.
    """
    cap = open_capture(path)
    frames: queue.Queue = queue.Queue(maxsize=queue_size)
    stop = threading.Event()
    done = object()

    # A live recording's frame times come from the capture clock (monotonic), not from the container, whose AVI
    # timing is only nominal fps: a paused recording or a camera slower than it claims would be misplaced.
    captured = read_frame_times(path)
    if captured is not None:
        logger.info("%s: frame times from %s", path, Path(path).with_suffix(".frames.csv").name)

    def decode():
        repair = TimestampRepair(str(path))
        index = 0
        try:
            while not stop.is_set():
                ok, image = cap.read()
                if not ok or image is None:
                    break
                if captured is not None and index < len(captured):
                    t = repair(float(captured[index]))
                else:
                    # The one frame a kill can leave without its row: the repair extends the median interval.
                    t = repair(cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0 if captured is None else -np.inf)
                frames.put(Frame(index, t, image))
                index += 1
            hint = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
            if not stop.is_set() and hint > 0 and index < 0.9 * hint:
                logger.warning("%s: decoding stopped after %d of %d frames (truncated or damaged file)",
                               path, index, hint)
        finally:
            cap.release()
            frames.put(done)

    thread = threading.Thread(target=decode, name="twitchcam-decode", daemon=True)
    thread.start()
    n = 0
    try:
        while True:
            item = frames.get()
            if item is done:
                break
            n += 1
            yield item
    finally:
        stop.set()
        # Drain so a decoder blocked on a full queue can see the stop flag and exit.
        while thread.is_alive():
            try:
                frames.get(timeout=0.05)
            except queue.Empty:
                pass
        thread.join()
    if n == 0:
        raise VideoError(f"{path}: contains no decodable video frame")


def iter_frames_between(path: str | Path, start_s: float, stop_s: float) -> Iterator[Frame]:
    """Decode the frames with ``start_s <= t < stop_s``, seeking to just before ``start_s``.

    Seeking was measured with OpenCV 5.1 / FFmpeg on H.264 ``.mp4``, variable-frame-rate HEVC ``.mov`` and the
    MPEG-4 files :class:`VideoWriter` writes: a seek by time (``CAP_PROP_POS_MSEC``) or by frame index can land
    several frames before or after the frame asked for (by time up to 5 frames early or 4 late, by index up to 8
    late, on the variable-frame-rate file), but every frame decoded from where it landed is bit-identical to the
    sequential decode and carries the same presentation timestamp. So this seeks to *before* ``start_s``, seeks
    further back if it landed late, decodes forward, and keeps frames by their own timestamps. Consecutive
    stretches ``[a, b)``, ``[b, c)`` therefore hold every frame of a sequential read exactly once.

    Parameters
    ----------
    path : str | Path
        The video file.
    start_s, stop_s : float
        The stretch in seconds of presentation time; ``stop_s`` may be ``inf``. From ``start_s <= 0`` the file
        is read from its start with :func:`iter_frames` (timestamps repaired, capture-time sidecar used).

    Yields
    ------
    Frame
        ``index`` counts from the first frame yielded.

    Raises
    ------
    VideoError
        If the file cannot be opened.
    TimestampsNotIncreasing
        If timestamps after a seek fail to increase.
    """
    if start_s <= 0:
        for frame in iter_frames(path):
            if frame.t >= stop_s:
                return
            yield frame
        return
    margin_s = SEEK_MARGIN_S
    while True:
        cap = open_capture(path)
        target_s = start_s - margin_s
        if target_s > 0:
            cap.set(cv2.CAP_PROP_POS_MSEC, target_s * 1000.0)
        ok, image = cap.read()
        t = cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
        if not ok or t <= start_s or target_s <= 0:
            break
        # Landed after the first wanted frame: some frames before it might be missed, so seek further back.
        cap.release()
        margin_s *= 2
    try:
        index, last = 0, -math.inf
        while ok and image is not None:
            if not math.isfinite(t) or t <= last:
                raise TimestampsNotIncreasing(f"{path}: timestamps do not increase at {t:.3f} s")
            if t >= stop_s:
                return
            if t >= start_s:
                yield Frame(index, t, image)
                index += 1
            last = t
            ok, image = cap.read()
            t = cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
    finally:
        cap.release()


def read_image(path: str | Path) -> np.ndarray:
    """Read a still photo as a BGR uint8 array of shape (height, width, 3).

    Raises
    ------
    VideoError
        If the file cannot be read as an image.
    """
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise VideoError(f"{path}: not a readable image")
    return image


def downscale(image: np.ndarray, max_side_px: int) -> np.ndarray:
    """Shrink ``image`` so its longer side is at most ``max_side_px`` (no-op when it already is)."""
    h, w = image.shape[:2]
    scale = max_side_px / max(h, w)
    if scale >= 1:
        return image
    return cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)


class VideoWriter:
    """Write BGR frames to a video file; a context manager.

    Parameters
    ----------
    path : str | Path
        Output file. ``.mp4`` is written as MPEG-4 Part 2 (``mp4v``), ``.webm`` as VP8 (plays in browsers),
        ``.avi`` as Motion-JPEG (every frame independent; OpenCV buffers up to 1 MiB, so a killed writer loses
        its last frames; recordings that must survive a kill use :class:`MotionJPEGWriter`).
    fps : float
        Nominal frame rate stored in the container.
    size : tuple of int
        ``(width, height)`` in pixels.
    """

    FOURCC = {".mp4": "mp4v", ".webm": "VP80", ".avi": "MJPG"}

    def __init__(self, path: str | Path, fps: float, size: tuple[int, int]):
        self.path = Path(path)
        suffix = self.path.suffix.lower()
        check_option(f"{path}: the output format", suffix, tuple(self.FOURCC), VideoError)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with quiet_native_stderr():
            self._writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*self.FOURCC[suffix]), fps, size)
        if not self._writer.isOpened():
            raise VideoError(f"{path}: cannot open for writing")
        self.size = size

    def write(self, image: np.ndarray) -> None:
        """Append one BGR frame of shape (height, width, 3)."""
        if (image.shape[1], image.shape[0]) != self.size:
            raise ValueError(f"frame size {image.shape[1]}x{image.shape[0]} != writer size {self.size}")
        self._writer.write(image)

    def close(self) -> None:
        """Finish the file."""
        self._writer.release()

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
