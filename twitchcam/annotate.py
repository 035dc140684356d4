"""The annotated video: the input with the tracked regions, per-side meters and event labels drawn in.

Written as ``annotated.webm`` (VP8, plays in browsers) through :class:`twitchcam.video.VideoWriter`; drawing uses
OpenCV's drawing functions on each frame.

What is drawn
-------------
- Each eye's outline, each brow and each mouth corner in its side's colour (the patient's left vermillion, right
  blue, as in the report), thick and filled while an event of that side and region is on.
- Two meter panels with three bars (eye closure, mouth pull, brow raise) and the detection threshold as a tick. The
  patient's right is drawn on the image's left and the patient's left on the image's right, where each side of
  the face appears in an unmirrored video.
- The events on screen, e.g. ``LEFT eye: clonic``, held :data:`LABEL_HOLD_S` after the event so a 100 ms twitch
  can be read, and the time.

Frames larger than ``max_side_px`` are shrunk before drawing: OpenCV's VP8 encoder takes about 25 ms per
640x360 frame on one core and grows with the pixel count, so a full-HD annotated video would take longer to write
than the analysis.

Landmarks come from the caller (an analysis in memory), from ``landmarks.npz`` of the folder, or are detected
again from the video. Frame ``i`` of the video is drawn with landmark and signal row ``i``: the pipeline keeps one
row per decoded frame.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from .folder import Results, read_results
from .landmarker import detect_landmarks
from .landmarks import Landmarks
from .regions import BROW, EYE_OUTLINE, LIPS_OUTLINE, MOUTH_CORNER, SIDES
from .video import VideoWriter, downscale, iter_frames, probe_video
from .vocabulary import REGION_WORDS, SIDE_COLOURS, bgr

ANNOTATED_NAME = "annotated.webm"

#: How long an event's label stays after the event ends, in seconds.
LABEL_HOLD_S = 0.5

#: BGR colours: the patient's left and right as everywhere; both eyes together light grey rather than the
#: report's dark grey, which would vanish on a dark frame.
COLORS = {**{side: bgr(SIDE_COLOURS[side]) for side in SIDES}, "bilateral": (210, 210, 210)}


def _shade(image: np.ndarray, x0: int, y0: int, x1: int, y1: int, alpha: float = 0.55) -> None:
    """Darken a rectangle of the image in place, behind text."""
    h, w = image.shape[:2]
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if x1 > x0 and y1 > y0:
        roi = image[y0:y1, x0:x1]
        roi[:] = (roi * (1 - alpha)).astype(np.uint8)


def _text(image, text, org, scale, color, thickness=1):
    cv2.putText(image, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, color, thickness, cv2.LINE_AA)


def meter_scales(results: Results) -> dict[str, tuple[float, float]]:
    """Full-scale value and detection threshold of each region's meter, in the signal's unit."""
    cfg = results.config
    return {"periocular": (1.0, cfg.eye_on_frac), "perioral": (3 * cfg.mouth_on_iod, cfg.mouth_on_iod),
            "brow": (3 * cfg.brow_on_iod, cfg.brow_on_iod)}


def draw_overlay(image: np.ndarray, xyz: np.ndarray | None, values: dict, active: dict, labels: list[str],
                 t: float, scales: dict) -> np.ndarray:
    """Draw the regions, meters and labels of one frame.

    Parameters
    ----------
    image : ndarray, shape (height, width, 3), uint8
        The frame, BGR; not modified.
    xyz : ndarray, shape (478, 3) | None
        Landmarks in pixels of the frame; None (or NaN) where no face was found.
    values : dict of (side, region) to float
        Signal values of the frame (NaN where not measured).
    active : dict of (side, region) to bool
        Whether an event of that side and region is on.
    labels : list of str
        Event labels to show, e.g. ``LEFT eye: clonic``.
    t : float
        Time of the frame in seconds.
    scales : dict of str to (float, float)
        Per region, the meter's full-scale value and its threshold (:func:`meter_scales`).

    Returns
    -------
    ndarray, shape (height, width, 3), uint8
    """
    out = image.copy()
    h, w = out.shape[:2]
    # Sizes follow the frame's shorter side, with a floor so small videos stay legible.
    unit = max(min(h, w), 480) / 720
    thin = max(1, round(1.5 * unit))
    thick = max(2, round(4 * unit))
    face = xyz is not None and np.isfinite(xyz[:, :2]).all()
    if face:
        pts = np.round(xyz[:, :2]).astype(np.int32)
        lips = pts[list(LIPS_OUTLINE)]
        cv2.polylines(out, [lips], True, (235, 235, 235), thin, cv2.LINE_AA)
        for side in SIDES:
            color = COLORS[side]
            eye = pts[list(EYE_OUTLINE[side])]
            if active.get((side, "periocular")):
                fill = out.copy()
                cv2.fillPoly(fill, [eye], color, cv2.LINE_AA)
                cv2.addWeighted(fill, 0.35, out, 0.65, 0, out)
            cv2.polylines(out, [eye], True, color, thick if active.get((side, "periocular")) else thin, cv2.LINE_AA)
            brow = pts[list(BROW[side])]
            cv2.polylines(out, [brow], False, color, thick if active.get((side, "brow")) else thin, cv2.LINE_AA)
            corner = tuple(int(v) for v in pts[MOUTH_CORNER[side]])
            radius = round((9 if active.get((side, "perioral")) else 4) * unit) + 1
            cv2.circle(out, corner, radius, color, -1 if active.get((side, "perioral")) else thick, cv2.LINE_AA)

    # Meters: the patient's right appears on the image's left.
    panel_w, bar_h = round(118 * unit), round(150 * unit)
    top = round(12 * unit)
    for side, x0 in (("right", round(10 * unit)), ("left", w - round(10 * unit) - panel_w)):
        y1 = top + bar_h + round(58 * unit)
        _shade(out, x0, top, x0 + panel_w, y1)
        _text(out, f"{side.upper()}", (x0 + round(8 * unit), top + round(24 * unit)), 0.62 * unit, COLORS[side],
              max(1, round(2 * unit)))
        for k, region in enumerate(("periocular", "perioral", "brow")):
            bx = x0 + round((12 + 36 * k) * unit)
            bw = round(22 * unit)
            by0, by1 = top + round(34 * unit), top + round(34 * unit) + bar_h
            full, threshold = scales[region]
            v = values.get((side, region), np.nan)
            cv2.rectangle(out, (bx, by0), (bx + bw, by1), (90, 90, 90), 1)
            if np.isfinite(v):
                level = int(np.clip(v / full, 0, 1) * bar_h)
                on = active.get((side, region))
                color = COLORS[side] if on else tuple(int(0.5 * c + 90) for c in COLORS[side])
                if level:
                    cv2.rectangle(out, (bx + 1, by1 - level), (bx + bw - 1, by1 - 1), color, -1)
            ty = by1 - int(threshold / full * bar_h)
            cv2.line(out, (bx - round(3 * unit), ty), (bx + bw + round(3 * unit), ty), (255, 255, 255), 1)
            _text(out, REGION_WORDS[region][:5], (bx - round(3 * unit), by1 + round(16 * unit)), 0.36 * unit,
                  (230, 230, 230))

    if labels:
        scale = 0.7 * unit
        line_h = round(30 * unit)
        widths = [cv2.getTextSize(s, cv2.FONT_HERSHEY_SIMPLEX, scale, max(1, round(2 * unit)))[0][0] for s in labels]
        bw = max(widths) + round(20 * unit)
        x0 = (w - bw) // 2
        _shade(out, x0, h - round(44 * unit) - line_h * len(labels), x0 + bw, h - round(40 * unit) + 4, 0.6)
        for k, s in enumerate(labels):
            side = s.split(" ")[0].lower()
            color = COLORS.get(side, COLORS["bilateral"])
            _text(out, s, (x0 + round(10 * unit), h - round(48 * unit) - line_h * (len(labels) - 1 - k)), scale,
                  color, max(1, round(2 * unit)))
    status = f"{t:6.2f} s" + ("" if face else "   no face")
    _shade(out, 0, h - round(30 * unit), round(230 * unit), h)
    _text(out, status, (round(8 * unit), h - round(9 * unit)), 0.55 * unit, (255, 255, 255))
    return out


def _event_label(side: str, region: str, kind: str) -> str:
    who = "BOTH eyes" if side == "bilateral" else f"{side.upper()} {REGION_WORDS[region]}"
    return f"{who}: {kind}"


def annotate_video(video: str | Path, out_dir: str | Path, landmarks: Landmarks | None = None,
                   model: str | Path | None = None, out_path: str | Path | None = None, max_side_px: int = 854,
                   progress: Callable[[int, int], None] | None = None) -> Path:
    """Write the annotated video of an analysis.

    Parameters
    ----------
    video : str | Path
        The analyzed video.
    out_dir : str | Path
        Its analysis folder (events, signals and settings are read from it).
    landmarks : Landmarks | None
        The analysis' landmarks; by default ``landmarks.npz`` of the folder, else detected again from the video
        (about 13 ms per frame).
    model : str | Path | None
        Face Landmarker bundle, when landmarks must be detected again.
    out_path : str | Path | None
        Output file; default ``annotated.webm`` in the folder. Its suffix picks the codec (see
        :class:`twitchcam.video.VideoWriter`).
    max_side_px : int
        Longer side of the written video in pixels; larger frames are shrunk (see module docstring).
    progress : callable | None
        Called as ``progress(done_frames, total_frames_hint)``.

    Returns
    -------
    Path
        The written video.

    Raises
    ------
    twitchcam.video.VideoError
        If the video cannot be read or the output cannot be written.
    """
    results = read_results(out_dir)
    info = probe_video(video)
    if landmarks is None:
        landmarks = results.landmarks()
    if landmarks is None:
        landmarks = detect_landmarks(iter_frames(video), results.config, model)
    out_path = Path(out_path) if out_path else results.out_dir / ANNOTATED_NAME
    fps = float(results.summary["video"].get("fps") or info.fps_nominal or 30.0)
    ev = results.events
    labels = np.array([_event_label(s, r, k) for s, r, k in zip(ev.side, ev.region, ev.kind)], dtype=object)
    scales = meter_scales(results)
    n_rows = len(results.t)
    scale = min(1.0, max_side_px / max(info.width, info.height))
    size = (round(info.width * scale), round(info.height * scale))
    tmp = out_path.with_name(f".{out_path.stem}.tmp{out_path.suffix}")
    with VideoWriter(tmp, fps, size) as writer:
        for frame in iter_frames(video):
            i = frame.index
            xyz = landmarks.xyz[i] * scale if i < len(landmarks) and landmarks.face_found[i] else None
            t = float(results.t[i]) if i < n_rows else frame.t
            on = (ev.onset_s <= t + 1e-6) & (ev.offset_s >= t - 1e-6)
            shown = (ev.onset_s <= t + 1e-6) & (ev.offset_s + LABEL_HOLD_S >= t)
            active = {(s, r): True for s, r in zip(ev.side[on], ev.region[on])}
            if any(s == "bilateral" for s, _ in active):
                active.update({(s, "periocular"): True for s in SIDES})
            values = {}
            if i < n_rows:
                for region in ("periocular", "perioral", "brow"):
                    row = results.region_signal(region)[i]
                    values.update({(side, region): row[j] for j, side in enumerate(SIDES)})
            image = downscale(frame.image, max_side_px) if scale < 1 else frame.image
            if image.shape[1::-1] != size:  # rounding of the two resizes may differ by a pixel
                image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
            writer.write(draw_overlay(image, xyz, values, active, list(dict.fromkeys(labels[shown])), t,
                                      scales))
            if progress is not None:
                progress(i + 1, info.n_frames_hint)
    tmp.replace(out_path)
    return out_path
