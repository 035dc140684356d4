"""The analysis queue: worker processes that run :func:`twitchcam.pipeline.analyze` on uploaded videos, and a
prober process that checks an upload is a video before it is accepted.

Untrusted video is decoded only in child processes, never in the server's own process: a file that crashes the
decoder fails its session (or its upload) and the server keeps answering. Each worker is a long-lived process
(so MediaPipe and OpenCV are imported once), run at a lower priority than the server so the pages stay responsive
while every core analyzes, and ends itself when the server's process goes away.

An analysis is written into ``<session>/.results-*.tmp/`` and renamed to ``<session>/results/`` whole (see
:mod:`twitchcam.web.sessions`), so a crash at any point leaves either no results or complete ones.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import multiprocessing
import os
import queue
import shutil
import signal
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from ..config import available_cores
from .sessions import SessionStore

logger = logging.getLogger(__name__)

#: How much lower than the server the workers run (``nice`` increment).
WORKER_NICENESS = 10

#: Seconds between progress messages from a worker.
PROGRESS_INTERVAL_S = 0.25

#: Seconds a probe may take before the file is declared unreadable.
PROBE_TIMEOUT_S = 30.0

_CTX = multiprocessing.get_context("spawn")


class ProbeError(RuntimeError):
    """An upload is not a readable video; the message is one line for the user."""


@dataclass(frozen=True)
class ProbeResult:
    """What the prober learned of an upload.

    Parameters
    ----------
    width, height : int
        Size of the first decoded frame in pixels, after rotation.
    n_frames_hint : int
        The container's frame count estimate; 0 when unknown.
    """

    width: int
    height: int
    n_frames_hint: int


def _exit_with_parent(parent_pid: int) -> None:
    """End this process soon after the server's process is gone (a killed server must not leave writers)."""
    while True:
        if os.getppid() != parent_pid:
            os._exit(1)
        time.sleep(0.5)


def _child_setup(parent_pid: int) -> None:
    # Ctrl-C in the terminal goes to the whole process group; the server stops its children itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with_parent, args=(parent_pid,), daemon=True).start()


def _user_message(err: Exception, video: Path) -> str:
    """A VideoError/ModelError message without the server's folder names."""
    return str(err).replace(str(video), video.name)


def write_extras(out_dir: Path, video: Path) -> None:
    """Write the timeline exports (BIDS events, WebVTT, ELAN) and ``report.html`` into an analysis folder.

    The analysis itself is complete before this runs and the session page falls back to its own summary view
    without a report, so a failure here is logged, not raised.
    """
    from ..exports import FORMATS
    from ..folder import finish_analysis_folder

    finish_analysis_folder(None, out_dir, video=video, exports=FORMATS, raise_extras=False)


def run_analysis(video: Path, session_dir: Path, progress=None, source_name: str | None = None) -> Path:
    """Analyze a session's video and put the complete results into ``session_dir/results``.

    Parameters
    ----------
    video : Path
        The stored video.
    session_dir : Path
        The session's folder.
    progress : callable | None
        Called as ``progress(done_frames, total_frames_hint)``.
    source_name : str | None
        The file name the user knows the video by (the upload's name), written as the source in ``summary.json``
        and the report instead of the stored file's name.

    Returns
    -------
    Path
        The results folder.
    """
    from ..folder import finish_analysis_folder
    from ..pipeline import analyze

    analysis = analyze(video, progress=progress or False)
    if source_name:
        analysis = dataclasses.replace(analysis, source=source_name)
    final = session_dir / "results"
    tmp = Path(tempfile.mkdtemp(prefix=".results-", suffix=".tmp", dir=session_dir))
    try:
        # Kept so that an annotated video, asked for later, needs no second landmark pass.
        analysis.landmarks.save(tmp / "landmarks.npz")
        from ..exports import FORMATS

        finish_analysis_folder(analysis, tmp, video=video, exports=FORMATS, raise_extras=False)
        os.rename(tmp, final)
    except OSError:
        if not (final / "summary.json").exists():
            raise
        # Another run of this session finished first (a restart re-queued it); its results are complete.
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def run_annotation(video: Path, results_dir: Path, progress=None) -> Path:
    """Write ``annotated.webm`` into a finished analysis folder and render its report again to show it.

    Parameters
    ----------
    video : Path
        The stored video.
    results_dir : Path
        The session's ``results/`` folder.
    progress : callable | None
        Called as ``progress(done_frames, total_frames_hint)``.

    Returns
    -------
    Path
        The annotated video (written under a temporary name and renamed, by
        :func:`twitchcam.annotate.annotate_video`).
    """
    from ..annotate import annotate_video
    from ..folder import finish_analysis_folder

    path = annotate_video(video, results_dir, progress=progress)
    finish_analysis_folder(None, results_dir, raise_extras=False)
    return path


def _worker_main(conn, parent_pid: int) -> None:
    """Worker process: run each ``(kind, video, session_dir, source_name)`` received (kind ``analyze`` or
    ``annotate``), answering progress, done or failed.
    """
    _child_setup(parent_pid)
    os.nice(WORKER_NICENESS)
    # Import what every analysis needs now, while idle, rather than during the first job.
    from .. import folder, pipeline  # noqa: F401
    from ..landmarker import ModelError
    from ..video import VideoError
    with contextlib.suppress(ImportError):
        from .. import annotate, exports, report  # noqa: F401

    while True:
        try:
            job = conn.recv()
        except EOFError:
            return
        if job is None:
            return
        kind, video, session_dir, source_name = job[0], Path(job[1]), Path(job[2]), job[3]
        last = [0.0]

        def progress(done: int, total: int, last: list = last) -> None:
            now = time.monotonic()
            if now - last[0] >= PROGRESS_INTERVAL_S:
                last[0] = now
                conn.send(("progress", done, total))

        try:
            if kind == "annotate":
                run_annotation(video, session_dir / "results", progress)
            else:
                run_analysis(video, session_dir, progress, source_name)
            conn.send(("done", ""))
        except (VideoError, ModelError) as err:
            conn.send(("failed", _user_message(err, video)))
        except Exception:
            traceback.print_exc()
            conn.send(("failed", "the analysis stopped with an internal error (details in the server's console)"))


def _probe_main(conn, parent_pid: int) -> None:
    """Prober process: answer each path received with a :class:`ProbeResult` or a :class:`ProbeError`."""
    _child_setup(parent_pid)
    from ..video import VideoError, probe_video

    while True:
        try:
            path = conn.recv()
        except EOFError:
            return
        if path is None:
            return
        try:
            info = probe_video(path)
            conn.send(ProbeResult(info.width, info.height, info.n_frames_hint))
        except VideoError:
            conn.send(ProbeError("it is not a video that can be read (no decodable video frame)"))


class _Child:
    """One long-lived child process and the pipe to it, restarted after it dies."""

    def __init__(self, target):
        self.target = target
        self.process = None
        self.conn = None

    def ensure(self) -> None:
        if self.process is not None and self.process.is_alive():
            return
        self.stop()
        parent, child = _CTX.Pipe()
        process = _CTX.Process(target=self.target, args=(child, os.getpid()), daemon=True,
                               name="twitchcam-" + self.target.__name__.strip("_"))
        process.start()
        child.close()
        # Published once started: another thread's cancel() kills what it finds here, and a process not yet
        # started cannot be killed.
        self.process, self.conn = process, parent

    def receive(self, timeout_s: float | None = None):
        """The next message, or None when the child died, was stopped (or ``timeout_s`` passed)."""
        # The pipe and process this wait began with: AnalysisQueue.close may stop the child from another thread
        # meanwhile, which closes them and sets the attributes to None.
        conn, process = self.conn, self.process
        if conn is None or process is None:
            return None
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            try:
                if conn.poll(0.2):
                    return conn.recv()
            except (EOFError, OSError):
                return None
            if not process.is_alive() or (deadline is not None and time.monotonic() > deadline):
                return None

    def stop(self) -> None:
        if self.process is not None:
            if self.process.is_alive():
                self.process.kill()
            self.process.join(5)
        if self.conn is not None:
            self.conn.close()
        self.process = self.conn = None


class Prober:
    """Checks uploads in a child process, one at a time; thread-safe."""

    def __init__(self):
        self._child = _Child(_probe_main)
        self._lock = threading.Lock()

    def probe(self, path: Path) -> ProbeResult:
        """Decode the first frame of ``path``.

        Raises
        ------
        ProbeError
            If it is not a readable video, or decoding crashed or hung.
        """
        with self._lock:
            self._child.ensure()
            self._child.conn.send(str(path))
            answer = self._child.receive(PROBE_TIMEOUT_S)
            if answer is None:
                self._child.stop()
                raise ProbeError("it is not a video that can be read (decoding failed)")
        if isinstance(answer, ProbeError):
            raise answer
        return answer

    def close(self) -> None:
        """Stop the child process."""
        with self._lock:
            self._child.stop()


class AnalysisQueue:
    """Sessions waiting for analysis, and the worker processes working through them.

    Parameters
    ----------
    store : SessionStore
        Where sessions live; the queue updates their state and progress.
    n_workers : int | None
        Worker processes; one per core by default.
    """

    def __init__(self, store: SessionStore, n_workers: int | None = None):
        self.store = store
        self.n_workers = max(1, n_workers or available_cores())
        self._jobs: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        self._running: dict[str, _Child] = {}
        self._cancelled: set[str] = set()
        self._threads: list[threading.Thread] = []
        self._children: list[_Child] = []
        self._closing = False

    def start(self, warm: bool = True) -> None:
        """Start the worker threads.

        Parameters
        ----------
        warm : bool
            Start the worker processes now (they import MediaPipe and OpenCV while idle); otherwise each starts
            at its first job.
        """
        for i in range(self.n_workers):
            child = _Child(_worker_main)
            if warm:
                child.ensure()
            thread = threading.Thread(target=self._work, args=(child,), name=f"twitchcam-slot-{i}", daemon=True)
            self._children.append(child)
            self._threads.append(thread)
            thread.start()

    def submit(self, sid: str, kind: str = "analyze") -> None:
        """Queue a session for analysis (a ``queued`` session), or for its annotated video (``annotating``)."""
        with self._lock:
            self._cancelled.discard(sid)
        self._jobs.put((sid, kind))

    def cancel(self, sid: str) -> None:
        """Drop a session from the queue, stopping its analysis if running; returns once nothing writes to it."""
        with self._lock:
            self._cancelled.add(sid)
            child = self._running.get(sid)
        if child is None:
            return
        # The slot may not have started its worker process yet: _run sees the cancellation once it has.
        process = child.process
        if process is not None:
            process.kill()
        while True:
            with self._lock:
                if sid not in self._running:
                    return
            time.sleep(0.05)

    def close(self) -> None:
        """Stop every worker. Sessions being analyzed stay queued on disk and are analyzed again at next start."""
        with self._lock:
            self._closing = True
        for _ in self._threads:
            self._jobs.put(None)
        for child in self._children:
            process = child.process
            if process is not None and process.is_alive():
                process.kill()
        for thread in self._threads:
            thread.join(10)
        for child in self._children:
            child.stop()

    def _work(self, child: _Child) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            sid, kind = job
            with self._lock:
                # Once closing, no job starts: it would start a worker process again after close() killed them.
                if self._closing or sid in self._cancelled:
                    continue
                session = self.store.get(sid)
                if session is None or session.state != {"analyze": "queued", "annotate": "annotating"}[kind]:
                    continue
                self._running[sid] = child
            try:
                self._run(child, session, kind)
            finally:
                with self._lock:
                    self._running.pop(sid, None)

    def _run(self, child: _Child, session, kind: str) -> None:
        store = self.store
        # After an annotation, success or not, the analysis itself is still done.
        on_failure = "failed" if kind == "analyze" else "done"
        if kind == "analyze":
            store.set_state(session.id, "running")
        child.ensure()
        with self._lock:
            # Cancelled while the worker process started: cancel() may have found no process to stop.
            if session.id in self._cancelled:
                return
        try:
            child.conn.send((kind, str(store.video_path(session)), str(store.folder(session.id)),
                             session.original_name))
        except OSError:
            pass  # stopped meanwhile (cancel, close): the wait below sees it and tells the two apart
        while True:
            message = child.receive()
            if message is None:
                process = child.process
                exitcode = process.exitcode if process is not None else None
                child.stop()
                with self._lock:
                    interrupted = session.id in self._cancelled or self._closing
                if not interrupted:
                    logger.error("worker for session %s died (exit code %s)", session.id, exitcode)
                    store.discard_partial(session.id)
                    task = "the analysis" if kind == "analyze" else "making the annotated video"
                    store.set_state(session.id, on_failure, f"{task} stopped unexpectedly")
                return
            if message[0] == "progress":
                store.set_progress(session.id, message[1], message[2])
            elif message[0] == "done":
                store.set_state(session.id, "done")
                return
            else:
                store.set_state(session.id, on_failure, message[1])
                return
