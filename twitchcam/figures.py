"""Figures of an analysis for the report: event raster, per-side traces, a close-up of one spasm, durations and
rate over time; rendered with matplotlib's Agg canvas (no display, no pyplot state) to PNG.

Every figure is drawn twice, wide for a desktop page and narrow for a phone, so text stays readable at both
widths; the report picks one with ``<picture>``. Colours are the Okabe-Ito colour-blind-safe pair, the same as in
the annotated video: the patient's left is vermillion, the right is blue, both eyes together are grey.

matplotlib is imported inside the functions so that ``import twitchcam`` stays light.
"""

from __future__ import annotations

import base64
import io
import logging

import numpy as np

from .folder import Results
from .pattern import episode_spans
from .regions import mirror_side
from .vocabulary import SIDE_COLOURS as SIDE_COLORS
from .vocabulary import SIGNAL_LABELS

REGION_NAMES = {"periocular": "eye", "perioral": "mouth", "brow": "brow"}

#: Figure width in inches and resolution (dots per inch) of the two variants.
LAYOUTS = {"wide": (10.5, 110), "narrow": (4.6, 220)}


#: matplotlib style per layout: a phone shows the narrow figure smaller, so its text is larger.
STYLES = {
    "wide": {"font.size": 9, "axes.titlesize": 10, "axes.labelsize": 9, "xtick.labelsize": 8, "ytick.labelsize": 7,
             "legend.fontsize": 8, "axes.spines.top": False, "axes.spines.right": False},
    "narrow": {"font.size": 10.5, "axes.titlesize": 11, "axes.labelsize": 10.5, "xtick.labelsize": 9.5,
               "ytick.labelsize": 9, "legend.fontsize": 9.5, "axes.spines.top": False, "axes.spines.right": False},
}


def _matplotlib():
    # A first import on a fresh machine builds the font cache and logs a warning about it; that is not news for
    # a user who asked for a report.
    logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)
    from matplotlib.figure import Figure

    return Figure


def draw_rgba(fig, dpi: int) -> np.ndarray:
    """Draw a matplotlib figure with the Agg canvas, as ``savefig`` at ``dpi`` draws it.

    Returns
    -------
    ndarray, shape (height_px, width_px, 4), uint8
        The picture, RGBA.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    fig.dpi = dpi
    canvas.draw()
    return np.array(canvas.buffer_rgba())


def encode_png(rgba: np.ndarray, dpi: int) -> str:
    """PNG of a drawn picture (:func:`draw_rgba`), base64-encoded (ASCII): the bytes ``savefig`` writes.

    Pillow compresses without holding the GIL, so this can run in a thread while the next figure is drawn.
    """
    from matplotlib.image import imsave

    buf = io.BytesIO()
    imsave(buf, rgba, format="png", dpi=dpi, metadata={"Software": None})
    return base64.b64encode(buf.getvalue()).decode("ascii")


def png_base64(fig, dpi: int) -> str:
    """Render a matplotlib figure to PNG and return it base64-encoded (ASCII)."""
    return encode_png(draw_rgba(fig, dpi), dpi)


def _margins(fig, left_in: float, right_in: float, top_in: float, bottom_in: float, hspace_in: float = 0.0,
             wspace: float = 0.25) -> None:
    """Place the axes with fixed margins in inches: constrained layout costs half of the rendering time."""
    w, h = fig.get_size_inches()
    n_rows = max(len(fig.axes), 1) if hspace_in else 1
    plot_h = h - top_in - bottom_in
    fig.subplots_adjust(left=left_in / w, right=1 - right_in / w, top=1 - top_in / h, bottom=bottom_in / h,
                        hspace=hspace_in / max(plot_h / n_rows - hspace_in, 1e-3), wspace=wspace)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(first, last) index of every run of True in a boolean array, inclusive."""
    if not mask.any():
        return []
    d = np.diff(np.r_[0, mask.astype(np.int8), 0])
    return list(zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1) - 1))


def _time_axis(ax, duration_s: float) -> None:
    """Label the x axis in seconds, or minutes:seconds for long recordings."""
    if duration_s >= 120:
        from matplotlib.ticker import FuncFormatter, MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(nbins=8, steps=[1, 2, 3, 5, 6, 10]))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{int(x // 60)}:{int(x % 60):02d}"))
        ax.set_xlabel("time (min:s)")
    else:
        ax.set_xlabel("time (s)")


def _vspans(ax, starts, stops, color: str, alpha, zorder: float = 1) -> None:
    """Shade ``[start, stop]`` spans over the axes' whole height, one collection for all of them.

    Draws what one ``ax.axvspan`` per span draws, at a fraction of the cost: each axvspan is an artist of its own
    whose data limits are updated one at a time. The x limits are set by the callers.

    Parameters
    ----------
    starts, stops : array-like, shape (n_spans,)
        Span edges in seconds.
    color : str
    alpha : float or array-like, shape (n_spans,)
    """
    from matplotlib.collections import PolyCollection

    starts, stops = np.asarray(starts, float), np.asarray(stops, float)
    if not starts.size:
        return
    verts = [[(a, 0.0), (a, 1.0), (b, 1.0), (b, 0.0), (a, 0.0)] for a, b in zip(starts, stops)]
    alphas = np.broadcast_to(np.asarray(alpha, float), starts.shape)
    from matplotlib.colors import to_rgba

    colors = [to_rgba(color, a) for a in alphas]
    ax.add_collection(PolyCollection(verts, facecolors=colors, edgecolors="none", linewidths=0, zorder=zorder,
                                     transform=ax.get_xaxis_transform()), autolim=False)


def _shade_unmeasured(ax, results: Results) -> None:
    t = results.t
    dt = float(np.median(np.diff(t))) if len(t) > 1 else 0.0
    runs = _runs(~results.measured)
    _vspans(ax, [t[a] for a, _ in runs], [t[b] + dt for _, b in runs], "#000000", 0.08, zorder=0)


def raster(results: Results, sides: tuple[str, str], layout: str = "wide"):
    """Event raster: one row per side and region, one bar per event, tonic events solid, clonic lighter.

    Parameters
    ----------
    results : Results
    sides : tuple of str
        Order of the sides, top first (the affected side first).
    layout : {"wide", "narrow"}

    Returns
    -------
    matplotlib.figure.Figure
    """
    Figure = _matplotlib()
    width, _ = LAYOUTS[layout]
    rows = [(sides[0], r) for r in REGION_NAMES] + [("bilateral", "periocular")] + \
           [(sides[1], r) for r in REGION_NAMES]
    fig = Figure(figsize=(width, 2.6 if layout == "wide" else 3.3))
    ax = fig.add_subplot()
    ev = results.events
    end = max(results.duration_s, float(ev.offset_s.max()) if len(ev) else 0.0, 1e-3)
    min_w = end / (350 if layout == "wide" else 160)  # keep a 100 ms twitch visible as a tick
    _shade_unmeasured(ax, results)
    for y, (side, region) in enumerate(rows):
        sel = (ev.side == side) & (ev.region == region)
        for kind, alpha in (("clonic", 0.55), ("tonic", 1.0), ("blink", 0.35)):
            k = sel & (ev.kind == kind)
            if k.any():
                spans = [(a, max(b - a, min_w)) for a, b in zip(ev.onset_s[k], ev.offset_s[k])]
                ax.broken_barh(spans, (y - 0.36, 0.72), facecolors=SIDE_COLORS[side], alpha=alpha, lw=0)
    labels = [("both eyes" if side == "bilateral" else f"{side.capitalize()} {REGION_NAMES[region]}")
              for side, region in rows]
    ax.set_yticks(range(len(rows)), labels)
    for tick, (side, _) in zip(ax.get_yticklabels(), rows):
        tick.set_color(SIDE_COLORS[side])
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.set_xlim(float(results.t[0]) if len(results.t) else 0.0, end)
    ax.axhline(2.5, color="#cccccc", lw=0.6)
    ax.axhline(3.5, color="#cccccc", lw=0.6)
    ax.tick_params(axis="y", length=0)
    ax.spines["left"].set_visible(False)
    _time_axis(ax, end)
    from matplotlib.patches import Patch

    handles = [Patch(color="#555555", alpha=0.55, label="clonic (< 1 s)"),
               Patch(color="#555555", alpha=1.0, label="tonic (≥ 1 s)"),
               Patch(color=SIDE_COLORS["bilateral"], alpha=0.35, label="blink / both eyes"),
               Patch(color="#000000", alpha=0.08, label="face not measured")]
    fig.legend(handles=handles, loc="lower center", ncols=4 if layout == "wide" else 2, frameon=False,
               borderaxespad=0.1)
    _margins(fig, 1.0 if layout == "wide" else 1.15, 0.15, 0.1, 0.75 if layout == "wide" else 1.05)
    return fig


def _region_limits(results: Results, region: str) -> tuple[float, float]:
    """Shared y limits of a region's signal for both sides, robust to outliers."""
    x = results.region_signal(region)
    x = x[np.isfinite(x)]
    floor = {"periocular": (-0.3, 1.05), "perioral": (-0.05, 0.12), "brow": (-0.05, 0.1)}[region]
    if not x.size:
        return floor
    lo, hi = np.percentile(x, [0.5, 99.9])
    pad = 0.05 * (hi - lo)
    return min(floor[0], lo - pad), max(floor[1], hi + pad)


def traces(results: Results, sides: tuple[str, str], layout: str = "wide", window: tuple[float, float] | None = None):
    """Per-side traces of eye closure, mouth pull and brow raise over time, events shaded.

    Parameters
    ----------
    results : Results
    sides : tuple of str
        Order of the sides, top first.
    layout : {"wide", "narrow"}
    window : tuple of float | None
        ``(start_s, stop_s)`` to show a close-up; the whole recording when None.

    Returns
    -------
    matplotlib.figure.Figure
    """
    Figure = _matplotlib()
    width, _ = LAYOUTS[layout]
    on = results.config.on_thresholds
    rows = [(side, region) for side in sides for region in REGION_NAMES]
    row_h = 0.78 if window is None else 0.62
    fig = Figure(figsize=(width, 0.5 + row_h * len(rows)))
    axes = fig.subplots(len(rows), 1, sharex=True)
    _margins(fig, 1.15 if layout == "wide" else 1.3, 0.15, 0.08, 0.45, hspace_in=0.12)
    t = results.t
    sel = slice(None)
    if window is not None:
        sel = slice(np.searchsorted(t, window[0]), np.searchsorted(t, window[1], "right"))
    ev = results.events
    for ax, (side, region) in zip(axes, rows):
        j = 0 if side == "left" else 1
        y = results.region_signal(region)[sel, j]
        _shade_unmeasured(ax, results)
        mine = (ev.side == side) & (ev.region == region)
        _vspans(ax, ev.onset_s[mine], ev.offset_s[mine], SIDE_COLORS[side],
                np.where(ev.kind[mine] == "tonic", 0.32, 0.18))
        if region == "periocular":
            both = ev.side == "bilateral"
            _vspans(ax, ev.onset_s[both], ev.offset_s[both], SIDE_COLORS["bilateral"], 0.18)
        ax.plot(t[sel], y, color=SIDE_COLORS[side], lw=0.8 if window is None else 1.2)
        if window is not None:
            other = results.region_signal(region)[sel, 1 - j]
            ax.plot(t[sel], other, color="#888888", lw=0.8, ls="--")
        ax.axhline(on[region], color="#444444", lw=0.6, ls=":")
        ax.axhline(0, color="#bbbbbb", lw=0.5)
        ax.set_ylim(*_region_limits(results, region))
        ax.set_ylabel(f"{side.capitalize()}\n{SIGNAL_LABELS[region]}", color=SIDE_COLORS[side], rotation=0,
                      ha="right", va="center")
    if window is None:
        axes[-1].set_xlim(float(t[0]) if len(t) else 0.0, max(results.duration_s, 1e-3))
        _time_axis(axes[-1], results.duration_s)
    else:
        axes[-1].set_xlim(*window)
        axes[-1].set_xlabel("time (s)")
    return fig


def closeup_window(results: Results, side: str | None) -> tuple[float, float, str] | None:
    """Time window around the affected side's longest spasm, and a caption; None without one.

    Returns
    -------
    tuple | None
        ``(start_s, stop_s, caption)``.
    """
    if side is None:
        return None
    ev = results.events
    mine = (ev.side == side) & np.isin(ev.region, ("periocular", "perioral"))
    start, stop = episode_spans(ev.onset_s[mine], ev.offset_s[mine], results.config.coupling_window_s)
    if not len(start):
        return None
    i = int(np.argmax(stop - start))
    pad = max(1.0, 0.5 * (stop[i] - start[i]))
    caption = (f"Close-up of the longest {side} spasm, {stop[i] - start[i]:.2f} s from {start[i]:.2f} s; "
               f"dashed grey: the {mirror_side(side)} side for comparison.")
    return max(float(results.t[0]), start[i] - pad), min(results.duration_s, stop[i] + pad), caption


def durations_and_rate(results: Results, measures: dict, sides: tuple[str, str], layout: str = "wide"):
    """Distribution of episode durations per side, and episodes per minute over time for recordings of 2 min+.

    Parameters
    ----------
    measures : dict of str to SideMeasures
        :func:`twitchcam.severity.measure_side` of each of ``sides``.

    Returns
    -------
    matplotlib.figure.Figure | None
        None when there is no episode on either side.
    """
    if not any(measures[s].episodes for s in sides):
        return None
    Figure = _matplotlib()
    width, _ = LAYOUTS[layout]
    with_rate = results.duration_s >= 120
    n_panels = 2 if with_rate else 1
    if layout == "wide":
        fig = Figure(figsize=(width, 2.6))
        axes = fig.subplots(1, n_panels, squeeze=False)[0]
        _margins(fig, 0.6, 0.15, 0.3, 0.5, wspace=0.2)
    else:
        fig = Figure(figsize=(width, 2.6 * n_panels))
        axes = fig.subplots(n_panels, 1, squeeze=False)[:, 0]
        _margins(fig, 0.65, 0.15, 0.3, 0.55, hspace_in=0.9 if n_panels > 1 else 0.0)
    longest = max(max(measures[s].episode_durations_s, default=0) for s in sides)
    bins = np.geomspace(0.03, max(5.0, longest * 1.2), 22)
    ax = axes[0]
    for s in sides:
        d = measures[s].episode_durations_s
        if d:
            ax.hist(d, bins=bins, color=SIDE_COLORS[s], alpha=0.6, label=f"{s.capitalize()} ({len(d)})")
    ax.set_xscale("log")
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}"))
    ax.axvline(results.config.tonic_min_s, color="#444444", lw=0.8, ls="--")
    ax.text(results.config.tonic_min_s * 1.05, 0.97, "tonic →", transform=ax.get_xaxis_transform(), va="top",
            color="#444444")
    ax.set_xlabel("episode duration (s, log scale)")
    ax.set_ylabel("episodes")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(frameon=False)
    ax.set_title("Duration distribution", loc="left")
    if with_rate:
        ax = axes[1]
        edges = np.arange(0, results.duration_s + 60, 60)
        ev = results.events
        for k, s in enumerate(sides):
            mine = (ev.side == s) & np.isin(ev.region, ("periocular", "perioral"))
            start, _ = episode_spans(ev.onset_s[mine], ev.offset_s[mine], results.config.coupling_window_s)
            counts, _ = np.histogram(start, edges)
            ax.bar(edges[:-1] / 60 + 0.5 + (k - 0.5) * 0.38, counts, width=0.38, color=SIDE_COLORS[s],
                   alpha=0.8, label=s.capitalize())
        ax.set_xlabel("minute of recording")
        ax.set_ylabel("episodes per minute")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title("Rate over time", loc="left")
        ax.legend(frameon=False)
    return fig


def report_figures(results: Results, sides: tuple[str, str], measures: dict) -> dict:
    """Every figure of the report in both layouts.

    Parameters
    ----------
    results : Results
    sides : tuple of str
        Both sides, in the order shown.
    measures : dict of str to SideMeasures
        :func:`twitchcam.severity.measure_side` of each side, as the report computed them.

    Returns
    -------
    dict of str to dict
        Per figure name (``raster``, ``traces``, ``closeup``, ``durations``): ``wide`` and ``narrow`` base64 PNG
        and a ``caption``. Figures without data are left out.
    """
    out = {}
    affected = results.summary.get("side")
    window = closeup_window(results, affected)
    makers = {
        "raster": (lambda layout: raster(results, sides, layout),
                   "Event timeline: each bar is one event, by side and region (patient's sides)."),
        "traces": (lambda layout: traces(results, sides, layout),
                   "Signals over time. Shaded: detected events; dotted: the region's threshold (a one-sided event "
                   "must also exceed the other side's signal); grey background: face not measured. Eye closure is a "
                   "fraction of the resting opening (1 = closed); mouth pull and brow raise are in inter-ocular "
                   "distances (IOD)."),
    }
    if window is not None:
        makers["closeup"] = (lambda layout: traces(results, (affected,), layout, window=window[:2]), window[2])
    makers["durations"] = (lambda layout: durations_and_rate(results, measures, sides, layout),
                           "Episode durations (log scale); the dashed line is the 1 s clonic/tonic boundary."
                           + (" Right: spasm episodes in each minute." if results.duration_s >= 120 else ""))
    from concurrent.futures import ThreadPoolExecutor

    import matplotlib

    # Each PNG is compressed in a thread while the next figure is drawn (a tenth of the rendering time).
    with ThreadPoolExecutor(1, thread_name_prefix="twitchcam-png") as encoder:
        for name, (make, caption) in makers.items():
            entry = {"caption": caption}
            for layout, (_, dpi) in LAYOUTS.items():
                # Tick labels are made at draw time, so the style must hold through the drawing.
                with matplotlib.rc_context(STYLES[layout]):
                    fig = make(layout)
                    if fig is None:
                        break
                    entry[layout] = encoder.submit(encode_png, draw_rgba(fig, dpi), dpi)
            else:
                out[name] = entry
    return {name: {key: value if key == "caption" else value.result() for key, value in entry.items()}
            for name, entry in out.items()}
