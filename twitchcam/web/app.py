"""The web app of ``twitchcam serve``: pages, JSON API, safety rules, and :func:`serve` to run it.

Pages: ``/`` (sessions and the drop zone), ``/sessions/<id>`` (progress, then the report and downloads),
``/record`` (record with the browser's camera). JSON API: ``GET /api/sessions``, ``GET /api/sessions/<id>``,
``POST /api/upload?name=&label=`` (the request body is the file itself, or a ``multipart/form-data`` form with one
file part and an optional ``label`` field, :mod:`twitchcam.web.multipart`), ``DELETE /api/sessions/<id>``,
``POST /api/sessions/<id>/retry`` (a failed analysis), ``POST /api/sessions/<id>/annotate`` (make the annotated
video of a done session). Result files: ``/sessions/<id>/results/<name>``; the video: ``/sessions/<id>/video``.
The review page ``/sessions/<id>/review`` and its API are in :mod:`twitchcam.web.review`.

Safety rules
------------
- Every request carries this server's random token, as Jupyter's server asks (:mod:`twitchcam.web.guard`,
  which also adds the security headers to every response): :func:`serve` prints a login
  address with it (``/?token=...``), which answers with an ``HttpOnly; SameSite=Strict`` cookie holding the token
  and a redirect to the same page without it. Without the cookie (or the ``X-Twitchcam-Token`` header, for
  scripts) nothing is answered but a 403 page: another account on the same computer, or a page of another site
  open in the browser, can neither list, read, download nor delete a session.
- Every request that changes something (any method but GET/HEAD) also carries the token in the
  ``X-Twitchcam-Token`` header; the pages read it from a ``<meta>`` tag, which another site cannot read.
- The data folder is readable by its owner only (mode 0700, :class:`twitchcam.web.sessions.SessionStore`).
- Only the ``Host`` names the server listens on are answered (no DNS rebinding).
- Session ids are generated; the only paths served are the ones this app lists. Uploaded names are display text.
- Nothing uploaded is served inline: downloads are ``Content-Disposition: attachment`` with a fixed media type and
  ``X-Content-Type-Options: nosniff``. The report (generated, not uploaded) is shown in a sandboxed frame under a
  CSP that forbids scripts. Pages run only this package's scripts (``script-src 'self'``, no inline script).
- Errors are one sentence; stack traces go to the server's console only.
"""

from __future__ import annotations

import contextlib
import csv
import importlib.util
import ipaddress
import logging
import secrets
import socket
import sys
from pathlib import Path

import anyio
import jinja2
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from .. import __version__
from ..config import available_cores
from ..vocabulary import PATTERN_LABELS
from .guard import DOWNLOAD_CSP, REPORT_CSP, TOKEN_PARAM, TokenGuard
from .multipart import MultipartError, MultipartFile, boundary_of
from .review import review_routes
from .sessions import VIDEO_MEDIA_TYPES, SessionStore, is_session_id
from .workers import AnalysisQueue, ProbeError, Prober

logger = logging.getLogger(__name__)

#: Default data folder.
DEFAULT_DATA_DIR = Path("~/twitchcam-data")
DEFAULT_PORT = 8765
DEFAULT_MAX_UPLOAD_MB = 4096

#: An upload whose frame's shorter side is below this cannot show a measurable face.
MIN_FRAME_SIDE_PX = 120

#: Received bytes are written to disk in pieces of this size, off the event loop.
WRITE_CHUNK_BYTES = 1 << 20

RESULT_MEDIA_TYPES = {".csv": "text/csv; charset=utf-8", ".json": "application/json",
                      ".tsv": "text/tab-separated-values; charset=utf-8", ".vtt": "text/vtt; charset=utf-8",
                      ".eaf": "application/xml", ".html": "text/html; charset=utf-8",
                      ".txt": "text/plain; charset=utf-8", ".png": "image/png", ".pdf": "application/pdf",
                      ".webm": "video/webm", ".mp4": "video/mp4", ".avi": "video/x-msvideo"}

#: What the session page calls each known result file.
RESULT_TITLES = {
    "events.csv": "Timeline of events (CSV)",
    "summary.json": "Summary: pattern, criteria, metrics (JSON)",
    "report.html": "Report (HTML, to print or file)",
    "signals.csv": "Per-frame signals (CSV)",
    "config.json": "Analysis settings (JSON)",
    "annotated.webm": "Annotated video (WebM)",
    "events.tsv": "Timeline for BIDS (TSV)",
    "events.json": "BIDS sidecar (JSON)",
    "events.vtt": "Captions for video players (WebVTT)",
    "events.eaf": "Timeline for ELAN (EAF)",
    "landmarks.npz": "Face landmarks per frame (NumPy)",
    "events_reviewed.csv": "Timeline as reviewed by the clinician (CSV)",
    "summary_reviewed.json": "Summary of the reviewed timeline (JSON)",
    "review.json": "Review record: every decision, who and when (JSON)",
}

#: Result files offered as buttons; the others are listed under "Other formats".
PRIMARY_RESULTS = ("events.csv", "summary.json", "report.html", "annotated.webm")


_STATIC = Path(__file__).parent / "static"


def _templates() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("twitchcam.web", "templates"), autoescape=True,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters["pattern_title"] = lambda p: PATTERN_LABELS.get(p, p or "")
    # app.js reads the same words from the page rather than keeping its own copy.
    env.globals["pattern_labels"] = PATTERN_LABELS
    return env


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _error(request: Request, status: int, message: str) -> Response:
    if _wants_json(request):
        return JSONResponse({"error": message}, status)
    html = request.app.state.templates.get_template("error.html").render(
        message=message, status=status, token=request.app.state.token, version=__version__)
    return HTMLResponse(html, status)


async def _http_error(request: Request, exc: HTTPException) -> Response:
    message = {404: "There is no such page or session (it may have been deleted).",
               405: "This address does not accept that request."}.get(exc.status_code, str(exc.detail))
    return _error(request, exc.status_code, message)


async def _server_error(request: Request, exc: Exception) -> Response:
    logger.error("error answering %s %s", request.method, request.url.path, exc_info=exc)
    return _error(request, 500, "Something went wrong on the server; the details are in its console.")


def _session_or_404(request: Request):
    sid = request.path_params["sid"]
    session = request.app.state.store.get(sid) if is_session_id(sid) else None
    if session is None:
        raise HTTPException(404)
    return session


def _page(request: Request, name: str, **context) -> HTMLResponse:
    state = request.app.state
    html = state.templates.get_template(name).render(token=state.token, version=__version__,
                                                     max_upload_mb=state.max_upload_bytes // (1 << 20), **context)
    return HTMLResponse(html)


#: The pages' assets, read once: answered from memory, they never wait for a disk or a thread.
STATIC_MEDIA_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
                      ".svg": "image/svg+xml"}
_STATIC_FILES = {p.name: (p.read_bytes(), STATIC_MEDIA_TYPES[p.suffix]) for p in _STATIC.iterdir()
                 if p.suffix in STATIC_MEDIA_TYPES}


async def static_file(request: Request) -> Response:
    found = _STATIC_FILES.get(request.path_params["name"])
    if found is None:
        raise HTTPException(404)
    return Response(found[0], media_type=found[1])


async def index(request: Request) -> Response:
    return _page(request, "index.html", page="index")


async def record_page(request: Request) -> Response:
    return _page(request, "record.html", page="record")


def _read_events(path: Path, limit: int) -> tuple[list[dict], int]:
    """Up to ``limit`` rows of an events.csv, and how many rows it has."""
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
    except OSError:
        return [], 0
    return rows[:limit], len(rows)


def session_page(request: Request) -> Response:
    session = _session_or_404(request)
    store = request.app.state.store
    files = []
    events, n_events = [], 0
    if session.state in ("done", "annotating"):
        out = store.results_dir(session.id)
        for name in store.result_files(session.id):
            files.append({"name": name, "title": RESULT_TITLES.get(name, name), "size": (out / name).stat().st_size,
                          "primary": name in PRIMARY_RESULTS})
        files.sort(key=lambda f: (list(RESULT_TITLES).index(f["name"]) if f["name"] in RESULT_TITLES else 99,
                                  f["name"]))
        events, n_events = _read_events(out / "events.csv", 200)
    return _page(request, "session.html", page="session", s=session.to_dict(), files=files,
                 has_report=any(f["name"] == "report.html" for f in files),
                 has_annotated=any(f["name"] == "annotated.webm" for f in files), can_annotate=_can_annotate(),
                 events=events, n_events=n_events)


def result_file(request: Request) -> Response:
    session = _session_or_404(request)
    store = request.app.state.store
    name = request.path_params["name"]
    if name not in store.result_files(session.id):
        raise HTTPException(404)
    path = store.results_dir(session.id) / name
    suffix = Path(name).suffix.lower()
    if name == "report.html" and "download" not in request.query_params:
        return FileResponse(path, media_type=RESULT_MEDIA_TYPES[".html"], content_disposition_type="inline",
                            headers={"content-security-policy": REPORT_CSP})
    return FileResponse(path, media_type=RESULT_MEDIA_TYPES.get(suffix, "application/octet-stream"),
                        filename=f"twitchcam_{session.id}_{Path(name).name}",
                        headers={"content-security-policy": DOWNLOAD_CSP})


def video_file(request: Request) -> Response:
    session = _session_or_404(request)
    path = request.app.state.store.video_path(session)
    suffix = Path(session.video).suffix
    return FileResponse(path, media_type=VIDEO_MEDIA_TYPES.get(suffix, "application/octet-stream"),
                        filename=f"twitchcam_{session.id}_{session.video}",
                        headers={"content-security-policy": DOWNLOAD_CSP})


async def api_sessions(request: Request) -> Response:
    return JSONResponse({"sessions": [s.to_dict() for s in request.app.state.store.list()]})


async def api_session(request: Request) -> Response:
    return JSONResponse(_session_or_404(request).to_dict())


async def api_delete(request: Request) -> Response:
    session = _session_or_404(request)
    state = request.app.state
    await anyio.to_thread.run_sync(state.queue.cancel, session.id)
    await anyio.to_thread.run_sync(state.store.delete, session.id)
    return Response(status_code=204)


def api_retry(request: Request) -> Response:
    session = _session_or_404(request)
    if session.state != "failed":
        return _error(request, 409, "Only a failed analysis can be retried.")
    request.app.state.store.set_state(session.id, "queued")
    request.app.state.queue.submit(session.id)
    return JSONResponse(request.app.state.store.get(session.id).to_dict(), 202)


def _can_annotate() -> bool:
    return importlib.util.find_spec("twitchcam.annotate") is not None


def api_annotate(request: Request) -> Response:
    session = _session_or_404(request)
    state = request.app.state
    if not _can_annotate():
        return _error(request, 409, "Annotated videos are not available in this installation.")
    if session.state != "done":
        return _error(request, 409, "The annotated video can be made once the analysis is done.")
    if "annotated.webm" in state.store.result_files(session.id):
        return _error(request, 409, "This session already has its annotated video.")
    state.store.set_state(session.id, "annotating")
    state.queue.submit(session.id, "annotate")
    return JSONResponse(state.store.get(session.id).to_dict(), 202)


async def api_upload(request: Request) -> Response:
    state = request.app.state
    store, limit = state.store, state.max_upload_bytes
    name = request.query_params.get("name", "")[:255]
    label = request.query_params.get("label", "")
    shown = Path((name or "video").replace("\\", "/")).name[:80]
    too_large = f"“{shown}” is larger than this server's limit of {limit // (1 << 20)} MB."
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return _error(request, 413, too_large)
    # The body is the file itself, or a form upload (curl -F) whose file part alone is kept, never its framing.
    try:
        boundary = boundary_of(request.headers.get("content-type", ""))
    except MultipartError as err:
        return _error(request, 400, f"The upload was not accepted: {err}.")
    form = MultipartFile(boundary) if boundary else None
    part = store.incoming_path()
    size = 0
    try:
        with open(part, "wb") as fh:
            pending = bytearray()
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    return _error(request, 413, too_large)
                pending += form.feed(chunk) if form is not None else chunk
                if len(pending) >= WRITE_CHUNK_BYTES:
                    await anyio.to_thread.run_sync(fh.write, pending)
                    pending = bytearray()
            await anyio.to_thread.run_sync(fh.write, pending)
        if form is not None:
            form.close()
            name = name or form.filename[:255]
            label = label or form.fields.get("label", "")
            shown = Path(name.replace("\\", "/")).name[:80]
        name = name or "video"
        if part.stat().st_size == 0:
            return _error(request, 400, f"“{shown}” is empty.")
        try:
            info = await anyio.to_thread.run_sync(state.prober.probe, part)
        except ProbeError as err:
            return _error(request, 422, f"“{shown}” was not accepted: {err}.")
        if min(info.width, info.height) < MIN_FRAME_SIDE_PX:
            return _error(request, 422, f"“{shown}” was not accepted: its picture is {info.width}×{info.height} "
                                        f"pixels, too small to show a face (at least {MIN_FRAME_SIDE_PX} "
                                        "pixels on the shorter side are needed).")
        session = await anyio.to_thread.run_sync(store.create, part, name, label, (info.width, info.height))
    except MultipartError as err:
        return _error(request, 400, f"“{shown}” was not accepted: {err}.")
    except ClientDisconnect:
        return Response(status_code=400)
    finally:
        part.unlink(missing_ok=True)
    store.set_progress(session.id, 0, info.n_frames_hint)
    state.queue.submit(session.id)
    return JSONResponse(store.get(session.id).to_dict(), 201)


def create_app(data_dir: str | Path = DEFAULT_DATA_DIR, workers: int | None = None,
               max_upload_mb: int = DEFAULT_MAX_UPLOAD_MB, allowed_hosts: tuple[str, ...] | None = None,
               token: str | None = None, warm_workers: bool = True) -> Starlette:
    """Build the web app.

    Parameters
    ----------
    data_dir : str | Path
        The data folder (see :mod:`twitchcam.web.sessions`); created when missing.
    workers : int | None
        Analysis worker processes; one per core by default.
    max_upload_mb : int
        Largest accepted upload in MiB.
    allowed_hosts : tuple of str | None
        ``Host`` header values answered (without port); by default ``127.0.0.1`` and ``localhost``.
    token : str | None
        The per-server token; random by default.
    warm_workers : bool
        Start the worker processes with the app rather than at the first analysis.

    Returns
    -------
    Starlette
        The app; its lifespan takes the data folder's lock, rebuilds the sessions, re-queues interrupted ones, and
        on shutdown stops the workers.
    """
    store = SessionStore(data_dir)
    token = token or secrets.token_urlsafe(32)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        store.acquire()
        queue = AnalysisQueue(store, workers)
        app.state.queue = queue
        app.state.prober = Prober()
        try:
            pending = store.recover()
            queue.start(warm_workers)
            for sid in pending:
                queue.submit(sid)
            yield
        finally:
            queue.close()
            app.state.prober.close()
            store.release()

    hosts = list(allowed_hosts or ("127.0.0.1", "localhost"))
    app = Starlette(
        routes=[
            Route("/", index),
            Route("/record", record_page),
            Route("/sessions/{sid}", session_page),
            Route("/sessions/{sid}/video", video_file),
            Route("/sessions/{sid}/results/{name:path}", result_file),
            Route("/api/sessions", api_sessions),
            Route("/api/sessions/{sid}", api_session),
            Route("/api/sessions/{sid}", api_delete, methods=["DELETE"]),
            Route("/api/sessions/{sid}/retry", api_retry, methods=["POST"]),
            Route("/api/sessions/{sid}/annotate", api_annotate, methods=["POST"]),
            Route("/api/upload", api_upload, methods=["POST"]),
            Route("/static/{name}", static_file),
            # The clinician's review of a session: its own module (page, API, background report rewrite).
            *review_routes(),
        ],
        middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=hosts, www_redirect=False),
                    Middleware(TokenGuard, token=token)],
        exception_handlers={HTTPException: _http_error, Exception: _server_error},
        lifespan=lifespan,
    )
    app.state.store = store
    app.state.token = token
    app.state.templates = _templates()
    app.state.max_upload_bytes = int(max_upload_mb) << 20
    return app


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine only (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def serve(data_dir: str | Path = DEFAULT_DATA_DIR, host: str = "127.0.0.1", port: int = DEFAULT_PORT,
          workers: int | None = None, max_upload_mb: int = DEFAULT_MAX_UPLOAD_MB, allow_network: bool = False,
          open_browser: bool = False) -> None:
    """Run the web app until interrupted.

    Parameters
    ----------
    data_dir : str | Path
        The data folder.
    host : str
        Address to listen on; anything but loopback needs ``allow_network``.
    port : int
        TCP port; 0 picks a free one.
    workers : int | None
        Analysis worker processes; one per core by default.
    max_upload_mb : int
        Largest accepted upload in MiB.
    allow_network : bool
        Confirms listening on a non-loopback address (other machines can then reach patient videos).
    open_browser : bool
        Open the page in the default browser once listening.

    Raises
    ------
    ValueError
        A non-loopback ``host`` without ``allow_network``.
    OSError
        The port cannot be bound.
    twitchcam.web.sessions.DataFolderBusy
        Another server uses the data folder.
    """
    import uvicorn

    if not is_loopback(host) and not allow_network:
        raise ValueError(f"--host {host} would let other machines reach patient videos; add --allow-network to "
                         "confirm, or leave --host out to stay on 127.0.0.1")
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as err:
        sock.close()
        raise OSError(f"cannot listen on {host}:{port} ({err.strerror}); is another server running? "
                      "Choose another --port") from None
    sock.listen(128)
    port = sock.getsockname()[1]
    hosts = None
    if not is_loopback(host):
        print(f"twitchcam: WARNING: listening on {host}:{port}: other machines can reach this server. Its token "
              "is the only protection of patient videos, and it travels unencrypted (plain HTTP).", file=sys.stderr)
        hosts = ("*",)
    app = create_app(data_dir, workers=workers, max_upload_mb=max_upload_mb, allowed_hosts=hosts)
    app.state.store.acquire()
    display_host = "127.0.0.1" if is_loopback(host) or host in ("0.0.0.0", "::") else host
    display_host = f"[{display_host}]" if ":" in display_host else display_host
    # The login address: the token is this server's only credential, so it is shown to the one who started it.
    url = f"http://{display_host}:{port}/?{TOKEN_PARAM}={app.state.token}"
    store = app.state.store
    n_workers = workers or available_cores()
    print(f"twitchcam serve: open {url} in a browser (data folder: {store.root}, {n_workers} analysis "
          f"worker{'s' if n_workers > 1 else ''}). Press Ctrl-C to stop.", flush=True)
    if open_browser:
        import webbrowser

        webbrowser.open(url)
    config = uvicorn.Config(app, log_level="warning", access_log=False, timeout_graceful_shutdown=5)
    server = uvicorn.Server(config)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
        app.state.store.release()
