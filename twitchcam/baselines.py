"""Resting levels over frames: a quantile on short blocks, then a running median of blocks, and robust quantiles.

What a signal is measured from (:func:`rolling_baseline`: an eye's resting opening, a mouth corner's and a brow's
resting position, :mod:`twitchcam.signals`) and what an asymmetry is judged against (its trend and local spread,
:mod:`twitchcam.asymmetry`). Blocks keep the cost linear in frames and make a baseline blind to contractions that
fill less than half of its window. Pure numpy, vectorized over columns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def nanquantile_sorted(a: np.ndarray, q: float | np.ndarray, axis: int = -1) -> np.ndarray:
    """Quantile ignoring NaN along an axis, by one sort (NaN sorts last), with linear interpolation.

    Equivalent to ``np.nanpercentile(a, q, axis)`` but without its per-row Python loop when NaNs are present.

    Parameters
    ----------
    a : ndarray
    q : float or array_like
        Percentile, 0-100; an array broadcastable to the result's shape gives each row its own.
    axis : int

    Returns
    -------
    ndarray
        ``a``'s shape without ``axis``; NaN where a row has no finite value.
    """
    if axis not in (-1, a.ndim - 1):
        # swapaxes is the same view as moveaxis for a table, at a fraction of its call overhead.
        a = a.swapaxes(axis, -1) if a.ndim == 2 else np.moveaxis(a, axis, -1)
    a = np.sort(a, axis=-1)
    # Rows of one flat table, gathered by plain indexing: fewer numpy calls than take_along_axis on the small
    # arrays of a live session's detections.
    shape, m = a.shape[:-1], a.shape[-1]
    if m == 0:
        return np.full(shape, np.nan)
    flat = a.reshape(-1, m)
    # NaN sorts last and is the only value unequal to itself: each row's count of values that are not NaN.
    count = np.add.reduce(flat == flat, axis=1, dtype=np.intp)
    last = np.maximum(count - 1, 0)
    if not isinstance(q, float | int):  # a Python number (or np.float64) is used as it is: no array call
        q = np.asarray(q, np.float64)
        if q.ndim:
            q = np.broadcast_to(q, shape).reshape(-1)
    pos = q / 100 * last
    lo = pos.astype(np.intp)  # floor, pos being >= 0
    start = np.arange(0, flat.size, m)
    values = flat.reshape(-1)
    a_lo = values[start + lo]
    out = a_lo + (pos - lo) * (values[start + np.minimum(lo + 1, last)] - a_lo)
    if not count.all():
        out[count == 0] = np.nan
    return out.reshape(shape)


@dataclass(frozen=True)
class Blocks:
    """Frames grouped into consecutive blocks of equal duration, and how values of blocks map back to frames.

    One grouping serves every :func:`rolling_baseline` of the same frames: the signals' resting levels and the
    events' asymmetry trend and spread.

    Parameters
    ----------
    block_s : float
        Block length, s.
    index : ndarray, shape (n_frames,), int
        Block of each frame.
    position : ndarray, shape (n_frames,), int
        Place of each frame within its block.
    n_blocks, size : int
        Number of blocks (the last one possibly part-filled) and frames in the fullest.
    centres_s : ndarray, shape (n_blocks,)
        Time of each block's centre, s.
    lower, upper : ndarray, shape (n_frames,), int
        The block centres each frame lies between (the nearest twice at the ends).
    weight : ndarray, shape (n_frames, 1)
        Linear-interpolation weight of ``upper``.
    """

    block_s: float
    index: np.ndarray
    position: np.ndarray
    n_blocks: int
    size: int
    centres_s: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    weight: np.ndarray


def group_blocks(t: np.ndarray, block_s: float) -> Blocks:
    """Group frames into consecutive blocks of ``block_s`` seconds from the first frame.

    Parameters
    ----------
    t : ndarray, shape (n_frames,)
        Time in seconds, increasing; at least one frame.
    block_s : float

    Returns
    -------
    Blocks
    """
    n = len(t)
    index = np.floor((t - t[0]) / block_s).astype(np.int64)
    n_blocks = int(index[-1]) + 1
    starts = np.searchsorted(index, np.arange(n_blocks))
    position = np.arange(n) - starts[index]
    centres = t[0] + (np.arange(n_blocks) + 0.5) * block_s
    at = np.clip((t - centres[0]) / block_s, 0, n_blocks - 1)
    lower = np.floor(at).astype(np.int64)
    return Blocks(block_s, index, position, n_blocks, int(position.max()) + 1, centres, lower,
                  np.minimum(lower + 1, n_blocks - 1), (at - lower)[:, None])


def rolling_baseline(x: np.ndarray, t: np.ndarray, window_s: float, block_s: float, q: float | np.ndarray,
                     blocks: Blocks | None = None) -> np.ndarray:
    """Resting level of a signal: a high or middle quantile on short blocks, then a running median of blocks.

    Computing the quantile on blocks and the median across blocks keeps the cost linear in frames and makes the
    baseline blind to contractions that fill less than half of the window.

    Parameters
    ----------
    x : ndarray, shape (n_frames, n_columns)
        Signal, NaN where unknown.
    t : ndarray, shape (n_frames,)
        Time in seconds, increasing.
    window_s, block_s : float
        Running-median window and block length in seconds.
    q : float or ndarray, shape (n_columns,)
        Quantile (0-100) taken within each block, or one per column: high for an eye opening (closures are the
        excursions), 50 for positions that move both ways.
    blocks : Blocks | None
        ``group_blocks(t, block_s)``, when the caller has it already.

    Returns
    -------
    ndarray, shape (n_frames, n_columns)
        Baseline at each frame; NaN only if the whole recording is NaN.
    """
    n, k = x.shape
    if n == 0:
        return x.copy()
    b = blocks if blocks is not None else group_blocks(t, block_s)
    grid = np.full((b.n_blocks, k, b.size), np.nan)
    grid[b.index, :, b.position] = x
    per_block = nanquantile_sorted(grid, q)
    half = max(int(round(window_s / block_s / 2)), 0)
    edge = np.full((half, k), np.nan)
    padded = np.concatenate([edge, per_block, edge]).T
    # Each block's window of 2 * half + 1 blocks, gathered at once: shape (n_columns, n_blocks, 2 * half + 1).
    windows = padded[:, np.arange(b.n_blocks)[:, None] + np.arange(2 * half + 1)]
    smooth = nanquantile_sorted(windows, 50).T
    if np.isfinite(smooth).all():
        # Linear interpolation between block centres, every column at once (np.interp's result, one call).
        return smooth[b.lower] * (1 - b.weight) + smooth[b.upper] * b.weight
    out = np.empty_like(x, dtype=np.float64)
    for j in range(k):
        ok = np.isfinite(smooth[:, j])
        out[:, j] = np.interp(t, b.centres_s[ok], smooth[ok, j]) if ok.any() else np.nan
    return out
