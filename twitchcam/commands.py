"""What each ``twitchcam`` command does once its arguments are parsed (:mod:`twitchcam.cli` parses them).

Each ``do_<command>(args)`` takes the parsed arguments, checks what the parser cannot (the settings file, the model,
the output folder, options that exclude each other) before any video is decoded, calls the API, prints one line per
result, and returns the exit code the README documents: 0 success, 1 an input failed (each failure one line on
stderr, the other inputs still done). A bad option found here raises :class:`UsageError`, which
:func:`twitchcam.cli.main` turns into one line and exit code 2.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from .config import Config, available_cores
from .folder import finish_analysis_folder, prepare_output_dir
from .landmarker import ModelError, find_model
from .video import VideoError


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


def error_line(err: BaseException) -> str:
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


def do_analyze(args) -> int:
    """``twitchcam analyze``: each video analyzed into its folder, the finding printed; 1 if one failed."""
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
            print(f"twitchcam: error: {error_line(err)}", file=sys.stderr)
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


def do_batch(args) -> int:
    """``twitchcam batch``: an archive analyzed resumably, one line per video; 1 unless every video is done."""
    from .batch import find_videos, run_batch

    config = _config_from_args(args)
    _check_model(args)
    try:
        videos = find_videos(args.inputs)
    except ValueError as err:
        raise UsageError(str(err)) from None
    if not videos:
        raise UsageError("no video found in the inputs")
    if args.split_long is not None and args.scheduler is not None:
        raise UsageError("--split-long runs on local processes only; drop it or --scheduler")
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


def do_simulate(args) -> int:
    """``twitchcam simulate``: a video with known twitches and its truth folder."""
    from .simulate import simulate

    result = simulate(args.source, args.out, generator=args.generator, side=args.side,
                      duration_s=args.duration, seed=args.seed, amplitude=args.amplitude, fps=args.fps,
                      blinks=False if args.no_blinks else None, name=args.name, stretch=args.stretch)
    print(f"{result.video}: {len(result.events)} truth events, expected pattern {result.pattern}"
          f"{' (' + result.side + ')' if result.side else ''}; truth in {result.truth_dir}")
    return 0


def do_serve(args) -> int:
    """``twitchcam serve``: the local web app, until it is stopped."""
    try:
        from .web.app import is_loopback, serve
        from .web.sessions import DataFolderBusy
    except ImportError as err:
        print(f"twitchcam: error: serve needs the web extra ({err.name} is missing): pip install 'twitchcam[serve]'",
              file=sys.stderr)
        return 1
    # serve() refuses this too; checked here, it is the usage error it is (exit code 2), not a failed input.
    if not is_loopback(args.host) and not args.allow_network:
        raise UsageError(f"--host {args.host} would let other machines reach patient videos; add --allow-network "
                         "to confirm, or leave --host out to stay on 127.0.0.1")
    try:
        serve(args.data, host=args.host, port=args.port, workers=args.workers, max_upload_mb=args.max_upload_mb,
              allow_network=args.allow_network, open_browser=args.open)
    except DataFolderBusy as err:
        print(f"twitchcam: error: {err}", file=sys.stderr)
        return 1
    return 0


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


def do_report(args) -> int:
    """``twitchcam report``: ``report.html`` (and the annotated video, exports) of an analysis folder again."""
    video = args.annotate or args.video
    for path in _write_extras(Path(args.dir), Path(video) if video else None, annotate=bool(args.annotate),
                              export=args.export, report=True, model=args.model, quiet=args.quiet):
        print(path)
    return 0


def do_compare(args) -> int:
    """``twitchcam compare``: two sessions of one patient side by side, printed and written."""
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


def do_review_stats(args) -> int:
    """``twitchcam review-stats``: the automatic timelines of reviewed folders scored against the reviews."""
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


def do_review_import(args) -> int:
    """``twitchcam review-import``: an ``.eaf`` edited in ELAN recorded as the folder's review."""
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


def do_live(args) -> int:
    """``twitchcam live``: a camera session, followed and recorded; 1 if the source was lost."""
    import datetime
    import os

    from .live import run_session

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
                         duration_s=args.duration, model=args.model, size=args.size, on_event=show)
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
