"""The live window: a mirrored preview with the tracked regions, per-side meters, event flashes and counts.

Everything here is drawing with OpenCV's drawing functions on a copy of the frame; :class:`Window` is the only
place that calls ``cv2.imshow``, and :func:`show_window` the loop that shows a running session in it. Nothing drawn
here is analyzed.

Mirror, and the patient's sides
-------------------------------
The preview is MIRRORED, as people expect of a camera pointed at themselves; only the picture is: the analysis
always uses the unmirrored frame (see :mod:`twitchcam.regions`). In the unmirrored frame the patient's LEFT eye is
on the image's right; flipped, it comes to the preview's LEFT. So in the window everything about the patient's
LEFT side (the ``L`` tag, its meters, its flashes) is on the left and everything about the RIGHT side on the right,
and every label says which side of the PATIENT it means.
"""

from __future__ import annotations

import collections
import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import cv2
import numpy as np

from ..regions import BROW, EYE_OUTLINE, LIPS_OUTLINE, MOUTH_CORNER, SIDES
from ..vocabulary import REGION_WORDS, SIDE_COLOURS, bgr

if TYPE_CHECKING:
    from .capture import Captured
    from .session import LiveSession

#: BGR colours: each side has its own; events and warnings stand out in red/orange.
SIDE_COLOR = {side: bgr(SIDE_COLOURS[side]) for side in SIDES}  # the report's, the figures', the annotated video's
ACTIVE_COLOR = (40, 40, 255)
WARN_COLOR = (0, 0, 230)
TEXT_COLOR = (235, 235, 235)
DIM_COLOR = (150, 150, 150)
PANEL_COLOR = (38, 38, 38)
FLASH_PANEL_COLOR = (30, 30, 110)
EVENT_TEXT_COLOR = (255, 255, 255)

#: Meters, in the order drawn; each signal's bar is full at twice its event threshold.
METERS = (("eye_closure", "eye"), ("mouth_pull", "mouth"), ("brow_raise", "brow"))

PANEL_W = 230
#: Seconds an event flashes (the panel and the view's edge on that side) and its label stays up.
FLASH_S = 0.6
LABEL_S = 2.5
STATUS_H = 34
FONT = cv2.FONT_HERSHEY_SIMPLEX


@dataclass(frozen=True)
class Flash:
    """An event to announce on screen.

    Parameters
    ----------
    side : str
        ``left``, ``right`` (the patient's) or ``bilateral``.
    region, kind : str
        As in :class:`~twitchcam.events.Events`.
    duration_s : float
        Event duration in seconds.
    age_s : float
        Seconds since it was reported (the flash fades, the label stays a little longer).
    """

    side: str
    region: str
    kind: str
    duration_s: float
    age_s: float


@dataclass(frozen=True)
class Overlay:
    """What to draw over one frame.

    Parameters
    ----------
    xyz : ndarray, shape (478, 3) | None
        The patient's landmarks in pixels of the UNMIRRORED frame, or None when no face was found.
    meters : dict of str to ndarray, each shape (2,) | None
        Latest ``eye_closure``, ``mouth_pull``, ``brow_raise`` per side (columns left, right), or None while the
        analysis warms up.
    thresholds : dict of str to float
        Event threshold of each meter's signal, in its unit (the bar is full at twice it).
    counts : dict of (str, str) to int
        Events so far per (side, region); side ``bilateral`` counts both-eye closures.
    flashes : list of Flash
        Recent events, newest last.
    fps : float
        Frames per second shown.
    latency_ms : float | None
        Capture-to-display latency of recent frames.
    dropped : int
        Frames the analysis had to drop so far.
    recording : bool
        Whether the raw video is being written.
    elapsed_s : float
        Session time of the frame.
    markers : int
        Clinician markers so far.
    warming_up : bool
        The analysis is still estimating the head's resting pose.
    face_lost : bool
        The newest analyzed frame had no face (``xyz`` None for this reason, not because the analysis lags).
    analysis_lag_s : float
        How far the newest analyzed frame is behind the one shown, in seconds.
    """

    xyz: np.ndarray | None
    meters: dict | None
    thresholds: dict
    counts: dict
    flashes: list = field(default_factory=list)
    fps: float = 0.0
    latency_ms: float | None = None
    dropped: int = 0
    recording: bool = True
    elapsed_s: float = 0.0
    markers: int = 0
    warming_up: bool = False
    face_lost: bool = False
    analysis_lag_s: float = 0.0


def _text(img, text, org, scale=0.5, color=TEXT_COLOR, thickness=1) -> int:
    """Text with a drop shadow, readable on any background; returns its width in pixels."""
    # A shadow rather than a thicker outline: OpenCV 5's font widens with thickness, so an outline misaligns.
    x, y = int(org[0]), int(org[1])
    cv2.putText(img, text, (x + 1, y + 1), FONT, scale, (0, 0, 0), thickness, cv2.LINE_AA)
    cv2.putText(img, text, (x, y), FONT, scale, color, thickness, cv2.LINE_AA)
    return _text_width(text, scale, thickness)


def _fill(img: np.ndarray, colour) -> None:
    # cv2 rather than img[:] = colour: numpy broadcasts a 3-tuple over an image ~50 times slower.
    cv2.rectangle(img, (0, 0), (img.shape[1] - 1, img.shape[0] - 1), colour, -1)


def _text_width(text, scale=0.5, thickness=1) -> int:
    return cv2.getTextSize(text, FONT, scale, thickness)[0][0]


def _points(xyz: np.ndarray, idx, width: int, scale: float) -> np.ndarray:
    """Landmarks ``idx`` as int32 pixel positions in the mirrored, scaled preview, shape (n, 1, 2)."""
    p = xyz[list(idx), :2].astype(np.float64)
    p[:, 0] = width - 1 - p[:, 0]
    return np.round(p * scale).astype(np.int32).reshape(-1, 1, 2)


def _meter(meters: dict | None, signal: str, j: int) -> float | None:
    """A meter's value, 0 where unknown (no face measured); None while there are no meters yet."""
    if meters is None:
        return None
    value = float(meters[signal][j])
    return value if math.isfinite(value) else 0.0


def _active(meters: dict | None, thresholds: dict, signal: str, j: int) -> bool:
    value = _meter(meters, signal, j)
    return value is not None and value >= thresholds[signal]


def _draw_face(view: np.ndarray, ov: Overlay, width: int, scale: float) -> None:
    xyz = ov.xyz
    for j, side in enumerate(SIDES):
        colour = SIDE_COLOR[side]
        eye_col = ACTIVE_COLOR if _active(ov.meters, ov.thresholds, "eye_closure", j) else colour
        cv2.polylines(view, [_points(xyz, EYE_OUTLINE[side], width, scale)], True, eye_col, 2, cv2.LINE_AA)
        brow_col = ACTIVE_COLOR if _active(ov.meters, ov.thresholds, "brow_raise", j) else colour
        cv2.polylines(view, [_points(xyz, BROW[side], width, scale)], False, brow_col, 2, cv2.LINE_AA)
        mouth_col = ACTIVE_COLOR if _active(ov.meters, ov.thresholds, "mouth_pull", j) else colour
        corner = _points(xyz, [MOUTH_CORNER[side]], width, scale)[0, 0]
        cv2.circle(view, tuple(int(v) for v in corner), 6, mouth_col, -1, cv2.LINE_AA)
        # The patient's side, next to the outer eye corner (which, mirrored, lies on the same side of the view).
        outer = _points(xyz, [EYE_OUTLINE[side][0]], width, scale)[0, 0]
        dx = -34 if side == "left" else 14
        _text(view, "L" if side == "left" else "R", (int(outer[0]) + dx, int(outer[1]) + 6), 0.7, colour, 2)
    cv2.polylines(view, [_points(xyz, LIPS_OUTLINE, width, scale)], True, (200, 200, 200), 1, cv2.LINE_AA)


def _draw_panel(panel: np.ndarray, side: str, ov: Overlay) -> None:
    j = SIDES.index(side)
    colour = SIDE_COLOR[side]
    if any(f.side in (side, "bilateral") and f.age_s < FLASH_S for f in ov.flashes):
        _fill(panel, FLASH_PANEL_COLOR)
    _text(panel, f"patient's {side.upper()}", (12, 28), 0.65, colour, 2)
    y = 60
    for signal, word in METERS:
        value = _meter(ov.meters, signal, j)
        thr = ov.thresholds[signal]
        x0, x1 = 70, PANEL_W - 14
        _text(panel, word, (12, y + 13), 0.5)
        cv2.rectangle(panel, (x0, y), (x1, y + 16), (80, 80, 80), 1)
        if value is not None:
            frac = float(np.clip(value / (2 * thr), 0, 1))
            fill = ACTIVE_COLOR if value >= thr else colour
            cv2.rectangle(panel, (x0 + 1, y + 1), (x0 + 1 + int(frac * (x1 - x0 - 2)), y + 15), fill, -1)
        tick = x0 + (x1 - x0) // 2
        cv2.line(panel, (tick, y - 3), (tick, y + 19), TEXT_COLOR, 1)
        y += 34
    _text(panel, "events", (12, y + 8), 0.5, DIM_COLOR)
    y += 30
    for region, word in REGION_WORDS.items():
        _text(panel, f"{word:<6}{ov.counts.get((side, region), 0):>4}", (12, y), 0.55)
        y += 24
    for flash in ov.flashes:
        if flash.side == side and flash.age_s < LABEL_S:
            _text(panel, f"{REGION_WORDS[flash.region]} twitch", (12, y + 12), 0.6, EVENT_TEXT_COLOR, 2)
            _text(panel, f"{flash.kind}, {flash.duration_s:.2f} s", (12, y + 36), 0.5, EVENT_TEXT_COLOR)
            break


def render(image: np.ndarray, ov: Overlay, max_size: tuple[int, int] = (960, 720)) -> np.ndarray:
    """Draw the live view of one frame.

    Parameters
    ----------
    image : ndarray, shape (height, width, 3), uint8
        The UNMIRRORED BGR frame, as analyzed; it is not modified.
    ov : Overlay
    max_size : tuple of int
        ``(width, height)`` the preview is shrunk to fit (display only).

    Returns
    -------
    ndarray, shape (view_height, view_width, 3), uint8
        The window's picture: patient-LEFT panel, mirrored preview, patient-RIGHT panel, status bar.
    """
    h, w = image.shape[:2]
    scale = min(1.0, max_size[0] / w, max_size[1] / h)
    pw, ph = (round(w * scale), round(h * scale)) if scale < 1 else (w, h)
    canvas = np.empty((ph + STATUS_H, pw + 2 * PANEL_W, 3), np.uint8)
    _fill(canvas, PANEL_COLOR)
    view = canvas[:ph, PANEL_W:PANEL_W + pw]
    # Shrink (bilinear: ~5 times cheaper than area averaging at 0.75x, and only for display), then mirror.
    small = cv2.resize(image, (pw, ph), interpolation=cv2.INTER_LINEAR) if scale < 1 else image
    cv2.flip(small, 1, dst=view)
    if ov.xyz is not None:
        _draw_face(view, ov, w, scale)
    elif not ov.face_lost:
        note = "starting the analysis" if not np.isfinite(ov.analysis_lag_s) else \
            f"analysis {ov.analysis_lag_s:.1f} s behind"
        _text(view, note, (12, ph - 16), 0.6, (0, 220, 255), 2)
    else:
        cv2.rectangle(view, (0, 0), (pw - 1, ph - 1), WARN_COLOR, 6)
        lines = (("FACE NOT FOUND", 1.1, WARN_COLOR, 3), ("bring the patient's face into view", 0.6, TEXT_COLOR, 1))
        for k, (line, size, colour, thick) in enumerate(lines):
            _text(view, line, ((pw - _text_width(line, size, thick)) // 2, ph // 2 + 40 * k), size, colour, thick)
    if ov.warming_up and ov.xyz is not None:
        _text(view, "calibrating: face at rest, please hold still", (12, ph - 16), 0.6, (0, 220, 255), 2)
    _text(view, "mirrored preview", (pw - _text_width("mirrored preview", 0.45) - 10, ph - 12), 0.45, DIM_COLOR)
    for flash in ov.flashes:
        if flash.age_s < FLASH_S:
            # A bar along the view's edge on the side where that side of the patient's face appears.
            if flash.side in ("left", "bilateral"):
                cv2.rectangle(view, (0, 0), (15, ph - 1), ACTIVE_COLOR, -1)
            if flash.side in ("right", "bilateral"):
                cv2.rectangle(view, (pw - 16, 0), (pw - 1, ph - 1), ACTIVE_COLOR, -1)
    latest = next((f for f in reversed(ov.flashes) if f.age_s < LABEL_S), None)
    if latest is not None:
        who = "both eyes" if latest.side == "bilateral" else f"patient's {latest.side.upper()}"
        what = latest.kind if latest.side == "bilateral" else f"{REGION_WORDS[latest.region]} twitch, {latest.kind}"
        label = f"{who}: {what} {latest.duration_s:.2f} s"
        _text(view, label, ((pw - _text_width(label, 0.75, 2)) // 2, 34), 0.75, ACTIVE_COLOR, 2)
    for side, x in (("left", 0), ("right", PANEL_W + pw)):
        _draw_panel(canvas[:ph, x:x + PANEL_W], side, ov)
    status = canvas[ph:, :]
    latency = f"{ov.latency_ms:.0f} ms" if ov.latency_ms is not None else "-"
    both = ov.counts.get(("bilateral", "periocular"), 0)
    x = 12
    if ov.recording:
        cv2.circle(status, (x + 6, 17), 7, WARN_COLOR, -1, cv2.LINE_AA)
        x += 18 + _text(status, "REC", (x + 18, 23), 0.5, WARN_COLOR)
    else:
        x += _text(status, "rec paused", (x, 23), 0.5, DIM_COLOR)
    _text(status, f"   {ov.elapsed_s:.1f} s   {ov.fps:.1f} fps   latency {latency}   analysis dropped {ov.dropped}"
                  f"   blinks/closures {both}   markers {ov.markers}", (x, 23), 0.5)
    keys = "q quit  space marker  r record"
    _text(status, keys, (status.shape[1] - _text_width(keys, 0.45) - 12, 23), 0.45, DIM_COLOR)
    return canvas


class Window:
    """The on-screen window; the one place that calls ``cv2.imshow``.

    Parameters
    ----------
    title : str
        Window title.
    """

    def __init__(self, title: str = "twitchcam live"):
        self.title = title
        # GUI_NORMAL: no Qt toolbar (its zoom and save buttons are for image viewing, not a live view).
        cv2.namedWindow(title, cv2.WINDOW_NORMAL | cv2.WINDOW_KEEPRATIO | cv2.WINDOW_GUI_NORMAL)
        self._sized = False

    def show(self, picture: np.ndarray) -> str | None:
        """Show a picture, let the window paint it, and poll the keyboard (see :meth:`poll`)."""
        if not self._sized:
            cv2.resizeWindow(self.title, picture.shape[1], picture.shape[0])
            self._sized = True
        cv2.imshow(self.title, picture)
        return self.poll(1)

    def poll(self, wait_ms: int = 5) -> str | None:
        """Process window events for up to ``wait_ms`` milliseconds and read a key.

        Returns
        -------
        str | None
            ``"quit"`` (q, Esc, or the window closed), ``"marker"`` (space), ``"record"`` (r), or None.
        """
        key = cv2.waitKey(wait_ms) & 0xFF
        if key in (ord("q"), ord("Q"), 27):
            return "quit"
        if key == ord(" "):
            return "marker"
        if key in (ord("r"), ord("R")):
            return "record"
        if self._sized and cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) < 1:
            return "quit"
        return None

    def close(self) -> None:
        """Close the window."""
        cv2.destroyWindow(self.title)
        cv2.waitKey(1)


def overlay_for(session: LiveSession, captured: Captured, fps: float, latency_ms: float | None) -> Overlay:
    """What the window shows over a captured frame: the newest analysis, if it is of a frame close enough.

    Parameters
    ----------
    session : LiveSession
        The running session.
    captured : Captured
        The frame to show.
    fps : float
        Frames per second shown.
    latency_ms : float | None
        Capture-to-display latency of recent frames.
    """
    now = time.monotonic()
    progress = session.analysis.progress()
    flashes = [Flash(str(e.side[i]), str(e.region[i]), str(e.kind[i]), float(e.duration_s[i]), now - at)
               for at, e in progress.recent for i in range(len(e))]
    xyz = progress.xyz
    face_lost = xyz is None and np.isfinite(progress.t_s)
    lag = captured.frame.t - progress.t_s
    if lag > session.overlay_max_lag_s:
        # Outlines drawn where the face was a while ago would be misleading.
        xyz = None
    return Overlay(xyz, progress.meters, progress.thresholds, progress.counts, flashes, fps=fps,
                   latency_ms=latency_ms, dropped=session.n_dropped, recording=session.recording,
                   elapsed_s=captured.frame.t, markers=session.markers.count, warming_up=progress.warming_up,
                   face_lost=face_lost, analysis_lag_s=lag)


def show_window(session: LiveSession, title: str, latency_s: list[float]) -> None:
    """Show a running session in a window until it ends (call from the main thread); act on its keys.

    The window shows the newest CAPTURED frame as soon as it comes, not waiting for its analysis, with the
    outlines of the newest analyzed frame when it is at most ``session.overlay_max_lag_s`` older. While the
    analysis queue is half full or more, the window is redrawn at most 12 times a second, leaving the CPU to the
    analysis.

    Parameters
    ----------
    session : LiveSession
        The running session.
    title : str
        Window title.
    latency_s : list of float
        The capture-to-display latency of each frame shown, in seconds, is appended to it.
    """
    window = Window(title)
    captured = None
    shown: collections.deque = collections.deque(maxlen=30)
    try:
        while session.running:
            newer = session.newest(captured, 0.03)
            # When the analysis falls behind, the window gives way: drawing every frame costs as much as a
            # third of the landmark model, and missed events cost more than a smoother picture.
            wait_s = 1 / 12 - (time.monotonic() - shown[-1]) if shown else 0.0
            behind = session.analysis_queue_fill() >= 0.5 and wait_s > 0
            if newer is None or behind:
                action = window.poll(max(int(wait_s * 1000), 1) if behind else 1)
            else:
                captured = newer
                fps = (len(shown) - 1) / (shown[-1] - shown[0]) if len(shown) > 1 else 0.0
                latency_ms = float(np.median(latency_s[-30:])) * 1000 if latency_s else None
                action = window.show(render(captured.frame.image, overlay_for(session, captured, fps, latency_ms)))
                now = time.monotonic()
                shown.append(now)
                latency_s.append(now - captured.captured_at)
            if action == "quit":
                session.stop("stopped by the user")
            elif action == "marker":
                session.add_marker("", captured.frame.t if captured is not None else None)
            elif action == "record":
                session.toggle_recording()
    finally:
        window.close()
