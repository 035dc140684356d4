"""The files an analysis writes, and readers for them. This is a contract other tools read; see the README.

- ``events.csv``: header exactly ``onset_s,offset_s,side,region,kind,peak,score``, one row per event, sorted by
  onset (files without the ``score`` column, from earlier versions, are still read).
- ``summary.json``: pattern, side, criteria, metrics, video facts (schema: ``twitchcam/schemas/summary.schema.json``).
- ``signals.csv``: one row per frame: time, face found, and each side's signals.
- ``config.json``: the effective :class:`~twitchcam.config.Config`.

Every file is written to a temporary name and renamed into place, so a crash never leaves a half-written output.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from . import __version__
from .events import CSV_COLUMNS, LEGACY_CSV_COLUMNS, Events
from .signals import SIGNAL_NAMES, Signals

if TYPE_CHECKING:  # pipeline reads video with OpenCV; writing and reading the files must not need it
    from .pipeline import Analysis

logger = logging.getLogger(__name__)

SIGNAL_COLUMNS = ("t_s", "face_found", "measured",
                  *(f"{name}_{side}" for name in (*SIGNAL_NAMES, "eye_opening") for side in ("left", "right")),
                  "head_rotation_deg", "head_scale", "head_yaw_deg", "head_pitch_deg", "head_roll_deg")
#: Columns added after the first release: a ``signals.csv`` without them is still read (as NaN).
OPTIONAL_SIGNAL_COLUMNS = ("head_yaw_deg", "head_pitch_deg", "head_roll_deg")


def write_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and an atomic rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8", newline="") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def prepare_output_dir(path: str | Path) -> Path:
    """Create an output folder (and its parents) and check that files can be written in it, before any work.

    Parameters
    ----------
    path : str | Path
        The folder; it may exist already.

    Returns
    -------
    Path

    Raises
    ------
    OSError
        One line naming the folder and why it cannot hold results (a file in the way, no permission, a
        read-only or virtual file system such as ``/proc``).
    """
    out = Path(path)
    try:
        if out.exists() and not out.is_dir():
            raise FileExistsError(0, "a file is in the way, not a folder")
        out.mkdir(parents=True, exist_ok=True)
        # Permission bits do not tell about read-only mounts or /proc: only writing does.
        probe = out / f".twitchcam-write-check-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        reason = err.strerror or str(err)
        raise OSError(f"{out}: cannot write results there ({reason.lower()})") from None
    return out


def format_events_csv(events: Events) -> str:
    """Render events as CSV text with the contract header; times to the millisecond, peaks and scores to 4
    decimals, an unknown score empty.
    """
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for i in range(len(events)):
        score = f"{events.score[i]:.4f}" if np.isfinite(events.score[i]) else ""
        writer.writerow([f"{events.onset_s[i]:.3f}", f"{events.offset_s[i]:.3f}", events.side[i], events.region[i],
                         events.kind[i], f"{events.peak[i]:.4f}", score])
    return buf.getvalue()


def write_events_csv(events: Events, path: str | Path) -> None:
    """Write ``events.csv`` (see module docstring)."""
    write_atomic(path, format_events_csv(events))


def read_events_csv(path: str | Path) -> Events:
    """Read an ``events.csv`` written by twitchcam (or a truth file in the same schema).

    Files of earlier versions, without the ``score`` column, are read with every score unknown (NaN).

    Raises
    ------
    ValueError
        If the header is not the contract header.
    """
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = tuple(next(reader, ()))
        if header not in (CSV_COLUMNS, LEGACY_CSV_COLUMNS):
            raise ValueError(f"{path}: header must be {','.join(CSV_COLUMNS)}, got {','.join(header)}")
        rows = [row for row in reader if row]
    cols = list(zip(*rows)) if rows else [[]] * len(header)
    score = np.asarray([float(v) if v else np.nan for v in cols[6]]) if len(header) == len(CSV_COLUMNS) else None
    return Events.from_columns(np.asarray(cols[0], float), np.asarray(cols[1], float), cols[2], cols[3], cols[4],
                               np.asarray(cols[5], float), score=score)


def write_json(data: dict, path: str | Path) -> None:
    """Write a JSON document, indented, with NaN turned into null."""
    write_atomic(path, json.dumps(_jsonable(data), indent=2) + "\n")


def _jsonable(value):
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.floating, float)):
        return None if not np.isfinite(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def summary_document(analysis: Analysis) -> dict:
    """The ``summary.json`` document of an analysis: the contract keys plus provenance."""
    doc = analysis.summary.to_dict()
    doc["source"] = {"file": Path(analysis.source).name if analysis.source else None,
                     "rotation_deg": analysis.video.rotation_deg if analysis.video else None,
                     "frame_size": list(analysis.landmarks.frame_size)}
    doc["twitchcam_version"] = __version__
    return doc


def format_signals_csv(signals: Signals) -> str:
    """Render per-frame signals as CSV text (columns: :data:`SIGNAL_COLUMNS`; NaN written as empty)."""
    table = np.column_stack([
        signals.t, signals.face_found, signals.measured,
        signals.eye_closure, signals.mouth_pull, signals.brow_raise, signals.eye_opening,
        signals.head_rotation_deg, signals.head_scale, signals.head_pose_deg,
    ])
    buf = io.StringIO()
    np.savetxt(buf, table, fmt=["%.4f", "%d", "%d"] + ["%.5f"] * (table.shape[1] - 3), delimiter=",",
               header=",".join(SIGNAL_COLUMNS), comments="")
    return buf.getvalue().replace("nan", "")


def write_analysis(analysis: Analysis, out_dir: str | Path) -> Path:
    """Write ``events.csv``, ``summary.json``, ``signals.csv`` and ``config.json`` into ``out_dir``.

    Returns
    -------
    Path
        The output folder.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_atomic(out / "signals.csv", format_signals_csv(analysis.signals))
    write_json(analysis.config.to_dict(), out / "config.json")
    write_events_csv(analysis.events, out / "events.csv")
    write_json(summary_document(analysis), out / "summary.json")
    return out


def finish_analysis_folder(analysis: Analysis | None, out_dir: str | Path, *, video: str | Path | None = None,
                           annotate: bool = False, exports: tuple[str, ...] | None = None, report: bool = True,
                           landmarks=None, model: str | Path | None = None, annotate_progress=None,
                           raise_extras: bool = True) -> list[Path]:
    """Finish an analysis folder the one way ``analyze``, ``batch``, the web app and ``live`` all do.

    Writes the analysis files (:func:`write_analysis`), then what is made from them: the annotated video, the
    timeline exports and ``report.html``, in that order (the report shows the video and links the exports).

    Parameters
    ----------
    analysis : Analysis | None
        The analysis to write; None finishes a folder whose analysis files are written already (``twitchcam
        report``).
    out_dir : str | Path
        The folder.
    video : str | Path | None
        The analyzed video, for the annotated video and the exports' reference to it.
    annotate : bool
        Write ``annotated.webm`` (needs ``video``).
    exports : tuple of str | None
        Timeline formats (:data:`twitchcam.exports.FORMATS`); None or empty writes none.
    report : bool
        Render ``report.html``.
    landmarks : Landmarks | None
        The analysis' landmarks, so the annotated video needs no second landmark pass.
    model : str | Path | None
        Face Landmarker bundle for an annotated video without ``landmarks``.
    annotate_progress : callable | None
        Called as ``annotate_progress(done_frames, total_frames_hint)`` while annotating.
    raise_extras : bool
        Raise when the annotated video, an export or the report fails. False where the analysis files are what
        matters and the rest can be made later with ``twitchcam report`` (the web app, a live session): each
        failure is then logged in one line with that remedy.

    Returns
    -------
    list of Path
        The files made from the analysis (not the analysis files themselves).
    """
    out = Path(out_dir)
    if analysis is not None:
        write_analysis(analysis, out)
    written: list[Path] = []

    def extra(what: str, make) -> None:
        try:
            made = make()
        except Exception as err:
            if raise_extras:
                raise
            # One line: the user needs the fact and the remedy, not a traceback.
            logger.error("%s: %s could not be written (%s); run 'twitchcam report %s'", out, what,
                         str(err) or type(err).__name__, out)
            return
        written.extend(made if isinstance(made, list) else [made])

    if video is not None and annotate:
        from .annotate import annotate_video

        extra("annotated video",
              lambda: annotate_video(video, out, landmarks=landmarks, model=model, progress=annotate_progress))
    if exports:
        from .exports import write_exports

        extra("the exports", lambda: write_exports(out, exports, video=video))
    if report:
        from .report import render_report

        extra("report.html", lambda: render_report(out))
    return written
