"""MediaPipe Face Landmarker: the one module that imports MediaPipe; model lookup, inference, frames in order.

Coordinates are converted at the edge into the pixel units documented in :mod:`twitchcam.landmarks`, and the
patient is chosen with its :class:`~twitchcam.landmarks.PatientTracker`; no MediaPipe type leaves this module.
"""

from __future__ import annotations

import collections
import hashlib
import os
import queue
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
        if self.config.running_mode == "video":
            # MediaPipe needs strictly increasing integer milliseconds.
            ms = max(int(round(t * 1000)), self._last_ms + 1)
            self._last_ms = ms
            result = self._landmarker.detect_for_video(mp_image, ms)
        else:
            result = self._landmarker.detect(mp_image)
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


def inference_threads(config: Config) -> int:
    """How many MediaPipe instances to run side by side: ``config.inference_threads``, or with 0 one per core
    (at most 4). VIDEO mode tracks from frame to frame, so it always uses one.
    """
    if config.running_mode == "video":
        return 1
    if config.inference_threads:
        return config.inference_threads
    return max(1, min(available_cores(), 4))


def _faces_in_order(frames: Iterable, config: Config, model, n_threads: int):
    """Yield ``(frame, faces)`` in frame order, with inference spread over ``n_threads`` MediaPipe instances.

    Each instance has its own native dispatch thread and releases the GIL while it runs, so instances on
    different cores run in parallel. At most ``2 * n_threads`` frames are in flight, so memory stays flat.
    """
    detectors: queue.Queue = queue.Queue()
    made: list[LandmarkDetector] = []
    try:
        for _ in range(n_threads):
            made.append(LandmarkDetector(config, model))
            detectors.put(made[-1])

        def run(frame):
            detector = detectors.get()
            try:
                return detector.detect_faces(frame.image, frame.t)
            finally:
                detectors.put(detector)

        if n_threads == 1:
            for frame in frames:
                yield frame, made[0].detect_faces(frame.image, frame.t)
            return
        with ThreadPoolExecutor(n_threads, thread_name_prefix="twitchcam-landmarks") as pool:
            pending: collections.deque = collections.deque()
            for frame in frames:
                pending.append((frame, pool.submit(run, frame)))
                if len(pending) >= 2 * n_threads:
                    done, future = pending.popleft()
                    yield done, future.result()
            while pending:
                done, future = pending.popleft()
                yield done, future.result()
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
