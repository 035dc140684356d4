"""The ``twitchcam`` command: parses arguments, calls the API, returns an exit code.

Exit codes: 0 success; 1 at least one input failed (each failure is one line on stderr); 2 usage error.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path

from . import __version__
from .config import Config, available_cores
from .folder import finish_analysis_folder, prepare_output_dir
from .landmarker import ModelError, find_model
from .video import VideoError, ffmpeg_log_level

logger = logging.getLogger("twitchcam")


class UsageError(Exception):
    """A bad option value, found before any work starts: one line, exit code 2."""


def _config_from_args(args) -> Config:
    """The settings of ``--config`` and ``--running-mode``; a file that is missing or wrong is a usage error."""
    try:
        values = Config.from_json(args.config).to_dict() if args.config else {}
        if getattr(args, "running_mode", None):
            values["running_mode"] = args.running_mode
        return Config.from_dict(values)
    except ValueError as err:
        raise UsageError(f"--config {err}" if args.config else str(err)) from None


def _check_model(args) -> None:
    """A ``--model`` (or ``$TWITCHCAM_MODEL``) that names no file is a usage error; a corrupt one fails later."""
    try:
        find_model(args.model)
    except ModelError as err:
        raise UsageError(str(err)) from None


def _output_dir(path: Path) -> Path:
    """``--out`` as a folder results can be written in, checked before any decoding."""
    try:
        return prepare_output_dir(path)
    except OSError as err:
        raise UsageError(f"--out {err}") from None


def _error_line(err: BaseException) -> str:
    """One line for the user: an OSError without its ``[Errno n]`` prefix and quoting."""
    if isinstance(err, OSError) and err.strerror and err.filename:
        return f"{err.filename}: {err.strerror.lower()}"
    return str(err) or type(err).__name__


def _unique_dirs(paths: list[Path], out: Path) -> list[Path]:
    """One output folder per input: ``out`` itself for one input, ``out/<stem>`` (deduplicated) for several."""
    if len(paths) == 1:
        return [out]
    seen: dict[str, int] = {}
    dirs = []
    for p in paths:
        name = p.stem
        seen[name] = seen.get(name, 0) + 1
        dirs.append(out / (name if seen[name] == 1 else f"{name}_{seen[name]}"))
    return dirs


def _cmd_analyze(args) -> int:
    from .pipeline import analyze

    config = _config_from_args(args)
    _check_model(args)
    paths = [Path(p) for p in args.videos]
    _output_dir(Path(args.out))
    failed = 0
    for path, out_dir in zip(paths, _unique_dirs(paths, Path(args.out))):
        # Each video goes on past the failure of another (README: "the others still analyzed").
        try:
            if out_dir.exists() or out_dir.is_symlink():
                prepare_output_dir(out_dir)  # a file in the way; a new sub-folder of the checked --out is fine
            analysis = analyze(path, config, model=args.model, progress=not args.quiet,
                               workers=args.workers or available_cores())
            if not analysis.landmarks.face_found.any():
                finish_analysis_folder(analysis, out_dir, report=False)
                print(f"twitchcam: error: {path}: no face found in any frame (outputs written to {out_dir})",
                      file=sys.stderr)
                failed += 1
                continue
            _write_extras(out_dir, path, annotate=args.annotate, export=args.export, report=args.report,
                          model=args.model, quiet=args.quiet, landmarks=analysis.landmarks, analysis=analysis)
        except (VideoError, ModelError, OSError) as err:
            print(f"twitchcam: error: {_error_line(err)}", file=sys.stderr)
            failed += 1
            continue
        events = analysis.events
        counts = ", ".join(f"{side} {int((events.side == side).sum())}" for side in ("left", "right", "bilateral"))
        video = analysis.summary.video
        incomplete = (f" INCOMPLETE: only {video['decoded_fraction']:.0%} of the file could be decoded."
                      if video.get("complete") is False else "")
        print(f"{path.name}: {analysis.summary.finding}{incomplete} {len(events)} events ({counts}) -> {out_dir}")
    if failed and len(paths) > 1:
        print(f"twitchcam: {failed} of {len(paths)} videos failed", file=sys.stderr)
    return 1 if failed else 0


def _cmd_batch(args) -> int:
    from .batch import find_videos, run_batch

    config = _config_from_args(args)
    _check_model(args)
    try:
        videos = find_videos(args.inputs)
    except ValueError as err:
        raise UsageError(str(err)) from None
    if not videos:
        raise UsageError("no video found in the inputs")
    if args.scheduler is not None:
        from importlib.util import find_spec

        if find_spec("distributed") is None:
            print("twitchcam: error: --scheduler needs the cluster extra: pip install 'twitchcam[cluster]'",
                  file=sys.stderr)
            return 1
        if not args.verbose:
            # Dask logs every connection and worker at INFO; the per-video lines are what a user follows.
            logging.getLogger("distributed").setLevel(logging.WARNING)
    _output_dir(Path(args.out))
    finished = []

    def on_result(row: dict) -> None:
        finished.append(row)
        line = f"[{len(finished)}] {Path(row['video']).name}: "
        if row["status"] == "done":
            side = f" ({row['side']})" if row["side"] else ""
            print(f"{line}{row['pattern']}{side} -> {Path(args.out) / row['out_dir']}", flush=True)
        else:
            print(f"twitchcam: error: {row['error']}", file=sys.stderr, flush=True)

    # The inputs as found here (absolute files): run_batch need not walk the folders again.
    report = run_batch(videos, args.out, config, model=args.model, workers=args.workers,
                       scheduler=args.scheduler, upload=args.upload, split_long_s=args.split_long,
                       report=args.report, on_result=on_result)
    n_done = sum(r["status"] == "done" for r in report.rows)
    print(f"{len(report.rows)} videos: {n_done} done ({report.skipped} already done before), "
          f"{len(report.failed)} failed; manifest {report.out_dir / 'batch.csv'}, "
          f"cohort {report.out_dir / 'cohort.csv'}, {report.out_dir / 'cohort.html'}")
    return 0 if report.ok else 1


def _cmd_simulate(args) -> int:
    from .simulate import simulate

    result = simulate(args.source, args.out, generator=args.generator, side=args.side,
                      duration_s=args.duration, seed=args.seed, amplitude=args.amplitude, fps=args.fps,
                      blinks=False if args.no_blinks else None, name=args.name, stretch=args.stretch)
    print(f"{result.video}: {len(result.events)} truth events, expected pattern {result.pattern}"
          f"{' (' + result.side + ')' if result.side else ''}; truth in {result.truth_dir}")
    return 0


def _cmd_serve(args) -> int:
    try:
        from .web.app import serve
        from .web.sessions import DataFolderBusy
    except ImportError as err:
        print(f"twitchcam: error: serve needs the web extra ({err.name} is missing): pip install 'twitchcam[serve]'",
              file=sys.stderr)
        return 1
    try:
        serve(args.data, host=args.host, port=args.port, workers=args.workers, max_upload_mb=args.max_upload_mb,
              allow_network=args.allow_network, open_browser=args.open)
    except DataFolderBusy as err:
        print(f"twitchcam: error: {err}", file=sys.stderr)
        return 1
    return 0


def _number(text: str, kind, low: float, high: float, what: str):
    """``text`` as ``kind`` within ``[low, high]``, or the argparse error that names the allowed values."""
    try:
        value = kind(text)
    except ValueError:
        value = None
    if value is None or not low <= value <= high:  # NaN fails both comparisons
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}")
    return value


def _count(text: str) -> int:
    return _number(text, int, 1, 1 << 20, "a whole number of at least 1")


def _camera(text: str) -> int:
    return _number(text, int, 0, 1 << 16, "a camera index (0, 1, ...)")


def _port(text: str) -> int:
    return _number(text, int, 0, 65535, "a TCP port from 0 to 65535")


def _seconds(text: str) -> float:
    return _number(text, float, 1e-3, 1e7, "a positive number of seconds")


def _positive(text: str) -> float:
    return _number(text, float, 1e-3, 1e6, "a positive number")


def _nonnegative(text: str) -> float:
    return _number(text, float, 0.0, 1e6, "a number of at least 0")


def _export_formats(text: str) -> tuple[str, ...]:
    from .exports import parse_formats

    try:
        return parse_formats(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _write_extras(out_dir: Path, video: Path | None, annotate: bool, export: tuple | None, report: bool,
                  model: str | None, quiet: bool, landmarks=None, analysis=None) -> list[Path]:
    """Finish an analysis folder (:func:`twitchcam.folder.finish_analysis_folder`) with a progress bar for the
    annotated video unless ``quiet``; ``analysis`` None when its files are written already.
    """
    bar = None
    progress = None
    if video is not None and annotate and not quiet:
        from tqdm import tqdm

        bar = tqdm(unit="frame", desc=f"annotating {video.name}", leave=False)
        progress = lambda done, total: (setattr(bar, "total", total or None), bar.update(1))  # noqa: E731
    try:
        return finish_analysis_folder(analysis, out_dir, video=video, annotate=annotate, exports=export,
                                      report=report, landmarks=landmarks, model=model, annotate_progress=progress)
    finally:
        if bar is not None:
            bar.close()


def _cmd_report(args) -> int:
    video = args.annotate or args.video
    for path in _write_extras(Path(args.dir), Path(video) if video else None, annotate=bool(args.annotate),
                              export=args.export, report=True, model=args.model, quiet=args.quiet):
        print(path)
    return 0


def _cmd_compare(args) -> int:
    from .compare import compare_sessions, format_table, write_comparison

    comparison = compare_sessions(args.dir_a, args.dir_b, tuple(args.labels) if args.labels else None)
    print(format_table(comparison), end="")
    for path in write_comparison(comparison, args.out):
        print(f"-> {path}")
    return 0


def _results_folder(path: str) -> Path:
    """An analysis folder, or the ``results/`` folder of a ``twitchcam serve`` session folder."""
    folder = Path(path)
    return folder / "results" if not (folder / "events.csv").exists() and (folder / "results").is_dir() else folder


def _fmt(x: float, spec: str = ".2f") -> str:
    return "n/a" if x != x else f"{x:{spec}}"  # NaN is the only value unequal to itself


def _cmd_review_stats(args) -> int:
    from .folder import write_json
    from .regions import REGIONS
    from .review_files import find_reviewed_folders, score_folder
    from .scoring import score_totals

    folders = find_reviewed_folders(args.dirs)
    if not folders:
        print("twitchcam: error: no folder holding both events.csv and events_reviewed.csv in "
              f"{', '.join(args.dirs)}", file=sys.stderr)
        return 1
    cases = [score_folder(f, args.tolerance) for f in folders]
    found = lambda pattern, side: f"{pattern or '?'}" + (f" ({side})" if side else "")  # noqa: E731
    table = [(c.name, found(c.pattern, c.side), found(c.reference_pattern, c.reference_side),
              f"{c.match.true_positives}/{c.match.n_predicted}/{c.match.n_true}") for c in cases]
    header = ("session", "automatic pattern", "reviewed pattern", "TP/auto/reviewed")
    widths = [max(len(row[k]) for row in (header, *table)) for k in range(4)]
    for row in (header, *table):
        print("  ".join(f"{v:<{w}}" if k < 3 else f"{v:>{w}}" for k, (v, w) in enumerate(zip(row, widths))))
    totals = score_totals(cases)
    tol = cases[0].match.tolerance_s
    print(f"\n{len(cases)} reviewed session{'s' if len(cases) > 1 else ''}; automatic unilateral events scored "
          f"against the reviewed ones (same side and region, onsets within {tol:g} s, one to one)")
    print(f"{'region':<16} {'TP':>5} {'auto':>5} {'reviewed':>8} {'precision':>9} {'recall':>7} {'F1':>5}")
    for name, score in [*((r, totals.per_region[r]) for r in REGIONS), ("all unilateral", totals.overall)]:
        print(f"{name:<16} {score.true_positives:>5} {score.n_predicted:>5} {score.n_true:>8} "
              f"{_fmt(score.precision):>9} {_fmt(score.recall):>7} {_fmt(score.f1):>5}")
    ms = lambda x: "n/a" if x != x else f"{1000 * x:+.0f} ms"  # noqa: E731
    print(f"onset error (automatic - reviewed) over {totals.overall.true_positives} matches: median "
          f"{ms(totals.onset_error_median_s)}, mean {ms(totals.onset_error_mean_s)}, mean absolute "
          f"{_fmt(1000 * totals.onset_error_mean_abs_s, '.0f')} ms")
    print(f"pattern agreement {_fmt(totals.pattern_agreement)} | side agreement {_fmt(totals.side_agreement)} | "
          f"false unilateral events per minute on sessions without any {_fmt(totals.false_unilateral_per_min)}")
    if args.json:
        doc = {"tolerance_s": tol, "totals": totals.to_dict(),
               "sessions": [{"folder": c.name, "pattern": c.pattern, "reviewed_pattern": c.reference_pattern,
                             "side": c.side, "reviewed_side": c.reference_side, "duration_s": c.duration_s,
                             "true_positives": c.match.true_positives, "n_automatic": c.match.n_predicted,
                             "n_reviewed": c.match.n_true} for c in cases]}
        write_json(doc, args.json)
        print(f"-> {args.json}")
    return 0


def _cmd_review_import(args) -> int:
    import getpass
    import json

    from .review_elan import import_eaf

    folder = _results_folder(args.session)
    review, counts = import_eaf(folder, args.eaf, args.reviewer or getpass.getuser())
    written = ["review.json", "events_reviewed.csv", "summary_reviewed.json"]
    # Files made from the timeline before are made again from the reviewed one.
    if (folder / "report.html").exists() or any((folder / f"events.{x}").exists() for x in ("tsv", "vtt", "eaf")):
        from .exports import write_exports

        formats = [x for x, name in (("bids", "events.tsv"), ("vtt", "events.vtt"), ("eaf", "events.eaf"))
                   if (folder / name).exists()]
        if formats:
            written += [p.name for p in write_exports(folder, formats)]
        if (folder / "report.html").exists():
            from .report import render_report

            written.append(render_report(folder).name)
    summary = json.loads((folder / "summary_reviewed.json").read_text(encoding="utf-8"))
    print(f"{Path(args.eaf).name} -> {folder}: {counts['accept']} accepted, {counts['edit']} corrected, "
          f"{counts['reject']} rejected, {counts['add']} added; {counts['events']} events in the reviewed timeline. "
          f"Reviewed finding: {summary['finding']} Wrote {', '.join(written)}.")
    return 0


def _cmd_live(args) -> int:
    import datetime
    import os

    from .live import run_session

    size = None
    if args.size:
        try:
            size = tuple(int(v) for v in args.size.lower().split("x"))
        except ValueError:
            size = ()
        if len(size) != 2 or not all(0 < v <= 16384 for v in size):
            raise UsageError(f"--size must be WIDTHxHEIGHT in pixels, e.g. 1280x720, got {args.size!r}")
    if (not args.no_window and sys.platform.startswith("linux")
            and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))):
        print("twitchcam: error: no display for the live window; run with --no-window", file=sys.stderr)
        return 1
    config = _config_from_args(args)
    _check_model(args)
    out = _output_dir(Path(args.out or f"twitchcam-live-{datetime.datetime.now():%Y%m%d-%H%M%S}"))

    def show(events):
        for i in range(len(events)):
            print(f"{events.onset_s[i]:9.2f} s  {events.side[i]:<9} {events.region[i]:<10} {events.kind[i]:<6} "
                  f"{events.duration_s[i]:5.2f} s  peak {events.peak[i]:.3f}", flush=True)

    result = run_session(args.source if args.source is not None else args.camera, out, config,
                         window=not args.no_window, markers_from_stdin=True, realtime=args.realtime,
                         duration_s=args.duration, model=args.model, size=size, on_event=show)
    frames = result.stats["frames"]
    if result.status == "source_lost":
        print(f"twitchcam: error: {result.ended_by} after {result.duration_s:.1f} s; the session so far is saved "
              f"in {out}", file=sys.stderr)
        return 1
    finding = result.analysis.summary.finding if result.analysis is not None else "no frame analyzed."
    print(f"{out}: {result.ended_by} after {result.duration_s:.1f} s; {frames['captured']} frames, "
          f"{frames['dropped']} dropped by the analysis, {frames['recorded']} recorded; {len(result.events)} "
          f"events live. {finding}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``twitchcam`` command."""
    parser = argparse.ArgumentParser(
        prog="twitchcam",
        description="Document involuntary facial twitching from video: which side, which muscles, when, how often, "
                    "how strongly, and whether the pattern is the one of hemifacial spasm. A documentation aid, "
                    "not a diagnosis.")
    parser.add_argument("--version", action="version", version=f"twitchcam {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("analyze", help="analyze video files and write events.csv, summary.json, signals.csv",
                       description="Analyze one or more videos of a patient's face. With several videos, each "
                                   "gets its own sub-folder of --out.")
    p.add_argument("videos", nargs="+", metavar="VIDEO", help="video file(s)")
    p.add_argument("--out", "-o", default="twitchcam-out", help="output folder (default: %(default)s)")
    p.add_argument("--model", help="Face Landmarker .task bundle (default: bundled; or $TWITCHCAM_MODEL)")
    p.add_argument("--config", help="JSON file of settings, e.g. a previous run's config.json")
    p.add_argument("--running-mode", choices=("image", "video"), help="MediaPipe running mode (default: image)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.add_argument("--workers", "-j", type=_count, metavar="N",
                   help="processes for a long video (>= 40 s), cut in time segments; same results "
                        "(default: one per core)")
    p.add_argument("--report", action=argparse.BooleanOptionalAction, default=True,
                   help="write report.html, the one-file clinical report (default: yes)")
    p.add_argument("--annotate", action="store_true",
                   help="also write annotated.webm: the video with tracked regions, meters and event labels")
    p.add_argument("--export", type=_export_formats, metavar="FORMATS",
                   help="also write timelines: comma-separated among bids (events.tsv + events.json), "
                        "vtt (events.vtt captions), eaf (events.eaf for ELAN)")
    p.set_defaults(func=_cmd_analyze)

    p = sub.add_parser("report", help="(re)write report.html of an analysis folder, optionally with annotated "
                                      "video and timeline exports",
                       description="Render report.html from an analysis folder (events.csv, summary.json, "
                                   "signals.csv, config.json): one self-contained file that opens offline.")
    p.add_argument("dir", metavar="DIR", help="analysis folder written by twitchcam analyze")
    p.add_argument("--annotate", metavar="VIDEO",
                   help="also write annotated.webm from the analyzed VIDEO (landmarks are detected again unless "
                        "the folder has landmarks.npz)")
    p.add_argument("--export", type=_export_formats, metavar="FORMATS",
                   help="also write timelines: comma-separated among bids, vtt, eaf")
    p.add_argument("--video", metavar="VIDEO", help="the analyzed video, linked from events.eaf")
    p.add_argument("--model", help="Face Landmarker .task bundle, for --annotate (default: bundled)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_report)

    p = sub.add_parser("compare", help="compare two analysis folders of one patient (e.g. before/after botulinum "
                                       "toxin)",
                       description="Per side: frequency, duration, amplitude and severity proxies of two sessions, "
                                   "with the change B - A. Prints a table and writes compare.html and "
                                   "compare.json.")
    p.add_argument("dir_a", metavar="DIR_A", help="first analysis folder (e.g. before)")
    p.add_argument("dir_b", metavar="DIR_B", help="second analysis folder (e.g. after)")
    p.add_argument("--out", "-o", default="twitchcam-compare", help="output folder (default: %(default)s)")
    p.add_argument("--labels", nargs=2, metavar=("A", "B"), help="names of the sessions, e.g. before after")
    p.set_defaults(func=_cmd_compare)

    p = sub.add_parser("batch", help="analyze a video archive on every core or on a Dask cluster, resumably",
                       description="Analyze every video of the inputs (files, folders searched recursively, glob "
                                   "patterns) into one folder per video under --out, with a manifest (batch.csv) "
                                   "updated as each video finishes, and cohort.csv / cohort.html. A re-run skips "
                                   "videos already done with the same content and settings. Exit code 0 only "
                                   "when every video is done.")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="video file, folder or glob pattern")
    p.add_argument("--out", "-o", required=True, help="output folder")
    p.add_argument("--workers", "-j", type=_count, help="local worker processes (default: one per core)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="run on a Dask cluster: scheduler address (tcp://host:8786), scheduler file (.json), or "
                        "'local' for a local Dask cluster of --workers processes (needs twitchcam[cluster])")
    p.add_argument("--upload", action="store_true",
                   help="with --scheduler: send each video's bytes to the workers (no shared filesystem)")
    p.add_argument("--split-long", type=_seconds, metavar="SECONDS",
                   help="local runs: split videos at least this long into time segments over all workers")
    p.add_argument("--report", action=argparse.BooleanOptionalAction, default=True,
                   help="write each video's report.html, as analyze does (default: yes)")
    p.add_argument("--model", help="Face Landmarker .task bundle (default: bundled; or $TWITCHCAM_MODEL)")
    p.add_argument("--config", help="JSON file of settings, e.g. a previous run's config.json")
    p.add_argument("--running-mode", choices=("image", "video"), help="MediaPipe running mode (default: image)")
    p.set_defaults(func=_cmd_batch)

    p = sub.add_parser("simulate", help="make a video with known twitches from a real face video or photo",
                       description="Inject twitches at known times into real face footage; writes the video and "
                                   "the truth (events.csv, summary.json) in the analysis schema.")
    p.add_argument("source", help="face video or photo")
    p.add_argument("--out", "-o", required=True, help="output folder")
    p.add_argument("--generator", default="hfs",
                   choices=("hfs", "rhythmic", "mouth_only", "eye_only", "blepharospasm", "normal", "sway"),
                   help="course of events to generate (default: %(default)s)")
    p.add_argument("--side", default="left", choices=("left", "right"), help="the patient's side (default: left)")
    p.add_argument("--duration", type=_seconds, default=30.0, help="seconds (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    p.add_argument("--amplitude", type=_nonnegative, default=1.0, help="scale of twitch amplitudes (default: 1)")
    p.add_argument("--fps", type=_positive,
                   help="output frame rate (default: the source video's with --stretch whole, else 30)")
    p.add_argument("--stretch", choices=("rest", "whole"), default="rest",
                   help="of a source video, animate its longest stretch at rest (rest: only the injected "
                        "movements move) or all of it, with its own talking, blinks and head turns (whole); "
                        "either is played forward and back to fill --duration (default: %(default)s)")
    p.add_argument("--name", help="file stem of the video and truth folder (default: e.g. hfs_left, normal)")
    p.add_argument("--no-blinks", action="store_true",
                   help="do not add natural blinks (never added with --stretch whole: the footage has its own)")
    p.set_defaults(func=_cmd_simulate)

    p = sub.add_parser("serve", help="run the local web app: upload or record videos, read reports, download them",
                       description="Run a web app on this computer for clinic staff: drop or record face videos, "
                                   "follow their analysis, read the reports, download the results. Listens on "
                                   "127.0.0.1 only unless --host and --allow-network say otherwise.")
    p.add_argument("--data", default="~/twitchcam-data",
                   help="folder keeping the videos and results of every session (default: %(default)s)")
    p.add_argument("--port", type=_port, default=8765, help="TCP port; 0 picks a free one (default: %(default)s)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default: %(default)s, this computer only)")
    p.add_argument("--allow-network", action="store_true",
                   help="confirm listening on a --host other machines can reach (the token only, no encryption)")
    p.add_argument("--workers", type=_count, help="analysis processes at once (default: one per core)")
    p.add_argument("--max-upload-mb", type=_count, default=4096,
                   help="largest accepted video in MB (default: %(default)s)")
    p.add_argument("--open", action="store_true", help="open the page in the default browser")
    p.set_defaults(func=_cmd_serve)

    p = sub.add_parser("review-stats", help="score automatic events against clinician-reviewed ones: precision, "
                                            "recall, F1 per region, onset error, pattern agreement",
                       description="Score the automatic timeline (events.csv) of every reviewed session against its "
                                   "reviewed timeline (events_reviewed.csv), with the matching of the accuracy "
                                   "benchmark: unilateral events, same side and region, onsets within the "
                                   "tolerance, one to one. Folders are searched recursively (a twitchcam serve "
                                   "data folder works as it is).")
    p.add_argument("dirs", nargs="+", metavar="DIR", help="folders holding events.csv and events_reviewed.csv")
    p.add_argument("--tolerance", type=float, metavar="S", help="largest onset difference of a match in seconds "
                                                                "(default: 0.25, as the accuracy benchmark)")
    p.add_argument("--json", metavar="FILE", help="also write the scores as JSON")
    p.set_defaults(func=_cmd_review_stats)

    p = sub.add_parser("review-import", help="import an .eaf edited in ELAN as the review of an analysis",
                       description="Read an ELAN file in the tiers twitchcam exports (events.eaf) and record it as "
                                   "the review of the analysis folder (or twitchcam serve session folder): "
                                   "unchanged events accepted, changed ones corrected, deleted ones rejected, new "
                                   "ones added. Writes review.json, events_reviewed.csv, summary_reviewed.json, "
                                   "and makes the report and exports the folder has again.")
    p.add_argument("session", metavar="SESSION", help="analysis folder (or serve session folder)")
    p.add_argument("eaf", metavar="FILE.eaf", help="the edited ELAN file")
    p.add_argument("--reviewer", help="who edited it (default: the user name of this account)")
    p.set_defaults(func=_cmd_review_import)

    p = sub.add_parser("live", help="follow a patient's face live from a camera and record the session",
                       description="Show a camera (or a stream or file) live with the tracked eye, mouth and brow "
                                   "regions, per-side meters and events as they happen, and record a session "
                                   "that survives a crash: the raw video, frame times, events and markers are "
                                   "written as they come. On a normal stop the folder also gets what "
                                   "'twitchcam analyze' writes. Keys: q quit, space marker, r pause/resume "
                                   "recording; a line typed on standard input is a marker with that text.")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--camera", type=_camera, default=0, help="camera index (default: %(default)s)")
    source.add_argument("--source", help="a video file or a stream URL (MJPEG over HTTP, RTSP) instead of a camera")
    p.add_argument("--realtime", action="store_true",
                   help="play a --source file at its real pace, as a camera would deliver it (default: as fast "
                        "as the analysis goes, nothing dropped)")
    p.add_argument("--out", "-o", help="session folder, new for each session (default: twitchcam-live-<time>)")
    p.add_argument("--duration", type=_seconds, help="stop after this many seconds")
    p.add_argument("--no-window", action="store_true", help="no window: events are printed, Ctrl-C stops")
    p.add_argument("--size", help="WIDTHxHEIGHT to ask of the camera, e.g. 1280x720")
    p.add_argument("--model", help="Face Landmarker .task bundle (default: bundled; or $TWITCHCAM_MODEL)")
    p.add_argument("--config", help="JSON file of settings, e.g. a previous run's config.json")
    p.add_argument("--running-mode", choices=("image", "video"), help="MediaPipe running mode (default: image)")
    p.set_defaults(func=_cmd_live)
    return parser


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread: unwinds like Ctrl-C, so worker pools are stopped on the way out."""


def _raise_terminated(signum, frame) -> None:
    raise _Terminated


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="twitchcam: %(levelname)s: %(message)s")
    if args.verbose:
        ffmpeg_log_level(True)
    previous = None
    if args.command not in ("live", "serve") and threading.current_thread() is threading.main_thread():
        # live and serve end on SIGTERM by themselves, saving what they hold.
        previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        return args.func(args)
    except UsageError as err:
        print(f"twitchcam: error: {err}", file=sys.stderr)
        return 2
    except (VideoError, ModelError, ValueError, OSError) as err:
        print(f"twitchcam: error: {_error_line(err)}", file=sys.stderr)
        return 1
    except _Terminated:
        print("twitchcam: terminated", file=sys.stderr)
        return 128 + signal.SIGTERM
    except KeyboardInterrupt:
        print("twitchcam: interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # a bug, or an input no check foresaw: one line, the traceback only when asked for
        if args.verbose:
            logger.exception("internal error")
        print(f"twitchcam: error: internal error ({type(err).__name__}: {err}); run with --verbose for details",
              file=sys.stderr)
        return 1
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
