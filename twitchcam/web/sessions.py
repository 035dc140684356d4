"""Sessions: one uploaded or recorded video and its analysis, kept as one folder of the data folder.

Layout of the data folder::

    DATA/
      .lock                    held by the running server (one server per data folder)
      .incoming/               uploads being received; emptied at start
      <session id>/
        session.json           label, date, original file name, state, error
        video.<ext>            the video as uploaded (the extension only from a fixed list)
        .results-*.tmp/        an analysis being written; removed at start
        results/               a finished analysis, renamed into place whole; later maybe annotated.webm

A session id is generated (date, time and random hex); nothing a user sends ever becomes part of a path. An
analysis is written into a temporary folder and renamed to ``results/``, so ``results/`` is either absent or
complete: a session is done exactly when ``results/summary.json`` exists, whatever ``session.json`` says. At start
(:meth:`SessionStore.recover`) sessions that were queued or running when the server stopped are queued again.
"""

from __future__ import annotations

import dataclasses
import datetime
import fcntl
import json
import os
import re
import secrets
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path

from ..config import check_option

#: The states of a session. ``running`` is read back as ``queued`` at start; ``annotating`` (a done session
#: getting its annotated video) as ``done``.
STATES = ("queued", "running", "done", "failed", "annotating")

#: Extensions kept for a stored upload (FFmpeg reads the content, not the name); anything else is stored as .video.
VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v", ".webm", ".mkv", ".avi")

#: The media type of each kept extension, for downloads.
VIDEO_MEDIA_TYPES = {".mp4": "video/mp4", ".m4v": "video/mp4", ".mov": "video/quicktime", ".webm": "video/webm",
                     ".mkv": "video/x-matroska", ".avi": "video/x-msvideo", ".video": "application/octet-stream"}

_ID_RE = re.compile(r"^\d{8}-\d{6}-[0-9a-f]{8}$")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
MAX_LABEL_CHARS = 120


class DataFolderBusy(RuntimeError):
    """Another server holds the data folder."""


@dataclass(frozen=True)
class Session:
    """One video and its analysis.

    Parameters
    ----------
    id : str
        Generated, ``YYYYMMDD-HHMMSS-xxxxxxxx``; the folder name.
    label : str
        Patient or session label typed by the user (may be empty); display only.
    created : str
        Local date and time of the upload, ISO 8601 to the second.
    original_name : str
        The uploaded file's name; display only, never a path.
    video : str
        Name of the stored video inside the session folder.
    size_bytes : int
        Size of the stored video.
    frame_size : tuple of int
        ``(width, height)`` of the video in pixels, from the probe at upload.
    state : {"queued", "running", "done", "failed", "annotating"}
    error : str
        Why the analysis (or the annotated video) failed, one line for the user; empty otherwise.
    summary : dict | None
        ``results/summary.json`` once done.
    frames_done, frames_total : int
        Analysis progress in frames while running; ``frames_total`` is the container's estimate, 0 when unknown.
    """

    id: str
    label: str
    created: str
    original_name: str
    video: str
    size_bytes: int
    frame_size: tuple[int, int]
    state: str = "queued"
    error: str = ""
    summary: dict | None = None
    frames_done: int = 0
    frames_total: int = 0

    def __post_init__(self):
        check_option("Session.state", self.state, STATES)

    def record(self) -> dict:
        """What ``session.json`` holds (progress and summary are not stored there)."""
        return {"id": self.id, "label": self.label, "created": self.created, "original_name": self.original_name,
                "video": self.video, "size_bytes": self.size_bytes, "frame_size": list(self.frame_size),
                "state": self.state, "error": self.error}

    def to_dict(self) -> dict:
        """The session as the pages see it: the record, progress, and the summary's headline numbers."""
        doc = self.record()
        doc["progress"] = {"frames_done": self.frames_done, "frames_total": self.frames_total}
        summary = self.summary or {}
        doc["finding"] = summary.get("finding")
        doc["pattern"] = summary.get("pattern")
        doc["side"] = summary.get("side")
        video = summary.get("video") or {}
        doc["duration_s"] = video.get("duration_s")
        # A truncated or damaged file: the result covers only the decoded part (absent before this was measured).
        doc["complete"] = video.get("complete", True) if summary else None
        doc["decoded_fraction"] = video.get("decoded_fraction")
        doc["notes"] = summary.get("notes") or []
        doc["events_per_minute"] = (summary.get("metrics") or {}).get("events_per_minute")
        return doc


def is_session_id(text: str) -> bool:
    """Whether ``text`` has the form of a generated session id (nothing else is ever looked up on disk)."""
    return bool(_ID_RE.match(text))


def clean_label(text: str) -> str:
    """A label as stored: control characters removed, surrounding space stripped, at most 120 characters."""
    return _CONTROL_RE.sub(" ", text).strip()[:MAX_LABEL_CHARS]


def _new_id() -> str:
    return f"{datetime.datetime.now():%Y%m%d-%H%M%S}-{secrets.token_hex(4)}"


def _write_json(path: Path, doc: dict) -> None:
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(doc, fh, indent=2)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


class SessionStore:
    """The data folder, and the sessions in it kept in memory; safe to use from several threads.

    Parameters
    ----------
    root : str | Path
        The data folder; created (owner-only) when missing.
    """

    def __init__(self, root: str | Path):
        self.root = Path(root).expanduser().resolve()
        self.incoming = self.root / ".incoming"
        # Patient data: a folder made here is readable by its owner only.
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        # ... and a folder that was there already (made by hand, or by an older version) is made so.
        os.chmod(self.root, 0o700)
        self.incoming.mkdir(mode=0o700, exist_ok=True)
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()  # the dict of sessions
        self._write_lock = threading.Lock()  # session.json files
        self._lock_file = None

    def acquire(self) -> None:
        """Hold the data folder's lock (until :meth:`release`); a no-op when already held.

        Raises
        ------
        DataFolderBusy
            If another server uses the folder.
        """
        if self._lock_file is not None:
            return
        fh = open(self.root / ".lock", "w")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.close()
            raise DataFolderBusy(f"{self.root}: another twitchcam serve is using this data folder") from None
        self._lock_file = fh

    def release(self) -> None:
        """Let go of the data folder's lock."""
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None

    def recover(self) -> list[str]:
        """Rebuild the sessions from the folder; remove partial uploads and partial analyses.

        Returns
        -------
        list of str
            Ids of the sessions to analyze (queued or interrupted), oldest first.
        """
        for part in self.incoming.iterdir():
            part.unlink()
        pending = []
        sessions = {}
        for folder in sorted(self.root.iterdir()):
            if not (folder.is_dir() and is_session_id(folder.name) and (folder / "session.json").exists()):
                continue
            self.discard_partial(folder.name)
            try:
                record = json.loads((folder / "session.json").read_text(encoding="utf-8"))
                session = Session(id=folder.name, label=record["label"], created=record["created"],
                                  original_name=record["original_name"], video=record["video"],
                                  size_bytes=int(record["size_bytes"]), frame_size=tuple(record["frame_size"]),
                                  state=record["state"], error=record.get("error", ""))
            except (ValueError, KeyError, TypeError):
                continue  # not written by this server; leave the folder alone
            summary = self._read_summary(folder)
            if summary is not None:
                session = dataclasses.replace(session, state="done", error="", summary=summary)
            elif session.state != "failed":
                session = dataclasses.replace(session, state="queued")
                pending.append(session.id)
            if session.record() != record:
                _write_json(folder / "session.json", session.record())
            sessions[session.id] = session
        with self._lock:
            self._sessions = sessions
        return pending

    @staticmethod
    def _read_summary(folder: Path) -> dict | None:
        try:
            return json.loads((folder / "results" / "summary.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def incoming_path(self) -> Path:
        """A fresh file name for an upload being received."""
        return self.incoming / f"{secrets.token_hex(8)}.part"

    def create(self, upload: Path, original_name: str, label: str, frame_size: tuple[int, int]) -> Session:
        """Make a session of a received and probed upload, moving the file into the session's folder.

        Parameters
        ----------
        upload : Path
            The received file (from :meth:`incoming_path`).
        original_name : str
            The name the browser sent; kept for display, its extension kept only if in :data:`VIDEO_SUFFIXES`.
        label : str
            Patient or session label.
        frame_size : tuple of int
            ``(width, height)`` in pixels.
        """
        suffix = Path(original_name).suffix.lower()
        video = "video" + (suffix if suffix in VIDEO_SUFFIXES else ".video")
        while True:
            sid = _new_id()
            folder = self.root / sid
            try:
                folder.mkdir(mode=0o700)
                break
            except FileExistsError:
                continue
        session = Session(id=sid, label=clean_label(label), created=datetime.datetime.now().isoformat("T", "seconds"),
                          original_name=clean_label(Path(original_name.replace("\\", "/")).name) or "video",
                          video=video, size_bytes=upload.stat().st_size, frame_size=frame_size)
        os.replace(upload, folder / video)
        _write_json(folder / "session.json", session.record())
        with self._lock:
            self._sessions[sid] = session
        return session

    def get(self, sid: str) -> Session | None:
        """The session with this id, or None."""
        with self._lock:
            return self._sessions.get(sid)

    def list(self) -> list[Session]:
        """All sessions, newest first."""
        with self._lock:
            return sorted(self._sessions.values(), key=lambda s: s.id, reverse=True)

    def folder(self, sid: str) -> Path:
        """The session's folder."""
        if not is_session_id(sid):
            raise ValueError(f"not a session id: {sid!r}")
        return self.root / sid

    def discard_partial(self, sid: str) -> None:
        """Delete what an interrupted analysis left half-written: results and files are written to temporary
        names first, so these are never mistaken for results.
        """
        folder = self.folder(sid)
        for tmp in folder.glob(".results-*.tmp"):
            shutil.rmtree(tmp, ignore_errors=True)
        for tmp in folder.glob("results/.*.tmp*"):
            tmp.unlink()

    def video_path(self, session: Session) -> Path:
        """The stored video of a session."""
        return self.folder(session.id) / session.video

    def results_dir(self, sid: str) -> Path:
        """The session's finished analysis folder (exists only when done)."""
        return self.folder(sid) / "results"

    def result_files(self, sid: str) -> list[str]:
        """Files of the finished analysis, as paths relative to ``results/`` with ``/``, sorted."""
        out = self.results_dir(sid)
        if not out.is_dir():
            return []
        return sorted(p.relative_to(out).as_posix() for p in out.rglob("*")
                      if p.is_file() and not p.is_symlink() and not p.name.startswith("."))

    def set_state(self, sid: str, state: str, error: str = "") -> Session | None:
        """Change a session's state (and store it); ``done`` reads the summary. None if the session is gone."""
        # Disk work happens outside the lock that readers of the session list take, so the pages never wait on it.
        with self._write_lock:
            summary = self._read_summary(self.folder(sid)) if state in ("done", "annotating") else None
            if state in ("done", "annotating") and summary is None:
                state, error = "failed", "the analysis finished without a summary"
            with self._lock:
                session = self._sessions.get(sid)
            if session is None:
                return None
            # The frame count estimated at upload stays while running, so progress has a total from the start.
            session = dataclasses.replace(session, state=state, error=error, summary=summary, frames_done=0,
                                          frames_total=session.frames_total if state != "done" else 0)
            _write_json(self.folder(sid) / "session.json", session.record())
            with self._lock:
                if sid not in self._sessions:
                    return None
                self._sessions[sid] = session
            return session

    def set_progress(self, sid: str, frames_done: int, frames_total: int) -> None:
        """Record analysis progress (in memory only)."""
        with self._lock:
            session = self._sessions.get(sid)
            if session is not None:
                self._sessions[sid] = dataclasses.replace(session, frames_done=frames_done,
                                                          frames_total=frames_total)

    def delete(self, sid: str) -> bool:
        """Remove a session and every file of it. Returns False if there was no such session."""
        with self._lock:
            if self._sessions.pop(sid, None) is None:
                return False
        shutil.rmtree(self.folder(sid), ignore_errors=True)
        return True
