"""Figures of an analysis for the report: event raster, per-side traces, a close-up of one spasm, durations and
rate over time; made with matplotlib without pyplot state, embedded in the report as SVG (:func:`svg_base64`), or
drawn with the Agg canvas to PNG (:func:`png_base64`, the comparison page).

Every figure is drawn twice, wide for a desktop page and narrow for a phone, so text stays readable at both
widths; the report picks one with ``<picture>``. Colours are the Okabe-Ito colour-blind-safe pair, the same as in
the annotated video: the patient's left is vermillion, the right is blue, both eyes together are grey.

The figures are drawn without matplotlib's ``Axes`` (:mod:`twitchcam.panels`): of a report's rendering time, most
went to what an axes builds for itself (spines, axis objects, ticks of five artists each, for each of 22 axes) and
to updating data limits, not to drawing. What was left was mostly text, which matplotlib's Agg canvas renders glyph
by glyph; in SVG the browser draws it.

matplotlib is imported inside the functions so that ``import twitchcam`` stays light.
"""

from __future__ import annotations

import base64
import io
import logging

import numpy as np

from .events import one_sided_levels
from .folder import Results
from .panels import Band, Panel, font_pt, inches_rect, n_bins, tick_labels, tick_values
from .pattern import episode_spans
from .regions import REGIONS, mirror_side
from .vocabulary import REGION_WORDS, SIGNAL_LABELS
from .vocabulary import SIDE_COLOURS as SIDE_COLORS

#: Figure width in inches of the two variants, and the resolution (dots per inch) of their PNG (the comparison page).
LAYOUTS = {"wide": (10.5, 110), "narrow": (4.6, 220)}


#: matplotlib style per layout: a phone shows the narrow figure smaller, so its text is larger.
STYLES = {
    "wide": {"font.size": 9, "axes.titlesize": 10, "axes.labelsize": 9, "xtick.labelsize": 8, "ytick.labelsize": 7,
             "legend.fontsize": 8},
    "narrow": {"font.size": 10.5, "axes.titlesize": 11, "axes.labelsize": 10.5, "xtick.labelsize": 9.5,
               "ytick.labelsize": 9, "legend.fontsize": 9.5},
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


def svg_base64(fig) -> str:
    """A figure as SVG, base64-encoded (ASCII), as the report embeds it.

    Text stays text and lines stay lines: the browser draws them, sharp at any zoom and in print, in the figure's
    font or the nearest sans-serif it has (the layout is measured in DejaVu Sans, which most fonts are narrower
    than). Drawing the report's eight figures so took 0.23 s where rasterizing them took 0.36 s and their PNGs
    another 0.1 s, most of it matplotlib rendering text glyph by glyph. The file carries no date and fixed ids, so
    the same figure gives the same bytes.
    """
    import matplotlib
    from matplotlib.backends.backend_svg import FigureCanvasSVG

    buf = io.BytesIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "twitchcam"}):
        FigureCanvasSVG(fig).print_svg(buf, metadata={"Date": None})
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(first, last) index of every run of True in a boolean array, inclusive."""
    if not mask.any():
        return []
    d = np.diff(np.r_[0, mask.astype(np.int8), 0])
    return list(zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1) - 1))


def _shade_unmeasured(panel: Panel, results: Results) -> None:
    t = results.t
    dt = float(np.median(np.diff(t))) if len(t) > 1 else 0.0
    runs = _runs(~results.measured)
    panel.spans([t[a] for a, _ in runs], [t[b] + dt for _, b in runs], "#000000", 0.08, zorder=0)


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
    from matplotlib.colors import to_rgba

    Figure = _matplotlib()
    width, _ = LAYOUTS[layout]
    rows = [(sides[0], r) for r in REGIONS] + [("bilateral", "periocular")] + [(sides[1], r) for r in REGIONS]
    fig = Figure(figsize=(width, 2.6 if layout == "wide" else 3.3))
    ev = results.events
    end = max(results.duration_s, float(ev.offset_s.max()) if len(ev) else 0.0, 1e-3)
    rect = inches_rect(fig, 1.0 if layout == "wide" else 1.15, 0.15, 0.1, 0.75 if layout == "wide" else 1.05)
    panel = Panel(fig, rect, (float(results.t[0]) if len(results.t) else 0.0, end), (len(rows) - 0.5, -0.5))
    min_w = end / (350 if layout == "wide" else 160)  # keep a 100 ms twitch visible as a tick
    _shade_unmeasured(panel, results)
    bars, colours = [], []
    for y, (side, region) in enumerate(rows):
        sel = (ev.side == side) & (ev.region == region)
        for kind, alpha in (("clonic", 0.55), ("tonic", 1.0), ("blink", 0.35)):
            k = sel & (ev.kind == kind)
            bars += [[(a, y - 0.36), (a, y + 0.36), (a + w, y + 0.36), (a + w, y - 0.36)]
                     for a, w in zip(ev.onset_s[k], np.maximum(ev.offset_s[k] - ev.onset_s[k], min_w))]
            colours += [to_rgba(SIDE_COLORS[side], alpha)] * int(k.sum())
    panel.polygons(bars, colours)
    labels = [("both eyes" if side == "bilateral" else f"{side.capitalize()} {REGION_WORDS[region]}")
              for side, region in rows]
    panel.ticks("y", range(len(rows)), labels, colours=[SIDE_COLORS[side] for side, _ in rows], length_pt=0)
    for y in (2.5, 3.5):
        panel.line([0, 1], [y, y], transform=panel.y_data, color="#cccccc", lw=0.6)
    panel.spine("bottom")
    panel.time_axis(minutes=True)
    panel.legend([("#555555", 0.55, "clonic (< 1 s)"), ("#555555", 1.0, "tonic (≥ 1 s)"),
                  (SIDE_COLORS["bilateral"], 0.35, "blink / both eyes"), ("#000000", 0.08, "face not measured")],
                 0.5, 0.0, 4 if layout == "wide" else 2)
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


def traces(results: Results, sides: tuple[str, str], layout: str = "wide", window: tuple[float, float] | None = None,
           levels: np.ndarray | None = None):
    """Per-side traces of eye closure, mouth pull and brow raise over time, events shaded, with the level each
    side's signal had to reach for a one-sided event.

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
        ``"other SIDE REGION"`` (the other side's signal in the band of SIDE); their data are in seconds and in
        the signal's unit.
    """
    import matplotlib
    from matplotlib.collections import LineCollection
    from matplotlib.colors import to_rgba

    Figure = _matplotlib()
    width, _ = LAYOUTS[layout]
    if levels is None:
        levels = one_sided_levels(results.signals(), results.config)
    rows = [(side, region) for side in sides for region in REGIONS]
    n = len(rows)
    gap_in = 0.12
    fig = Figure(figsize=(width, 0.5 + (0.78 if window is None else 0.62) * n))
    rect = inches_rect(fig, 1.15 if layout == "wide" else 1.3, 0.15, 0.08, 0.45)
    band_in = (rect[3] * fig.get_figheight() - gap_in * (n - 1)) / n
    gap = gap_in / band_in
    t = results.t
    if window is None:
        x_lim = (float(t[0]) if len(t) else 0.0, max(results.duration_s, 1e-3))
        sel = slice(None)
    else:
        x_lim = (float(window[0]), float(window[1]))
        sel = slice(np.searchsorted(t, window[0]), np.searchsorted(t, window[1], "right"))
    panel = Panel(fig, rect, x_lim, (0, n + gap * (n - 1)))
    x_ticks = panel.time_axis(minutes=window is None)
    panel.spine("bottom")
    _shade_unmeasured(panel, results)
    rc = matplotlib.rcParams
    tick_pt = font_pt("ytick.labelsize")
    ev = results.events
    spans, span_colours, y_ticks, y_labels, bands, rules, rule_styles = [], [], [], [], [], [], []
    for k, (side, region) in enumerate(rows):
        band = Band((n - 1 - k) * (1 + gap), *_region_limits(results, region))
        bands.append(band)
        j, r = ("left", "right").index(side), REGIONS.index(region)
        mine = (ev.side == side) & (ev.region == region)
        shaded = [(ev.onset_s[mine], ev.offset_s[mine], SIDE_COLORS[side],
                   np.where(ev.kind[mine] == "tonic", 0.32, 0.18))]
        if region == "periocular":
            both = ev.side == "bilateral"
            shaded.append((ev.onset_s[both], ev.offset_s[both], SIDE_COLORS["bilateral"], np.full(both.sum(), 0.18)))
        for onsets, offsets, colour, alphas in shaded:
            spans += [[(a, band.base), (a, band.base + 1), (b, band.base + 1), (b, band.base)]
                      for a, b in zip(onsets, offsets)]
            span_colours += [to_rgba(colour, alpha) for alpha in alphas]
        band.plot(panel, t[sel], results.region_signal(region)[sel, j], color=SIDE_COLORS[side],
                  lw=0.8 if window is None else 1.2, gid=f"signal {side} {region}")
        if window is not None:
            band.plot(panel, t[sel], results.region_signal(region)[sel, 1 - j], color="#888888", lw=0.8, ls="--",
                      gid=f"other {side} {region}")
        band.plot(panel, t[sel], levels[sel, r, j], color="#333333", lw=0.6 if window is None else 0.8, alpha=0.85,
                  gid=f"level {side} {region}")
        ticks = tick_values(band.lo, band.hi, n_bins(band_in, tick_pt, 2))
        y_ticks += list(band.y(ticks))
        y_labels += tick_labels(ticks)
        # What an axes of its own would draw: a left spine over the band, a zero line, and below every band but
        # the last (whose are the panel's own) a bottom spine with tick marks; one collection for all.
        rules += [[(0, band.base), (0, band.base + 1)], [(0, band.y(0)), (1, band.y(0))]]
        rule_styles += [(rc["axes.edgecolor"], rc["axes.linewidth"]), ("#bbbbbb", 0.5)]
        if k < n - 1:
            rules.append([(0, band.base), (1, band.base)])
            rule_styles.append((rc["axes.edgecolor"], rc["axes.linewidth"]))
    rule_colours, rule_widths = zip(*rule_styles)
    rules = LineCollection(rules, colors=rule_colours, linewidths=rule_widths, transform=panel.y_data, zorder=2.5,
                           capstyle="projecting")
    fig.add_artist(rules)
    panel.ticks("x", x_ticks, [], at_y=[band.base for band in bands[:-1]])
    panel.polygons(spans, span_colours)
    # Each band's name beside the widest tick label, as an axes' label sits beside its tick labels.
    beside = panel.ticks("y", y_ticks, y_labels) + rc["axes.labelpad"]
    for band, (side, region) in zip(bands, rows):
        panel.text(0, band.base + 0.5, f"{side.capitalize()}\n{SIGNAL_LABELS[region]}", panel.y_data, dx_pt=-beside,
                   ha="right", va="center", color=SIDE_COLORS[side], fontsize=font_pt("axes.labelsize"))
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
               f"dashed grey: the {mirror_side(side)} side for comparison; thin dark line: the level the {side} "
               "side had to reach.")
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
    import matplotlib
    from matplotlib.patches import StepPatch

    if not any(measures[s].episodes for s in sides):
        return None
    Figure = _matplotlib()
    width, _ = LAYOUTS[layout]
    with_rate = results.duration_s >= 120
    n_panels = 2 if with_rate else 1
    if layout == "wide":
        fig = Figure(figsize=(width, 2.6))
        left, bottom, w, h = inches_rect(fig, 0.6, 0.15, 0.3, 0.5)
        # Side by side, the space between them a fifth of a panel's width, as subplots(wspace=0.2) puts them.
        panel_w = w / (n_panels + 0.2 * (n_panels - 1))
        rects = [(left + i * 1.2 * panel_w, bottom, panel_w, h) for i in range(n_panels)]
    else:
        fig = Figure(figsize=(width, 2.6 * n_panels))
        left, bottom, w, h = inches_rect(fig, 0.65, 0.15, 0.3, 0.55)
        gap = 0.9 / fig.get_figheight() if n_panels > 1 else 0.0
        panel_h = (h - gap * (n_panels - 1)) / n_panels
        rects = [(left, bottom + (n_panels - 1 - i) * (panel_h + gap), w, panel_h) for i in range(n_panels)]
    longest = max(max(measures[s].episode_durations_s, default=0) for s in sides)
    # On a log axis: the panel's x is log10 of the duration.
    bins = np.log10(np.geomspace(0.03, max(5.0, longest * 1.2), 22))
    counts = {s: np.histogram(np.log10(measures[s].episode_durations_s), bins)[0]
              if measures[s].episode_durations_s else np.zeros(len(bins) - 1, int) for s in sides}
    panel = Panel(fig, rects[0], (bins[0], bins[-1]), (0, max(c.max() for c in counts.values()) * 1.05))
    shown = [s for s in sides if counts[s].any()]
    for s in shown:
        # One stepped outline per side draws what a bar per bin draws, at a fraction of the cost.
        steps = StepPatch(counts[s], bins, fill=True, facecolor=SIDE_COLORS[s], edgecolor="none", alpha=0.6,
                          transform=panel.data)
        steps.set_clip_box(panel.clip)
        fig.add_artist(steps)
    decades = np.arange(np.floor(bins[0]), np.ceil(bins[-1]) + 1)
    inside = lambda v: v[(v >= bins[0] - 1e-9) & (v <= bins[-1] + 1e-9)]  # noqa: E731
    major = inside(np.log10(np.outer(10.0 ** decades, [1, 2, 5]).ravel()))
    minor = inside(np.setdiff1d(np.log10(np.outer(10.0 ** decades, np.arange(1, 10)).ravel()), major))
    panel.spine("bottom")
    reach = panel.ticks("x", major, [f"{10 ** x:.3g}" for x in major], minor=minor)
    panel.axis_label("x", "episode duration (s, log scale)", reach)
    tonic = np.log10(results.config.tonic_min_s)
    panel.line([tonic, tonic], [0, 1], transform=panel.x_data, color="#444444", lw=0.8, ls="--", zorder=2)
    panel.text(np.log10(results.config.tonic_min_s * 1.05), 0.97, "tonic →", panel.x_data, va="top",
               color="#444444", fontsize=font_pt("font.size"))
    panel.count_axis("episodes")
    panel.title("Duration distribution")
    title_middle = rects[0][1] + rects[0][3] + (matplotlib.rcParams["axes.titlepad"]
                                                + 0.35 * font_pt("axes.titlesize")) / 72 / fig.get_figheight()
    panel.legend([(SIDE_COLORS[s], 0.6, f"{s.capitalize()} ({counts[s].sum()})") for s in shown],
                 rects[0][0] + rects[0][2], title_middle, len(shown), ha="right", va="center")
    if with_rate:
        edges = np.arange(0, results.duration_s + 60, 60)
        # Episodes per minute of each minute; the last, part-filled minute as a rate over what it holds (a count
        # would read as a falling rate), left out when it holds under half a minute.
        minutes_long = (np.minimum(edges[1:], results.duration_s) - edges[:-1]) / 60
        edges = edges[:len(edges) - 1 if minutes_long[-1] < 0.5 else len(edges)]
        minutes_long = minutes_long[:len(edges) - 1]
        ev = results.events
        per_minute = {}
        for s in sides:
            mine = (ev.side == s) & np.isin(ev.region, ("periocular", "perioral"))
            start, _ = episode_spans(ev.onset_s[mine], ev.offset_s[mine], results.config.coupling_window_s)
            per_minute[s] = np.histogram(start, edges)[0] / minutes_long
        n_min = len(edges) - 1
        panel = Panel(fig, rects[1], (0, n_min), (0, max(max(c.max(initial=0) for c in per_minute.values()), 1)
                                                     * 1.05))
        from matplotlib.colors import to_rgba

        for k, s in enumerate(sides):
            centres = edges[:-1] / 60 + 0.5 + (k - 0.5) * 0.38
            panel.polygons([[(c - 0.19, 0), (c - 0.19, v), (c + 0.19, v), (c + 0.19, 0)]
                            for c, v in zip(centres, per_minute[s]) if v],
                           [to_rgba(SIDE_COLORS[s], 0.8)] * int(np.count_nonzero(per_minute[s])))
        minutes = tick_values(0, n_min, n_bins(panel.size_in[0], font_pt("xtick.labelsize"), 3), integer=True)
        panel.spine("bottom")
        panel.axis_label("x", "minute of recording", panel.ticks("x", minutes, tick_labels(minutes)))
        panel.count_axis("episodes per minute")
        panel.title("Rate over time")
        panel.legend([(SIDE_COLORS[s], 0.8, s.capitalize()) for s in sides], rects[1][0] + rects[1][2],
                     title_middle - (rects[0][1] - rects[1][1]), len(sides), ha="right", va="center")
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
        Per figure name (``raster``, ``traces``, ``closeup``, ``durations``): ``wide`` and ``narrow`` base64 SVG
        (:func:`svg_base64`) and a ``caption``. Figures without data are left out.
    """
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
                           + (" Right: spasm episodes per minute in each minute of the recording (a last, "
                              "part-filled minute as its rate; under half a minute, left out)."
                              if results.duration_s >= 120 else ""))
    import matplotlib

    figs = {name: {} for name in makers}
    for layout in LAYOUTS:
        # Text sizes are read when the figure is made, so the style must hold through it.
        with matplotlib.rc_context(STYLES[layout]):
            for name, (make, _) in makers.items():
                fig = make(layout)
                if fig is not None:
                    figs[name][layout] = svg_base64(fig)
    return {name: {"caption": makers[name][1], **drawn} for name, drawn in figs.items() if drawn}
