"""Landmarks of one long video extracted on several cores, stitched into one timeline.

The video is cut into time segments, one per worker process. Each worker seeks to its segment, runs the Face
Landmarker there, and sends back its frames' landmarks; they are concatenated in time order into one
:class:`~twitchcam.landmarks.Landmarks` exactly like the one :func:`~twitchcam.landmarker.detect_landmarks` gives
when reading the file from start to end. Signals, events and the pattern are then computed ONCE on the whole
timeline (:func:`twitchcam.pipeline.analyze_landmarks`), so an event across a seam is neither cut nor counted twice.

Each worker reads its segment with :func:`~twitchcam.video.iter_frames_between`, which seeks and keeps frames by
their own timestamps: segment ``k`` owns the frames with ``start[k] <= t < start[k + 1]``, so every frame belongs to
exactly one segment.

Each worker also runs the landmarker on ``warmup_s`` of frames before its segment and discards them, so state
carried from frame to frame (which face is the patient when several are in view; MediaPipe's tracking in
``running_mode="video"``) has settled by the seam. In the default ``"image"`` mode with one face the stitched
landmarks are identical to the sequential ones.

Two kinds of file are read sequentially instead, because their frame times are not the container's timestamps
at the frame's position: a file whose timestamps do not increase (a container glitch that
:func:`~twitchcam.video.iter_frames` repairs from where reading started), and a live recording whose capture times
are in a ``.frames.csv`` sidecar (:func:`~twitchcam.video.read_frame_times`), which are matched by frame index.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import signal
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, wait
from pathlib import Path

import numpy as np

from .config import Config, available_cores
from .landmarker import detect_landmarks
from .landmarks import Landmarks
from .video import TimestampsNotIncreasing, VideoInfo, iter_frames, iter_frames_between, probe_video, read_frame_times

#: Segments shorter than this are not worth a process (start-up costs about a second per worker).
MIN_SEGMENT_S = 20.0
#: Frames analyzed and discarded before each seam, so frame-to-frame state has settled.
WARMUP_S = 1.0


def plan_segments(duration_s: float, n_workers: int, min_segment_s: float = MIN_SEGMENT_S) -> np.ndarray:
    """Cut ``[0, duration_s)`` into equal segments, at most ``n_workers``, none shorter than ``min_segment_s``.

    Parameters
    ----------
    duration_s : float
        The video's length in seconds (an estimate is fine: the last segment reads to the end of the file).
    n_workers : int
        Worker processes available.
    min_segment_s : float
        Shortest segment worth its own process.

    Returns
    -------
    ndarray, shape (n_segments + 1,), float64
        Segment boundaries in seconds: ``0``, the inner seams, and ``inf`` (the last segment is open-ended).
    """
    n = max(1, min(int(n_workers), int(duration_s // max(min_segment_s, 1e-9)) if duration_s > 0 else 1))
    return np.concatenate([np.arange(n) * (duration_s / n), [np.inf]])


def segment_landmarks(path: str, start_s: float, stop_s: float, config: Config | None = None,
                      model: str | Path | None = None, warmup_s: float = WARMUP_S) -> Landmarks:
    """Landmarks of the frames with ``start_s <= t < stop_s`` (what one worker computes).

    Parameters
    ----------
    path : str
        The video file.
    start_s, stop_s : float
        The segment in seconds of presentation time; ``stop_s`` may be ``inf``.
    config : Config | None
        Settings; defaults to ``Config()``.
    model : str | Path | None
        Face Landmarker bundle, see :func:`twitchcam.landmarker.find_model`.
    warmup_s : float
        Seconds of frames before ``start_s`` run through the landmarker and discarded.

    Returns
    -------
    Landmarks
        One row per frame of the segment.
    """
    lm = detect_landmarks(iter_frames_between(path, max(start_s - warmup_s, 0.0), stop_s), config, model,
                          on_frame=_count_frame if _frames_done is not None else None)
    return lm[lm.t >= start_s] if start_s > 0 else lm


# In a segment worker: frames analyzed so far by all workers, shared with the parent for its progress report.
_frames_done = None


def _count_frame(_index: int) -> None:
    with _frames_done.get_lock():
        _frames_done.value += 1


def _exit_when_parent_dies(sentinel: int) -> None:
    multiprocessing.connection.wait([sentinel])
    # The parent is gone: nothing would read this worker's result, and a write to the dead pipe blocks forever.
    os._exit(1)


def start_worker(counter=None, cores: list[int] | None = None) -> None:
    """Process-pool initializer: the worker ends when its parent ends, leaves Ctrl-C to the parent, and with
    ``cores`` is bound to one (:func:`bind_pool_worker`).

    A worker of a parent killed with SIGKILL is re-parented to init and would otherwise finish its video, then block
    forever writing the result to a pipe nobody reads. The parent's sentinel (the pipe end multiprocessing keeps
    open in the parent for the child's whole life, :func:`multiprocessing.parent_process`) becomes readable when
    the parent's process ends, however it ends; a daemon thread waiting on it exits this process. This is chosen
    over ``prctl(PR_SET_PDEATHSIG)``, which fires when the parent *thread* that started the worker ends (a pool
    started from a short-lived thread would lose its workers) and exists on Linux only.

    SIGINT is ignored: Ctrl-C reaches the whole process group, and the parent stops its workers itself
    (:func:`stop_pool`), so a worker's traceback never reaches the terminal.

    Parameters
    ----------
    counter : multiprocessing.Value | None
        Shared count of the workers started, with ``cores``.
    cores : list of int | None
        Cores to bind the workers to, one each (:func:`worker_cores`); None leaves them unbound.
    """
    parent = multiprocessing.parent_process()
    if parent is not None and parent.sentinel is not None:
        threading.Thread(target=_exit_when_parent_dies, args=(parent.sentinel,), name="twitchcam-parent-watch",
                         daemon=True).start()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if cores:
        bind_pool_worker(counter, cores)


def stop_pool(pool: ProcessPoolExecutor) -> None:
    """Kill a pool's worker processes and shut it down, without waiting for the jobs in flight.

    ``shutdown(wait=True)`` would wait for every running video to finish, which is what an interrupted or
    terminated run must not do. The executor has no public way to end its processes; ``_processes`` (pid to
    process, unchanged since Python 3.2) is where it keeps them.
    """
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        if process.is_alive():
            process.kill()
    pool.shutdown(wait=True, cancel_futures=True)


def _init_segment_worker(frames_done, index_counter, cores: list[int] | None) -> None:
    """Process-pool initializer of the segment workers: die with the parent, share the frame counter, bind to a
    core.
    """
    global _frames_done
    start_worker(index_counter, cores)
    _frames_done = frames_done


def worker_cores(n_workers: int) -> list[int] | None:
    """The cores to bind workers to, one each, or None when binding does not apply.

    MediaPipe spreads one video's inference over threads that use up to ~1.8 cores when they are free. With one
    worker process per core those threads compete across processes; with each worker bound to its own core a
    2-core batch was faster in every measured round (5-30% shorter, ~5% less CPU time; ``benchmarks/batch.py``).
    Binding applies on Linux when there is exactly one worker per available core.
    """
    if not hasattr(os, "sched_setaffinity"):
        return None
    cores = sorted(os.sched_getaffinity(0))
    return cores if len(cores) == n_workers else None


def bind_to_core(core: int) -> None:
    """Bind every thread of this process (and so the threads they start later) to one core."""
    for tid in os.listdir("/proc/self/task"):
        try:
            os.sched_setaffinity(int(tid), {core})
        except (ProcessLookupError, PermissionError):  # a thread that just ended
            pass


def bind_pool_worker(counter, cores: list[int]) -> None:
    """Bind the n-th worker started to ``cores[n % len(cores)]``."""
    with counter.get_lock():
        index = counter.value
        counter.value += 1
    bind_to_core(cores[index % len(cores)])


def detect_landmarks_parallel(path: str | Path, n_workers: int | None = None, config: Config | None = None,
                              model: str | Path | None = None, min_segment_s: float = MIN_SEGMENT_S,
                              warmup_s: float = WARMUP_S, bind_cores: bool = True,
                              on_progress: Callable[[int], None] | None = None,
                              info: VideoInfo | None = None) -> Landmarks:
    """Landmarks of every frame of a video, extracted by several worker processes on time segments.

    Parameters
    ----------
    path : str | Path
        The video file.
    n_workers : int | None
        Worker processes; defaults to the number of CPU cores. Fewer are used when the video is shorter than
        ``n_workers * min_segment_s``; one means a plain sequential read in this process.
    config : Config | None
        Settings; defaults to ``Config()``.
    model : str | Path | None
        Face Landmarker bundle, see :func:`twitchcam.landmarker.find_model`.
    min_segment_s : float
        Shortest segment given its own worker, in seconds.
    warmup_s : float
        Seconds analyzed and discarded before each seam (see module docstring).
    bind_cores : bool
        With one worker per available core (Linux), bind each to its own core (see :func:`worker_cores`).
    on_progress : callable | None
        Called in this process, a few times per second, with the number of frames analyzed so far (the seams'
        warm-up frames included, so it may end slightly above the frame count).
    info : VideoInfo | None
        The video's :func:`~twitchcam.video.probe_video`, when the caller has it already.

    Returns
    -------
    Landmarks
        The same rows, in the same order, as ``detect_landmarks(iter_frames(path), config, model)``.

    Raises
    ------
    twitchcam.video.VideoError
        The file is missing, not a video, or has no decodable frame.
    twitchcam.landmarker.ModelError
        The model is missing or corrupt.
    """
    cfg = config or Config()
    info = info or probe_video(path)
    duration_s = info.n_frames_hint / info.fps_nominal if info.n_frames_hint and info.fps_nominal > 0 else 0.0
    bounds = plan_segments(duration_s, n_workers or available_cores(), min_segment_s)
    parts = None
    if len(bounds) > 2 and read_frame_times(path) is None:
        parts = _segments_landmarks(str(path), bounds, cfg, model, warmup_s, bind_cores, on_progress)
    if parts is None:
        on_frame = (lambda i: on_progress(i + 1)) if on_progress is not None else None
        return detect_landmarks(iter_frames(path), cfg, model, on_frame=on_frame)
    return Landmarks.concatenate(parts)


def _segments_landmarks(path: str, bounds: np.ndarray, config: Config, model, warmup_s: float, bind_cores: bool,
                        on_progress: Callable[[int], None] | None) -> list[Landmarks] | None:
    """Landmarks of each segment from its own worker process; None if timestamps after a seek do not increase."""
    model = str(model) if model is not None else None
    n = len(bounds) - 1
    # spawn: MediaPipe and the decoder threads are not fork-safe.
    context = multiprocessing.get_context("spawn")
    frames_done = context.Value("q", 0)
    cores = worker_cores(n) if bind_cores else None
    pool = ProcessPoolExecutor(n, mp_context=context, initializer=_init_segment_worker,
                               initargs=(frames_done, context.Value("i", 0), cores))
    try:
        futures = [pool.submit(segment_landmarks, path, float(a), float(b), config, model, warmup_s)
                   for a, b in zip(bounds[:-1], bounds[1:])]
        pending = set(futures)
        while pending:
            finished, pending = wait(pending, timeout=0.25)
            if on_progress is not None:
                on_progress(frames_done.value)
            for future in finished:
                future.result()  # a worker's error, raised now rather than after the others finish
        return [f.result() for f in futures]
    except TimestampsNotIncreasing:
        return None
    finally:
        # Done, failed or interrupted: the other segments' workers are of no use any more.
        stop_pool(pool)
