"""Face landmarks per frame, and which face is the patient: numpy only, no MediaPipe and no OpenCV.

MediaPipe's Face Landmarker gives 478 points per face (468 face-mesh points and 10 iris points) with x and y
normalized by the image width and height and z in roughly the same scale as x. Here they are converted at the edge
into pixel units of the analyzed frame (x * width, y * height, z * width), so distances are isotropic, by
:mod:`twitchcam.landmarker` (the one module that imports MediaPipe); no MediaPipe type reaches this one, so the
numpy core (signals, events, pattern, stream) and the readers of a results folder import without OpenCV.

A frame where no face is found is a NaN row; frames are never dropped, so ``Landmarks.t`` is the video's full time
axis.

Which face is the patient
-------------------------
Several faces may be in view (a clinician leaning in, a relative in the background); MediaPipe is asked for up to
:data:`twitchcam.landmarker.MAX_FACES` and how many it found is kept per frame (``Landmarks.n_faces``). The
patient is the largest face
when first seen (the one sitting in front of the camera). From then on (:class:`PatientTracker`) a face is the
patient's when it is nearer to where the patient's face last was than to where any other face last was; the
patient is never swapped for a larger face that comes into view. A frame in which only other faces are found (the
patient looked away, or a hand covered the face) is a frame without the patient's face, a NaN row: another
person's face is never measured in the patient's place.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .regions import N_LANDMARKS


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
    def empty(cls, frame_size: tuple[int, int] = (0, 0)) -> Landmarks:
        """Landmarks of zero frames."""
        return cls(np.zeros(0), np.zeros((0, N_LANDMARKS, 3), np.float32), np.zeros(0, bool),
                   np.zeros(0, np.int16), frame_size)

    @classmethod
    def concatenate(cls, parts: list[Landmarks]) -> Landmarks:
        """Join consecutive stretches of one video (or live chunks) into one timeline.

        Raises
        ------
        ValueError
            If the parts overlap or are out of order (``t`` would not increase strictly).
        """
        filled = [p for p in parts if len(p)]
        if not filled:
            return cls.empty(parts[0].frame_size if parts else (0, 0))
        return cls(np.concatenate([p.t for p in filled]), np.concatenate([p.xyz for p in filled]),
                   np.concatenate([p.face_found for p in filled]),
                   np.concatenate([p.n_faces for p in filled]), filled[0].frame_size)

    def __getitem__(self, index) -> Landmarks:
        """Select frames with a slice or boolean mask, keeping them a Landmarks."""
        return Landmarks(self.t[index], self.xyz[index], self.face_found[index], self.n_faces[index],
                         self.frame_size)

    def save(self, path: str | Path) -> None:
        """Save to a compressed ``.npz`` file (no patient images, only coordinates)."""
        np.savez_compressed(path, t=self.t, xyz=self.xyz, face_found=self.face_found, n_faces=self.n_faces,
                            frame_size=np.asarray(self.frame_size))

    @classmethod
    def load(cls, path: str | Path) -> Landmarks:
        """Load what :meth:`save` wrote."""
        with np.load(path) as data:
            return cls(data["t"], data["xyz"], data["face_found"], data["n_faces"],
                       tuple(int(v) for v in data["frame_size"]))


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




class PatientLandmarks:
    """The patient's landmarks gathered frame after frame: the one ordered loop of offline and live analysis.

    Each frame's faces go through one :class:`PatientTracker` in frame order (the rule in the module docstring);
    a frame without the patient's face becomes a NaN row, so no frame is dropped. :meth:`take` hands over what was
    gathered since the last call, as :class:`Landmarks` (offline takes once at the end, live once per chunk).

    Parameters
    ----------
    frame_size : tuple of int
        ``(width, height)`` of the frames in pixels, until a frame is added (:meth:`add` sets it from each frame).
    """

    def __init__(self, frame_size: tuple[int, int] = (0, 0)):
        self.frame_size = frame_size
        self._tracker = PatientTracker()
        self._t: list[float] = []
        self._rows: list[np.ndarray] = []
        self._counts: list[int] = []

    def __len__(self) -> int:
        return len(self._t)

    @property
    def first_t(self) -> float | None:
        """Time in seconds of the first frame not taken yet, or None."""
        return self._t[0] if self._t else None

    def add(self, t: float, faces: list[np.ndarray], frame_size: tuple[int, int] | None = None) -> np.ndarray | None:
        """Add one frame, after every earlier one.

        Parameters
        ----------
        t : float
            Presentation time in seconds, later than the frame added before.
        faces : list of ndarray, each shape (478, 3), float32
            Every face found in the frame, in pixels.
        frame_size : tuple of int | None
            ``(width, height)`` of this frame in pixels.

        Returns
        -------
        ndarray, shape (478, 3), float32 | None
            The patient's landmarks in this frame, or None when the patient's face is not among ``faces``.
        """
        if frame_size is not None:
            self.frame_size = frame_size
        index = self._tracker.choose(faces)
        xyz = None if index is None else faces[index]
        self._t.append(t)
        self._rows.append(_NAN_ROW if xyz is None else xyz)
        self._counts.append(len(faces))
        return xyz

    def take(self) -> Landmarks:
        """The frames added since the last call, as Landmarks (zero frames when none were)."""
        if not self._t:
            return Landmarks.empty(self.frame_size)
        xyz = np.stack(self._rows)
        taken = Landmarks(np.asarray(self._t, np.float64), xyz, np.isfinite(xyz[:, 0, 0]),
                          np.asarray(self._counts, np.int16), self.frame_size)
        self._t, self._rows, self._counts = [], [], []
        return taken


_NAN_ROW = np.full((N_LANDMARKS, 3), np.nan, np.float32)
_NAN_ROW.flags.writeable = False
