"""Per-side facial signals from landmarks, in a head-fixed frame: pure numpy, vectorized over frames.

Three signals per side (column 0 = the patient's LEFT, column 1 = RIGHT, see :data:`twitchcam.regions.SIDES`):

``eye_closure``
    Periocular (orbicularis oculi): 1 - eye opening / that eye's resting opening. 0 at rest, 1 fully closed,
    negative when the eye is opened wider than at rest.
``mouth_pull``
    Perioral: displacement of the mouth corner from its resting position, projected on the up-and-outward
    direction of that side (zygomaticus / risorius pull), in inter-ocular distances.
``brow_raise``
    Brow: height of the brow in the head-fixed frame minus its resting height, in inter-ocular distances. Measured
    from landmarks because MediaPipe's brow blendshapes are unreliable.

Head motion (turns, nods, zoom, roll, translation) is removed by aligning each frame's rigid landmarks (forehead,
nose, temples, :data:`twitchcam.regions.RIGID`) onto a per-recording reference with a similarity transform
(Umeyama's least-squares rotation, scale and translation in 3D), batched over all frames. Resting values come from
a rolling baseline computed on short blocks, so slow changes of posture or lighting are not twitches and a tonic
spasm of a few seconds does not shift the baseline.

Frames without a face are NaN in every signal; no frame is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .baselines import nanquantile_sorted, rolling_baseline
from .config import Config
from .landmarks import Landmarks
from .regions import BROW, EYE_CORNERS, LOWER_LID, MOUTH_CORNER, N_LANDMARKS, RIGID, SIDES, UPPER_LID

SIGNAL_NAMES = ("eye_closure", "mouth_pull", "brow_raise")


@dataclass(frozen=True)
class Signals:
    """Per-frame, per-side signals of one recording.

    Parameters
    ----------
    t : ndarray, shape (n_frames,), float64
        Presentation time in seconds.
    face_found : ndarray, shape (n_frames,), bool
        Whether a face was found.
    measured : ndarray, shape (n_frames,), bool
        Whether the face was found and measured: not turned beyond ``max_head_rotation_deg``. Where False every
        signal is NaN.
    eye_closure : ndarray, shape (n_frames, 2), float64
        Fraction of the resting eye opening lost, columns (left, right). Dimensionless.
    mouth_pull : ndarray, shape (n_frames, 2), float64
        Mouth-corner pull up and out, columns (left, right), in inter-ocular distances.
    brow_raise : ndarray, shape (n_frames, 2), float64
        Brow elevation over the eye, columns (left, right), in inter-ocular distances.
    eye_opening : ndarray, shape (n_frames, 2), float64
        Raw lid aperture (before baseline), columns (left, right), in inter-ocular distances.
    head_rotation_deg : ndarray, shape (n_frames,), float64
        Rotation of the head away from the reference pose, in degrees.
    head_scale : ndarray, shape (n_frames,), float64
        Apparent face size relative to the reference (zoom, moving toward the camera).
    noise : dict of str to ndarray, each shape (2,)
        Robust frame-to-frame noise (standard deviation) of each signal per side, in the signal's unit; used to
        raise detection thresholds on jittery footage.
    iod_px : float
        Inter-ocular distance (outer eye corners) of the reference face, in pixels.
    head_pose_deg : ndarray, shape (n_frames, 3), float64
        Signed yaw, pitch and roll away from the reference pose, in degrees (:func:`head_pose`): what the events
        use to model the left-right difference that pose alone produces.
    """

    t: np.ndarray
    face_found: np.ndarray
    measured: np.ndarray
    eye_closure: np.ndarray
    mouth_pull: np.ndarray
    brow_raise: np.ndarray
    eye_opening: np.ndarray
    head_rotation_deg: np.ndarray
    head_scale: np.ndarray
    noise: dict
    iod_px: float
    head_pose_deg: np.ndarray

    def __post_init__(self):
        n = len(self.t)
        for name in ("eye_closure", "mouth_pull", "brow_raise", "eye_opening"):
            if getattr(self, name).shape != (n, 2):
                raise ValueError(f"Signals.{name} must have shape ({n}, 2)")
        for name in ("face_found", "measured", "head_rotation_deg", "head_scale"):
            if getattr(self, name).shape != (n,):
                raise ValueError(f"Signals.{name} must have shape ({n},)")
        if self.head_pose_deg.shape != (n, 3):
            raise ValueError(f"Signals.head_pose_deg must have shape ({n}, 3)")

    def __len__(self) -> int:
        return len(self.t)

    def region_signal(self, region: str) -> np.ndarray:
        """The (n_frames, 2) signal of a region: ``periocular``, ``perioral`` or ``brow``."""
        return {"periocular": self.eye_closure, "perioral": self.mouth_pull, "brow": self.brow_raise}[region]


# Indices into the compact landmark subset used below (all signals need only these points).
_POINTS = {
    "rigid": list(RIGID),
    **{f"upper_{s}": list(UPPER_LID[s]) for s in SIDES},
    **{f"lower_{s}": list(LOWER_LID[s]) for s in SIDES},
    **{f"brow_{s}": list(BROW[s]) for s in SIDES},
    **{f"corners_{s}": list(EYE_CORNERS[s]) for s in SIDES},
    **{f"mouth_{s}": [MOUTH_CORNER[s]] for s in SIDES},
}
_SUBSET = np.array([i for idx in _POINTS.values() for i in idx])
_SUBSET_COLUMNS = (3 * _SUBSET[:, None] + np.arange(3)).ravel()
_SLICES = {}
_start = 0
for _name, _idx in _POINTS.items():
    _SLICES[_name] = slice(_start, _start + len(_idx))
    _start += len(_idx)
del _start, _name, _idx
# Each group's left and right points are adjacent in _SUBSET (left first, same count), so both sides are one slice.
_BOTH_SIDES = {group: slice(_SLICES[f"{group}_left"].start, _SLICES[f"{group}_right"].stop)
               for group in ("upper", "lower", "brow", "corners", "mouth")}
assert all(_SLICES[f"{g}_left"].stop == _SLICES[f"{g}_right"].start
           and len(_POINTS[f"{g}_left"]) == len(_POINTS[f"{g}_right"]) for g in _BOTH_SIDES)


def polar_rotation(m: np.ndarray, max_iter: int = 20, tol: float = 1e-12) -> np.ndarray:
    """Nearest rotation to each of a stack of 3x3 matrices: the orthogonal polar factor.

    Scaled Newton iteration ``X <- (g X + X^-T / g) / 2`` with closed-form 3x3 inverses (cofactors), computed on
    the nine matrix entries as separate arrays. It gives the rotation of Umeyama's/Kabsch's solution for a
    proper (det > 0) cross-covariance, converges in about five iterations on face data, and is several times
    faster than a batched SVD in numpy.

    Parameters
    ----------
    m : ndarray, shape (n, 3, 3)
        Cross-covariance matrices, each with positive determinant.
    max_iter : int
        Iteration cap.
    tol : float
        Stop when no entry changes by more than this.

    Returns
    -------
    ndarray, shape (n, 3, 3)
        Rotation matrices.
    """
    x = m / np.sqrt((m ** 2).sum(axis=(1, 2)))[:, None, None]
    a = [x[:, i, j].copy() for i in range(3) for j in range(3)]
    for _ in range(max_iter):
        a0, a1, a2, a3, a4, a5, a6, a7, a8 = a
        # Rows of the cofactor matrix are cross products of the other two rows; inv(X).T = cofactor / det.
        cof = (a4 * a8 - a5 * a7, a5 * a6 - a3 * a8, a3 * a7 - a4 * a6,
               a7 * a2 - a8 * a1, a8 * a0 - a6 * a2, a6 * a1 - a7 * a0,
               a1 * a5 - a2 * a4, a2 * a3 - a0 * a5, a0 * a4 - a1 * a3)
        det = a0 * cof[0] + a1 * cof[1] + a2 * cof[2]
        inv_t = [c / det for c in cof]
        g = (sum(c * c for c in inv_t) / sum(v * v for v in a)) ** 0.25
        new = [0.5 * (g * v + c / g) for v, c in zip(a, inv_t)]
        change = max(float(np.max(np.abs(n - v))) for n, v in zip(new, a))
        a = new
        if change < tol:
            break
    return np.stack(a, axis=1).reshape(-1, 3, 3)


def align_to_reference(points: np.ndarray, rigid: np.ndarray, reference: np.ndarray):
    """Remove head motion: map each frame onto the reference with a least-squares similarity transform.

    Umeyama (1991), batched over frames; the rotation is the polar factor of the cross-covariance.

    Parameters
    ----------
    points : ndarray, shape (n_frames, n_points, 3)
        Points to transform, in pixels.
    rigid : ndarray, shape (n_frames, n_rigid, 3)
        The rigid landmarks of each frame, in pixels; rows with NaN give NaN output.
    reference : ndarray, shape (n_rigid, 3)
        The rigid landmarks of the reference pose, in pixels.

    Returns
    -------
    aligned : ndarray, shape (n_frames, n_points, 3)
        ``points`` in the reference frame, in reference pixels.
    rotation_deg : ndarray, shape (n_frames,)
        Angle of each frame's rotation away from the reference, in degrees.
    scale : ndarray, shape (n_frames,)
        Size of each frame's face relative to the reference.
    rotation : ndarray, shape (n_frames, 3, 3)
        Each frame's rotation onto the reference (``aligned = scale * rotation @ (point - centre) + ...``).
    """
    # Sums scaled by 1/k rather than .mean(): equal to rounding, with less per-call overhead on a live chunk.
    k = rigid.shape[1]
    mu_x = rigid.sum(axis=1, keepdims=True) * (1 / k)
    mu_y = reference.sum(axis=0) * (1 / len(reference))
    xc = rigid - mu_x
    yc = reference - mu_y
    cov = np.matmul(yc.T[None], xc) * (1 / k)
    valid = np.isfinite(cov).all(axis=(1, 2))
    all_valid = bool(valid.all())
    if not all_valid:
        cov[~valid] = np.eye(3)
    # A face's rigid points are never a mirror image of the reference, so det(cov) > 0 and no reflection
    # correction is needed.
    # For a few frames (a live chunk) one LAPACK call beats the iteration's fixed numpy overhead.
    if len(cov) < 32:
        u, _, vt = np.linalg.svd(cov)
        rot = u @ vt
    else:
        rot = polar_rotation(cov)
    var_x = np.einsum("tkl,tkl->t", xc, xc) * (1 / k)
    s = np.einsum("tkl,tkl->t", rot, cov) / var_x
    aligned = s[:, None, None] * np.matmul(points - mu_x, rot.transpose(0, 2, 1)) + mu_y
    # np.minimum/np.maximum, not np.clip: the same values with a tenth of its call overhead on a live chunk.
    cos = np.minimum(np.maximum((np.einsum("tkk->t", rot) - 1) / 2, -1.0), 1.0)
    rotation_deg = np.degrees(np.arccos(cos))
    s = 1 / s
    if not all_valid:
        aligned[~valid] = np.nan
        rotation_deg[~valid] = np.nan
        s[~valid] = np.nan
    return aligned, rotation_deg, s, rot


def robust_noise(x: np.ndarray) -> np.ndarray:
    """Frame-to-frame noise of each column: the MAD of first differences scaled to a standard deviation.

    Parameters
    ----------
    x : ndarray, shape (n_frames, n_columns)

    Returns
    -------
    ndarray, shape (n_columns,)
        In the unit of ``x``; 0 when fewer than 3 finite frames.
    """
    d = np.diff(x, axis=0)
    # All columns in two sorts (a live session refreshes this every few seconds on its whole history).
    mad = nanquantile_sorted(np.abs(d - nanquantile_sorted(d, 50, axis=0)), 50, axis=0)
    enough = np.isfinite(d).sum(axis=0) >= 2
    return np.where(enough, 1.4826 / np.sqrt(2) * np.nan_to_num(mad), 0.0)


def _spread_sample(x: np.ndarray, n: int = 1000) -> np.ndarray:
    """At most ``n`` rows of ``x`` evenly spread over it: enough for a median pose, at a fixed cost."""
    return x[np.linspace(0, len(x) - 1, min(n, len(x))).astype(np.int64)]


@dataclass(frozen=True)
class HeadFrame:
    """The head-fixed frame of one face: where its rigid landmarks sit and its anatomical axes.

    Parameters
    ----------
    reference : ndarray, shape (n_rigid, 3)
        Rigid landmarks (:data:`twitchcam.regions.RIGID`) of the reference pose, in pixels.
    iod : float
        Inter-ocular distance (outer eye corners) in the reference pose, in pixels.
    lateral : ndarray, shape (3,)
        Unit vector toward the patient's LEFT.
    up : ndarray, shape (3,)
        Unit vector from the mouth toward the eyes, orthogonal to ``lateral``.
    """

    reference: np.ndarray
    iod: float
    lateral: np.ndarray
    up: np.ndarray

    @cached_property
    def axes(self) -> np.ndarray:
        """The face's up, lateral and forward axes as rows, shape (3, 3) (the order of yaw, pitch, roll)."""
        return np.stack([self.up, self.lateral, np.cross(self.lateral, self.up)])

    @cached_property
    def pull_directions(self) -> np.ndarray:
        """Each mouth corner's up-and-out direction, rows (left, right), shape (2, 3), unit vectors."""
        return np.stack([self.lateral + self.up, -self.lateral + self.up]) / np.sqrt(2)


@dataclass(frozen=True)
class Measures:
    """Raw per-frame measures in the head-fixed frame, before any baseline.

    Parameters
    ----------
    measured : ndarray, shape (n_frames,), bool
        Face found and not turned beyond ``max_head_rotation_deg``; elsewhere the measures are NaN.
    eye_opening, mouth_position, brow_height : ndarray, shape (n_frames, 2)
        Lid aperture; mouth-corner position along that side's up-and-out direction; brow height along ``up``.
        Columns (left, right), in inter-ocular distances.
    head_rotation_deg, head_scale : ndarray, shape (n_frames,)
        Rotation away from the reference pose in degrees, and size relative to it.
    head_pose_deg : ndarray, shape (n_frames, 3)
        Signed yaw, pitch and roll away from the reference pose (:func:`head_pose`), degrees.
    """

    measured: np.ndarray
    eye_opening: np.ndarray
    mouth_position: np.ndarray
    brow_height: np.ndarray
    head_rotation_deg: np.ndarray
    head_scale: np.ndarray
    head_pose_deg: np.ndarray


def _subset(landmarks: Landmarks) -> tuple[np.ndarray, np.ndarray]:
    """The landmarks the signals use, float64, NaN where not found; and the found mask."""
    n = len(landmarks)
    # Gathered as columns of the frames' flat rows: 0.6x the time of taking points along axis 1.
    flat = landmarks.xyz.reshape(n, N_LANDMARKS * 3)  # explicit width: a recording may have no frame
    pts = flat[:, _SUBSET_COLUMNS].astype(np.float64).reshape(n, len(_SUBSET), 3)
    # NaN anywhere in a frame propagates into its sum: one cheap reduction instead of a full isfinite pass.
    found = landmarks.face_found & np.isfinite(pts.sum(axis=(1, 2)))
    if not found.all():
        pts[~found] = np.nan
    return pts, found


def estimate_head_frame(landmarks: Landmarks, config: Config | None = None) -> HeadFrame | None:
    """Estimate a face's head-fixed frame from the frames where it was found (None if it never was).

    The reference pose is the median rigid shape; the axes come from the median of the aligned eye corners and
    mouth corners, so they follow the face, not the camera.
    """
    return _head_frame(*_subset(landmarks), config or Config())


def _head_frame(pts: np.ndarray, found: np.ndarray, cfg: Config) -> HeadFrame | None:
    """:func:`estimate_head_frame` from the landmark subset (:func:`_subset`), which compute_signals makes once."""
    if not found.any():
        return None
    sample = _spread_sample(pts[found])
    rigid = sample[:, _SLICES["rigid"]]
    reference = np.median(rigid, axis=0)
    aligned, rotation_deg, _, _ = align_to_reference(sample, rigid, reference)
    keep = rotation_deg <= cfg.max_head_rotation_deg
    if not keep.any():
        return None
    ref_pts = np.median(aligned[keep], axis=0)
    eye_centre = {s: ref_pts[_SLICES[f"corners_{s}"]].mean(axis=0) for s in SIDES}
    iod = float(np.linalg.norm(ref_pts[_SLICES["corners_left"]][0] - ref_pts[_SLICES["corners_right"]][0]))
    lateral = eye_centre["left"] - eye_centre["right"]
    lateral /= np.linalg.norm(lateral)
    mouth_mid = (ref_pts[_SLICES["mouth_left"]][0] + ref_pts[_SLICES["mouth_right"]][0]) / 2
    up = (eye_centre["left"] + eye_centre["right"]) / 2 - mouth_mid
    up -= up.dot(lateral) * lateral
    up /= np.linalg.norm(up)
    return HeadFrame(reference, iod, lateral, up)


def measure_frames(landmarks: Landmarks, head: HeadFrame, config: Config | None = None) -> Measures:
    """Raw eye, mouth and brow measures of each frame in a given head-fixed frame.

    Frames are independent of each other here (no baseline yet), so a live session can measure each new chunk of
    frames as it arrives with the same function.

    Parameters
    ----------
    landmarks : Landmarks
        Any number of frames.
    head : HeadFrame
        From :func:`estimate_head_frame`.
    config : Config | None
        Uses ``max_head_rotation_deg``.

    Returns
    -------
    Measures
    """
    return _measures(*_subset(landmarks), head, config or Config())


def _measures(pts: np.ndarray, found: np.ndarray, head: HeadFrame, cfg: Config) -> Measures:
    """:func:`measure_frames` from the landmark subset (:func:`_subset`), which compute_signals makes once."""
    aligned, rotation_deg, scale, rotation = align_to_reference(pts, pts[:, _SLICES["rigid"]], head.reference)
    # A face turned far from its usual pose is tracked poorly: its frames are not measured rather than misread.
    measured = found & (rotation_deg <= cfg.max_head_rotation_deg)
    unmeasured = not measured.all()
    if unmeasured:
        aligned[~measured] = np.nan
    n = len(pts)
    # Both sides at once (each point group is stored left then right): half the calls on a live chunk.
    gap = (aligned[:, _BOTH_SIDES["upper"]] - aligned[:, _BOTH_SIDES["lower"]]).reshape(n, 2, -1, 3)
    opening = np.sqrt(np.einsum("nspk,nspk->nsp", gap, gap)).sum(axis=2) * (1 / (gap.shape[2] * head.iod))
    # Each mouth corner is measured along its own side's up-and-out direction.
    mouth_pos = np.einsum("nsk,sk->ns", aligned[:, _BOTH_SIDES["mouth"]], head.pull_directions) / head.iod
    # In the head-fixed frame the brow's own height is the measure; the eye corners move with the lids.
    brow = aligned[:, _BOTH_SIDES["brow"]].reshape(n, 2, -1, 3)
    brow_height = brow.sum(axis=2) @ head.up * (1 / (brow.shape[2] * head.iod))
    pose = head_pose(rotation, head)
    if unmeasured:
        pose[~measured] = np.nan
    return Measures(measured, opening, mouth_pos, brow_height, rotation_deg, scale, pose)


def head_pose(rotation: np.ndarray, head: HeadFrame) -> np.ndarray:
    """Signed yaw, pitch and roll of each frame away from the reference pose, about the face's own axes.

    The components of the rotation vector (small-angle, from the antisymmetric part of the rotation) along the
    face's ``up`` (yaw: turning left or right), ``lateral`` (pitch: nodding) and forward (roll) axes. A turned
    head shows one eye, one mouth corner and one brow smaller or displaced: these angles let the events model the
    left-right difference that pose alone produces.

    Parameters
    ----------
    rotation : ndarray, shape (n_frames, 3, 3)
        From :func:`align_to_reference`.
    head : HeadFrame

    Returns
    -------
    ndarray, shape (n_frames, 3)
        Yaw, pitch, roll in degrees; NaN where the rotation is not known.
    """
    # The antisymmetric part's entries (R21 - R12, R02 - R20, R10 - R01) / 2, gathered in two operations.
    omega = 0.5 * (rotation[:, _SKEW_ROW, _SKEW_COL] - rotation[:, _SKEW_COL, _SKEW_ROW])
    return np.degrees(np.arcsin(np.minimum(np.maximum(omega @ head.axes.T, -1.0), 1.0)))


_SKEW_ROW, _SKEW_COL = np.array([2, 0, 1]), np.array([1, 2, 0])


#: Quantile of the raw measures taken as their resting level (:func:`rolling_baseline`): the eye opening's is a
#: high one because closures are its excursions; mouth and brow move both ways around rest.
BASELINE_QUANTILE = {"eye_opening": 80.0, "mouth_position": 50.0, "brow_height": 50.0}


def relative_to_rest(m: Measures, eye_rest: np.ndarray, mouth_rest: np.ndarray, brow_rest: np.ndarray):
    """The three signals from raw measures and their resting levels (offline and live alike).

    Parameters
    ----------
    m : Measures
        Raw measures of ``n_frames`` frames.
    eye_rest, mouth_rest, brow_rest : ndarray, shape (n_frames, 2)
        Resting eye opening, mouth-corner position and brow height, columns (left, right), in inter-ocular
        distances.

    Returns
    -------
    eye_closure, mouth_pull, brow_raise : ndarray, shape (n_frames, 2)
        As in :class:`Signals`.
    """
    return 1 - m.eye_opening / eye_rest, m.mouth_position - mouth_rest, m.brow_height - brow_rest


def compute_signals(landmarks: Landmarks, config: Config | None = None) -> Signals:
    """Compute per-side eye, mouth and brow signals, head-motion compensated.

    Parameters
    ----------
    landmarks : Landmarks
        Landmarks of every frame (NaN rows where no face).
    config : Config | None
        Uses ``max_head_rotation_deg``, ``baseline_window_s`` and ``baseline_block_s``.

    Returns
    -------
    Signals
    """
    cfg = config or Config()
    n = len(landmarks)
    # The landmark subset once, for the head frame and the measures: gathering it is a pass over every landmark.
    pts, found = _subset(landmarks)
    head = _head_frame(pts, found, cfg)
    if head is None:
        nan2 = np.full((n, 2), np.nan)
        return Signals(landmarks.t, landmarks.face_found.copy(), np.zeros(n, bool), nan2, nan2.copy(),
                       nan2.copy(), nan2.copy(), np.full(n, np.nan), np.full(n, np.nan),
                       {name: np.zeros(2) for name in SIGNAL_NAMES}, float("nan"), np.full((n, 3), np.nan))
    m = _measures(pts, found, head, cfg)
    t = landmarks.t
    window, block = cfg.baseline_window_s, cfg.baseline_block_s
    # The three measures' baselines in one call: columns (eye left, right, mouth left, right, brow left, right).
    measures = np.concatenate([m.eye_opening, m.mouth_position, m.brow_height], axis=1)
    quantiles = np.repeat([BASELINE_QUANTILE[name] for name in ("eye_opening", "mouth_position", "brow_height")], 2)
    rest = rolling_baseline(measures, t, window, block, q=quantiles)
    eye_closure, mouth_pull, brow_raise = relative_to_rest(m, rest[:, 0:2], rest[:, 2:4], rest[:, 4:6])
    signals = dict(zip(SIGNAL_NAMES, (eye_closure, mouth_pull, brow_raise)))
    return Signals(t, landmarks.face_found.copy(), m.measured, eye_closure, mouth_pull, brow_raise, m.eye_opening,
                   m.head_rotation_deg, m.head_scale, {name: robust_noise(x) for name, x in signals.items()},
                   head.iod, m.head_pose_deg)
