"""Known-truth twitch videos: real face footage with twitches injected at known times.

This is the ground truth of the accuracy benchmark. A real face video or photo is animated and warped so that the
patient's eyelids, mouth corner or brow move at planned times; the plan is written out as ``events.csv`` and
``summary.json`` in the same schema as an analysis, so a result can be scored against it row by row.

Conventions
-----------
- ``side`` is the PATIENT's side, as everywhere in twitchcam (see :mod:`twitchcam.regions`): in an unmirrored
  image the patient's left eye is on the image's right.
- A planned movement is one row of an :class:`~twitchcam.events.Events` table (one row per region per side, the
  analysis' own schema). ``onset_s`` and ``offset_s`` are where the movement's envelope crosses half its peak
  (full width at half maximum); the ramps extend half a ramp before and after. ``peak`` is the requested
  amplitude: eye closure as a fraction of the resting opening for ``periocular`` (1 = closed), displacement in
  inter-ocular distances (iod) for ``perioral`` and ``brow``.
- Warps are smooth, local and backward (each output pixel samples the source at a computed point, with
  ``cv2.remap``), computed only on a box around the face, and driven by the source frame's own MediaPipe
  landmarks. Eyelids slide over the eye (the eyeball is covered, never squashed); orbicularis twitches also lift
  the cheek; the mouth corner is pulled up and out toward the same-side ear (zygomaticus); the brow is raised
  (frontalis).
- A photo is animated with slow head motion and natural blinks. A video is reduced to its longest stretch with the
  face at rest (no blink and no change of expression of its own, found from its landmarks), so that every
  movement in the output is a planned one, and that stretch is looped forward and backward (ping-pong) to the
  requested duration.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from . import __version__
from .config import Config, check_option
from .events import Events
from .folder import write_events_csv, write_json
from .landmarker import LandmarkDetector
from .regions import BROW, EYE_OUTLINE, LOWER_LID, MOUTH_CORNER, N_LANDMARKS, SIDES, UPPER_LID
from .video import IMAGE_SUFFIXES, VideoError, VideoWriter, downscale, iter_frames, read_image

logger = logging.getLogger(__name__)

#: Course generators and the pattern an analysis should find in each.
EXPECTED_PATTERN = {
    "hfs": "hemifacial_spasm",
    "rhythmic": "unilateral_other",
    "mouth_only": "unilateral_other",
    "eye_only": "unilateral_other",
    "blepharospasm": "bilateral",
    "normal": "none",
    "sway": "none",
}
GENERATORS = tuple(EXPECTED_PATTERN)
#: Generators whose twitches are on one side (the ``side`` argument); the others ignore it.
LATERALIZED = ("hfs", "rhythmic", "mouth_only", "eye_only")

#: Landmarks at the face outline at ear level: where zygomaticus pulls the mouth corner toward.
EAR = {"left": 454, "right": 234}
#: Forehead (top of the midline) and chin: their line is the face's up axis, whatever the head's roll.
FOREHEAD, CHIN = 10, 152

#: Share of the lid gap that the upper lid closes; the lower lid closes the rest. In blinks and in orbicularis
#: contractions alike most of the travel is the upper lid's.
UPPER_LID_SHARE = 0.8
#: MediaPipe's lid contour runs a little inside the visible lid margin; the moved margins sample the source this
#: fraction of the lid gap beyond the contour (times the closure), so a closed eye shows no sliver of eyeball.
LID_OVERLAP = 0.15
#: Height of the skin above (below) the lid that is dragged along, in half eye widths: the pretarsal skin up to
#: the crease above, the lower lid and upper cheek below.
LID_DRAG_HALF_WIDTHS = 1.3
#: Upward lift of the cheek at full orbicularis squeeze, in iod.
CHEEK_LIFT_IOD = 0.05
#: Radii (in iod) of the displacement kernels: wide enough that the field's slope stays well below 1, so the
#: forward warp is invertible and the skin is not folded.
MOUTH_RADIUS_IOD = 0.45
CHEEK_RADIUS_IOD = 0.35
BROW_RADIUS_IOD = 0.35
#: Largest perioral or brow displacement the warp renders, in iod: at most 0.43 of the smallest kernel radius, so
#: the field's slope (1.72 shift / radius) stays below 0.75. Courses are clipped to it and a course of one's own
#: asking for more is refused, so the truth never claims more than the video shows.
MAX_DISPLACEMENT_IOD = 0.15


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


@dataclass(frozen=True)
class FaceFrame:
    """Face-fixed axes of one frame.

    Parameters
    ----------
    up : ndarray, shape (2,)
        Unit vector from chin toward forehead, in image coordinates (x right, y down).
    right : ndarray, shape (2,)
        Unit vector perpendicular to ``up`` pointing to the image's right (the patient's left).
    iod : float
        Inter-ocular distance (outer eye corners) in pixels.
    """

    up: np.ndarray
    right: np.ndarray
    iod: float

    @classmethod
    def from_landmarks(cls, xyz: np.ndarray) -> FaceFrame:
        """Axes of a face from its landmarks, shape (478, 2 or 3), pixels."""
        up = _unit(xyz[FOREHEAD, :2] - xyz[CHIN, :2])
        right = np.array([-up[1], up[0]])
        iod = float(np.linalg.norm(xyz[EYE_OUTLINE["left"][0], :2] - xyz[EYE_OUTLINE["right"][0], :2]))
        return cls(up, right, iod)


@dataclass(frozen=True)
class Eyelids:
    """One eye's lid margins in face-aligned coordinates centred on the eye.

    ``u`` runs along ``FaceFrame.right`` and ``v`` down the face (along ``-up``), both in pixels from the
    midpoint of the eye corners.

    Parameters
    ----------
    origin : ndarray, shape (2,)
        Midpoint of the eye corners, pixels.
    u_axis, v_axis : ndarray, shape (2,)
        Unit vectors of the local axes in image coordinates.
    upper_u, upper_v : ndarray, shape (k,)
        Upper lid margin, sorted by ``u``, corners included, pixels.
    lower_u, lower_v : ndarray, shape (k,)
        Lower lid margin, sorted by ``u``, corners included, pixels.
    half_width : float
        Half the corner-to-corner distance, pixels.
    """

    origin: np.ndarray
    u_axis: np.ndarray
    v_axis: np.ndarray
    upper_u: np.ndarray
    upper_v: np.ndarray
    lower_u: np.ndarray
    lower_v: np.ndarray
    half_width: float

    @classmethod
    def from_landmarks(cls, xyz: np.ndarray, side: str, face: FaceFrame) -> Eyelids:
        """The lids of the patient's ``side`` eye from landmarks, shape (478, 2 or 3), pixels."""
        outline = EYE_OUTLINE[side]
        # The outline runs outer corner -> lower lid -> inner corner (index 8) -> upper lid.
        lower = xyz[list(outline[:9]), :2]
        upper = xyz[list(outline[8:]) + [outline[0]], :2]
        origin = (xyz[outline[0], :2] + xyz[outline[8], :2]) / 2
        v_axis = -face.up

        def local(points):
            d = points - origin
            u, v = d @ face.right, d @ v_axis
            order = np.argsort(u)
            return u[order], v[order]

        upper_u, upper_v = local(upper)
        lower_u, lower_v = local(lower)
        half_width = float(np.linalg.norm(xyz[outline[0], :2] - xyz[outline[8], :2]) / 2)
        return cls(origin, face.right, v_axis, upper_u, upper_v, lower_u, lower_v, half_width)

    def drag_px(self) -> float:
        """Height of the skin dragged along above and below the lids, pixels.

        At least twice the widest lid gap, so that the fade of a full closure (which moves a margin by at most
        ``(UPPER_LID_SHARE + LID_OVERLAP)`` of the gap) has a slope below 1 and the skin does not fold.
        """
        gap = np.interp(self.upper_u, self.lower_u, self.lower_v) - self.upper_v
        return max(LID_DRAG_HALF_WIDTHS * self.half_width, 2.0 * float(gap.max()))

    def bbox(self) -> np.ndarray:
        """Corners of the box the lid warp can touch, shape (4, 2), pixels."""
        drag = self.drag_px()
        u0, u1 = min(self.upper_u[0], self.lower_u[0]), max(self.upper_u[-1], self.lower_u[-1])
        v0, v1 = self.upper_v.min() - drag, self.lower_v.max() + drag
        uv = np.array([[u0, v0], [u1, v0], [u1, v1], [u0, v1]])
        return self.origin + uv[:, :1] * self.u_axis + uv[:, 1:] * self.v_axis


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def lid_source(points: np.ndarray, lids: Eyelids, closure: float) -> np.ndarray:
    """Backward map of an eyelid closure: where each output point samples the unclosed image.

    The upper lid slides down by ``UPPER_LID_SHARE`` of ``closure`` times the lid gap and the lower lid up by the
    rest, dragging the skin above and below with them (fading over :meth:`Eyelids.drag_px`). Between the moved
    margins the eye itself is sampled where it is, so the lids cover it rather than squash it; the part of the
    eye they cover is never sampled.

    Parameters
    ----------
    points : ndarray, shape (m, 2)
        Output points, pixels.
    lids : Eyelids
        The eye, from the unclosed image.
    closure : float
        0 (open) to 1 (lids meet).

    Returns
    -------
    ndarray, shape (m, 2)
        Source points, pixels.
    """
    d = points - lids.origin
    u, v = d @ lids.u_axis, d @ lids.v_axis
    inside = (u > lids.upper_u[0]) & (u < lids.upper_u[-1])
    upper = np.interp(u, lids.upper_u, lids.upper_v)
    lower = np.interp(u, lids.lower_u, lids.lower_v)
    gap = np.where(inside, np.maximum(lower - upper, 0.0), 0.0)
    down = closure * UPPER_LID_SHARE * gap
    lift = closure * (1 - UPPER_LID_SHARE) * gap
    new_upper, new_lower = upper + down, lower - lift
    drag = lids.drag_px()
    # Above the moved upper margin the skin came from `down` (plus the overlap) higher, fading to none at `drag`
    # above it; likewise below the lower margin.
    overlap = closure * LID_OVERLAP * gap
    shift = np.where(v < new_upper, -(down + overlap) * (1 - _smoothstep((new_upper - v) / drag)), 0.0)
    shift = np.where(v > new_lower, (lift + overlap) * (1 - _smoothstep((v - new_lower) / drag)), shift)
    return points + shift[:, None] * lids.v_axis


@dataclass(frozen=True)
class Kernels:
    """A smooth displacement field: a sum of compactly supported bumps, each carrying a displacement.

    Bump ``i`` is a capsule around a segment: it moves every point of the segment (centre ``centre[i]``,
    direction ``axis[i]``, half-length ``half_length[i]``) by ``shift[i]``, and a point at distance ``r`` from
    the segment by ``shift[i] * (1 - (r / radius[i])**2)**3`` (smooth, and exactly zero beyond ``radius``). A
    half-length of 0 makes a round bump.

    Parameters
    ----------
    centre : ndarray, shape (k, 2)
        Pixels.
    axis : ndarray, shape (k, 2)
        Unit vectors.
    half_length : ndarray, shape (k,)
        Pixels.
    radius : ndarray, shape (k,)
        Pixels.
    shift : ndarray, shape (k, 2)
        Pixels.
    """

    centre: np.ndarray
    axis: np.ndarray
    half_length: np.ndarray
    radius: np.ndarray
    shift: np.ndarray

    def __post_init__(self):
        k = len(self.centre)
        for name, shape in (("centre", (k, 2)), ("axis", (k, 2)), ("half_length", (k,)), ("radius", (k,)),
                            ("shift", (k, 2))):
            if np.shape(getattr(self, name)) != shape:
                raise ValueError(f"Kernels.{name} must have shape {shape}, got {np.shape(getattr(self, name))}")

    @classmethod
    def empty(cls) -> Kernels:
        """No bump: the identity."""
        return cls(np.zeros((0, 2)), np.zeros((0, 2)), np.zeros(0), np.zeros(0), np.zeros((0, 2)))

    def __len__(self) -> int:
        return len(self.centre)

    def displacement(self, points: np.ndarray) -> np.ndarray:
        """Forward displacement at ``points``, shape (m, 2) -> (m, 2), pixels."""
        out = np.zeros_like(points)
        for centre, axis, half, radius, shift in zip(self.centre, self.axis, self.half_length, self.radius,
                                                     self.shift):
            dx, dy = points[:, 0] - centre[0], points[:, 1] - centre[1]
            along = np.maximum(np.abs(dx * axis[0] + dy * axis[1]) - half, 0.0)
            across = dx * axis[1] - dy * axis[0]
            s2 = (along * along + across * across) / radius**2
            out += np.clip(1 - s2, 0.0, None)[:, None] ** 3 * shift
        return out

    def source(self, points: np.ndarray, n_iter: int = 12) -> np.ndarray:
        """Invert the forward warp: the points ``p`` with ``p + displacement(p) = points``, shape (m, 2).

        Fixed-point iteration; it converges because every bump's slope (at most ``1.72 |shift| / radius``) is
        below 1.
        """
        p = points.copy()
        for _ in range(n_iter):
            p = points - self.displacement(p)
        return p

    def bbox(self) -> np.ndarray:
        """Corners of boxes holding every bump's support, shape (2k, 2), pixels."""
        half = np.abs(self.axis) * self.half_length[:, None] + self.radius[:, None]
        return np.concatenate([self.centre - half, self.centre + half])


def face_kernels(xyz: np.ndarray, mouth: np.ndarray, brow: np.ndarray, squeeze: np.ndarray) -> Kernels:
    """The smooth part of a twitch: mouth corners, brows and cheeks.

    Parameters
    ----------
    xyz : ndarray, shape (478, 2 or 3)
        Landmarks of the unwarped frame, pixels.
    mouth : ndarray, shape (2,)
        Pull of the (left, right) mouth corner up and out toward the same-side ear, iod.
    brow : ndarray, shape (2,)
        Raise of the (left, right) brow along the face's up axis, iod.
    squeeze : ndarray, shape (2,)
        Orbicularis contraction of the (left, right) eye, 0-1; lifts the cheek below that eye.

    Returns
    -------
    Kernels
        Only the bumps with a nonzero shift.
    """
    face = FaceFrame.from_landmarks(xyz)
    rows = []  # (centre, axis, half_length, radius, shift)
    for i, side in enumerate(SIDES):
        corner = xyz[MOUTH_CORNER[side], :2]
        if mouth[i] > 0:
            pull = _unit(xyz[EAR[side], :2] - corner)
            rows.append((corner, pull, 0.0, MOUTH_RADIUS_IOD * face.iod,
                         min(mouth[i], MAX_DISPLACEMENT_IOD) * face.iod * pull))
        if brow[i] > 0:
            # The whole brow rises as one (frontalis lifts it evenly), fading over BROW_RADIUS_IOD around it.
            points = xyz[list(BROW[side]), :2]
            rows.append((points.mean(axis=0), _unit(points[0] - points[-1]),
                         np.linalg.norm(points[0] - points[-1]) / 2, BROW_RADIUS_IOD * face.iod,
                         min(brow[i], MAX_DISPLACEMENT_IOD) * face.iod * face.up))
        if squeeze[i] > 0:
            outline = xyz[list(EYE_OUTLINE[side]), :2]
            rows.append((outline.mean(axis=0) - 0.3 * face.iod * face.up, face.right, 0.0,
                         CHEEK_RADIUS_IOD * face.iod, min(squeeze[i], 1.0) * CHEEK_LIFT_IOD * face.iod * face.up))
    if not rows:
        return Kernels.empty()
    centre, axis, half, radius, shift = (np.array(col, np.float64) for col in zip(*rows))
    return Kernels(centre, axis, half, radius, shift)


def source_points(points: np.ndarray, xyz: np.ndarray, eye: np.ndarray, mouth: np.ndarray, brow: np.ndarray,
                  squeeze: np.ndarray) -> np.ndarray:
    """Backward map of a whole twitch: where each output point samples the unwarped frame.

    The lids close first, then mouth, brow and cheek move (the smooth field is applied on top of the closed lids).

    Parameters
    ----------
    points : ndarray, shape (m, 2)
        Output points, pixels.
    xyz : ndarray, shape (478, 2 or 3)
        Landmarks of the unwarped frame, pixels.
    eye : ndarray, shape (2,)
        Closure of the (left, right) eye, 0-1.
    mouth, brow : ndarray, shape (2,)
        Mouth-corner pull and brow raise of (left, right), iod.
    squeeze : ndarray, shape (2,)
        Orbicularis (cheek) contraction of (left, right), 0-1.

    Returns
    -------
    ndarray, shape (m, 2)
        Source points, pixels.
    """
    face = FaceFrame.from_landmarks(xyz)
    p = _smooth_source(points, face_kernels(xyz, mouth, brow, squeeze), face.iod)
    for i, side in enumerate(SIDES):
        if eye[i] > 0:
            lids = Eyelids.from_landmarks(xyz, side, face)
            box = lids.bbox()
            near = ((p >= box.min(axis=0)) & (p <= box.max(axis=0))).all(axis=1)
            p[near] = lid_source(p[near], lids, min(float(eye[i]), 1.0))
    return p


def _smooth_source(points: np.ndarray, kernels: Kernels, iod: float) -> np.ndarray:
    """:meth:`Kernels.source` at ``points`` (m, 2), inverted on a coarse grid and interpolated, pixels.

    The field varies over a third of an iod or more, so a grid of 3 % of an iod loses nothing visible and makes
    the inversion ~100 times cheaper than at every pixel.
    """
    if not len(kernels):
        return points.copy()
    support = kernels.bbox()
    lo = np.maximum(points.min(axis=0), support.min(axis=0))
    hi = np.minimum(points.max(axis=0), support.max(axis=0))
    if np.any(hi < lo):
        return points.copy()
    step = max(1.0, 0.03 * iod)
    gx, gy = (np.arange(a - step, b + 2 * step, step) for a, b in zip(lo, hi))
    grid = np.stack(np.meshgrid(gx, gy), axis=-1).reshape(-1, 2)
    field = (kernels.source(grid) - grid).reshape(len(gy), len(gx), 2).astype(np.float32)
    # cv2.remap takes maps of fewer than 2**15 columns: lay the points out in rows of 1024.
    n = len(points)
    rows = -(-n // 1024)
    uv = np.zeros((rows * 1024, 2), np.float32)
    uv[:n] = (points - [gx[0], gy[0]]) / step
    # Outside the grid the field is zero: the grid holds every kernel's support that the points reach.
    shift = cv2.remap(field, uv[:, 0].reshape(rows, 1024), uv[:, 1].reshape(rows, 1024), cv2.INTER_LINEAR,
                      borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return points + shift.reshape(-1, 2)[:n]


def warp_bbox(xyz: np.ndarray, eye: np.ndarray, mouth: np.ndarray, brow: np.ndarray,
              squeeze: np.ndarray) -> np.ndarray:
    """Box ``[x0, y0, x1, y1]`` (pixels of the unwarped frame) outside which a twitch moves nothing, shape (4,)."""
    face = FaceFrame.from_landmarks(xyz)
    corners = [face_kernels(xyz, mouth, brow, squeeze).bbox()]
    for i, side in enumerate(SIDES):
        if eye[i] > 0:
            corners.append(Eyelids.from_landmarks(xyz, side, face).bbox())
    corners = np.concatenate(corners)
    if not len(corners):
        return np.zeros(4)
    return np.concatenate([corners.min(axis=0), corners.max(axis=0)])


def warp_face(image: np.ndarray, xyz: np.ndarray, *, eye=(0.0, 0.0), mouth=(0.0, 0.0), brow=(0.0, 0.0),
              squeeze=None, homography: np.ndarray | None = None) -> np.ndarray:
    """Render one frame of a twitch (and optionally a head motion) from an unwarped frame.

    Parameters
    ----------
    image : ndarray, shape (height, width, 3), uint8
        The unwarped BGR frame.
    xyz : ndarray, shape (478, 2 or 3)
        Its landmarks, pixels.
    eye : array-like, shape (2,)
        Closure of the patient's (left, right) eye, 0 (as is) to 1 (closed).
    mouth, brow : array-like, shape (2,)
        Pull of the (left, right) mouth corner up and out, raise of the (left, right) brow, iod.
    squeeze : array-like, shape (2,) | None
        Orbicularis contraction lifting the (left, right) cheek, 0-1; defaults to ``eye`` (a twitch, not a blink).
    homography : ndarray, shape (3, 3) | None
        Head motion applied after the twitch, mapping unwarped-frame pixels to output pixels.

    Returns
    -------
    ndarray, shape (height, width, 3), uint8
        The output frame.
    """
    eye, mouth, brow = (np.asarray(a, np.float64) for a in (eye, mouth, brow))
    squeeze = eye if squeeze is None else np.asarray(squeeze, np.float64)
    h, w = image.shape[:2]
    if homography is None:
        out = image.copy()
        to_output = np.eye(3)
    else:
        out = cv2.warpPerspective(image, homography, (w, h), flags=cv2.INTER_LINEAR,
                                  borderMode=cv2.BORDER_REFLECT101)
        to_output = homography
    box = warp_bbox(xyz, eye, mouth, brow, squeeze)
    if not np.any(box[2:] > box[:2]):
        return out
    corners = np.array([[box[0], box[1]], [box[2], box[1]], [box[2], box[3]], [box[0], box[3]]])
    corners = cv2.perspectiveTransform(corners[None], to_output)[0]
    x0, y0 = np.clip(np.floor(corners.min(axis=0)).astype(int) - 1, 0, None)
    x1, y1 = np.minimum(np.ceil(corners.max(axis=0)).astype(int) + 2, (w, h))
    if x1 <= x0 or y1 <= y0:
        return out
    gx, gy = np.meshgrid(np.arange(x0, x1, dtype=np.float64), np.arange(y0, y1, dtype=np.float64))
    q = np.stack([gx.ravel(), gy.ravel()], axis=1)
    if homography is not None:
        q = cv2.perspectiveTransform(q[None], np.linalg.inv(homography))[0]
    p = source_points(q, xyz, eye, mouth, brow, squeeze).astype(np.float32)
    shape = (y1 - y0, x1 - x0)
    out[y0:y1, x0:x1] = cv2.remap(image, p[:, 0].reshape(shape), p[:, 1].reshape(shape), cv2.INTER_LINEAR,
                                  borderMode=cv2.BORDER_REFLECT101)
    return out


# --- Time courses -------------------------------------------------------------------------------------------------

#: Full rise and fall times (s) of the envelope per kind, before shortening for brief events. Twitches rise fast;
#: blinks close in ~70-100 ms and reopen more slowly; tonic spasms build up and let go over a few hundred ms.
RAMP_S = {"clonic": (0.04, 0.10), "tonic": (0.15, 0.30), "blink": (0.08, 0.16)}
#: Smallest pause between two planned movements (offset to next onset, at half maximum), s: each twitch of a
#: burst is a distinct event, and blinks do not touch twitches.
MIN_GAP_S = 0.35
#: Jankovic boundary between clonic and tonic, s (as ``Config.tonic_min_s``).
TONIC_MIN_S = 1.0


def ramps(kind: np.ndarray, duration_s: np.ndarray) -> np.ndarray:
    """Rise and fall times of each movement's envelope.

    Ramps are centred on the half-maximum onset and offset, so they are shortened when half of both would not
    fit in the movement's duration.

    Parameters
    ----------
    kind : ndarray, shape (n,), str
        ``clonic`` | ``tonic`` | ``blink``.
    duration_s : ndarray, shape (n,)
        Full width at half maximum, s.

    Returns
    -------
    ndarray, shape (n, 2)
        Rise and fall time, s.
    """
    base = np.array([RAMP_S[k] for k in kind]).reshape(len(kind), 2)
    fit = np.minimum(1.0, np.asarray(duration_s, float) / np.maximum(base.sum(axis=1) / 2, 1e-9))
    return base * fit[:, None]


def envelope(t: np.ndarray, onset_s, offset_s, rise_s, fall_s) -> np.ndarray:
    """Shape of a contraction: raised-cosine rise and fall centred on the half-maximum onset and offset.

    Parameters
    ----------
    t : ndarray, shape (n_frames,)
        Time, s.
    onset_s, offset_s, rise_s, fall_s : float or ndarray, shape (n_events,)
        Half-maximum onset and offset, full rise and fall times, s.

    Returns
    -------
    ndarray, shape (n_frames,) or (n_events, n_frames)
        0 to 1; 0.5 at ``onset_s`` and ``offset_s``, 1 between them once the rise is complete.
    """
    t = np.asarray(t, float)
    onset, offset, rise, fall = (np.asarray(a, float)[..., None] for a in (onset_s, offset_s, rise_s, fall_s))
    up = np.clip((t - onset) / np.maximum(rise, 1e-9) + 0.5, 0.0, 1.0)
    down = np.clip((offset - t) / np.maximum(fall, 1e-9) + 0.5, 0.0, 1.0)
    return 0.5 - 0.5 * np.cos(np.pi * np.minimum(up, down))


@dataclass(frozen=True)
class Drive:
    """How far each movement has gone in each output frame: what the warp of a frame needs.

    Parameters
    ----------
    t : ndarray, shape (n_frames,)
        Time, s.
    eye : ndarray, shape (n_frames, 2)
        Eye closure of (left, right), 0-1.
    squeeze : ndarray, shape (n_frames, 2)
        Orbicularis contraction beyond a blink (cheek lift) of (left, right), 0-1.
    mouth : ndarray, shape (n_frames, 2)
        Mouth-corner pull of (left, right), iod.
    brow : ndarray, shape (n_frames, 2)
        Brow raise of (left, right), iod.
    """

    t: np.ndarray
    eye: np.ndarray
    squeeze: np.ndarray
    mouth: np.ndarray
    brow: np.ndarray

    def active(self) -> np.ndarray:
        """Frames where anything moves, shape (n_frames,), bool."""
        moving = np.concatenate([self.eye, self.squeeze, self.mouth, self.brow], axis=1)
        return (moving > 1e-3).any(axis=1)

    @classmethod
    def from_events(cls, events: Events, t: np.ndarray) -> Drive:
        """Sum up planned events (the largest wins where two of one side and region overlap)."""
        n = len(t)
        out = {name: np.zeros((n, 2)) for name in ("eye", "squeeze", "mouth", "brow")}
        if len(events):
            shape = events.peak[:, None] * envelope(t, events.onset_s, events.offset_s,
                                                    *ramps(events.kind, events.duration_s).T)
            for i in range(len(events)):
                cols = [0, 1] if events.side[i] == "bilateral" else [SIDES.index(events.side[i])]
                names = {"periocular": ["eye"] if events.kind[i] == "blink" else ["eye", "squeeze"],
                         "perioral": ["mouth"], "brow": ["brow"]}[events.region[i]]
                for name in names:
                    out[name][:, cols] = np.maximum(out[name][:, cols], shape[i][:, None])
        return cls(np.asarray(t, float), **out)


class _Plan:
    """Rows of a course being generated, turned into an :class:`Events` table at the end."""

    def __init__(self):
        self.rows: list[tuple] = []

    def add(self, onset_s: float, duration_s: float, side: str, region: str, peak: float, blink: bool = False):
        kind = "blink" if blink else "tonic" if duration_s >= TONIC_MIN_S else "clonic"
        self.rows.append((onset_s, onset_s + duration_s, side, region, kind, peak))

    def events(self) -> Events:
        if not self.rows:
            return Events.empty()
        return Events.from_columns(*map(list, zip(*self.rows)))


def _pull(iod: float) -> float:
    return min(iod, MAX_DISPLACEMENT_IOD)


def check_course(events: Events) -> None:
    """Refuse a course the warp cannot render as its truth says.

    Raises
    ------
    ValueError
        If an eye closure exceeds 1, a mouth or brow displacement exceeds ``MAX_DISPLACEMENT_IOD``, or a mouth or
        brow row is bilateral.
    """
    eye = events.region == "periocular"
    if np.any(events.peak[eye] > 1):
        raise ValueError("periocular peaks are eye closures and must not exceed 1")
    if np.any(events.peak[~eye] > MAX_DISPLACEMENT_IOD):
        raise ValueError(f"perioral and brow peaks must not exceed {MAX_DISPLACEMENT_IOD} iod")
    if np.any(events.side[~eye] == "bilateral"):
        raise ValueError("only eye closures can be bilateral; give mouth and brow rows a side")


def _clonic_duration(rng: np.random.Generator) -> float:
    # Log-uniform over 0.08-0.6 s: most HFS twitches are brief, a few last half a second.
    return float(np.exp(rng.uniform(np.log(0.08), np.log(0.6))))


def _episodes(duration_s: float, rng: np.random.Generator, *, tonic: bool, mean_pause_s: float = 3.0,
              clonic=_clonic_duration, avoid: np.ndarray | None = None) -> np.ndarray:
    """Irregular twitching: bursts of 1-3 twitches with gamma-distributed pauses between bursts.

    Parameters
    ----------
    duration_s : float
        Length of the recording, s.
    rng : numpy.random.Generator
    tonic : bool
        Make the first episode after a random time in 45-80 % of the recording a tonic spasm (1.2-3 s).
    mean_pause_s : float
        Mean pause between bursts, s.
    clonic : callable
        Draws a clonic twitch's duration (s) from ``rng``.
    avoid : ndarray, shape (n, 2) | None
        Intervals (s) no episode may overlap; an episode that would is drawn again after the interval.

    Returns
    -------
    ndarray, shape (n_episodes, 2)
        Half-maximum onset and duration of each episode, s.
    """
    tonic_at = rng.uniform(0.45, 0.8) * duration_s if tonic else np.inf
    end = duration_s - 0.6
    t = rng.uniform(0.5, 1.5)
    out = []
    while t < end:
        for _ in range(rng.integers(1, 4)):
            tonic_now = t >= tonic_at
            if tonic_now:
                length = min(rng.uniform(1.2, 3.0), end - t)
                tonic_at = np.inf
                if length < 1.2:
                    break
            else:
                length = clonic(rng)
            if t + length > end:
                break
            if avoid is not None:
                clash = (avoid[:, 0] < t + length) & (avoid[:, 1] > t)
                room = float(avoid[clash, 0].min()) - t if clash.any() else np.inf
                if tonic_now and room >= 1.2:
                    length = room  # a tonic spasm that fits before the interval ends there
                elif clash.any():
                    # Not here: the twitch is drawn again after the interval (a tonic spasm stays due).
                    t = float(avoid[clash, 1].max())
                    tonic_at = t if tonic_now else tonic_at
                    continue
            out.append((t, length))
            # Inside a burst: a pause long enough for each twitch to be its own event, plus the mouth's lag.
            t += length + MIN_GAP_S + rng.uniform(0.1, 0.5)
        t += rng.gamma(2.0, mean_pause_s / 2)
    return np.array(out).reshape(-1, 2)


def hfs_course(duration_s: float, side: str, rng: np.random.Generator, amplitude: float = 1.0,
               avoid: np.ndarray | None = None) -> Events:
    """Hemifacial spasm of one side.

    Irregular bursts (:func:`_episodes`). In the first third only the eye twitches (orbicularis oculi, where HFS
    begins); from then on the mouth corner twitches together with the eye (synkinesis, onset 0-100 ms after the
    eye's). One episode after the first half is a tonic spasm with the brow raised (the "other Babinski sign",
    frontalis contracting as the eye closes); a few clonic twitches raise the brow too.

    Parameters
    ----------
    duration_s : float
        Length of the recording, s.
    side : {"left", "right"}
        The patient's affected side.
    rng : numpy.random.Generator
    amplitude : float
        Scale of every peak (1 = eye closures of 50-100 %, mouth pulls of 0.08-0.15 iod, brow raises of
        0.08-0.12 iod).
    avoid : ndarray, shape (n, 2) | None
        Intervals (s) the episodes keep clear of (the footage's own eye closures, :func:`footage_closures`).

    Returns
    -------
    Events
        The planned movements, one row per region.
    """
    plan = _Plan()
    for onset, length in _episodes(duration_s, rng, tonic=True, avoid=avoid):
        tonic = length >= TONIC_MIN_S
        closure = rng.uniform(0.85, 1.0) if tonic else rng.uniform(0.5, 1.0)
        plan.add(onset, length, side, "periocular", min(amplitude * closure, 1.0))
        if onset >= duration_s / 3:
            lag = rng.uniform(0.0, 0.1)
            plan.add(onset + lag, length * rng.uniform(0.8, 1.0), side, "perioral",
                     _pull(amplitude * rng.uniform(0.08, 0.15)))
            if tonic or rng.random() < 0.15:
                lag = rng.uniform(0.0, 0.1)
                plan.add(onset + lag, length * rng.uniform(0.7, 0.9), side, "brow",
                         _pull(amplitude * rng.uniform(0.08, 0.12)))
    return plan.events()


def eye_only_course(duration_s: float, side: str, rng: np.random.Generator, amplitude: float = 1.0,
                    avoid: np.ndarray | None = None) -> Events:
    """One eye twitching irregularly, with one tonic spasm, and the mouth never: HFS's timing without CN VII spread.

    Parameters as :func:`hfs_course`.
    """
    plan = _Plan()
    for onset, length in _episodes(duration_s, rng, tonic=True, avoid=avoid):
        closure = rng.uniform(0.85, 1.0) if length >= TONIC_MIN_S else rng.uniform(0.5, 1.0)
        plan.add(onset, length, side, "periocular", min(amplitude * closure, 1.0))
    return plan.events()


def mouth_only_course(duration_s: float, side: str, rng: np.random.Generator, amplitude: float = 1.0,
                      avoid: np.ndarray | None = None) -> Events:
    """One mouth corner twitching irregularly, with one tonic pull, and the eye never.

    Parameters as :func:`hfs_course`.
    """
    plan = _Plan()
    for onset, length in _episodes(duration_s, rng, tonic=True, avoid=avoid):
        plan.add(onset, length, side, "perioral", _pull(amplitude * rng.uniform(0.08, 0.15)))
    return plan.events()


def rhythmic_course(duration_s: float, side: str, rng: np.random.Generator, amplitude: float = 1.0) -> Events:
    """One eye twitching like a metronome: a fixed interval of 1.0-1.6 s with 1 % jitter (as rhythmic myoclonus).

    Parameters as :func:`hfs_course`.
    """
    plan = _Plan()
    interval = rng.uniform(1.0, 1.6)
    onsets = np.arange(rng.uniform(0.5, 1.0), duration_s - 0.8, interval)
    for onset in onsets + rng.normal(0.0, 0.01 * interval, len(onsets)):
        plan.add(onset, rng.uniform(0.12, 0.25), side, "periocular", min(amplitude * rng.uniform(0.65, 0.8), 1.0))
    return plan.events()


def blepharospasm_course(duration_s: float, rng: np.random.Generator, amplitude: float = 1.0,
                         avoid: np.ndarray | None = None) -> Events:
    """Both eyes closing together, irregularly: clonic closures and tonic spasms.

    Clonic closures last 0.6-0.85 s, longer than a blink (``Config.blink_max_s``), so they are not mistaken for
    blinks; about a third of the closures are tonic (1.2-3 s).

    Parameters as :func:`hfs_course`, without a side.
    """
    plan = _Plan()
    for onset, length in _episodes(duration_s, rng, tonic=False, mean_pause_s=3.5, avoid=avoid,
                                   clonic=lambda r: r.uniform(1.2, 3.0) if r.random() < 0.3 else r.uniform(0.6, 0.85)):
        plan.add(onset, length, "bilateral", "periocular", min(amplitude * rng.uniform(0.8, 1.0), 1.0))
    return plan.events()


def blink_course(duration_s: float, rng: np.random.Generator, avoid: Events | None = None) -> Events:
    """Natural blinks: both eyes, 100-250 ms at half closure, 10-20 per minute at irregular intervals.

    Parameters
    ----------
    duration_s : float
        Length of the recording, s.
    rng : numpy.random.Generator
    avoid : Events | None
        Planned movements a blink must keep ``MIN_GAP_S`` away from; a blink that would not is postponed to the
        next free moment.

    Returns
    -------
    Events
        Rows with side ``bilateral``, region ``periocular``, kind ``blink``; peak 0.85-1.
    """
    mean_interval = 60.0 / rng.uniform(10, 20)
    busy = np.zeros((0, 2)) if avoid is None else np.stack([avoid.onset_s, avoid.offset_s], axis=1)
    plan = _Plan()
    t = rng.uniform(0.3, mean_interval)
    while True:
        length = rng.uniform(0.1, 0.25)
        if t + length > duration_s - 0.4:
            break
        clash = (busy[:, 0] < t + length + MIN_GAP_S) & (busy[:, 1] > t - MIN_GAP_S)
        if clash.any():
            t = busy[clash, 1].max() + MIN_GAP_S + 0.01
            continue
        plan.add(t, length, "bilateral", "periocular", rng.uniform(0.85, 1.0), blink=True)
        # Gamma intervals (shape 2): irregular, with a floor so two blinks do not merge.
        t += max(rng.gamma(2.0, mean_interval / 2), length + 0.8)
    return plan.events()


def make_course(generator: str, duration_s: float, side: str = "left", seed: int = 0, amplitude: float = 1.0,
                blinks: bool = True, avoid: np.ndarray | None = None) -> Events:
    """The planned movements of a recording: a generator's twitches plus natural blinks.

    Parameters
    ----------
    generator : str
        One of :data:`GENERATORS`.
    duration_s : float
        Length of the recording, s.
    side : {"left", "right"}
        The patient's side for the one-sided generators (:data:`LATERALIZED`).
    seed : int
        Seed of ``numpy.random.default_rng``; the same arguments give the same course.
    amplitude : float
        Scale of the twitches' peaks (blinks are not scaled).
    blinks : bool
        Add natural blinks.
    avoid : ndarray, shape (n, 2) | None
        Intervals (s) the twitches keep clear of (:func:`footage_closures`); the metronomic ``rhythmic`` course
        ignores them.

    Returns
    -------
    Events
        Sorted by onset; onset and offset at half maximum.
    """
    check_option("generator", generator, GENERATORS)
    check_option("side", side, SIDES)
    if amplitude <= 0:
        raise ValueError(f"amplitude must be > 0, got {amplitude}")
    rng = np.random.default_rng(seed)
    if generator == "hfs":
        twitches = hfs_course(duration_s, side, rng, amplitude, avoid)
    elif generator == "eye_only":
        twitches = eye_only_course(duration_s, side, rng, amplitude, avoid)
    elif generator == "mouth_only":
        twitches = mouth_only_course(duration_s, side, rng, amplitude, avoid)
    elif generator == "rhythmic":
        twitches = rhythmic_course(duration_s, side, rng, amplitude)
    elif generator == "blepharospasm":
        twitches = blepharospasm_course(duration_s, rng, amplitude, avoid)
    else:
        twitches = Events.empty()
    if not blinks:
        return twitches
    return Events.concatenate([twitches, blink_course(duration_s, rng, avoid=twitches)])


# --- Head motion --------------------------------------------------------------------------------------------------

#: Peak excursions of the slow head motion given to a photo (strength 1), in degrees, iod and relative zoom: the
#: small drift of someone sitting still in front of a camera. ``sway`` multiplies them by :data:`SWAY_STRENGTH`.
HEAD_MOTION = {"roll_deg": 1.0, "yaw_deg": 2.0, "pitch_deg": 1.5, "shift_iod": 0.03, "zoom": 0.01}
SWAY_STRENGTH = 5.0


@dataclass(frozen=True)
class HeadMotion:
    """A smooth head trajectory, one pose per output frame.

    Parameters
    ----------
    roll_deg, yaw_deg, pitch_deg : ndarray, shape (n_frames,)
        In-plane tilt, turn and nod, degrees.
    shift_iod : ndarray, shape (n_frames, 2)
        Translation in the image (x right, y down), iod.
    zoom : ndarray, shape (n_frames,)
        Relative scale minus 1 (moving toward the camera is positive).
    """

    roll_deg: np.ndarray
    yaw_deg: np.ndarray
    pitch_deg: np.ndarray
    shift_iod: np.ndarray
    zoom: np.ndarray

    @classmethod
    def random(cls, t: np.ndarray, rng: np.random.Generator, strength: float = 1.0) -> HeadMotion:
        """Slow wandering: each degree of freedom a sum of three sinusoids of 0.03-0.3 Hz with random phases.

        Parameters
        ----------
        t : ndarray, shape (n_frames,)
            Time, s.
        rng : numpy.random.Generator
        strength : float
            Multiplies every peak excursion of :data:`HEAD_MOTION`; 0 is a still head.
        """
        def wander(peak):
            freq = rng.uniform(0.03, 0.3, 3)
            phase = rng.uniform(0, 2 * np.pi, 3)
            weight = rng.dirichlet(np.ones(3))
            return strength * peak * (weight[:, None] * np.sin(2 * np.pi * freq[:, None] * t + phase[:, None])).sum(0)

        return cls(wander(HEAD_MOTION["roll_deg"]), wander(HEAD_MOTION["yaw_deg"]), wander(HEAD_MOTION["pitch_deg"]),
                   np.stack([wander(HEAD_MOTION["shift_iod"]), wander(HEAD_MOTION["shift_iod"])], axis=1),
                   wander(HEAD_MOTION["zoom"]))

    def homography(self, i: int, centre: np.ndarray, iod: float) -> np.ndarray:
        """Image map of frame ``i``'s pose: the face turned as a plane about its centre, seen in perspective.

        Parameters
        ----------
        i : int
            Frame index.
        centre : ndarray, shape (2,)
            Centre of the face in the unmoved frame, pixels.
        iod : float
            Inter-ocular distance, pixels (sets the translation and the camera distance).

        Returns
        -------
        ndarray, shape (3, 3)
            Maps unmoved-frame pixels to output pixels.
        """
        yaw, pitch, roll = np.radians([self.yaw_deg[i], self.pitch_deg[i], self.roll_deg[i]])
        rot = cv2.Rodrigues(np.array([pitch, yaw, 0.0]))[0] @ cv2.Rodrigues(np.array([0.0, 0.0, roll]))[0]
        # Camera at ~7 iod (a face at arm's length); focal length equal to the distance keeps the scale at rest.
        dist = 7.0 * iod
        to_centre = np.array([[1, 0, -centre[0]], [0, 1, -centre[1]], [0, 0, 1]])
        plane = np.column_stack([rot[:, 0], rot[:, 1], [0, 0, dist]])
        focal = dist * (1 + self.zoom[i])
        c = centre + self.shift_iod[i] * iod
        camera = np.array([[focal, 0, c[0]], [0, focal, c[1]], [0, 0, 1]])
        h = camera @ plane @ to_centre
        return h / h[2, 2]


# --- Source footage -----------------------------------------------------------------------------------------------

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
    (``avoid`` of :func:`make_course`). A source frame is a closure when its mean eye closure against the
    footage's median opening exceeds ``STEADY_MAX_CLOSURE``.

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


# --- Rendering and the public entry point -------------------------------------------------------------------------

@dataclass(frozen=True)
class SimulationResult:
    """What :func:`simulate` wrote.

    Parameters
    ----------
    video : Path
        The simulated video.
    truth_dir : Path
        Folder holding ``events.csv`` and ``summary.json`` of the planned movements.
    events : Events
        The truth: every planned movement (onset and offset at half maximum).
    pattern : str
        The pattern an analysis should find (:data:`EXPECTED_PATTERN`).
    side : str | None
        The affected side for one-sided patterns, else None.
    summary : dict
        The ``summary.json`` document.
    """

    video: Path
    truth_dir: Path
    events: Events
    pattern: str
    side: str | None
    summary: dict


def render(footage: Footage, drive: Drive, path: str | Path, fps: float, motion: HeadMotion | None = None) -> None:
    """Write the simulated video: each output frame is its source frame, warped by the drive and the head motion.

    Parameters
    ----------
    footage : Footage
    drive : Drive
        One row per output frame; output frame ``k`` is shown at ``drive.t[k]``.
    path : str | Path
        Output video (``.mp4``, ``.webm`` or ``.avi``, see :class:`twitchcam.video.VideoWriter`).
    fps : float
        Frame rate stored in the container.
    motion : HeadMotion | None
        Head motion added on top of the source's own.
    """
    index = footage.frame_index(drive.t)
    active = drive.active()
    with VideoWriter(path, fps, footage.size) as writer:
        for k, i in enumerate(index):
            image, xyz = footage.images[i], footage.xyz[i]
            if not np.isfinite(xyz).all():
                # No face was found in this source frame: nothing to warp, shown as it is.
                writer.write(image)
                continue
            homography = None
            if motion is not None:
                face = FaceFrame.from_landmarks(xyz)
                homography = motion.homography(k, xyz[:, :2].mean(axis=0), face.iod)
            if active[k] or homography is not None:
                image = warp_face(image, xyz, eye=drive.eye[k], mouth=drive.mouth[k], brow=drive.brow[k],
                                  squeeze=drive.squeeze[k], homography=homography)
            writer.write(image)


def default_name(generator: str, side: str) -> str:
    """File stem of a simulation: ``hfs_left``, ``normal``."""
    return f"{generator}_{side}" if generator in LATERALIZED else generator


def simulate(source: str | Path, out_dir: str | Path, *, generator: str = "hfs", side: str = "left",
             duration_s: float = 30.0, seed: int = 0, amplitude: float = 1.0, fps: float | None = None,
             events: Events | None = None, blinks: bool | None = None, name: str | None = None,
             config: Config | None = None, stretch: str = "rest") -> SimulationResult:
    """Make a video with known twitches from real face footage, and its truth.

    Writes ``<out_dir>/<name>.mp4`` and the truth folder ``<out_dir>/<name>_truth/`` with ``events.csv`` and
    ``summary.json`` in the analysis schema (see :mod:`twitchcam.folder`).

    Parameters
    ----------
    source : str | Path
        A face photo (animated with slow head motion) or a video of any length: its longest stretch at rest, or all
        of it (``stretch``), played forward and backward as often as ``duration_s`` needs.
    out_dir : str | Path
        Output folder (created).
    generator : str
        Course of events, one of :data:`GENERATORS`; its expected pattern is :data:`EXPECTED_PATTERN`.
    side : {"left", "right"}
        The patient's affected side, for the one-sided generators.
    duration_s : float
        Length of the video, s.
    seed : int
        Random seed of the course and the head motion; the same arguments give the same video and truth.
    amplitude : float
        Scale of the twitches' peaks (e.g. 0.35 for a mild HFS closing the eye about 30 %).
    fps : float | None
        Output frame rate; by default the source video's with ``stretch="whole"`` (each source frame shown once,
        as filmed), else 30.
    events : Events | None
        A course of your own instead of the generator's (checked with :func:`check_course`; with ``blinks``,
        natural blinks are added around it). ``generator`` still names the expected pattern.
    blinks : bool | None
        Add natural blinks; by default yes, except with ``stretch="whole"``, whose footage has blinks of its own.
    name : str | None
        File stem; defaults to :func:`default_name`.
    config : Config | None
        Landmark settings.
    stretch : {"rest", "whole"}
        Animate a video's longest stretch at rest (only the planned movements move: a clean test), or the whole
        video with its own talking, blinks, expressions and head turns (the real-face test; see
        :func:`load_footage`); the generator's twitches then keep clear of the footage's own eye closures
        (:func:`footage_closures`). Ignored for a photo.

    Returns
    -------
    SimulationResult

    Raises
    ------
    ValueError
        An unknown option, no face in the source, no stretch at rest in a source video, or a course the warp
        cannot render.
    twitchcam.video.VideoError
        The source cannot be read.
    """
    check_option("generator", generator, GENERATORS)
    check_option("side", side, SIDES)
    if duration_s <= 0 or (fps is not None and fps <= 0):
        raise ValueError("duration_s and fps must be > 0")
    if events is not None:
        check_course(events)
    footage = load_footage(source, config, stretch)
    whole = stretch == "whole" and not footage.is_photo
    fps = fps or (footage.fps if whole else 30.0)
    blinks = not whole if blinks is None else blinks
    if events is None:
        t = np.arange(int(round(duration_s * fps))) / fps
        avoid = footage_closures(footage, t) if whole else None
        course = make_course(generator, duration_s, side, seed, amplitude, blinks, avoid=avoid)
    else:
        rng = np.random.default_rng(seed)
        course = Events.concatenate([events, blink_course(duration_s, rng, avoid=events)]) if blinks else events
    t = np.arange(int(round(duration_s * fps))) / fps
    # Head motion draws from its own stream so that the course of a seed does not depend on the source.
    motion_rng = np.random.default_rng([seed, 1])
    strength = (SWAY_STRENGTH if generator == "sway" else 0.0) + (1.0 if footage.is_photo else 0.0)
    motion = HeadMotion.random(t, motion_rng, strength) if strength > 0 else None

    out_dir = Path(out_dir)
    name = name or default_name(generator, side)
    video = out_dir / f"{name}.mp4"
    truth_dir = out_dir / f"{name}_truth"
    render(footage, Drive.from_events(course, t), video, fps, motion)

    pattern = EXPECTED_PATTERN[generator]
    out_side = side if generator in LATERALIZED else None
    summary = {
        "pattern": pattern,
        "side": out_side,
        "generator": generator,
        "seed": int(seed),
        # The file's name and digest identify the footage without recording where it sits on this machine.
        "source": Path(source).name,
        "source_sha256": hashlib.sha256(Path(source).read_bytes()).hexdigest(),
        "source_stretch": "whole" if whole else "rest",
        "source_stretch_s": [round(v, 3) for v in footage.stretch_s],
        "amplitude": float(amplitude),
        "head_motion_strength": strength,
        "events_per_minute": {s: round(float(np.sum(course.side == s)) / (duration_s / 60), 3)
                              for s in ("left", "right", "bilateral")},
        "video": {"duration_s": round(len(t) / fps, 3), "frames": len(t), "fps": float(fps),
                  "face_found_fraction": 1.0, "frame_size": list(footage.size)},
        "truth": "planned movements; onset_s and offset_s at half maximum; peak as requested",
        "twitchcam_version": __version__,
    }
    write_events_csv(course, truth_dir / "events.csv")
    write_json(summary, truth_dir / "summary.json")
    logger.info("%s: %d truth events, pattern %s", video, len(course), pattern)
    return SimulationResult(video, truth_dir, course, pattern, out_side, summary)
