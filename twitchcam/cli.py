"""The ``twitchcam`` command line: the parser of every command and :func:`main`, which runs one and returns its exit
code. What each command does is in :mod:`twitchcam.commands`.

Exit codes: 0 success; 1 at least one input failed (each failure is one line on stderr); 2 usage error (a bad option
value, found by the parser or by the command before any work); 130 interrupted; 143 terminated.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from . import __version__, commands
from .commands import UsageError, error_line
from .config import RUNNING_MODES, check_option
from .courses import GENERATORS
from .landmarker import ModelError
from .regions import SIDES
from .simulate.footage import STRETCHES
from .video import VideoError, ffmpeg_log_level

logger = logging.getLogger("twitchcam")


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


def _size(text: str) -> tuple[int, int]:
    width_height = text.lower().split("x")
    if len(width_height) == 2 and all(v.strip().isdigit() and 0 < int(v) <= 16384 for v in width_height):
        return int(width_height[0]), int(width_height[1])
    raise argparse.ArgumentTypeError(f"must be WIDTHxHEIGHT in pixels, e.g. 1280x720, got {text!r}")


def _option(name: str, allowed: tuple[str, ...]) -> dict:
    """``type`` and ``metavar`` of an option with a closed set of values, checked by :func:`check_option`."""

    def check(text: str) -> str:
        return check_option(name, text, allowed, argparse.ArgumentTypeError)

    return {"type": check, "metavar": "{" + ",".join(allowed) + "}"}


def _export_formats(text: str) -> tuple[str, ...]:
    from .exports import parse_formats

    try:
        return parse_formats(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


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
    p.add_argument("--running-mode", **_option("running mode", RUNNING_MODES),
                   help="MediaPipe running mode (default: image)")
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
    p.set_defaults(func=commands.do_analyze)

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
    p.set_defaults(func=commands.do_report)

    p = sub.add_parser("compare", help="compare two analysis folders of one patient (e.g. before/after botulinum "
                                       "toxin)",
                       description="Per side: frequency, duration, amplitude and severity proxies of two sessions, "
                                   "with the change B - A. Prints a table and writes compare.html and "
                                   "compare.json.")
    p.add_argument("dir_a", metavar="DIR_A", help="first analysis folder (e.g. before)")
    p.add_argument("dir_b", metavar="DIR_B", help="second analysis folder (e.g. after)")
    p.add_argument("--out", "-o", default="twitchcam-compare", help="output folder (default: %(default)s)")
    p.add_argument("--labels", nargs=2, metavar=("A", "B"), help="names of the sessions, e.g. before after")
    p.set_defaults(func=commands.do_compare)

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
    p.add_argument("--running-mode", **_option("running mode", RUNNING_MODES),
                   help="MediaPipe running mode (default: image)")
    p.set_defaults(func=commands.do_batch)

    p = sub.add_parser("simulate", help="make a video with known twitches from a real face video or photo",
                       description="Inject twitches at known times into real face footage; writes the video and "
                                   "the truth (events.csv, summary.json) in the analysis schema.")
    p.add_argument("source", help="face video or photo")
    p.add_argument("--out", "-o", required=True, help="output folder")
    p.add_argument("--generator", default="hfs", **_option("generator", GENERATORS),
                   help="course of events to generate (default: %(default)s)")
    p.add_argument("--side", default="left", **_option("side", SIDES), help="the patient's side (default: left)")
    p.add_argument("--duration", type=_seconds, default=30.0, help="seconds (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    p.add_argument("--amplitude", type=_positive, default=1.0, help="scale of twitch amplitudes (default: 1)")
    p.add_argument("--fps", type=_positive,
                   help="output frame rate (default: the source video's with --stretch whole, else 30)")
    p.add_argument("--stretch", **_option("stretch", STRETCHES), default="rest",
                   help="of a source video, animate its longest stretch at rest (rest: only the injected "
                        "movements move) or all of it, with its own talking, blinks and head turns (whole); "
                        "either is played forward and back to fill --duration (default: %(default)s)")
    p.add_argument("--name", help="file stem of the video and truth folder (default: e.g. hfs_left, normal)")
    p.add_argument("--no-blinks", action="store_true",
                   help="do not add natural blinks (never added with --stretch whole: the footage has its own)")
    p.set_defaults(func=commands.do_simulate)

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
    p.set_defaults(func=commands.do_serve)

    p = sub.add_parser("review-stats", help="score automatic events against clinician-reviewed ones: precision, "
                                            "recall, F1 per region, onset error, pattern agreement",
                       description="Score the automatic timeline (events.csv) of every reviewed session against its "
                                   "reviewed timeline (events_reviewed.csv), with the matching of the accuracy "
                                   "benchmark: unilateral events, same side and region, onsets within the "
                                   "tolerance, one to one. Folders are searched recursively (a twitchcam serve "
                                   "data folder works as it is).")
    p.add_argument("dirs", nargs="+", metavar="DIR", help="folders holding events.csv and events_reviewed.csv")
    p.add_argument("--tolerance", type=_seconds, metavar="S", help="largest onset difference of a match in seconds "
                                                                "(default: 0.25, as the accuracy benchmark)")
    p.add_argument("--json", metavar="FILE", help="also write the scores as JSON")
    p.set_defaults(func=commands.do_review_stats)

    p = sub.add_parser("review-import", help="import an .eaf edited in ELAN as the review of an analysis",
                       description="Read an ELAN file in the tiers twitchcam exports (events.eaf) and record it as "
                                   "the review of the analysis folder (or twitchcam serve session folder): "
                                   "unchanged events accepted, changed ones corrected, deleted ones rejected, new "
                                   "ones added. Writes review.json, events_reviewed.csv, summary_reviewed.json, "
                                   "and makes the report and exports the folder has again.")
    p.add_argument("session", metavar="SESSION", help="analysis folder (or serve session folder)")
    p.add_argument("eaf", metavar="FILE.eaf", help="the edited ELAN file")
    p.add_argument("--reviewer", help="who edited it (default: the user name of this account)")
    p.set_defaults(func=commands.do_review_import)

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
    p.add_argument("--size", type=_size, metavar="WxH", help="WIDTHxHEIGHT to ask of the camera, e.g. 1280x720")
    p.add_argument("--model", help="Face Landmarker .task bundle (default: bundled; or $TWITCHCAM_MODEL)")
    p.add_argument("--config", help="JSON file of settings, e.g. a previous run's config.json")
    p.add_argument("--running-mode", **_option("running mode", RUNNING_MODES),
                   help="MediaPipe running mode (default: image)")
    p.set_defaults(func=commands.do_live)
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
        print(f"twitchcam: error: {error_line(err)}", file=sys.stderr)
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
