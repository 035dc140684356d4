"""The review page of ``twitchcam serve``: a clinician steps through a finished session's events against its video.

Page: ``/sessions/<id>/review``. JSON API: ``GET /api/sessions/<id>/review`` (the review's state) and
``POST /api/sessions/<id>/review`` with ``{"reviewer": NAME, "decision": {...}}`` (one decision, see
:mod:`twitchcam.review`; answers the new state). Every decision is on disk (``review.json``,
``events_reviewed.csv``, ``summary_reviewed.json``, each written atomically) before the answer is sent, so a
reload, or a server killed at any moment, keeps every decision the page showed as saved.

After a decision the session's report and timeline exports are written again from the reviewed timeline, in a
background thread: several decisions in a row cost one rewrite, and the page never waits for it.
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..review import REJECT_REASONS, ReviewError, apply_decision
from ..review_files import REVIEW_FILES, open_review, write_review

logger = logging.getLogger(__name__)

#: What the page calls each rejection reason.
REASON_TITLES = {"blink": "blink", "voluntary_expression": "voluntary expression", "talking": "talking",
                 "head_motion": "head motion", "tracking_error": "tracking error", "other": "other"}

#: Largest decision request accepted, in bytes (a decision is a few hundred).
MAX_DECISION_BYTES = 64 << 10


# Guards the creation of an app's one ReviewDesk, on first use.
_DESK_GUARD = threading.Lock()


class ReviewDesk:
    """Per-session locks (one decision at a time per session) and the background rewrite of reports and exports.

    Parameters
    ----------
    publish : callable
        ``publish(results_dir, video)`` writes the report and the exports of a results folder.
    """

    def __init__(self, publish):
        self._publish = publish
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self._dirty: dict[str, tuple[Path, Path]] = {}
        self._running: set[str] = set()

    def lock(self, sid: str) -> threading.Lock:
        """The lock of a session's review."""
        with self._guard:
            return self._locks.setdefault(sid, threading.Lock())

    def request_publish(self, sid: str, results_dir: Path, video: Path) -> None:
        """Rewrite the session's report and exports soon; requests made while one runs are served by one more."""
        with self._guard:
            self._dirty[sid] = (results_dir, video)
            if sid in self._running:
                return
            self._running.add(sid)
        threading.Thread(target=self._run, args=(sid,), name=f"review-publish-{sid}", daemon=True).start()

    def _run(self, sid: str) -> None:
        while True:
            with self._guard:
                job = self._dirty.pop(sid, None)
                if job is None:
                    self._running.discard(sid)
                    return
            # Without the session's lock: the report and exports read files that decisions replace atomically, and
            # a decision made meanwhile asks for one more run. Decisions never wait for a report.
            try:
                self._publish(*job)
            except Exception:
                logger.exception("rewriting the report and exports of %s failed", sid)

    def busy(self, sid: str) -> bool:
        """Whether the report and exports of a session are being rewritten or due to be."""
        with self._guard:
            return sid in self._running


def _desk(request: Request) -> ReviewDesk:
    state = request.app.state
    with _DESK_GUARD:
        desk = getattr(state, "review_desk", None)
        if desk is None:
            from .workers import write_extras

            desk = state.review_desk = ReviewDesk(write_extras)
    return desk


def _done_session(request: Request):
    # app.py is imported by then (it mounts these routes); imported here to reuse its session rules and pages.
    from . import app as web

    session = web._session_or_404(request)
    if session.state not in ("done", "annotating"):
        return session, web._error(request, 409, "This session can be reviewed once its analysis is done.")
    return session, None


def _state(request: Request, session, review, results) -> dict:
    """What the page shows: the events in their current state, the automatic and the reviewed finding."""
    store = request.app.state.store
    out = store.results_dir(session.id)
    reviewed = None
    if (out / REVIEW_FILES[2]).exists():
        reviewed = json.loads((out / REVIEW_FILES[2]).read_text(encoding="utf-8"))
    automatic = results.summary
    original = {row["id"]: row for row in review.original}
    video = (f"/sessions/{session.id}/results/annotated.webm" if (out / "annotated.webm").exists()
             else f"/sessions/{session.id}/video")
    pick = lambda s: s and {k: s.get(k) for k in ("pattern", "side", "finding", "criteria")}  # noqa: E731
    return {
        "session": {"id": session.id, "label": session.label, "original_name": session.original_name},
        "duration_s": automatic["video"]["duration_s"], "fps": automatic["video"]["fps"], "video": video,
        "reasons": [{"id": r, "title": REASON_TITLES[r]} for r in REJECT_REASONS],
        "events": [{**ev.to_dict(), "original": original.get(ev.id)} for ev in review.events],
        "progress": review.progress(), "reviewers": review.reviewers, "updated": review.updated,
        "automatic": pick(automatic), "reviewed": pick(reviewed),
        "publishing": _desk(request).busy(session.id),
    }


def review_page(request: Request) -> Response:
    from . import app as web

    session, refused = _done_session(request)
    if refused:
        return refused
    return web._page(request, "review.html", page="review", s=session.to_dict())


def api_review(request: Request) -> Response:
    session, refused = _done_session(request)
    if refused:
        return refused
    store = request.app.state.store
    out = store.results_dir(session.id)
    desk = _desk(request)
    with desk.lock(session.id):
        try:
            review, results = open_review(out)
        except ReviewError as err:
            return JSONResponse({"error": str(err)}, 409)
        if review.decisions and not (out / REVIEW_FILES[2]).exists():
            # A server killed between review.json and the files made from it: make them again.
            write_review(out, review, results)
    report = out / "report.html"
    if review.decisions and (not report.exists() or report.stat().st_mtime < (out / REVIEW_FILES[0]).stat().st_mtime):
        # A server stopped before the report and exports caught up with the last decisions.
        desk.request_publish(session.id, out, store.video_path(session))
    return JSONResponse(_state(request, session, review, results))


async def api_decide(request: Request) -> Response:
    session, refused = _done_session(request)
    if refused:
        return refused
    body = await request.body()
    try:
        if len(body) > MAX_DECISION_BYTES:
            raise ValueError
        doc = json.loads(body)
        reviewer, decision = doc["reviewer"], doc["decision"]
        if not isinstance(decision, dict):
            raise ValueError
    except (ValueError, KeyError, TypeError):
        return JSONResponse({"error": "A decision is sent as JSON: {\"reviewer\": ..., \"decision\": {...}}."}, 400)
    store = request.app.state.store
    out = store.results_dir(session.id)
    desk = _desk(request)

    def decide():
        with desk.lock(session.id):
            review, results = open_review(out)
            review = apply_decision(review, decision, reviewer, results)
            write_review(out, review, results)
            return review, results

    try:
        review, results = await anyio.to_thread.run_sync(decide)
    except ReviewError as err:
        return JSONResponse({"error": f"Not saved: {err}."}, 422)
    desk.request_publish(session.id, out, store.video_path(session))
    return JSONResponse(_state(request, session, review, results))


def review_routes() -> list[Route]:
    """The routes of the review page and its API, mounted by :func:`twitchcam.web.app.create_app`."""
    return [
        Route("/sessions/{sid}/review", review_page),
        Route("/api/sessions/{sid}/review", api_review),
        Route("/api/sessions/{sid}/review", api_decide, methods=["POST"]),
    ]
