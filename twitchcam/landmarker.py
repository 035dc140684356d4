"""MediaPipe Face Landmarker: the one module that imports MediaPipe; model lookup, inference, frames in order.

Coordinates are converted at the edge into the pixel units documented in :mod:`twitchcam.landmarks`, and the
patient is chosen with its :class:`~twitchcam.landmarks.PatientTracker`; no MediaPipe type leaves this module.
"""

from __future__ import annotations

import collections
import ctypes
import hashlib
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np

from .config import Config, available_cores
from .landmarks import Landmarks, PatientLandmarks, PatientTracker
from .video import downscale, quiet_native_stderr

#: sha256 of the MediaPipe model bundle shipped in ``models/``.
BUNDLED_MODEL_SHA256 = "64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff"
MODEL_NAME = "face_landmarker.task"
#: Faces MediaPipe looks for in each frame: the patient and the others that may be in view.
MAX_FACES = 3


class ModelError(RuntimeError):
    """The landmark model is missing, corrupt or cannot be loaded; the message is one line meant for the user."""


def find_model(model: str | Path | None = None) -> Path:
    """Locate the Face Landmarker model bundle.

    Parameters
    ----------
    model : str | Path | None
        An explicit path; otherwise ``$TWITCHCAM_MODEL``, then the copy installed with the package, then the
        repository's ``models/`` folder (source checkouts and editable installs).

    Returns
    -------
    Path
        An existing file.

    Raises
    ------
    ModelError
        If the explicitly named file does not exist, or no bundled model can be found.
    """
    explicit = model or os.environ.get("TWITCHCAM_MODEL")
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise ModelError(f"model file not found: {path}")
        return path
    package = Path(__file__).resolve().parent
    for candidate in (package / "models" / MODEL_NAME, package.parent / "models" / MODEL_NAME):
        if candidate.is_file():
            return candidate
    raise ModelError(f"bundled model {MODEL_NAME} not found; reinstall twitchcam or pass --model PATH")


def _check_bundled(path: Path) -> None:
    if path.name != MODEL_NAME or "models" not in path.parent.name:
        return
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != BUNDLED_MODEL_SHA256:
        raise ModelError(f"{path}: corrupt model (sha256 {digest[:12]}..., expected {BUNDLED_MODEL_SHA256[:12]}...)")


class LandmarkDetector:
    """MediaPipe Face Landmarker on BGR frames; a context manager.

    Parameters
    ----------
    config : Config
        Uses ``running_mode``, ``max_side_px`` and the confidence thresholds.
    model : str | Path | None
        Model bundle, see :func:`find_model`.
    """

    def __init__(self, config: Config | None = None, model: str | Path | None = None):
        import mediapipe as mp
        from mediapipe.tasks.python import vision
        from mediapipe.tasks.python.core.base_options import BaseOptions

        self.config = config or Config()
        self.model_path = find_model(model)
        _check_bundled(self.model_path)
        self._mp = mp
        mode = {"image": vision.RunningMode.IMAGE, "video": vision.RunningMode.VIDEO}[self.config.running_mode]
        options = vision.FaceLandmarkerOptions(
            base_options=BaseOptions(model_asset_buffer=self.model_path.read_bytes()),
            running_mode=mode,
            num_faces=MAX_FACES,
            min_face_detection_confidence=self.config.min_face_detection_confidence,
            min_face_presence_confidence=self.config.min_face_presence_confidence,
        )
        try:
            with quiet_native_stderr():
                self._landmarker = vision.FaceLandmarker.create_from_options(options)
        except Exception as err:  # MediaPipe raises bare RuntimeError/ValueError on a bad bundle
            raise ModelError(f"{self.model_path}: cannot load as a Face Landmarker model ({err})") from None
        self._detect_native = _native_detect(self._landmarker, self.config.running_mode == "video")
        self._tracker = PatientTracker()
        self._last_ms = -1
        # The first inference prints more set-up lines; run it here, on a blank frame, while silenced.
        with quiet_native_stderr():
            self.detect_faces(np.zeros((64, 64, 3), np.uint8), 0.0)

    def detect_faces(self, image: np.ndarray, t: float) -> list[np.ndarray]:
        """Every face in one frame.

        Parameters
        ----------
        image : ndarray, shape (height, width, 3), uint8
            BGR frame, upright and unmirrored.
        t : float
            Presentation time in seconds (used by VIDEO mode).

        Returns
        -------
        list of ndarray, each shape (478, 3), float32
            Landmarks of each face in pixels of ``image``.
        """
        h, w = image.shape[:2]
        small = downscale(image, self.config.max_side_px)
        # cvtColor is ~50x faster than a reversed-channel copy (numpy's strided copy of a negative stride).
        rgb = cv2.cvtColor(small, cv2.COLOR_BGR2RGB)
        mp_image = self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=rgb)
        ms = None
        if self.config.running_mode == "video":
            # MediaPipe needs strictly increasing integer milliseconds.
            ms = max(int(round(t * 1000)), self._last_ms + 1)
            self._last_ms = ms
        if self._detect_native is not None:
            # float64 products rounded to float32, as the per-point conversion below computes them.
            scale = np.array([w, h, w], np.float64)
            return [(face * scale).astype(np.float32) for face in self._detect_native(mp_image, ms)]
        result = (self._landmarker.detect(mp_image) if ms is None else self._landmarker.detect_for_video(mp_image, ms))
        return [np.array([(p.x * w, p.y * h, p.z * w) for p in face], dtype=np.float32)
                for face in result.face_landmarks]

    def detect(self, image: np.ndarray, t: float) -> tuple[np.ndarray | None, int]:
        """Find the patient's landmarks in one frame, following the patient from frame to frame.

        Parameters
        ----------
        image : ndarray, shape (height, width, 3), uint8
            BGR frame, upright and unmirrored.
        t : float
            Presentation time in seconds (used by VIDEO mode).

        Returns
        -------
        xyz : ndarray, shape (478, 3), float32 | None
            The patient's landmarks in pixels of ``image``, or None when the patient's face was not found.
        n_faces : int
            Number of faces found.
        """
        faces = self.detect_faces(image, t)
        index = self._tracker.choose(faces)
        return (None if index is None else faces[index]), len(faces)

    def close(self) -> None:
        """Release MediaPipe's resources."""
        self._landmarker.close()

    def __enter__(self) -> LandmarkDetector:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _native_detect(landmarker, video: bool) -> Callable | None:
    """MediaPipe's detection call with the landmarks read from its C result as one array per face, or None when
    the installed mediapipe lacks the parts this uses (the public API is used then).

    The public ``detect`` builds a Python object for each of the 478 points of every face while holding the GIL:
    1.3-2.5 ms of CPU per face, of a ~17 ms frame (measured with mediapipe 1.2.3 on a 640x360 clip), and long
    enough for instances in threads to queue for the GIL. This calls the same serialized, status-checked C
    functions as ``detect`` and reads the points with the struct layout of mediapipe's own ctypes declaration, so
    its numbers are the same floats (``tests/test_parallel.py`` holds both paths equal).

    Returns
    -------
    callable | None
        ``detect(mp_image, ms)`` (``ms`` the frame time in VIDEO mode, None in IMAGE mode) returning a list of
        ndarray, each shape (478, 3), float32: x and y normalized by the image width and height, z like x.
    """
    try:
        from mediapipe.tasks.python.components.containers.landmark_c import MpNormalizedLandmarkC as Point
        from mediapipe.tasks.python.vision.face_landmarker import MpFaceLandmarkerResultC as Result

        lib, handle = landmarker._lib, landmarker._handle
        detect_c = lib.MpFaceLandmarkerDetectForVideo if video else lib.MpFaceLandmarkerDetectImage
        close_result = lib.MpFaceLandmarkerCloseResult
        offsets = [Point.x.offset, Point.y.offset, Point.z.offset]
    except (ImportError, AttributeError):
        return None
    point = np.dtype({"names": ["x", "y", "z"], "formats": ["<f4"] * 3, "offsets": offsets,
                      "itemsize": ctypes.sizeof(Point)})

    def detect(image, ms: int | None) -> list[np.ndarray]:
        result = Result()
        frame_time = () if ms is None else (ms,)
        detect_c(handle, image._image_ptr, None, *frame_time, ctypes.byref(result))
        try:
            faces = []
            for i in range(result.face_landmarks_count):
                points = result.face_landmarks[i]
                raw = np.frombuffer(ctypes.string_at(points.landmarks, points.landmarks_count * point.itemsize),
                                    point)
                faces.append(np.stack([raw["x"], raw["y"], raw["z"]], axis=1))
            return faces
        finally:
            close_result(ctypes.byref(result))

    return detect


#: MediaPipe instances one process runs by default, at most (``Config.inference_threads`` = 0).
MAX_INSTANCES = 4


def inference_threads(config: Config) -> int:
    """How many MediaPipe instances to run side by side: ``config.inference_threads``, or with 0 one per core
    (at most :data:`MAX_INSTANCES`). VIDEO mode tracks from frame to frame, so it always uses one.
    """
    if config.running_mode == "video":
        return 1
    if config.inference_threads:
        return config.inference_threads
    return max(1, min(available_cores(), MAX_INSTANCES))


#: Seconds of wall time over which the CPU the instances get is measured.
MEASURE_WINDOW_S = 0.5
#: Cores of CPU below which several instances gain nothing over one: one instance with its decoder uses ~1.1
#: cores, and several cost ~7 % more CPU per frame than one (they compete for caches), so below this they are
#: slower.
ONE_INSTANCE_CORES = 1.25
#: Windows after which one instance tries all of them again, in case the machine has become free.
RETRY_WINDOWS = 10


class InstanceChooser:
    """How many of ``n`` MediaPipe instances run at once, chosen from the CPU they get while they run.

    Each window of :data:`MEASURE_WINDOW_S` measures the cores of CPU this process used. While all ``n`` run and
    get more than :data:`ONE_INSTANCE_CORES` (an idle machine gives them a core each), they stay. When they get
    less in two windows running (other work on the machine: Linux's autogroup scheduling gives a session the same
    share however many threads it runs, so the instances only take turns), one instance runs, which costs less
    CPU per frame; every :data:`RETRY_WINDOWS` windows all ``n`` try again, and go back to one after a single
    window below the mark.

    Parameters
    ----------
    n : int
        Instances available.

    Attributes
    ----------
    active : int
        Instances to run at once now: ``n`` or 1.
    """

    def __init__(self, n: int):
        self.n = n
        self.active = n
        self._low = 0
        self._at_one = 0
        self._window: tuple[float, float] | None = None

    def frame_done(self, wall_s: float, cpu_s: float) -> None:
        """Note one finished frame at ``wall_s`` (:func:`time.perf_counter`) and ``cpu_s``
        (:func:`time.process_time`), closing the window when it is long enough.
        """
        if self._window is None:
            self._window = (wall_s, cpu_s)
        elif wall_s - self._window[0] >= MEASURE_WINDOW_S:
            cores = (cpu_s - self._window[1]) / (wall_s - self._window[0])
            self._window = (wall_s, cpu_s)
            self.measured(cores)

    def measured(self, cores: float) -> None:
        """Choose the next setting from one window's CPU use.

        Parameters
        ----------
        cores : float
            CPU seconds this process used per second of wall time in the window.
        """
        if self.n == 1:
            return
        if self.active == 1:
            self._at_one += 1
            if self._at_one >= RETRY_WINDOWS:
                self.active, self._at_one, self._low = self.n, 0, 1
            return
        self._low = self._low + 1 if cores < ONE_INSTANCE_CORES else 0
        if self._low >= 2:
            self.active, self._low = 1, 0


def _open_detectors(n: int, config: Config, model) -> list[LandmarkDetector]:
    """``n`` detectors, loaded side by side (each load is ~0.2 s of one core)."""
    if n == 1:
        return [LandmarkDetector(config, model)]
    # One silencing around all: silencing saves and restores the stderr descriptor, and loads overlapping in
    # threads would each restore another's saved copy.
    with quiet_native_stderr(), ThreadPoolExecutor(n, thread_name_prefix="twitchcam-model-load") as pool:
        futures = [pool.submit(LandmarkDetector, config, model) for _ in range(n)]
    made = [f.result() for f in futures if f.exception() is None]
    if len(made) < n:
        for detector in made:
            detector.close()
        next(f for f in futures if f.exception() is not None).result()
    return made


def _faces_in_order(frames: Iterable, config: Config, model, n_threads: int):
    """Yield ``(frame, faces)`` in frame order, with inference spread over ``n_threads`` MediaPipe instances.

    Each instance has its own native dispatch thread and releases the GIL while it runs, so instances on
    different cores run in parallel; how many run at once is chosen while they run (:class:`InstanceChooser`).
    At most ``2 * n_threads`` frames are in flight, so memory stays flat.
    """
    made = _open_detectors(n_threads, config, model)
    try:
        if n_threads == 1:
            for frame in frames:
                yield frame, made[0].detect_faces(frame.image, frame.t)
            return
        detectors: queue.Queue = queue.Queue()
        for detector in made:
            detectors.put(detector)
        chooser = InstanceChooser(n_threads)
        gate = threading.Condition()
        running = 0

        def run(frame):
            nonlocal running
            with gate:
                gate.wait_for(lambda: running < chooser.active)
                running += 1
            detector = detectors.get()
            try:
                return detector.detect_faces(frame.image, frame.t)
            finally:
                detectors.put(detector)
                with gate:
                    running -= 1
                    gate.notify_all()

        def finished(frame, future):
            faces = future.result()
            with gate:
                active = chooser.active
                chooser.frame_done(time.perf_counter(), time.process_time())
                if chooser.active != active:
                    gate.notify_all()
            return frame, faces

        with ThreadPoolExecutor(n_threads, thread_name_prefix="twitchcam-landmarks") as pool:
            pending: collections.deque = collections.deque()
            for frame in frames:
                pending.append((frame, pool.submit(run, frame)))
                if len(pending) >= 2 * n_threads:
                    yield finished(*pending.popleft())
            while pending:
                yield finished(*pending.popleft())
    finally:
        for detector in made:
            detector.close()


def detect_landmarks(frames: Iterable, config: Config | None = None, model: str | Path | None = None,
                     on_frame: Callable[[int], None] | None = None) -> Landmarks:
    """Run the Face Landmarker over a sequence of frames.

    Parameters
    ----------
    frames : iterable of Frame
        Objects with ``t`` (seconds) and ``image`` (BGR uint8, shape (height, width, 3)), in time order.
    config : Config | None
        Settings; defaults to ``Config()``. ``inference_threads`` MediaPipe instances share the frames.
    model : str | Path | None
        Model bundle, see :func:`find_model`.
    on_frame : callable | None
        Called with the frame index after each frame (progress reporting).

    Returns
    -------
    Landmarks
        One row per frame; NaN rows where no face was found. With several faces in a frame the patient is chosen
        in frame order by :class:`PatientTracker`.
    """
    cfg = config or Config()
    gathered = PatientLandmarks()
    for i, (frame, faces) in enumerate(_faces_in_order(frames, cfg, model, inference_threads(cfg))):
        gathered.add(frame.t, faces, (frame.image.shape[1], frame.image.shape[0]))
        if on_frame is not None:
            on_frame(i)
    return gathered.take()
