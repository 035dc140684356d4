"""Batch analysis of a video archive: every video analyzed once, on every local core or on a Dask cluster.

Layout of the output folder
---------------------------
``batch.csv``
    The manifest (:mod:`twitchcam.manifest`): one row per video, rewritten atomically each time a video finishes,
    so it always tells what is done, what failed and why, and what is still pending.
``cohort.csv``, ``cohort.html``
    One row per video and a one-page summary of the cohort (:mod:`twitchcam.cohort`).
``<stem>_<sha10>/``
    One analysis folder per video, holding exactly what ``twitchcam analyze`` writes
    (:func:`twitchcam.folder.write_analysis`). The name is the video's file name without suffix and the first 10
    hex digits of the sha256 of its content: two videos with the same name in different folders never collide,
    a copy of the same recording is analyzed once, and a re-run finds the folder whatever path the archive is
    given under.

Resuming
--------
A video is skipped when the manifest holds a ``done`` row with the same content sha256 and the same
``config_sha256`` (a digest of the settings and of the model bundle) and its folder still holds ``summary.json``.
Everything else, failures included, is analyzed again. A video in which no face is found in any frame is
``failed`` (its outputs are written all the same, as ``twitchcam analyze`` does).

Where videos run
----------------
Locally, one worker process per core (``spawn``: MediaPipe is not fork-safe); each worker analyzes one video at a
time with :func:`twitchcam.pipeline.analyze`, which builds its detector once per video. MediaPipe itself spreads
one video's inference over threads that use up to ~1.8 cores when they are free, so with one process per core
each worker is bound to its own core (:func:`twitchcam.parallel.worker_cores`) rather than letting every process's
threads compete for every core. When a worker process dies (killed, out of memory, a crash in native code), the pool
is rebuilt and the videos that were in flight are run again one at a time, so a video that kills its worker is
identified and marked failed after :data:`MAX_ATTEMPTS` deaths without taking innocent neighbours with it.

With a Dask scheduler the same per-video task, :func:`analyze_video`, runs on the cluster's workers. The config
travels as a dict, a custom model as bytes (workers otherwise use the model installed with twitchcam, and the
task reports its sha256 so a mismatch is caught), and the rendered output files come back to the client as bytes:
workers need no shared filesystem for outputs. Inputs are read by path, or sent as bytes with ``upload=True``.
A task whose worker dies is rescheduled by the scheduler (``distributed.scheduler.allowed-failures``, 3 by
default), after which it is recorded as failed.
"""

from __future__ import annotations

import glob
import hashlib
import logging
import multiprocessing
import os
import tempfile
import time
import uuid
import warnings
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

from .config import Config, available_cores
from .folder import finish_analysis_folder
from .landmarker import find_model
from .manifest import MANIFEST_NAME, config_digest, hash_file, output_name, read_manifest, write_manifest
from .parallel import bind_to_core, start_worker, stop_pool, worker_cores
from .pipeline import analyze

#: File suffixes taken as videos when a folder is searched.
VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".wmv", ".mts", ".m2ts",
                  ".3gp")
#: Deaths of a worker process while analyzing a video alone after which the video is recorded as failed.
MAX_ATTEMPTS = 2


def find_videos(inputs: Iterable[str | Path]) -> list[Path]:
    """Expand files, folders (searched recursively for :data:`VIDEO_SUFFIXES`) and glob patterns.

    Returns
    -------
    list of Path
        Absolute paths without duplicates, in the order given (folders and globs sorted).

    Raises
    ------
    ValueError
        If an input does not exist or a pattern matches nothing.
    """
    found: dict[Path, None] = {}
    for item in inputs:
        item = str(item)
        path = Path(item).expanduser()
        if path.is_dir():
            matches = sorted(p for p in path.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file())
        elif path.is_file():
            matches = [path]
        elif glob.has_magic(item):
            matches = sorted(Path(p) for p in glob.glob(os.path.expanduser(item), recursive=True)
                             if Path(p).is_file())
            if not matches:
                raise ValueError(f"{item}: matches no file")
        else:
            raise ValueError(f"{item}: no such file or folder")
        for match in matches:
            found.setdefault(match.resolve(), None)
    return list(found)


@dataclass(frozen=True)
class VideoResult:
    """What analyzing one video sends back to the client.

    Parameters
    ----------
    video : str
        The video, as the client named it.
    status : {"done", "failed"}
    pattern, side : str | None
        The classified pattern and affected side; None when the analysis failed before classification.
    error : str
        One line for the user; empty when done.
    files : dict of str to bytes
        The analysis folder's files by name (empty when the analysis failed before writing any).
    model_sha256 : str
        The model bundle the worker used.
    elapsed_s : float
        Wall time of the analysis on the worker, in seconds.
    """

    video: str
    status: str
    pattern: str | None
    side: str | None
    error: str
    files: dict = field(repr=False)
    model_sha256: str
    elapsed_s: float


def _model_file(model: str | bytes | None) -> str | None:
    """A path for ``model``: bytes sent with a task are cached once per machine under a name from their digest."""
    if not isinstance(model, bytes):
        return model
    path = Path(tempfile.gettempdir()) / f"twitchcam-model-{hashlib.sha256(model).hexdigest()[:16]}.task"
    if not path.is_file():
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
        tmp.write_bytes(model)
        os.replace(tmp, path)
    return str(path)


def analyze_video(video: str, config: dict, model: str | bytes | None = None, data: bytes | None = None,
                  workers: int = 1, report: bool = False) -> VideoResult:
    """Analyze one video and render its output files: the task a batch worker runs.

    Parameters
    ----------
    video : str
        Path of the video, as the client sees it. Read from there unless ``data`` is given.
    config : dict
        :meth:`Config.to_dict` of the settings.
    model : str | bytes | None
        Path of a Face Landmarker bundle, its bytes, or None for the installed one.
    data : bytes | None
        The video's content, for workers that cannot see the client's files; written to a temporary file of the
        same name.
    workers : int
        More than one: the video's frames are split in time segments over this many processes
        (:func:`twitchcam.parallel.detect_landmarks_parallel`).
    report : bool
        Also render ``report.html`` (:func:`twitchcam.report.render_report`), as ``twitchcam analyze`` does.

    Returns
    -------
    VideoResult
        Never raises for a bad video: the error is in the result. A worker process dying is not caught.
    """
    start = time.perf_counter()
    model_path = _model_file(model)
    with tempfile.TemporaryDirectory(prefix="twitchcam-") as tmp:
        path = video
        if data is not None:
            path = str(Path(tmp) / "in" / Path(video).name)
            Path(path).parent.mkdir()
            Path(path).write_bytes(data)
        model_sha256 = ""
        try:
            model_sha256 = hash_file(find_model(model_path))
            cfg = Config.from_dict(config)
            analysis = analyze(path, cfg, model_path, workers=workers)
            out = Path(tmp) / "out"
            finish_analysis_folder(analysis, out, report=report)
            files = {p.name: p.read_bytes() for p in sorted(out.iterdir()) if not p.name.startswith(".")}
        except BrokenProcessPool:
            raise
        except Exception as err:  # any failure of one video is recorded with it and must not stop the batch
            message = str(err).replace(path, video) or type(err).__name__
            return VideoResult(video, "failed", None, None, message, {}, model_sha256,
                               time.perf_counter() - start)
    found = bool(analysis.landmarks.face_found.any())
    return VideoResult(video, "done" if found else "failed", analysis.pattern, analysis.side,
                       "" if found else f"{video}: no face found in any frame", files, model_sha256,
                       time.perf_counter() - start)


def _write_files(out_dir: Path, files: dict) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        tmp = out_dir / f".{name}.tmp"
        tmp.write_bytes(content)
        os.replace(tmp, out_dir / name)


@dataclass(frozen=True)
class BatchReport:
    """What a batch run did.

    Parameters
    ----------
    out_dir : Path
        The output folder (holds ``batch.csv``, ``cohort.csv``, ``cohort.html``).
    rows : list of dict
        The manifest rows of this run's videos, in input order.
    skipped : int
        Videos already done with the same content and config.
    retried : int
        Re-runs of videos because a worker process died while they were in flight.
    """

    out_dir: Path
    rows: list
    skipped: int
    retried: int

    @property
    def failed(self) -> list:
        """Rows of the videos that failed."""
        return [r for r in self.rows if r["status"] != "done"]

    @property
    def ok(self) -> bool:
        """Whether every video is done."""
        return not self.failed


@dataclass(frozen=True)
class _Job:
    video: str
    out_name: str


def _bind_dask_worker(cores: list[int], dask_worker=None) -> None:
    """Run on each worker of a local Dask cluster: bind it to the core of its index (workers are named 0..n-1)."""
    bind_to_core(cores[int(dask_worker.name) % len(cores)])


def _run_local(jobs: list[_Job], n_workers: int, config: dict, model: str | None, report: bool, retried: list,
               bind_cores: bool) -> Iterator[VideoResult]:
    """Run jobs on a pool of ``n_workers`` processes, yielding results as they finish.

    At most one job per worker is in flight, so when a worker dies the jobs that were in flight are exactly the
    suspects; they are re-run one at a time (see module docstring). ``retried`` collects the re-run videos.
    """
    pending = deque(jobs)
    isolated: deque = deque()
    deaths: dict[str, int] = {}
    context = multiprocessing.get_context("spawn")
    cores = worker_cores(n_workers) if bind_cores else None
    counter = context.Value("i", 0) if cores else None
    while pending or isolated:
        pool = ProcessPoolExecutor(n_workers, mp_context=context, initializer=start_worker, initargs=(counter, cores))
        running: dict = {}
        try:
            while pending or isolated or running:
                if isolated:
                    if not running:
                        job = isolated.popleft()
                        running[pool.submit(analyze_video, job.video, config, model, report=report)] = job
                else:
                    while pending and len(running) < n_workers:
                        job = pending.popleft()
                        running[pool.submit(analyze_video, job.video, config, model, report=report)] = job
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                broken = []
                for future in done:
                    job = running.pop(future)
                    try:
                        yield future.result()
                    except BrokenProcessPool:
                        broken.append(job)
                if broken:
                    broken += running.values()  # a broken pool fails every job in flight
                    running.clear()
                    if len(broken) == 1:
                        job = broken[0]
                        deaths[job.video] = deaths.get(job.video, 0) + 1
                        if deaths[job.video] >= MAX_ATTEMPTS:
                            yield VideoResult(job.video, "failed", None, None,
                                              f"{job.video}: the worker process died while analyzing it "
                                              f"({deaths[job.video]} times)", {}, "", 0.0)
                            break
                    retried.extend(j.video for j in broken)
                    isolated.extend(broken)
                    break
        finally:
            # Interrupted (or a video's worker died): the workers still analyzing are stopped, not waited for.
            stop_pool(pool)


def _open_client(scheduler: str, n_workers: int, bind_cores: bool):
    import dask
    from distributed import Client, LocalCluster

    if scheduler == "local":
        # Dask's nannies give workers MALLOC_TRIM_THRESHOLD_=65536, which turns off glibc's adaptive mmap threshold:
        # every decoded frame (~0.7 MB at 640x360) is then mapped and unmapped afresh, and an analysis ran 5-20 %
        # slower per video in A/B runs. None unsets it (see docs/batch.md for clusters started by hand).
        with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}):
            cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                                   scheduler_kwargs={"dashboard": False}, silence_logs=logging.ERROR)
        client = Client(cluster, set_as_default=False)
        cores = worker_cores(n_workers) if bind_cores else None
        if cores:
            # Workers restarted after a crash are not bound again: correct, slightly slower.
            client.run(_bind_dask_worker, cores)
        return client, cluster
    if scheduler.endswith(".json") and Path(scheduler).is_file():
        return Client(scheduler_file=scheduler, set_as_default=False), None
    return Client(scheduler, set_as_default=False), None


def _run_dask(jobs: list[_Job], scheduler: str, n_workers: int, config: dict, model: str | None, report: bool,
              upload: bool, bind_cores: bool) -> Iterator[VideoResult]:
    """Run jobs on a Dask cluster, yielding results as they finish.

    Jobs are submitted in a window of twice the cluster's threads, so uploaded videos do not pile up in the
    scheduler's memory and the manifest's ``pending`` rows stay meaningful.
    """
    from distributed import as_completed

    client, cluster = _open_client(scheduler, n_workers, bind_cores)
    try:
        # The model travels inside each task (3.7 MB), not scattered once: scattered data held by a worker that
        # dies can be lost to the cluster, and every task after it would fail for want of it.
        model_bytes = Path(model).read_bytes() if model is not None else None
        queue = deque(jobs)
        by_key: dict = {}
        running = as_completed(loop=client.loop)

        def submit_more():
            window = 2 * max(sum(client.nthreads().values()), 4)
            while queue and running.count() < window:
                job = queue.popleft()
                data = Path(job.video).read_bytes() if upload else None
                with warnings.catch_warnings():
                    # An uploaded video and a custom model are meant to travel inside their task.
                    warnings.filterwarnings("ignore", message=".*Large object.*")
                    future = client.submit(analyze_video, job.video, config, model_bytes, data, report=report,
                                           key=f"twitchcam-{job.out_name}-{uuid.uuid4().hex[:8]}", pure=False)
                by_key[future.key] = job
                running.add(future)

        submit_more()
        for future in running:
            job = by_key.pop(future.key)
            try:
                result = future.result()
            except Exception as err:  # KilledWorker after repeated worker deaths, or a lost connection
                result = VideoResult(job.video, "failed", None, None,
                                     f"{job.video}: {type(err).__name__}: {err}", {}, "", 0.0)
            future.release()
            yield result
            submit_more()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _duration_s(video: str) -> float:
    from .video import probe_video

    try:
        info = probe_video(video)
    except Exception:  # an unreadable video fails later, in its worker, with its own message
        return 0.0
    return info.n_frames_hint / info.fps_nominal if info.fps_nominal > 0 else 0.0


def run_batch(inputs: Iterable[str | Path], out_dir: str | Path, config: Config | None = None,
              model: str | Path | None = None, workers: int | None = None, scheduler: str | None = None,
              upload: bool = False, split_long_s: float | None = None, report: bool = True,
              bind_cores: bool = True, on_result: Callable[[dict], None] | None = None) -> BatchReport:
    """Analyze every video of an archive, resumably; write the manifest and the cohort outputs.

    Parameters
    ----------
    inputs : iterable of str | Path
        Files, folders (searched recursively) and glob patterns.
    out_dir : str | Path
        Output folder (layout in the module docstring).
    config : Config | None
        Settings; defaults to ``Config()``.
    model : str | Path | None
        Face Landmarker bundle; defaults to the installed one.
    workers : int | None
        Local worker processes (default: one per core), or the workers of a ``"local"`` Dask cluster.
    scheduler : str | None
        None runs on local processes; ``"local"`` starts a Dask ``LocalCluster``; otherwise the address of a Dask
        scheduler (``tcp://host:8786``) or the path of its scheduler file (``.json``).
    upload : bool
        Send each video's bytes with its Dask task (workers that cannot read the client's files).
    split_long_s : float | None
        Local runs only: videos at least this long (seconds) are analyzed first, one at a time, with their
        frames split in time segments over all workers.
    report : bool
        Render each video's ``report.html`` on its worker, as ``twitchcam analyze`` does by default. A video done
        without one is analyzed again when a report is asked for.
    bind_cores : bool
        With one local worker per core (process pool or ``"local"`` Dask cluster, Linux), bind each worker to its
        own core (see :func:`worker_cores`). Turn off on a machine other jobs share.
    on_result : callable | None
        Called with the manifest row of each video as it finishes.

    Returns
    -------
    BatchReport

    Raises
    ------
    ValueError
        If an input does not exist, or ``split_long_s`` is combined with a Dask scheduler.
    """
    if split_long_s is not None and scheduler is not None:
        raise ValueError("--split-long runs on local processes only; drop it or --scheduler")
    cfg = config or Config()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    videos = [str(v) for v in find_videos(inputs)]
    model_path = str(find_model(model))
    model_sha256 = hash_file(model_path)
    config_sha256 = config_digest(cfg, model_sha256)
    manifest_path = out / MANIFEST_NAME
    manifest = read_manifest(manifest_path)
    wanted = ("summary.json", "report.html") if report else ("summary.json",)
    finished = [r for r in manifest.values()
                if r["status"] == "done" and all((out / r["out_dir"] / name).is_file() for name in wanted)]
    # Any finished analysis of the same content and settings will do; the video's own row is preferred.
    done_by_content = {(r["sha256"], r["config_sha256"]): r for r in finished}
    done_by_content.update({(r["sha256"], r["config_sha256"], r["video"]): r for r in finished})

    jobs: dict[str, _Job] = {}  # by output folder: identical copies are analyzed once
    copies: dict[str, list[str]] = {}
    skipped = 0
    for video in videos:
        sha = hash_file(video)
        previous = done_by_content.get((sha, config_sha256, video)) or done_by_content.get((sha, config_sha256))
        if previous is not None:
            manifest[video] = {**previous, "video": video}
            skipped += 1
            continue
        name = output_name(video, sha)
        manifest[video] = {"video": video, "sha256": sha, "config_sha256": config_sha256, "status": "pending",
                           "pattern": "", "side": "", "error": "", "out_dir": name, "elapsed_s": ""}
        copies.setdefault(name, []).append(video)
        jobs.setdefault(name, _Job(video, name))
    write_manifest(manifest_path, manifest.values())

    n_workers = workers or available_cores()
    config_dict = cfg.to_dict()
    retried: list[str] = []
    todo = list(jobs.values())
    long_jobs = [j for j in todo if split_long_s is not None and _duration_s(j.video) >= split_long_s]
    short_jobs = [j for j in todo if j not in long_jobs]

    def results() -> Iterator[VideoResult]:
        for job in long_jobs:
            for _attempt in range(MAX_ATTEMPTS):
                try:
                    yield analyze_video(job.video, config_dict, model_path, workers=n_workers, report=report)
                    break
                except BrokenProcessPool:
                    retried.append(job.video)
            else:
                yield VideoResult(job.video, "failed", None, None,
                                  f"{job.video}: a worker process died while analyzing it", {}, "", 0.0)
        if not short_jobs:
            return
        if scheduler is None:
            yield from _run_local(short_jobs, n_workers, config_dict, model_path, report, retried, bind_cores)
        else:
            yield from _run_dask(short_jobs, scheduler, n_workers, config_dict,
                                 model_path if model is not None else None, report, upload, bind_cores)

    # Closed at once when this ends by an exception (Ctrl-C, SIGTERM), so the worker pool stops then, not when the
    # traceback that holds this frame is freed.
    stream = results()
    try:
        for result in stream:
            name = manifest[result.video]["out_dir"]
            status, error = result.status, result.error
            if result.files and result.model_sha256 != model_sha256:
                status, error = "failed", (f"{result.video}: the worker's model (sha256 {result.model_sha256[:12]}) "
                                           f"differs from the client's ({model_sha256[:12]}); install the same "
                                           "twitchcam on every worker")
            elif result.files:
                _write_files(out / name, result.files)
            for video in copies[name]:
                manifest[video].update(status=status, pattern=result.pattern or "", side=result.side or "",
                                       error=error, elapsed_s=f"{result.elapsed_s:.2f}")
            write_manifest(manifest_path, manifest.values())
            if on_result is not None:
                for video in copies[name]:
                    on_result(manifest[video])
    finally:
        stream.close()

    from .cohort import write_cohort

    write_cohort(out, list(manifest.values()))
    return BatchReport(out, [manifest[v] for v in videos], skipped, len(retried))
