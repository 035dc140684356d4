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
- A photo is animated with slow head motion and natural blinks. A video is reduced to its longest stretch without
  a blink of its own (found from its landmarks), so every blink in the output is a planned one, and that stretch
  is looped forward and backward (ping-pong) to the requested duration.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .regions import BROW, EYE_OUTLINE, MOUTH_CORNER, SIDES

#: Landmarks at the face outline at ear level: where zygomaticus pulls the mouth corner toward.
EAR = {"left": 454, "right": 234}
#: Forehead (top of the midline) and chin: their line is the face's up axis, whatever the head's roll.
FOREHEAD, CHIN = 10, 152

#: Share of the lid gap that the upper lid closes; the lower lid closes the rest. In blinks and in orbicularis
#: contractions alike most of the travel is the upper lid's.
UPPER_LID_SHARE = 0.8
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
#: Largest perioral or brow displacement the warp accepts, in iod (about a third of the kernel radius).
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
    def from_landmarks(cls, xyz: np.ndarray) -> "FaceFrame":
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
    def from_landmarks(cls, xyz: np.ndarray, side: str, face: FaceFrame) -> "Eyelids":
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
        """Height of the skin dragged along above and below the lids, pixels."""
        return LID_DRAG_HALF_WIDTHS * self.half_width

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
    # Above the moved upper margin the skin came from `down` higher, fading to none at `drag` above it; the
    # slope of the fade stays below 1 (down <= gap < drag / 1.5), so the map does not fold.
    shift = np.where(v < new_upper, -down * (1 - _smoothstep((new_upper - v) / drag)), 0.0)
    shift = np.where(v > new_lower, lift * (1 - _smoothstep((v - new_lower) / drag)), shift)
    return points + shift[:, None] * lids.v_axis


@dataclass(frozen=True)
class Kernels:
    """A smooth displacement field: a sum of compactly supported bumps, each carrying a displacement.

    Each bump ``i`` moves the point at its centre by ``shift[i]`` and its surroundings by
    ``shift[i] * (1 - s**2)**3`` for ``s < 1``, where ``s**2 = d @ metric[i] @ d`` and ``d`` is the offset from
    the centre (elliptical support, exactly zero outside).

    Parameters
    ----------
    centre : ndarray, shape (k, 2)
        Pixels.
    shift : ndarray, shape (k, 2)
        Pixels.
    metric : ndarray, shape (k, 2, 2)
        Inverse squared semi-axes, 1/pixels**2.
    """

    centre: np.ndarray
    shift: np.ndarray
    metric: np.ndarray

    def __post_init__(self):
        k = len(self.centre)
        if self.centre.shape != (k, 2) or self.shift.shape != (k, 2) or self.metric.shape != (k, 2, 2):
            raise ValueError("Kernels needs centre (k, 2), shift (k, 2) and metric (k, 2, 2)")

    def __len__(self) -> int:
        return len(self.centre)

    def displacement(self, points: np.ndarray) -> np.ndarray:
        """Forward displacement at ``points``, shape (m, 2) -> (m, 2), pixels."""
        out = np.zeros_like(points)
        for centre, shift, metric in zip(self.centre, self.shift, self.metric):
            d = points - centre
            s2 = np.einsum("mi,ij,mj->m", d, metric, d)
            out += np.clip(1 - s2, 0.0, None)[:, None] ** 3 * shift
        return out

    def source(self, points: np.ndarray, n_iter: int = 8) -> np.ndarray:
        """Invert the forward warp: the points ``p`` with ``p + displacement(p) = points``, shape (m, 2).

        Fixed-point iteration; it converges because every bump's slope is below 1.
        """
        p = points.copy()
        for _ in range(n_iter):
            p = points - self.displacement(p)
        return p

    def bbox(self) -> np.ndarray:
        """Corners of the box holding every bump's support, shape (2k*2, 2), pixels."""
        if not len(self):
            return np.zeros((0, 2))
        # Half-extents of the ellipse s^2 = 1 along x and y are sqrt of the diagonal of the inverse metric.
        half = np.sqrt(np.stack([np.diagonal(np.linalg.inv(m)) for m in self.metric]))
        return np.concatenate([self.centre - half, self.centre + half])


def _round(radius: float) -> np.ndarray:
    return np.eye(2) / radius**2


def _ellipse(axis: np.ndarray, semi_along: float, semi_across: float) -> np.ndarray:
    across = np.array([-axis[1], axis[0]])
    return np.outer(axis, axis) / semi_along**2 + np.outer(across, across) / semi_across**2


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
    centres, shifts, metrics = [], [], []
    for i, side in enumerate(SIDES):
        corner = xyz[MOUTH_CORNER[side], :2]
        if mouth[i] > 0:
            pull = _unit(xyz[EAR[side], :2] - corner)
            centres.append(corner)
            shifts.append(min(mouth[i], MAX_DISPLACEMENT_IOD) * face.iod * pull)
            metrics.append(_round(MOUTH_RADIUS_IOD * face.iod))
        if brow[i] > 0:
            points = xyz[list(BROW[side]), :2]
            along = _unit(points[0] - points[-1])
            half_length = np.linalg.norm(points[0] - points[-1]) / 2
            centres.append(points.mean(axis=0))
            shifts.append(min(brow[i], MAX_DISPLACEMENT_IOD) * face.iod * face.up)
            metrics.append(_ellipse(along, half_length + BROW_RADIUS_IOD * face.iod, BROW_RADIUS_IOD * face.iod))
        if squeeze[i] > 0:
            outline = xyz[list(EYE_OUTLINE[side]), :2]
            centres.append(outline.mean(axis=0) - 0.3 * face.iod * face.up)
            shifts.append(min(squeeze[i], 1.0) * CHEEK_LIFT_IOD * face.iod * face.up)
            metrics.append(_round(CHEEK_RADIUS_IOD * face.iod))
    if not centres:
        return Kernels(np.zeros((0, 2)), np.zeros((0, 2)), np.zeros((0, 2, 2)))
    return Kernels(np.array(centres), np.array(shifts), np.array(metrics))


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
    p = face_kernels(xyz, mouth, brow, squeeze).source(points)
    for i, side in enumerate(SIDES):
        if eye[i] > 0:
            p = lid_source(p, Eyelids.from_landmarks(xyz, side, face), min(float(eye[i]), 1.0))
    return p


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
