"""Figures of an analysis for the report: event raster, per-side traces, a close-up of one spasm, durations and
rate over time; rendered with matplotlib's Agg canvas (no display, no pyplot state) to PNG.

Every figure is drawn twice, wide for a desktop page and narrow for a phone, so text stays readable at both
widths; the report picks one with ``<picture>``. Colours are the Okabe-Ito colour-blind-safe pair, the same as in
the annotated video: the patient's left is vermillion, the right is blue, both eyes together are grey.

A report is drawn in well under a second because matplotlib's cost is in the objects it builds per axes (spines,
ticks and their labels), not in the drawing: every figure is one axes, the traces are bands of one axes (each
with its own scale, :class:`_Band`), and every tick is placed by a fixed locator computed here, as matplotlib's
automatic locators would place it.

matplotlib is imported inside the functions so that ``import twitchcam`` stays light.
"""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass

import numpy as np

from .events import one_sided_levels
from .folder import Results
from .pattern import episode_spans
from .regions import REGIONS, mirror_side
from .vocabulary import REGION_WORDS, SIGNAL_LABELS
from .vocabulary import SIDE_COLOURS as SIDE_COLORS

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
    """PNG of a drawn picture (:func:`draw_rgba`), base64-encoded (ASCII).

    The file is written here rather than by Pillow: rows unfiltered and deflated at level 3 take a fifth of
    Pillow's time and give a smaller file (a figure's flat colours compress well without PNG's row filters); an
    opaque picture, as every figure is, is stored as RGB. zlib does not hold the GIL, so this can run in a thread
    while the next figure is drawn.

    Parameters
    ----------
    rgba : ndarray, shape (height_px, width_px, 4), uint8
    dpi : int
        Recorded in the file (``pHYs``).
    """
    import struct
    import zlib

    opaque = bool((rgba[..., 3] == 255).all())
    pixels = rgba[..., :3] if opaque else rgba
    height, width, channels = pixels.shape
    rows = np.zeros((height, 1 + width * channels), np.uint8)  # each row opens with its filter type: 0, none
    rows[:, 1:] = pixels.reshape(height, -1)
    per_metre = round(dpi / 0.0254)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    png = (b"\x89PNG\r\n\x1a\n"
           + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2 if opaque else 6, 0, 0, 0))
           + chunk(b"pHYs", struct.pack(">IIB", per_metre, per_metre, 1))
           + chunk(b"IDAT", zlib.compress(rows.tobytes(), 3))
           + chunk(b"IEND", b""))
    return base64.b64encode(png).decode("ascii")


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


def _tick_values(lo: float, hi: float, n_bins: int, steps=(1, 2, 2.5, 5, 10), integer: bool = False) -> np.ndarray:
    """Tick positions within ``[lo, hi]``, as matplotlib's automatic locator would put them at ``n_bins``."""
    from matplotlib.ticker import MaxNLocator

    values = MaxNLocator(nbins=max(n_bins, 1), steps=list(steps), integer=integer).tick_values(lo, hi)
    span = hi - lo
    return values[(values >= lo - 1e-9 * span) & (values <= hi + 1e-9 * span)]


def _tick_labels(values: np.ndarray) -> list[str]:
    """Tick labels with the fewest decimals that show every value, the same for all (``0.0 0.5 1.0``), as
    matplotlib's ``ScalarFormatter`` writes them.
    """
    decimals = next((d for d in range(7) if np.allclose(np.round(values, d), values, rtol=0, atol=1e-9)), 6)
    return [f"{v:.{decimals}f}".replace("-", "\N{MINUS SIGN}") for v in values + 0.0]


def _n_bins(length_in: float, fontsize: float, per_label: float) -> int:
    """How many tick intervals fit on an axis ``length_in`` inches long, by matplotlib's own rule.

    ``per_label`` is the room of one label in font sizes: 3 on an x axis, 2 on a y axis; at most 9 intervals.
    """
    return int(np.clip(np.floor(length_in * 72 / (fontsize * per_label)), 1, 9))


def _font_pt(key: str) -> float:
    """The size in points of an rc font setting (a number or a name such as ``"medium"``)."""
    import matplotlib
    from matplotlib.font_manager import FontProperties

    return FontProperties(size=matplotlib.rcParams[key]).get_size_in_points()


def _axis_ticks(ax, which: str, values, labels, colours=None, length_pt: float | None = None,
                minor=None) -> float:
    """Ticks and their labels on the bottom (``"x"``) or left (``"y"``) of an axes, as matplotlib's own would be.

    Drawn as one line of tick markers and one text per label: an axis' own ticks are five artists each, and
    making them costs more than drawing the whole figure.

    Parameters
    ----------
    which : {"x", "y"}
    values : array-like, shape (n_ticks,)
        Positions in data units.
    labels : list of str, length n_ticks
    colours : list of str | None
        Colour of each label; the rc tick colour when None.
    length_pt : float | None
        Tick length in points; the rc major tick size when None.
    minor : array-like | None
        Positions of unlabelled minor ticks.

    Returns
    -------
    float
        How far in points the ticks and labels reach from the axes' edge (where an axis label goes).
    """
    import matplotlib
    from matplotlib.lines import TICKDOWN, TICKLEFT
    from matplotlib.transforms import ScaledTranslation

    rc = matplotlib.rcParams
    fig = ax.get_figure()
    values = np.asarray(values, float)
    getattr(ax, f"set_{which}ticks")([])
    getattr(ax, f"set_{which}ticks")([], minor=True)
    size = rc[f"{which}tick.major.size"] if length_pt is None else length_pt
    pad = rc[f"{which}tick.major.pad"]
    font_pt = _font_pt(f"{which}tick.labelsize")
    transform = ax.get_xaxis_transform() if which == "x" else ax.get_yaxis_transform()
    marker = TICKDOWN if which == "x" else TICKLEFT
    for at, kind in ((values, "major"), (minor, "minor")):
        if at is not None and len(at) and (kind == "minor" or size > 0):
            tick_size = size if kind == "major" else rc[f"{which}tick.minor.size"]
            positions = (np.asarray(at, float), np.zeros(len(at)))
            ax.plot(*(positions if which == "x" else positions[::-1]), ls="none", marker=marker, ms=tick_size,
                    mew=rc[f"{which}tick.{kind}.width"], color=rc[f"{which}tick.color"], transform=transform,
                    clip_on=False)
    if which == "x":
        offset = ScaledTranslation(0, -(size + pad) / 72, fig.dpi_scale_trans)
        place = {"ha": "center", "va": "top"}
    else:
        offset = ScaledTranslation(-(size + pad) / 72, 0, fig.dpi_scale_trans)
        place = {"ha": "right", "va": "center_baseline"}
    colours = colours or [rc[f"{which}tick.labelcolor"] if rc[f"{which}tick.labelcolor"] != "inherit"
                          else rc[f"{which}tick.color"]] * len(values)
    for value, label, colour in zip(values, labels, colours):
        xy = (value, 0) if which == "x" else (0, value)
        ax.text(*xy, label, transform=transform + offset, fontsize=font_pt, color=colour, **place)
    if which == "x":
        return size + pad + font_pt
    return size + pad + max((_label_width_pt(label, font_pt) for label in labels), default=0.0)


def _axis_label(ax, which: str, text: str, reach_pt: float) -> None:
    """An axis label beside the tick labels (``reach_pt`` from :func:`_axis_ticks`), where matplotlib puts it."""
    import matplotlib
    from matplotlib.transforms import ScaledTranslation

    rc = matplotlib.rcParams
    fig = ax.get_figure()
    gap = (reach_pt + rc["axes.labelpad"]) / 72
    if which == "x":
        ax.text(0.5, 0, text, transform=ax.transAxes + ScaledTranslation(0, -gap, fig.dpi_scale_trans),
                ha="center", va="top", fontsize=_font_pt("axes.labelsize"))
    else:
        ax.text(0, 0.5, text, transform=ax.transAxes + ScaledTranslation(-gap, 0, fig.dpi_scale_trans),
                ha="right", va="center", rotation=90, fontsize=_font_pt("axes.labelsize"))


def _label_width_pt(text: str, size_pt: float) -> float:
    """Width of a number label in points, from DejaVu Sans' advance widths (matplotlib's default font)."""
    return size_pt * sum(0.318 if c == "." else 0.838 if c == "\N{MINUS SIGN}" else 0.636 for c in text)


def _time_axis(ax, start_s: float, stop_s: float, length_in: float, minutes: bool = False) -> np.ndarray:
    """Time ticks and label over ``[start_s, stop_s]`` on an axis ``length_in`` inches long; minutes:seconds
    when ``minutes`` and the axis ends at 2 min or later.

    Returns
    -------
    ndarray, shape (n_ticks,)
        The ticks, in seconds.
    """
    if minutes and stop_s >= 120:
        values = _tick_values(start_s, stop_s, 8, steps=(1, 2, 3, 5, 6, 10))
        labels, name = [f"{int(x // 60)}:{int(x % 60):02d}" for x in values], "time (min:s)"
    else:
        values = _tick_values(start_s, stop_s, _n_bins(length_in, _font_pt("xtick.labelsize"), 3))
        labels, name = _tick_labels(values), "time (s)"
    ax.set_xlim(start_s, stop_s)
    _axis_label(ax, "x", name, _axis_ticks(ax, "x", values, labels))
    return values


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
    rows = [(sides[0], r) for r in REGIONS] + [("bilateral", "periocular")] + \
           [(sides[1], r) for r in REGIONS]
    fig = Figure(figsize=(width, 2.6 if layout == "wide" else 3.3))
    ax = fig.add_subplot()
    ev = results.events
    end = max(results.duration_s, float(ev.offset_s.max()) if len(ev) else 0.0, 1e-3)
    min_w = end / (350 if layout == "wide" else 160)  # keep a 100 ms twitch visible as a tick
    _shade_unmeasured(ax, results)
    from matplotlib.collections import PolyCollection
    from matplotlib.colors import to_rgba

    bars, colours = [], []
    for y, (side, region) in enumerate(rows):
        sel = (ev.side == side) & (ev.region == region)
        for kind, alpha in (("clonic", 0.55), ("tonic", 1.0), ("blink", 0.35)):
            k = sel & (ev.kind == kind)
            bars += [[(a, y - 0.36), (a, y + 0.36), (a + w, y + 0.36), (a + w, y - 0.36)]
                     for a, w in zip(ev.onset_s[k], np.maximum(ev.offset_s[k] - ev.onset_s[k], min_w))]
            colours += [to_rgba(SIDE_COLORS[side], alpha)] * int(k.sum())
    ax.add_collection(PolyCollection(bars, facecolors=colours, edgecolors="none", linewidths=0), autolim=False)
    labels = [("both eyes" if side == "bilateral" else f"{side.capitalize()} {REGION_WORDS[region]}")
              for side, region in rows]
    _axis_ticks(ax, "y", range(len(rows)), labels, colours=[SIDE_COLORS[side] for side, _ in rows], length_pt=0)
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.axhline(2.5, color="#cccccc", lw=0.6)
    ax.axhline(3.5, color="#cccccc", lw=0.6)
    ax.spines["left"].set_visible(False)
    _margins(fig, 1.0 if layout == "wide" else 1.15, 0.15, 0.1, 0.75 if layout == "wide" else 1.05)
    _time_axis(ax, float(results.t[0]) if len(results.t) else 0.0, end,
               ax.get_position().width * fig.get_figwidth(), minutes=True)
    from matplotlib.patches import Patch

    handles = [Patch(color="#555555", alpha=0.55, label="clonic (< 1 s)"),
               Patch(color="#555555", alpha=1.0, label="tonic (≥ 1 s)"),
               Patch(color=SIDE_COLORS["bilateral"], alpha=0.35, label="blink / both eyes"),
               Patch(color="#000000", alpha=0.08, label="face not measured")]
    fig.legend(handles=handles, loc="lower center", ncols=4 if layout == "wide" else 2, frameon=False,
               borderaxespad=0.1)
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


@dataclass(frozen=True)
class _Band:
    """One band of a traces figure: where it sits in the figure's one axes, and the scale of its signal.

    Parameters
    ----------
    base : float
        Bottom of the band in the axes' data units; a band is 1 unit tall.
    lo, hi : float
        The signal values at the bottom and at the top of the band, in the signal's unit.
    """

    base: float
    lo: float
    hi: float

    def y(self, value) -> np.ndarray:
        """Positions in the axes' data units of signal values (array-like, in the signal's unit)."""
        return self.base + (np.asarray(value, float) - self.lo) / (self.hi - self.lo)

    def transform(self, ax):
        """Transform of (time in s, signal value) of this band to the display: lines keep their data in units."""
        from matplotlib.transforms import Affine2D

        scale = 1 / (self.hi - self.lo)
        return Affine2D().scale(1, scale).translate(0, self.base - self.lo * scale) + ax.transData

    def plot(self, ax, x: np.ndarray, y: np.ndarray, x_lim: tuple[float, float], **kw):
        """A line of this band, clipped to it as a line of an axes of its own would be."""
        from matplotlib.transforms import Bbox, TransformedBbox

        transform = self.transform(ax)
        (line,) = ax.plot(x, y, transform=transform, **kw)
        line.set_clip_box(TransformedBbox(Bbox([[x_lim[0], self.lo], [x_lim[1], self.hi]]), transform))
        return line


def traces(results: Results, sides: tuple[str, str], layout: str = "wide", window: tuple[float, float] | None = None,
           levels: np.ndarray | None = None):
    """Per-side traces of eye closure, mouth pull and brow raise over time, events shaded, with the level each
    side's signal had to reach for a one-sided event.

    One band per side and region, each with its own scale, all in one axes (cheaper to draw than an axes each).

    Parameters
    ----------
    results : Results
    sides : tuple of str
        Order of the sides, top first.
    layout : {"wide", "narrow"}
    window : tuple of float | None
        ``(start_s, stop_s)`` to show a close-up; the whole recording when None.
    levels : ndarray, shape (n_frames, 3, 2) | None
        :func:`twitchcam.events.one_sided_levels` of the folder's signals (regions in
        :data:`twitchcam.regions.REGIONS` order, sides left, right); computed from ``results`` when None.

    Returns
    -------
    matplotlib.figure.Figure
        Its lines carry a ``gid``: ``"signal SIDE REGION"``, ``"level SIDE REGION"`` and, in a close-up,
        ``"other SIDE REGION"`` (the other side's signal in the band of SIDE).
    """
    import matplotlib
    from matplotlib.collections import LineCollection, PolyCollection
    from matplotlib.colors import to_rgba
    from matplotlib.transforms import ScaledTranslation

    Figure = _matplotlib()
    width, _ = LAYOUTS[layout]
    if levels is None:
        levels = one_sided_levels(results.signals(), results.config)
    rows = [(side, region) for side in sides for region in REGIONS]
    n = len(rows)
    left_in, right_in, top_in, bottom_in, gap_in = (1.15 if layout == "wide" else 1.3), 0.15, 0.08, 0.45, 0.12
    height = 0.5 + (0.78 if window is None else 0.62) * n
    band_in = (height - top_in - bottom_in - gap_in * (n - 1)) / n
    gap = gap_in / band_in
    fig = Figure(figsize=(width, height))
    ax = fig.add_axes((left_in / width, bottom_in / height, 1 - (left_in + right_in) / width,
                       1 - (top_in + bottom_in) / height))
    t = results.t
    if window is None:
        x_lim = (float(t[0]) if len(t) else 0.0, max(results.duration_s, 1e-3))
        sel = slice(None)
    else:
        x_lim = (float(window[0]), float(window[1]))
        sel = slice(np.searchsorted(t, window[0]), np.searchsorted(t, window[1], "right"))
    x_ticks = _time_axis(ax, *x_lim, width - left_in - right_in, minutes=window is None)
    ax.set_ylim(0, n + gap * (n - 1))
    ev = results.events
    _shade_unmeasured(ax, results)
    rc = matplotlib.rcParams
    tick_pt = _font_pt("ytick.labelsize")
    spans, span_colours, y_ticks, y_labels, rules, rule_colours, rule_widths, x_marks = [], [], [], [], [], [], [], []
    bands = []
    for k, (side, region) in enumerate(rows):
        band = _Band((n - 1 - k) * (1 + gap), *_region_limits(results, region))
        bands.append(band)
        j, r = ("left", "right").index(side), REGIONS.index(region)
        mine = (ev.side == side) & (ev.region == region)
        shaded = [(ev.onset_s[mine], ev.offset_s[mine], SIDE_COLORS[side], np.where(ev.kind[mine] == "tonic", 0.32,
                                                                                    0.18))]
        if region == "periocular":
            both = ev.side == "bilateral"
            shaded.append((ev.onset_s[both], ev.offset_s[both], SIDE_COLORS["bilateral"], np.full(both.sum(), 0.18)))
        for onsets, offsets, colour, alphas in shaded:
            spans += [[(a, band.base), (a, band.base + 1), (b, band.base + 1), (b, band.base)]
                      for a, b in zip(onsets, offsets)]
            span_colours += [to_rgba(colour, alpha) for alpha in alphas]
        band.plot(ax, t[sel], results.region_signal(region)[sel, j], x_lim, color=SIDE_COLORS[side],
                  lw=0.8 if window is None else 1.2, gid=f"signal {side} {region}")
        if window is not None:
            band.plot(ax, t[sel], results.region_signal(region)[sel, 1 - j], x_lim, color="#888888", lw=0.8,
                      ls="--", gid=f"other {side} {region}")
        band.plot(ax, t[sel], levels[sel, r, j], x_lim, color="#333333", lw=0.6 if window is None else 0.8,
                  alpha=0.85, gid=f"level {side} {region}")
        ticks = _tick_values(band.lo, band.hi, _n_bins(band_in, tick_pt, 2))
        y_ticks += list(band.y(ticks))
        y_labels += _tick_labels(ticks)
        # What an axes of its own would draw: a left spine over the band, a zero line, and below every band but
        # the last (whose are the axes' own) a bottom spine with tick marks.
        rules += [[(0, band.base), (0, band.base + 1)], [(0, band.y(0)), (1, band.y(0))]]
        rule_colours += [rc["axes.edgecolor"], "#bbbbbb"]
        rule_widths += [rc["axes.linewidth"], 0.5]
        if k < n - 1:
            rules.append([(0, band.base), (1, band.base)])
            rule_colours.append(rc["axes.edgecolor"])
            rule_widths.append(rc["axes.linewidth"])
            mark = rc["xtick.major.size"] / 72 / band_in
            x_marks += [[(x, band.base), (x, band.base - mark)] for x in x_ticks]
    ax.add_collection(PolyCollection(spans, facecolors=span_colours, edgecolors="none", linewidths=0, zorder=1),
                      autolim=False)
    ax.add_collection(LineCollection(rules, colors=rule_colours, linewidths=rule_widths, zorder=2.5,
                                     transform=ax.get_yaxis_transform(), clip_on=False), autolim=False)
    ax.add_collection(LineCollection(x_marks, colors=rc["xtick.color"], linewidths=rc["xtick.major.width"],
                                     zorder=2.5, clip_on=False), autolim=False)
    ax.spines["left"].set_visible(False)
    # Each band's name beside the widest tick label, as an axes' label sits beside its tick labels.
    offset_pt = _axis_ticks(ax, "y", y_ticks, y_labels) + rc["axes.labelpad"]
    beside = ax.get_yaxis_transform() + ScaledTranslation(-offset_pt / 72, 0, fig.dpi_scale_trans)
    for band, (side, region) in zip(bands, rows):
        ax.text(0, band.base + 0.5, f"{side.capitalize()}\n{SIGNAL_LABELS[region]}", transform=beside, ha="right",
                va="center", color=SIDE_COLORS[side], fontsize=rc["axes.labelsize"])
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
    counts = {s: np.histogram(measures[s].episode_durations_s, bins)[0] for s in sides}
    for s in sides:
        if counts[s].any():
            # One stepped outline per side draws what a bar per bin draws, at a fraction of the cost.
            ax.stairs(counts[s], bins, fill=True, color=SIDE_COLORS[s], alpha=0.6,
                      label=f"{s.capitalize()} ({counts[s].sum()})")
    ax.set_xscale("log")
    ax.set_xlim(bins[0], bins[-1])
    decades = 10.0 ** np.arange(np.floor(np.log10(bins[0])), np.ceil(np.log10(bins[-1])) + 1)
    inside = lambda v: v[(v >= bins[0]) & (v <= bins[-1])]  # noqa: E731
    major = inside(np.outer(decades, [1, 2, 5]).ravel())
    minor = inside(np.setdiff1d(np.outer(decades, np.arange(1, 10)).ravel(), major))
    reach = _axis_ticks(ax, "x", major, [f"{x:g}" for x in major], minor=minor)
    _axis_label(ax, "x", "episode duration (s, log scale)", reach)
    ax.axvline(results.config.tonic_min_s, color="#444444", lw=0.8, ls="--")
    ax.text(results.config.tonic_min_s * 1.05, 0.97, "tonic →", transform=ax.get_xaxis_transform(), va="top",
            color="#444444")
    _count_axis(fig, ax, max(c.max() for c in counts.values()), "episodes")
    ax.legend(frameon=False)
    ax.set_title("Duration distribution", loc="left")
    if with_rate:
        ax = axes[1]
        edges = np.arange(0, results.duration_s + 60, 60)
        ev = results.events
        most = 0
        for k, s in enumerate(sides):
            mine = (ev.side == s) & np.isin(ev.region, ("periocular", "perioral"))
            start, _ = episode_spans(ev.onset_s[mine], ev.offset_s[mine], results.config.coupling_window_s)
            per_minute, _ = np.histogram(start, edges)
            most = max(most, per_minute.max(initial=0))
            ax.bar(edges[:-1] / 60 + 0.5 + (k - 0.5) * 0.38, per_minute, width=0.38, color=SIDE_COLORS[s],
                   alpha=0.8, label=s.capitalize())
        n_min = len(edges) - 1
        ax.set_xlim(0, n_min)
        minutes = _tick_values(0, n_min, _n_bins(ax.get_position().width * fig.get_figwidth(),
                                                 _font_pt("xtick.labelsize"), 3), integer=True)
        _axis_label(ax, "x", "minute of recording", _axis_ticks(ax, "x", minutes, _tick_labels(minutes)))
        _count_axis(fig, ax, most, "episodes per minute")
        ax.set_title("Rate over time", loc="left")
        ax.legend(frameon=False)
    return fig


def _count_axis(fig, ax, most: int, label: str) -> None:
    """A y axis of counts from 0 to a little over ``most``, integer ticks, labelled."""
    top = max(float(most), 1.0) * 1.05
    ax.set_ylim(0, top)
    counts = _tick_values(0, top, _n_bins(ax.get_position().height * fig.get_figheight(),
                                          _font_pt("ytick.labelsize"), 2), integer=True)
    _axis_label(ax, "y", label, _axis_ticks(ax, "y", counts, _tick_labels(counts)))


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
    levels = one_sided_levels(results.signals(), results.config)
    makers = {
        "raster": (lambda layout: raster(results, sides, layout),
                   "Event timeline: each bar is one event, by side and region (patient's sides)."),
        "traces": (lambda layout: traces(results, sides, layout, levels=levels),
                   "Signals over time. Shaded: detected events; thin dark line: the level a side's signal had to "
                   "reach for a one-sided event, frame by frame (the region's threshold, or the other side's signal "
                   "plus what head pose and slow expression explain plus a margin that rises while the face moves, "
                   "as when talking); grey background: face not measured. Eye closure is a fraction of the resting "
                   "opening (1 = closed); mouth pull and brow raise are in inter-ocular distances (IOD)."),
    }
    if window is not None:
        makers["closeup"] = (lambda layout: traces(results, (affected,), layout, window=window[:2], levels=levels),
                             window[2])
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
