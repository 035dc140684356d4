"""The local left-right asymmetry of each region: what a one-sided twitch is told by, on a face that moves.

The left-right difference of each region's signal less what head pose explains (:func:`pose_asymmetry`) and less
its slow trend, with its local spread (:func:`local_asymmetry`): :func:`twitchcam.events.detect_events` finds
one-sided events where the asymmetry stands out from the spread. Pure numpy, vectorized over frames, the three
regions as columns (:data:`twitchcam.regions.REGIONS` order).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .baselines import group_blocks, nanquantile_sorted, rolling_baseline
from .config import Config
from .regions import REGIONS
from .signals import Signals

#: Ridge penalty of the head-pose model of the left-right difference, per frame, in squared degrees: a pose that
#: varies by less than about this (a face held still) cannot explain much, however well it happens to correlate.
POSE_RIDGE_DEG2 = 4.0
#: Local estimates of the pose model, trend and spread after the global first guess.
LOCAL_PASSES = 2


def pose_asymmetry(difference: np.ndarray, pose_deg: np.ndarray, use: np.ndarray) -> np.ndarray:
    """The left-right difference that head pose alone explains, for several signals at once.

    A turned, nodded or tilted head shows one eye smaller, one mouth corner and one brow displaced, even after the
    alignment (the far side's landmarks are foreshortened and tracked less well). Each column of the difference
    is fitted on yaw, pitch, roll and a signed square of the yaw (ridge regression, penalty
    :data:`POSE_RIDGE_DEG2`, so that the small pose changes of a face held still explain nothing), on its own
    frames ``use`` only.

    Parameters
    ----------
    difference : ndarray, shape (n_frames, n_signals)
        Left minus right of each signal, in its unit; NaN where not measured.
    pose_deg : ndarray, shape (n_frames, 3)
        Yaw, pitch, roll in degrees (:attr:`twitchcam.signals.Signals.head_pose_deg`).
    use : ndarray, shape (n_frames, n_signals), bool
        Frames to fit each column on (those not taken by a movement of their own).

    Returns
    -------
    ndarray, shape (n_frames, n_signals)
        The fitted difference, in each signal's unit; 0 where the pose is unknown, and in a column that fewer
        than 30 frames fit.
    """
    return _fit_pose(difference, _pose_design(pose_deg), use)


@dataclass(frozen=True)
class _PoseDesign:
    """The pose model's inputs, computed once for the fits of several passes.

    Parameters
    ----------
    x : ndarray, shape (n_frames, 4)
        Yaw, pitch, roll and the signed squared yaw / 10, degrees; 0 where the pose is unknown.
    known : ndarray, shape (n_frames,), bool
        Whether the pose is known.
    outer : ndarray, shape (n_frames, 16)
        Each frame's outer product of ``x`` with itself, flattened: the normal equations of any subset of frames
        are then one matrix product.
    """

    x: np.ndarray
    known: np.ndarray
    outer: np.ndarray


def _pose_design(pose_deg: np.ndarray) -> _PoseDesign:
    yaw = pose_deg[:, 0]
    # The squared yaw is scaled to about the others' range (tens of degrees) so that one penalty suits all.
    design = np.column_stack([pose_deg, yaw * np.abs(yaw) / 10.0])
    known = np.isfinite(design).all(axis=1)
    x = np.where(known[:, None], design, 0.0)
    return _PoseDesign(x, known, (x[:, :, None] * x[:, None, :]).reshape(len(x), -1))


def _fit_pose(difference: np.ndarray, design: _PoseDesign, use: np.ndarray) -> np.ndarray:
    """:func:`pose_asymmetry` from a design computed once."""
    x, known = design.x, design.known
    ok = use & known[:, None] & np.isfinite(difference)
    weight = ok.astype(np.float64)
    count = np.maximum(weight.sum(axis=0), 1)
    y = np.where(ok, difference, 0.0)
    # Weighted (0/1) moments of every column at once, centred afterwards: (n_signals, 4) and (n_signals, 4, 4).
    mean_x = (weight.T @ x) / count[:, None]
    mean_y = y.sum(axis=0) / count
    gram = (weight.T @ design.outer).reshape(-1, 4, 4) - count[:, None, None] * mean_x[:, :, None] * mean_x[:, None, :]
    rhs = y.T @ x - count[:, None] * mean_x * mean_y[:, None]
    ridge = POSE_RIDGE_DEG2 * count[:, None, None] * np.eye(4)
    beta = np.linalg.solve(gram + ridge, rhs[:, :, None])[..., 0]
    fitted = (x @ beta.T) - (mean_x * beta).sum(axis=1)
    fitted[:, weight.sum(axis=0) < 30] = 0.0
    return np.where(known[:, None], fitted, 0.0)


def local_asymmetry(signals: Signals, config: Config,
                    quiet_prior: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Each region's left-right difference beyond what pose and slow expression explain, and its local spread.

    The difference (left minus right) less its pose model (:func:`pose_asymmetry`) less its own running median
    over ``asym_trend_s`` (a held asymmetric expression, a slowly changing light) leaves the brief one-sided
    movements. Its spread, a running median of the robust deviation over ``asym_window_s``, follows the recording:
    low while the face is calm, high while it talks, laughs or turns. All three are estimated twice, each time
    without the frames that stood out before (first against the whole window's median and spread, then
    locally), so that frequent twitches neither enter the pose model or the trend nor raise the spread that is to
    find them. The three regions are computed together, as columns.

    Parameters
    ----------
    signals : Signals
    config : Config
    quiet_prior : ndarray, shape (n_prior, 3), bool | None
        The quiet frames (:func:`quiet_frames`) of the first ``n_prior`` frames as an earlier estimate found them:
        a live session's last detection, on the frames its window shares with this one. They replace the first
        guess there (the global guess covers the frames after them) and one local pass follows instead of
        :data:`LOCAL_PASSES`: the earlier estimate is the output of such passes already.

    Returns
    -------
    asymmetry : ndarray, shape (n_frames, 3)
        Columns in :data:`twitchcam.regions.REGIONS` order, each in its region's signal unit; positive where the
        LEFT side leads.
    spread : ndarray, shape (n_frames, 3)
        Local robust standard deviation of ``asymmetry``, same columns and units.
    """
    t = signals.t
    if not len(t):
        return np.zeros((0, len(REGIONS))), np.zeros((0, len(REGIONS)))
    sides = np.concatenate([signals.region_signal(r) for r in REGIONS], axis=1)
    difference = sides[:, 0::2] - sides[:, 1::2]
    fixed = _fixed_thresholds(config)
    blocks = group_blocks(t, config.baseline_block_s)
    # The first guess of the quiet frames is global (the whole window's median and spread): a local first guess
    # would let a long spasm at the end of a live window pull the trend and the spread along with it.
    with np.errstate(invalid="ignore"):
        centred = np.abs(difference - nanquantile_sorted(difference, 50, axis=0))
        # np.fmax with 0 reads a column without any value as no spread (np.nan_to_num's value here, cheaper).
        quiet = centred <= np.maximum(2.5 * 1.4826 * np.fmax(nanquantile_sorted(centred, 50, axis=0), 0.0),
                                      fixed / 2)
    passes = LOCAL_PASSES
    if quiet_prior is not None and len(quiet_prior):
        quiet[:len(quiet_prior)] = quiet_prior
        passes = 1
    design = _pose_design(signals.head_pose_deg)
    for k in range(passes):
        residual = difference - _fit_pose(difference, design, quiet)
        calm = np.where(quiet, residual, np.nan)
        asymmetry = residual - rolling_baseline(calm, t, config.asym_trend_s, blocks.block_s, 50.0, blocks)
        deviation = np.where(quiet, np.abs(asymmetry), np.nan)
        spread = np.fmax(1.4826 * rolling_baseline(deviation, t, config.asym_window_s, blocks.block_s, 50.0, blocks),
                         0.0)
        if k < passes - 1:  # the last pass's quiet frames are the caller's to compute, if it needs them
            quiet = quiet_frames(asymmetry, spread, config)
    return asymmetry, spread


def quiet_frames(asymmetry: np.ndarray, spread: np.ndarray, config: Config) -> np.ndarray:
    """Frames whose asymmetry does not stand out from its local spread, shape (n_frames, 3), bool.

    Parameters
    ----------
    asymmetry, spread : ndarray, shape (n_frames, 3)
        From :func:`local_asymmetry`.
    config : Config
        Half of each region's asymmetry threshold (:attr:`Config.asym_thresholds`) always counts as quiet.
    """
    with np.errstate(invalid="ignore"):
        return np.abs(asymmetry) <= np.maximum(2.5 * spread, _fixed_thresholds(config) / 2)


def _fixed_thresholds(config: Config) -> np.ndarray:
    """Each region's configured asymmetry threshold, shape (3,), in REGIONS order."""
    return np.array([config.asym_thresholds[r] for r in REGIONS])
