"""Footage: the source frames a simulation animates, with their landmarks.

A photo is one frame (animated later with head motion and blinks). A video is reduced to its longest stretch with
the face at rest (no blink and no change of expression of its own, found from its landmarks), so that every
movement in the output is a planned one, or used whole (``stretch="whole"``) with its own talking, blinks and head
turns; either is looped forward and backward (ping-pong) to the requested duration
(:meth:`Footage.frame_index`). Times are seconds, lengths pixels.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..config import Config, check_option
from ..landmarker import LandmarkDetector
from ..regions import EYE_OUTLINE, LOWER_LID, MOUTH_CORNER, N_LANDMARKS, SIDES, UPPER_LID
from ..video import IMAGE_SUFFIXES, VideoError, downscale, iter_frames, read_image

#: Largest side of the output frames, pixels: sources are downscaled to it (keeps a looped video in memory small).
MAX_SIDE_PX = 960
#: Longest stretch of a source video that is looped, s.
MAX_LOOP_S = 10.0
#: A source frame is not steady (is part of a blink or of a change of expression of the source's own) when its
#: mean eye closure, against the video's median opening, exceeds ``STEADY_MAX_CLOSURE``, or its mouth width or
#: opening differ from the video's median by more than ``STEADY_MAX_MOUTH_IOD``; frames within ``STEADY_PAD_S``
#: of such a frame are not used either.
STEADY_MAX_CLOSURE = 0.3
STEADY_MAX_MOUTH_IOD = 0.05
STEADY_PAD_S = 0.15
#: Inner lip midpoints (upper, lower): the mouth's opening.
LIP_MIDPOINTS = (13, 14)
#: Shortest usable stretch at rest of a source video, s.
MIN_LOOP_S = 0.5
#: Longest part of a source video used whole (``stretch="whole"``), s: its frames are held in memory.
MAX_WHOLE_S = 60.0
#: Ways to take footage from a source video (:func:`load_footage`).
STRETCHES = ("rest", "whole")


@dataclass(frozen=True)
class Footage:
    """The source frames a simulation animates, with their landmarks.

    Parameters
    ----------
    images : ndarray, shape (n_src, height, width, 3), uint8
        BGR frames (one for a photo).
    xyz : ndarray, shape (n_src, 478, 3), float32
        Landmarks of each frame, pixels.
    t : ndarray, shape (n_src,)
        Time of each frame from the first one used, s (``[0]`` for a photo).
    source : str
        The file.
    is_photo : bool
        Whether the source is a still photo.
    stretch_s : tuple of float
        Start and end of the stretch of the source video used, s of the source (``(0, 0)`` for a photo).
    """

    images: np.ndarray
    xyz: np.ndarray
    t: np.ndarray
    source: str
    is_photo: bool
    stretch_s: tuple[float, float]

    @property
    def fps(self) -> float:
        """Frame rate of the source video, 1 / median frame interval; 30 for a photo."""
        return float(1 / np.median(np.diff(self.t))) if len(self.t) > 1 else 30.0

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)`` of the frames, pixels."""
        return int(self.images.shape[2]), int(self.images.shape[1])

    def frame_index(self, t: np.ndarray) -> np.ndarray:
        """Source frame shown at each output time: the stretch played forward, then backward, and again.

        Parameters
        ----------
        t : ndarray, shape (n_frames,)
            Output time, s.

        Returns
        -------
        ndarray, shape (n_frames,), int
            Index into ``images``.
        """
        if len(self.t) == 1:
            return np.zeros(len(t), int)
        span = self.t[-1]
        phase = np.mod(t, 2 * span)
        tt = np.where(phase > span, 2 * span - phase, phase)
        i = np.clip(np.searchsorted(self.t, tt), 1, len(self.t) - 1)
        return np.where(tt - self.t[i - 1] < self.t[i] - tt, i - 1, i)


def eye_opening(xyz: np.ndarray) -> np.ndarray:
    """Lid aperture over eye width, as twitchcam's signals measure it.

    Parameters
    ----------
    xyz : ndarray, shape (..., 478, 2 or 3)
        Landmarks, pixels.

    Returns
    -------
    ndarray, shape (..., 2)
        Opening of the (left, right) eye: mean distance of facing lid points over the corner distance.
    """
    out = []
    for side in SIDES:
        lids = np.linalg.norm(xyz[..., list(UPPER_LID[side]), :2] - xyz[..., list(LOWER_LID[side]), :2], axis=-1)
        corners = EYE_OUTLINE[side][0], EYE_OUTLINE[side][8]
        out.append(lids.mean(axis=-1) / np.linalg.norm(xyz[..., corners[0], :2] - xyz[..., corners[1], :2], axis=-1))
    return np.stack(out, axis=-1)


def steady_stretch(t: np.ndarray, xyz: np.ndarray) -> tuple[int, int]:
    """The longest run of frames with a face, no blink and no change of expression.

    Parameters
    ----------
    t : ndarray, shape (n,)
        Frame times, s.
    xyz : ndarray, shape (n, 478, 3)
        Landmarks per frame, pixels; NaN where no face was found.

    Returns
    -------
    first, last : int
        Frame indices of the run, both included.

    Raises
    ------
    ValueError
        If no such run lasts ``MIN_LOOP_S``.
    """
    found = np.isfinite(xyz).all(axis=(1, 2))
    if not found.any():
        raise ValueError("no face found in the source video")
    opening = eye_opening(xyz).mean(axis=1)
    iod = np.linalg.norm(xyz[:, EYE_OUTLINE["left"][0], :2] - xyz[:, EYE_OUTLINE["right"][0], :2], axis=1)
    mouth = np.stack([np.linalg.norm(xyz[:, MOUTH_CORNER["left"], :2] - xyz[:, MOUTH_CORNER["right"], :2], axis=1),
                      np.linalg.norm(xyz[:, LIP_MIDPOINTS[0], :2] - xyz[:, LIP_MIDPOINTS[1], :2], axis=1)], axis=1)
    mouth = mouth / iod[:, None]
    with np.errstate(invalid="ignore"):
        unsteady = found & ((1 - opening / np.median(opening[found]) > STEADY_MAX_CLOSURE)
                            | (np.abs(mouth - np.median(mouth[found], axis=0)) > STEADY_MAX_MOUTH_IOD).any(axis=1))
    near = (np.abs(t[:, None] - t[unsteady][None, :]) <= STEADY_PAD_S).any(axis=1)
    good = np.r_[False, found & ~near, False]
    edges = np.flatnonzero(np.diff(good.astype(int)))
    if not len(edges):
        raise ValueError("the source video has no frame with a face at rest")
    starts, stops = edges[::2], edges[1::2] - 1
    best = int(np.argmax(t[stops] - t[starts]))
    first, last = int(starts[best]), int(stops[best])
    if t[last] - t[first] < MIN_LOOP_S:
        raise ValueError(f"the source video has no stretch of {MIN_LOOP_S} s with a face at rest (no blink, "
                         "no change of expression)")
    return first, last


def load_footage(source: str | Path, config: Config | None = None, stretch: str = "rest") -> Footage:
    """Read a face photo or video and find its landmarks.

    With ``stretch="rest"`` a video is reduced to its longest stretch with a face at rest (:func:`steady_stretch`:
    no blink, no change of expression), at most ``MAX_LOOP_S`` long, so that the only movements of a simulation
    are planned ones. With ``stretch="whole"`` all of it (at most ``MAX_WHOLE_S``) is used as it is, with its own
    talking, blinks, expressions and head turns: twitches are then injected into real, expressive footage, and
    frames where no face was found are shown unwarped. Frames are downscaled to ``MAX_SIDE_PX``.

    Parameters
    ----------
    source : str | Path
        A photo (suffix in ``twitchcam.video.IMAGE_SUFFIXES``) or a video file.
    config : Config | None
        Landmark settings (running mode, confidences).
    stretch : {"rest", "whole"}
        Which part of a source video to use (ignored for a photo).

    Raises
    ------
    twitchcam.video.VideoError
        The file cannot be read.
    ValueError
        No face in the photo, or no usable stretch in the video.
    """
    check_option("stretch", stretch, STRETCHES)
    path = Path(source)
    with LandmarkDetector(config) as detector:
        if path.suffix.lower() in IMAGE_SUFFIXES:
            image = downscale(read_image(path), MAX_SIDE_PX)
            xyz, _ = detector.detect(image, 0.0)
            if xyz is None:
                raise ValueError(f"{path}: no face found in the photo")
            return Footage(image[None], xyz[None], np.zeros(1), str(source), True, (0.0, 0.0))
        ts, rows = [], []
        for frame in iter_frames(path):
            if stretch == "whole" and ts and frame.t - ts[0] > MAX_WHOLE_S:
                break
            xyz, _ = detector.detect(downscale(frame.image, MAX_SIDE_PX), frame.t)
            ts.append(frame.t)
            rows.append(np.full((N_LANDMARKS, 3), np.nan, np.float32) if xyz is None else xyz)
    if not ts:
        raise VideoError(f"{path}: no frame could be decoded")
    t, xyz = np.asarray(ts), np.stack(rows)
    if stretch == "whole":
        if not np.isfinite(xyz).all(axis=(1, 2)).any():
            raise ValueError(f"{path}: no face found in the source video")
        first, last = 0, len(t) - 1
    else:
        first, last = steady_stretch(t, xyz)
        last = min(last, int(np.searchsorted(t, t[first] + MAX_LOOP_S, side="right")) - 1)
    # A second pass keeps only the stretch's images in memory.
    images = [downscale(frame.image, MAX_SIDE_PX) for frame in iter_frames(path) if first <= frame.index <= last]
    if len(images) != last - first + 1:
        raise VideoError(f"{path}: decoded a different number of frames on the second pass")
    return Footage(np.stack(images), xyz[first:last + 1], t[first:last + 1] - t[first], str(source), False,
                   (float(t[first]), float(t[last])))


#: Margin around the source's own eye closures that injected eye twitches keep clear of, s.
CLOSURE_MARGIN_S = 0.1


def footage_closures(footage: Footage, t: np.ndarray) -> np.ndarray:
    """When the footage's own eyes close (blinks, squints, eyes shut) in the output, as intervals.

    In whole-stretch footage the person blinks, squints and closes the eyes; a twitch injected into a closing eye
    is invisible, so its truth could not be seen: the generators keep their eye twitches clear of these
    (``avoid`` of :func:`twitchcam.courses.make_course`). A source frame is a closure when its mean eye closure
    against the footage's median opening exceeds ``STEADY_MAX_CLOSURE``.

    Parameters
    ----------
    footage : Footage
    t : ndarray, shape (n_frames,)
        Output frame times, s.

    Returns
    -------
    ndarray, shape (n_closures, 2)
        Start and end of each closure in output seconds, widened by :data:`CLOSURE_MARGIN_S`.
    """
    opening = eye_opening(footage.xyz).mean(axis=1)
    with np.errstate(invalid="ignore"):
        closed = (1 - opening / np.nanmedian(opening) > STEADY_MAX_CLOSURE)[footage.frame_index(t)]
    edges = np.flatnonzero(np.diff(np.r_[0, closed.astype(np.int8), 0]))
    start, stop = edges[::2], edges[1::2] - 1
    return np.stack([t[start] - CLOSURE_MARGIN_S, t[stop] + CLOSURE_MARGIN_S], axis=1).reshape(-1, 2)

