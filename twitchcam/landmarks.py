"""Face landmarks per frame: the one module that imports MediaPipe.

MediaPipe's Face Landmarker gives 478 points per face (468 face-mesh points and 10 iris points) with x and y
normalized by the image width and height and z in roughly the same scale as x. Here they are converted at the edge
into pixel units of the analyzed frame (x * width, y * height, z * width), so distances are isotropic, and no
MediaPipe type leaves this module.

A frame where no face is found is a NaN row; frames are never dropped, so ``Landmarks.t`` is the video's full time
axis.

Which face is the patient
-------------------------
Several faces may be in view (a clinician leaning in, a relative in the background); MediaPipe is asked for up to
:data:`MAX_FACES` and how many it found is kept per frame (``Landmarks.n_faces``). The patient is the largest face
when first seen (the one sitting in front of the camera). From then on (:class:`PatientTracker`) a face is the
patient's when it is nearer to where the patient's face last was than to where any other face last was; the
patient is never swapped for a larger face that comes into view. A frame in which only other faces are found (the
patient looked away, or a hand covered the face) is a frame without the patient's face, a NaN row: another
person's face is never measured in the patient's place.
"""

from __future__ import annotations

import collections
import hashlib
import os
import queue
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import cv2
import numpy as np

from .config import Config, available_cores
from .regions import N_LANDMARKS
from .video import downscale, quiet_native_stderr

#: sha256 of the MediaPipe model bundle shipped in ``models/``.
BUNDLED_MODEL_SHA256 = "64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff"
MODEL_NAME = "face_landmarker.task"
#: Faces MediaPipe looks for in each frame: the patient and the others that may be in view.
MAX_FACES = 3


class ModelError(RuntimeError):
    """The landmark model is missing, corrupt or cannot be loaded; the message is one line meant for the user."""


@dataclass(frozen=True)
class Landmarks:
    """Face landmarks of every frame of a recording.

    Parameters
    ----------
    t : ndarray, shape (n_frames,), float64
        Presentation time of each frame in seconds, strictly increasing.
    xyz : ndarray, shape (n_frames, 478, 3), float32
        Landmark coordinates in pixels of the frame (x right, y down, z toward the camera is negative, scaled
        like x). NaN where no face was found.
    face_found : ndarray, shape (n_frames,), bool
        Whether the patient's face was found.
    n_faces : ndarray, shape (n_frames,), int16
        How many faces MediaPipe found in the frame (more than one: the patient was chosen by the documented rule).
    frame_size : tuple of int
        ``(width, height)`` of the frames in pixels.
    """

    t: np.ndarray
    xyz: np.ndarray
    face_found: np.ndarray
    n_faces: np.ndarray
    frame_size: tuple[int, int]

    def __post_init__(self):
        n = len(self.t)
        if self.xyz.shape != (n, N_LANDMARKS, 3):
            raise ValueError(f"xyz must have shape ({n}, {N_LANDMARKS}, 3), got {self.xyz.shape}")
        if self.face_found.shape != (n,) or self.n_faces.shape != (n,):
            raise ValueError("face_found and n_faces must have one entry per frame")
        if n > 1 and not np.all(np.diff(self.t) > 0):
            raise ValueError("t must increase strictly")

    def __len__(self) -> int:
        return len(self.t)

    @classmethod
    def empty(cls, frame_size: tuple[int, int] = (0, 0)) -> "Landmarks":
        """Landmarks of zero frames."""
        return cls(np.zeros(0), np.zeros((0, N_LANDMARKS, 3), np.float32), np.zeros(0, bool),
                   np.zeros(0, np.int16), frame_size)

    @classmethod
    def concatenate(cls, parts: list["Landmarks"]) -> "Landmarks":
        """Join consecutive stretches of one video (or live chunks) into one timeline.

        Raises
        ------
        ValueError
            If the parts overlap or are out of order (``t`` would not increase strictly).
        """
        filled = [p for p in parts if len(p)]
        if not filled:
            return cls.empty(parts[0].frame_size if parts else (0, 0))
        return cls(np.concatenate([p.t for p in filled]), np.concatenate([p.xyz for p in filled]), np.concatenate([p.face_found for p in filled]),
                   np.concatenate([p.n_faces for p in filled]), filled[0].frame_size)

    def __getitem__(self, index) -> "Landmarks":
        """Select frames with a slice or boolean mask, keeping them a Landmarks."""
        return Landmarks(self.t[index], self.xyz[index], self.face_found[index], self.n_faces[index],
                         self.frame_size)

    def save(self, path: str | Path) -> None:
        """Save to a compressed ``.npz`` file (no patient images, only coordinates)."""
        np.savez_compressed(path, t=self.t, xyz=self.xyz, face_found=self.face_found, n_faces=self.n_faces,
                            frame_size=np.asarray(self.frame_size))

    @classmethod
    def load(cls, path: str | Path) -> "Landmarks":
        """Load what :meth:`save` wrote."""
        with np.load(path) as data:
            return cls(data["t"], data["xyz"], data["face_found"], data["n_faces"],
                       tuple(int(v) for v in data["frame_size"]))


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


def _bbox_area(points: np.ndarray) -> float:
    span = points[:, :2].max(axis=0) - points[:, :2].min(axis=0)
    return float(span[0] * span[1])


def _centre(face: np.ndarray) -> np.ndarray:
    return face[:, :2].mean(axis=0)


class PatientTracker:
    """Which of the faces of each frame is the patient's, frame after frame (rule in the module docstring).

    Feed it every frame's faces in time order with :meth:`choose`.
    """

    def __init__(self):
        self.patient: np.ndarray | None = None
        self.others: list[np.ndarray] = []

    def choose(self, faces: list[np.ndarray]) -> int | None:
        """The index of the patient's face in ``faces``, or None when the patient is not among them.

        Parameters
        ----------
        faces : list of ndarray, each shape (478, 3)
            Every face found in the frame, in pixels.
        """
        if not faces:
            return None
        if self.patient is None:
            index = int(np.argmax([_bbox_area(f) for f in faces]))
        else:
            centres = np.array([_centre(f) for f in faces])
            to_patient = np.linalg.norm(centres - _centre(self.patient), axis=1)
            to_others = np.full(len(faces), np.inf)
            for other in self.others:
                to_others = np.minimum(to_others, np.linalg.norm(centres - _centre(other), axis=1))
            continuing = np.flatnonzero(to_patient < to_others)
            index = int(continuing[np.argmin(to_patient[continuing])]) if continuing.size else None
        if index is not None:
            self.patient = faces[index]
        rest = [f for i, f in enumerate(faces) if i != index]
        if rest:
            # A frame with the patient alone keeps the others' last places: they may be hidden for a moment.
            self.others = rest
        return index


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
        from mediapipe.tasks.python.core.base_options import BaseOptions
        from mediapipe.tasks.python import vision

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

    def __enter__(self) -> "LandmarkDetector":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def inference_threads(config: Config) -> int:
    """How many MediaPipe instances to run side by side: ``config.inference_threads``, or with 0 one per core
    (at most 4). VIDEO mode tracks from frame to frame, so it always uses one."""
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
    ts: list[float] = []
    rows: list[np.ndarray] = []
    counts: list[int] = []
    nan_row = np.full((N_LANDMARKS, 3), np.nan, np.float32)
    size = (0, 0)
    tracker = PatientTracker()
    for i, (frame, faces) in enumerate(_faces_in_order(frames, cfg, model, inference_threads(cfg))):
        size = (frame.image.shape[1], frame.image.shape[0])
        index = tracker.choose(faces)
        rows.append(nan_row if index is None else faces[index])
        ts.append(frame.t)
        counts.append(len(faces))
        if on_frame is not None:
            on_frame(i)
    if not ts:
        return Landmarks.empty(size)
    xyz = np.stack(rows)
    return Landmarks(np.asarray(ts, np.float64), xyz, np.isfinite(xyz[:, 0, 0]), np.asarray(counts, np.int16), size)
