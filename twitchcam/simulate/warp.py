"""The warp of one frame: a twitch (and a head pose) rendered into a real face image from its landmarks.

Warps are smooth, local and backward: each output pixel samples the unwarped frame at a computed point (with
``cv2.remap``), computed only on a box around the face, and driven by that frame's own MediaPipe landmarks.
Eyelids slide over the eye (the eyeball is covered, never squashed); orbicularis twitches also lift the cheek; the
mouth corner is pulled up and out toward the same-side ear (zygomaticus); the brow is raised (frontalis).

Sides are the PATIENT's (see :mod:`twitchcam.regions`): in an unmirrored image the patient's left eye is on the
image's right. Per-side arrays are ordered (left, right). Lengths are pixels unless a name says iod (inter-ocular
distances).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..courses import MAX_DISPLACEMENT_IOD
from ..regions import BROW, EYE_OUTLINE, MOUTH_CORNER, SIDES

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

