"""Plotting areas of a matplotlib figure drawn without an ``Axes``: the drawing layer of :mod:`twitchcam.figures`.

An axes builds its spines, its two axis objects and five artists per tick for itself, and updates data limits
with every line: making the report's 22 axes cost more than drawing its figures. A :class:`Panel` is a rectangle
of a figure with fixed data limits that places lines, shading, ticks, axis labels, a title and a legend as an
axes would, every tick where matplotlib's automatic locator would put it (:func:`tick_values`), from the rc
style in force (sizes in points). A :class:`Band` is a horizontal strip of a panel with a scale of its own, as
the stacked traces use.

matplotlib is imported inside the functions, as in :mod:`twitchcam.figures`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def inches_rect(fig, left_in: float, right_in: float, top_in: float, bottom_in: float) -> tuple:
    """``(left, bottom, width, height)`` in figure fractions of the area within margins in inches."""
    w, h = fig.get_size_inches()
    return left_in / w, bottom_in / h, 1 - (left_in + right_in) / w, 1 - (top_in + bottom_in) / h


#: Tick steps of a minutes:seconds time axis, s.
MINUTE_STEPS_S = (15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200)


def tick_values(lo: float, hi: float, bins: int, steps=(1, 2, 2.5, 5, 10), integer: bool = False) -> np.ndarray:
    """Tick positions within ``[lo, hi]``, as matplotlib's automatic locator puts them with at most ``bins``
    intervals (:func:`n_bins`).
    """
    from matplotlib.ticker import MaxNLocator

    values = MaxNLocator(nbins=max(bins, 1), steps=list(steps), integer=integer).tick_values(lo, hi)
    span = hi - lo
    return values[(values >= lo - 1e-9 * span) & (values <= hi + 1e-9 * span)]


def tick_labels(values: np.ndarray) -> list[str]:
    """Tick labels with the fewest decimals that show every value, the same for all (``0.0 0.5 1.0``), as
    matplotlib's ``ScalarFormatter`` writes them.
    """
    decimals = next((d for d in range(7) if np.allclose(np.round(values, d), values, rtol=0, atol=1e-9)), 6)
    return [f"{v:.{decimals}f}".replace("-", "\N{MINUS SIGN}") for v in np.asarray(values, float) + 0.0]


def n_bins(length_in: float, fontsize: float, per_label: float) -> int:
    """How many tick intervals fit on an axis ``length_in`` inches long, by matplotlib's own rule.

    ``per_label`` is the room of one label in font sizes: 3 on an x axis, 2 on a y axis; at most 9 intervals.
    """
    return int(np.clip(np.floor(length_in * 72 / (fontsize * per_label)), 1, 9))


def font_pt(key: str) -> float:
    """The size in points of an rc font setting (a number or a name such as ``"medium"``)."""
    import matplotlib
    from matplotlib.font_manager import FontProperties

    return FontProperties(size=matplotlib.rcParams[key]).get_size_in_points()


def number_width_pt(text: str, size_pt: float) -> float:
    """Width of a number label in points, from DejaVu Sans' advance widths (matplotlib's default font)."""
    return size_pt * sum(0.318 if c == "." else 0.838 if c == "\N{MINUS SIGN}" else 0.636 for c in text)


def text_width_pt(text: str, size_pt: float) -> float:
    """Width of a one-line text in points in the rc font, measured as matplotlib lays it out."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import text_to_path

    return text_to_path.get_text_width_height_descent(text, FontProperties(size=size_pt), ismath=False)[0]


class Panel:
    """A plotting area of a figure: a rectangle with fixed data limits, drawn into without a matplotlib ``Axes``.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    rect : tuple of float
        ``(left, bottom, width, height)`` in figure fractions.
    x_lim, y_lim : tuple of float
        Data values at the left and right, bottom and top edges (``y_lim`` may run downwards).

    Attributes
    ----------
    data, area : matplotlib.transforms.Transform
        Data coordinates, and fractions of the rectangle, to the display.
    x_data, y_data : matplotlib.transforms.Transform
        x in data and y in fractions of the rectangle (spans over the whole height), and the other way round.
    clip : matplotlib.transforms.TransformedBbox
        The rectangle, to clip data to.
    """

    def __init__(self, fig, rect: tuple, x_lim: tuple[float, float], y_lim: tuple[float, float]):
        from matplotlib.transforms import (
            Bbox,
            BboxTransformFrom,
            BboxTransformTo,
            TransformedBbox,
            blended_transform_factory,
        )

        self.fig, self.rect, self.x_lim, self.y_lim = fig, rect, x_lim, y_lim
        self.clip = TransformedBbox(Bbox.from_bounds(*rect), fig.transFigure)
        self.area = BboxTransformTo(self.clip)
        self.data = BboxTransformFrom(Bbox([[x_lim[0], y_lim[0]], [x_lim[1], y_lim[1]]])) + self.area
        self.x_data = blended_transform_factory(self.data, self.area)
        self.y_data = blended_transform_factory(self.area, self.data)

    @property
    def size_in(self) -> tuple[float, float]:
        """Width and height of the rectangle in inches."""
        w, h = self.fig.get_size_inches()
        return self.rect[2] * w, self.rect[3] * h

    def _offset(self, dx_pt: float, dy_pt: float):
        from matplotlib.transforms import ScaledTranslation

        return ScaledTranslation(dx_pt / 72, dy_pt / 72, self.fig.dpi_scale_trans)

    def line(self, x, y, transform=None, clip=None, **kw):
        """A line in data coordinates (or ``transform``), clipped to the rectangle (or ``clip``; False: none)."""
        from matplotlib.lines import Line2D

        line = Line2D(x, y, transform=transform or self.data, **kw)
        if clip is not False:
            line.set_clip_box(clip or self.clip)
        self.fig.add_artist(line)
        return line

    def polygons(self, verts: list, colours: list, transform=None, zorder: float = 1) -> None:
        """Filled polygons without edges, one artist for all, clipped to the rectangle."""
        from matplotlib.collections import PolyCollection

        if verts:
            polys = PolyCollection(verts, facecolors=colours, edgecolors="none", linewidths=0, zorder=zorder,
                                   transform=transform or self.data)
            polys.set_clip_box(self.clip)
            self.fig.add_artist(polys)

    def spans(self, starts, stops, colour: str, alpha, zorder: float = 1) -> None:
        """Shade ``[start, stop]`` spans (data x) over the whole height, as ``axvspan`` does.

        Parameters
        ----------
        starts, stops : array-like, shape (n_spans,)
        colour : str
        alpha : float or array-like, shape (n_spans,)
        """
        from matplotlib.colors import to_rgba

        starts, stops = np.asarray(starts, float), np.asarray(stops, float)
        alphas = np.broadcast_to(np.asarray(alpha, float), starts.shape)
        self.polygons([[(a, 0.0), (a, 1.0), (b, 1.0), (b, 0.0)] for a, b in zip(starts, stops)],
                      [to_rgba(colour, a) for a in alphas], transform=self.x_data, zorder=zorder)

    def text(self, x: float, y: float, text: str, transform=None, dx_pt: float = 0.0, dy_pt: float = 0.0, **kw):
        """A text at ``(x, y)`` in ``transform`` (fractions of the rectangle by default), moved by points."""
        transform = transform or self.area
        if dx_pt or dy_pt:
            transform = transform + self._offset(dx_pt, dy_pt)
        return self.fig.text(x, y, text, transform=transform, **kw)

    def spine(self, which: str) -> None:
        """The rectangle's ``"bottom"`` or ``"left"`` edge, as an axes' spine."""
        import matplotlib

        rc = matplotlib.rcParams
        xy = ([0, 1], [0, 0]) if which == "bottom" else ([0, 0], [0, 1])
        self.line(*xy, transform=self.area, clip=False, color=rc["axes.edgecolor"], lw=rc["axes.linewidth"],
                  solid_capstyle="projecting", zorder=2.5)

    def ticks(self, which: str, values, labels: list[str], colours: list | None = None,
              length_pt: float | None = None, minor=None, at_y=None) -> float:
        """Ticks and their labels on the bottom (``"x"``) or left (``"y"``) edge, as an axis draws them.

        One line of tick markers and one text per label, where an axis makes five artists per tick.

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
        at_y : array-like | None
            For x ticks, the data y of each line they hang from, when not the bottom edge (then without labels).

        Returns
        -------
        float
            How far in points the ticks and labels reach from the edge (where an axis label goes).
        """
        import matplotlib
        from matplotlib.lines import TICKDOWN, TICKLEFT

        rc = matplotlib.rcParams
        values = np.asarray(values, float)
        size = rc[f"{which}tick.major.size"] if length_pt is None else length_pt
        pad = rc[f"{which}tick.major.pad"]
        label_pt = font_pt(f"{which}tick.labelsize")
        for at, kind in ((values, "major"), (minor, "minor")):
            if at is None or not len(at) or (kind == "major" and size <= 0):
                continue
            at = np.asarray(at, float)
            if which == "x":
                xy = ((at, np.zeros(len(at))) if at_y is None
                      else (np.tile(at, len(at_y)), np.repeat(np.asarray(at_y, float), len(at))))
                transform = self.x_data if at_y is None else self.data
            else:
                xy, transform = (np.zeros(len(at)), at), self.y_data
            self.line(*xy, transform=transform, clip=False, ls="none", marker=TICKDOWN if which == "x" else TICKLEFT,
                      ms=size if kind == "major" else rc[f"{which}tick.minor.size"],
                      mew=rc[f"{which}tick.{kind}.width"], color=rc[f"{which}tick.color"], zorder=2.5)
        if at_y is not None:
            return size
        label_colour = rc[f"{which}tick.labelcolor"]
        colours = colours or [rc[f"{which}tick.color"] if label_colour == "inherit" else label_colour] * len(values)
        for value, label, colour in zip(values, labels, colours):
            if which == "x":
                self.text(value, 0, label, self.x_data, dy_pt=-(size + pad), ha="center", va="top",
                          fontsize=label_pt, color=colour)
            else:
                self.text(0, value, label, self.y_data, dx_pt=-(size + pad), ha="right", va="center_baseline",
                          fontsize=label_pt, color=colour)
        if which == "x":
            return size + pad + label_pt
        return size + pad + max((number_width_pt(label, label_pt) for label in labels), default=0.0)

    def axis_label(self, which: str, text: str, reach_pt: float) -> None:
        """An axis label beyond the tick labels (``reach_pt`` from :meth:`ticks`), where an axis puts it."""
        import matplotlib

        gap = reach_pt + matplotlib.rcParams["axes.labelpad"]
        size = font_pt("axes.labelsize")
        if which == "x":
            self.text(0.5, 0, text, dy_pt=-gap, ha="center", va="top", fontsize=size)
        else:
            self.text(0, 0.5, text, dx_pt=-gap, ha="right", va="center", rotation=90, fontsize=size)

    def title(self, text: str) -> None:
        """A title over the rectangle's left edge, as ``set_title(loc="left")``."""
        import matplotlib

        self.text(0, 1, text, dy_pt=matplotlib.rcParams["axes.titlepad"], ha="left", va="baseline",
                  fontsize=font_pt("axes.titlesize"))

    def time_axis(self, minutes: bool = False) -> np.ndarray:
        """Time ticks and label over the x limits (seconds); minutes:seconds when ``minutes`` and the axis ends
        at 2 min or later.

        Returns
        -------
        ndarray, shape (n_ticks,)
            The ticks, in seconds.
        """
        start_s, stop_s = self.x_lim
        if minutes and stop_s >= 120:
            # Steps a clock reads (15 s, 30 s, 1, 2, 5, 10 ... min), not the decimal ones of seconds (0:50, 1:40).
            step = next((x for x in MINUTE_STEPS_S if (stop_s - start_s) / x <= 8), MINUTE_STEPS_S[-1])
            values = np.arange(np.ceil(start_s / step) * step, stop_s + 1e-9, step)
            labels, name = [f"{int(x // 60)}:{int(x % 60):02d}" for x in values], "time (min:s)"
        else:
            values = tick_values(start_s, stop_s, n_bins(self.size_in[0], font_pt("xtick.labelsize"), 3))
            labels, name = tick_labels(values), "time (s)"
        self.axis_label("x", name, self.ticks("x", values, labels))
        return values

    def count_axis(self, label: str) -> None:
        """Integer ticks over the y limits (counts from 0), labelled."""
        counts = tick_values(*self.y_lim, n_bins(self.size_in[1], font_pt("ytick.labelsize"), 2), integer=True)
        self.spine("left")
        self.axis_label("y", label, self.ticks("y", counts, tick_labels(counts)))

    def legend(self, entries: list[tuple[str, float, str]], x: float, y: float, n_cols: int, ha: str = "center",
               va: str = "bottom") -> None:
        """Legend entries, a swatch and a label each, in ``n_cols`` columns filled one after the other, as
        ``legend(frameon=False)`` lays them out.

        Parameters
        ----------
        entries : list of (colour, alpha, label)
        x, y : float
            Where the legend goes, in figure fractions.
        n_cols : int
        ha : {"center", "right"}
            Which of the legend's sides is at ``x``.
        va : {"bottom", "center"}
            Which of the legend's sides is at ``y``.
        """
        import matplotlib
        from matplotlib.colors import to_rgba
        from matplotlib.patches import Rectangle
        from matplotlib.transforms import Affine2D, ScaledTranslation

        rc = matplotlib.rcParams
        font = font_pt("legend.fontsize")
        handle_w, handle_h = rc["legend.handlelength"] * font, rc["legend.handleheight"] * font
        text_pad, col_gap = rc["legend.handletextpad"] * font, rc["legend.columnspacing"] * font
        row_h, row_gap = 1.2 * font, rc["legend.labelspacing"] * font
        per_col = -(-len(entries) // n_cols)  # filled column by column, as matplotlib fills a legend
        cols = [entries[i:i + per_col] for i in range(0, len(entries), per_col)]
        widths = [max(handle_w + text_pad + text_width_pt(label, font) for _, _, label in col) for col in cols]
        total_w = sum(widths) + col_gap * (len(widths) - 1)
        total_h = len(cols[0]) * row_h + (len(cols[0]) - 1) * row_gap
        left = -total_w / 2 if ha == "center" else -total_w
        top = total_h + rc["legend.borderaxespad"] * font if va == "bottom" else total_h / 2
        # Positions in points from (x, y), whatever the figure's resolution.
        points = Affine2D().scale(1 / 72) + self.fig.dpi_scale_trans + ScaledTranslation(x, y, self.fig.transFigure)
        for col, width in zip(cols, widths):
            for row, (colour, alpha, label) in enumerate(col):
                middle = top - row * (row_h + row_gap) - row_h / 2
                rgba = to_rgba(colour, alpha)
                self.fig.add_artist(Rectangle((left, middle - handle_h / 2), handle_w, handle_h, transform=points,
                                              facecolor=rgba, edgecolor=rgba, lw=rc["patch.linewidth"]))
                self.fig.text(left + handle_w + text_pad, middle, label, transform=points, ha="left", va="center",
                              fontsize=font)
            left += width + col_gap

@dataclass(frozen=True)
class Band:
    """A horizontal strip of a :class:`Panel` with a scale of its own (one trace of a stack).

    Parameters
    ----------
    base : float
        Bottom of the band in the panel's data units; a band is 1 unit tall.
    lo, hi : float
        The signal values at the bottom and at the top of the band, in the signal's unit.
    """

    base: float
    lo: float
    hi: float

    def y(self, value) -> np.ndarray:
        """Positions in the panel's data units of signal values (array-like, in the signal's unit)."""
        return self.base + (np.asarray(value, float) - self.lo) / (self.hi - self.lo)

    def plot(self, panel: Panel, x: np.ndarray, y: np.ndarray, **kw):
        """A line of (time in s, signal value) in this band, clipped to it as a line of an axes of its own is.

        The line keeps its data in the signal's unit; its transform places it in the band.
        """
        from matplotlib.transforms import Affine2D, Bbox, TransformedBbox

        scale = 1 / (self.hi - self.lo)
        transform = Affine2D().scale(1, scale).translate(0, self.base - self.lo * scale) + panel.data
        clip = TransformedBbox(Bbox([[panel.x_lim[0], self.lo], [panel.x_lim[1], self.hi]]), transform)
        return panel.line(x, y, transform=transform, clip=clip, **kw)
