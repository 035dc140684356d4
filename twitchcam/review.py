"""The clinician's review of an analysis, as a decision model: every automatic event accepted, rejected or
corrected, missed ones added, and the timeline that results.

A :class:`Review` holds the automatic events as they were (``original``), every decision in the order it was made
(``decisions``, append-only: a decision is never removed, a later one supersedes it), and the current state of each
event (``events``, which :func:`replay` of the decisions on ``original`` reproduces). It also holds the SHA-256 of
the ``events.csv`` it started from, so a review is never applied to another analysis. Its files in the analysis
folder (``review.json``, ``events_reviewed.csv``, ``summary_reviewed.json``) are written and read back by
:mod:`twitchcam.review_files`.

Decisions (``action``): ``accept``; ``reject`` with a ``reason`` among :data:`REJECT_REASONS`; ``edit`` with
``changes`` among ``side``, ``region``, ``kind``, ``onset_s``, ``offset_s`` (an edited event counts as accepted);
``add`` a missed event (``changes`` give at least ``onset_s``); ``reset`` back to the automatic event, unreviewed.
Each may carry a free-text ``note``. Sides are the PATIENT's, as in ``events.csv``.

Nothing here reads or writes a file.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
from dataclasses import dataclass

import numpy as np

from . import __version__
from .config import Config, check_option
from .events import EVENT_KINDS, EVENT_SIDES, Events
from .folder import Results
from .regions import REGIONS

FORMAT = "twitchcam-review"
FORMAT_VERSION = 1

#: Why an automatic event is rejected.
REJECT_REASONS = ("blink", "voluntary_expression", "talking", "head_motion", "tracking_error", "other")
ACTIONS = ("accept", "reject", "edit", "add", "reset")
STATUSES = ("pending", "accepted", "rejected", "added")
EDITABLE = ("side", "region", "kind", "onset_s", "offset_s")

#: Length of an added event when the reviewer gives no offset, in seconds.
DEFAULT_ADDED_DURATION_S = 0.3

#: Smallest peak written for an event whose signal shows no positive value (the contract needs peak > 0).
MIN_PEAK = 1e-4


class ReviewError(ValueError):
    """A decision that cannot be applied, or a review that does not belong to its folder; one line for the user."""


@dataclass(frozen=True)
class ReviewEvent:
    """One event of a review in its current state.

    Parameters
    ----------
    id : str
        ``a<k>`` for the k-th automatic event of ``events.csv`` (0-based), ``r<k>`` for the k-th added one.
    status : {"pending", "accepted", "rejected", "added"}
        ``added`` events are the reviewer's; a rejected added event is ``rejected``.
    onset_s, offset_s : float
        Start and end in seconds (inclusive, presentation times).
    side : {"left", "right", "bilateral"}
        The PATIENT's side.
    region : {"periocular", "perioral", "brow"}
    kind : {"clonic", "tonic", "blink"}
    peak : float
        Positive amplitude in the region's unit (see ``events.csv``); measured again from ``signals.csv`` when the
        reviewer adds an event or moves it to another side or region.
    reason : str | None
        Why it was rejected (one of :data:`REJECT_REASONS`).
    note : str
        The reviewer's last free-text note on it.
    kind_chosen : bool
        The reviewer set the kind; otherwise it follows the duration when the times change (as the detector does).
    score : float | None
        The detector's score of an automatic event (``events.csv``), kept while the reviewer accepts it as it is;
        None once the reviewer edits it, for an added event, and for a bilateral closure.
    """

    id: str
    status: str
    onset_s: float
    offset_s: float
    side: str
    region: str
    kind: str
    peak: float
    reason: str | None = None
    note: str = ""
    kind_chosen: bool = False
    score: float | None = None

    @property
    def origin(self) -> str:
        """``automatic`` or ``added``."""
        return "automatic" if self.id.startswith("a") else "added"

    def values(self) -> dict:
        """The ``events.csv`` columns of the event."""
        return {"onset_s": self.onset_s, "offset_s": self.offset_s, "side": self.side, "region": self.region,
                "kind": self.kind, "peak": self.peak}

    def to_dict(self) -> dict:
        """The event as ``review.json`` and the review page hold it."""
        return {"id": self.id, "origin": self.origin, **dataclasses.asdict(self)}


@dataclass(frozen=True)
class Review:
    """A review: the automatic events, the decisions, and the resulting state.

    Parameters
    ----------
    events_sha256 : str
        SHA-256 of the ``events.csv`` the review started from.
    source : str
        File name of the analyzed video.
    created, updated : str
        UTC times of the first and the latest decision (ISO 8601), empty before any.
    original : tuple of dict
        The automatic events as in ``events.csv`` (``id`` plus its columns).
    decisions : tuple of dict
        Every decision in order: ``n``, ``at``, ``by``, ``action``, ``event``, and ``reason``, ``changes``,
        ``note``, ``before`` (the event's state just before) where they apply.
    events : tuple of ReviewEvent
        The current state, automatic events first (in ``events.csv`` order), then the added ones.
    """

    events_sha256: str
    source: str
    original: tuple
    decisions: tuple = ()
    events: tuple = ()
    created: str = ""
    updated: str = ""

    @property
    def reviewers(self) -> list[str]:
        """Everyone who made a decision, in order of their first one."""
        return list(dict.fromkeys(d["by"] for d in self.decisions))

    def event(self, event_id: str) -> ReviewEvent:
        """The current state of one event.

        Raises
        ------
        ReviewError
            If there is no such event.
        """
        for ev in self.events:
            if ev.id == event_id:
                return ev
        raise ReviewError(f"there is no event {event_id!r} in this review")

    def detected(self, event_id: str) -> dict | None:
        """The ``events.csv`` columns of an automatic event as detected; None for an added event."""
        for row in self.original:
            if row["id"] == event_id:
                return {k: row[k] for k in ("onset_s", "offset_s", "side", "region", "kind", "peak")}
        return None

    def progress(self) -> dict:
        """How far the review got: counts per status, automatic events still pending, whether all are decided."""
        counts = {s: sum(ev.status == s for ev in self.events) for s in STATUSES}
        automatic = [ev for ev in self.events if ev.origin == "automatic"]
        corrected = sum(ev.status == "accepted" and ev.values() != self.detected(ev.id) for ev in automatic)
        return {**counts, "corrected": corrected, "automatic": len(automatic),
                "reviewed": sum(ev.status != "pending" for ev in automatic),
                "complete": all(ev.status != "pending" for ev in automatic), "decisions": len(self.decisions)}

    def to_dict(self) -> dict:
        """The ``review.json`` document."""
        return {"format": FORMAT, "version": FORMAT_VERSION, "twitchcam_version": __version__,
                "events_csv_sha256": self.events_sha256, "source": self.source, "created": self.created,
                "updated": self.updated, "reviewers": self.reviewers, "progress": self.progress(),
                "reject_reasons": list(REJECT_REASONS), "original": list(self.original),
                "decisions": list(self.decisions), "events": [ev.to_dict() for ev in self.events]}


def _event_rows(events: Events) -> tuple:
    # Values as events.csv holds them (ms, 4 decimals), so replaying a review gives exactly its CSV rows back.
    return tuple({"id": f"a{i}", "onset_s": round(float(events.onset_s[i]), 3),
                  "offset_s": round(float(events.offset_s[i]), 3), "side": str(events.side[i]),
                  "region": str(events.region[i]), "kind": str(events.kind[i]),
                  "peak": round(float(events.peak[i]), 4),
                  "score": round(float(events.score[i]), 4) if np.isfinite(events.score[i]) else None}
                 for i in range(len(events)))


def start_review(events: Events, events_sha256: str, source: str = "") -> Review:
    """A review without decisions of an automatic timeline.

    Parameters
    ----------
    events : Events
        ``events.csv`` of the analysis.
    events_sha256 : str
        SHA-256 of that file (:func:`twitchcam.folder.file_sha256`).
    source : str
        File name of the analyzed video, for the record.
    """
    original = _event_rows(events)
    return Review(events_sha256, source, original, (), replay(original, (), Config()))


def derive_kind(side: str, duration_s: float, config: Config, previous: str | None = None) -> str:
    """The kind of an event of this side and duration: ``tonic`` from ``tonic_min_s``, else ``clonic``; a
    bilateral eye closure no longer than ``blink_max_s`` is a ``blink``.

    For an event whose times a reviewer changed. The detector times a closure of both eyes shorter than
    ``tonic_min_s`` at half its depth (:mod:`twitchcam.events`), which the reviewer's onset and offset do not
    carry: a ``previous`` kind of ``blink`` therefore stays one while the span is shorter than ``tonic_min_s``
    (moving a blink's edges does not make it a spasm); otherwise the span decides.
    """
    if side == "bilateral" and (duration_s <= config.blink_max_s
                                or (previous == "blink" and duration_s < config.tonic_min_s)):
        return "blink"
    return "tonic" if duration_s >= config.tonic_min_s else "clonic"


def _check(ev: ReviewEvent) -> None:
    check_option("side", ev.side, EVENT_SIDES, ReviewError)
    check_option("region", ev.region, REGIONS, ReviewError)
    check_option("kind", ev.kind, EVENT_KINDS, ReviewError)
    # Only eye closures are bilateral events in twitchcam (see twitchcam.events), and only those can be blinks.
    if ev.side == "bilateral" and ev.region != "periocular":
        raise ReviewError("a bilateral event is a closure of both eyes: its region must be periocular")
    if ev.kind == "blink" and ev.side != "bilateral":
        raise ReviewError("a blink closes both eyes: its side must be bilateral")
    if not (np.isfinite(ev.onset_s) and np.isfinite(ev.offset_s)) or ev.onset_s < 0:
        raise ReviewError("onset_s must be a time of the video, in seconds")
    if ev.offset_s < ev.onset_s:
        raise ReviewError("the offset must not come before the onset")


def _changed(ev: ReviewEvent, changes: dict, config: Config) -> ReviewEvent:
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise ReviewError(f"only {', '.join(EDITABLE)} can be changed, not {', '.join(unknown)}")
    values = {}
    for key, value in changes.items():
        if key in ("onset_s", "offset_s"):
            try:
                values[key] = round(float(value), 3)
            except (TypeError, ValueError):
                raise ReviewError(f"{key} must be a number of seconds, got {value!r}") from None
        else:
            values[key] = str(value)
    new = dataclasses.replace(ev, **values, kind_chosen=ev.kind_chosen or "kind" in changes)
    if not new.kind_chosen:
        new = dataclasses.replace(new, kind=derive_kind(new.side, new.offset_s - new.onset_s, config, ev.kind))
    _check(new)
    return new


def replay(original: tuple, decisions: tuple, config: Config) -> tuple:
    """The state of every event after a sequence of decisions.

    Parameters
    ----------
    original : tuple of dict
        The automatic events (:attr:`Review.original`).
    decisions : tuple of dict
        :attr:`Review.decisions`; each decision that moved an event to another side or region or added one holds
        the peak measured then (``peak``), so replaying needs no signals.
    config : Config
        For the kind of an event whose duration changed.

    Returns
    -------
    tuple of ReviewEvent
    """
    state = {row["id"]: ReviewEvent(row["id"], "pending", row["onset_s"], row["offset_s"], row["side"],
                                    row["region"], row["kind"], row["peak"], score=row.get("score"))
             for row in original}
    for d in decisions:
        state = _step(state, original, d, config)
    return tuple(state.values())


def _step(state: dict, original: tuple, d: dict, config: Config) -> dict:
    """One decision applied to the state (a new dict); raises ReviewError if it cannot be."""
    action = d.get("action")
    check_option("action", action, ACTIONS, ReviewError)
    state = dict(state)
    note = str(d.get("note") or "")
    if action == "add":
        changes = dict(d.get("changes") or {})
        if "onset_s" not in changes:
            raise ReviewError("an added event needs its onset_s")
        try:
            changes.setdefault("offset_s", float(changes["onset_s"]) + DEFAULT_ADDED_DURATION_S)
        except (TypeError, ValueError):
            raise ReviewError(f"onset_s must be a number of seconds, got {changes['onset_s']!r}") from None
        changes.setdefault("side", "left")
        changes.setdefault("region", "periocular")
        event_id = d.get("event") or f"r{sum(k.startswith('r') for k in state)}"
        if event_id in state:
            raise ReviewError(f"event {event_id!r} exists already")
        blank = ReviewEvent(event_id, "added", 0.0, 0.0, "left", "periocular", "clonic", MIN_PEAK, note=note)
        ev = _changed(blank, changes, config)
        state[event_id] = dataclasses.replace(ev, peak=float(d.get("peak") or MIN_PEAK))
        return state
    event_id = d.get("event")
    if event_id not in state:
        raise ReviewError(f"there is no event {event_id!r} in this review")
    ev = state[event_id]
    if action == "accept":
        ev = dataclasses.replace(ev, status="added" if ev.origin == "added" else "accepted", reason=None)
    elif action == "reject":
        reason = check_option("reason", d.get("reason"), REJECT_REASONS, ReviewError)
        ev = dataclasses.replace(ev, status="rejected", reason=reason)
    elif action == "edit":
        changes = d.get("changes") or {}
        if not changes:
            raise ReviewError("an edit needs changes")
        ev = _changed(ev, changes, config)
        # The detector's score was of the event it found, not of the reviewer's correction.
        ev = dataclasses.replace(ev, status="added" if ev.origin == "added" else "accepted", reason=None, score=None)
        if "peak" in d:
            ev = dataclasses.replace(ev, peak=float(d["peak"]))
    else:  # reset
        if ev.origin == "added":
            raise ReviewError("an added event has no automatic version to go back to; reject it to remove it")
        row = next(r for r in original if r["id"] == event_id)
        ev = ReviewEvent(event_id, "pending", row["onset_s"], row["offset_s"], row["side"], row["region"],
                         row["kind"], row["peak"], score=row.get("score"))
    state[event_id] = dataclasses.replace(ev, note=note or ev.note) if action != "reset" else ev
    return state


def measure_peak(results: Results, side: str, region: str, onset_s: float, offset_s: float) -> float:
    """The peak of a region's signal over an event's frames, as ``events.csv`` gives it.

    Parameters
    ----------
    results : Results
        The analysis (its ``signals.csv``).
    side : str
        ``left``, ``right`` or ``bilateral`` (the smaller of the two sides' maxima: both eyes close together).
    region : str
    onset_s, offset_s : float
        The event's first and last frame times, in seconds (inclusive).

    Returns
    -------
    float
        The largest value in the region's unit, at least :data:`MIN_PEAK` (the contract needs a positive peak;
        a frame span without a measured face gives it).
    """
    signal = results.region_signal(region)
    inside = (results.t >= onset_s - 5e-4) & (results.t <= offset_s + 5e-4)
    cols = [0, 1] if side == "bilateral" else [0 if side == "left" else 1]
    values = signal[inside][:, cols]
    if not values.size or not np.isfinite(values).any():
        return MIN_PEAK
    with np.errstate(invalid="ignore"):
        per_side = np.nanmax(np.where(np.isfinite(values), values, -np.inf), axis=0)
    peak = float(per_side.min())
    return round(peak, 4) if np.isfinite(peak) and peak > MIN_PEAK else MIN_PEAK


def _utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def apply_decision(review: Review, decision: dict, reviewer: str, results: Results, at: str | None = None) -> Review:
    """The review with one more decision.

    Parameters
    ----------
    review : Review
    decision : dict
        ``action``, ``event`` (but for ``add``), and ``reason``, ``changes``, ``note`` as the action needs (see the
        module docstring).
    reviewer : str
        Who decides; required.
    results : Results
        The analysis, for the peak of an added or moved event and for the settings.
    at : str | None
        UTC time of the decision (ISO 8601); now by default.

    Returns
    -------
    Review

    Raises
    ------
    ReviewError
        If the decision is malformed, names no event of the review, or gives an impossible event.
    """
    reviewer = " ".join(str(reviewer or "").split())[:120]
    if not reviewer:
        raise ReviewError("a decision needs the reviewer's name")
    at = at or _utc_now()
    action = decision.get("action")
    entry = {"n": len(review.decisions) + 1, "at": at, "by": reviewer, "action": action}
    for key in ("event", "reason", "note"):
        if decision.get(key):
            entry[key] = str(decision[key])[:2000]
    if decision.get("changes"):
        entry["changes"] = dict(decision["changes"])
    state = {ev.id: ev for ev in review.events}
    if action == "add" and "event" not in entry:
        entry["event"] = f"r{sum(k.startswith('r') for k in state)}"
    if entry.get("event") in state:
        entry["before"] = state[entry["event"]].values()
    after = _step(state, review.original, entry, results.config)
    ev = after.get(entry.get("event"))
    duration = float(results.summary["video"]["duration_s"])
    if ev is not None and action in ("add", "edit") and ev.offset_s > duration:
        raise ReviewError(f"the event would end at {ev.offset_s:.3f} s, after the end of the video ({duration:.3f} s)")
    if ev is not None and action in ("add", "edit"):
        moved = action == "add" or ev.side != state[ev.id].side or ev.region != state[ev.id].region
        if moved:
            entry["peak"] = measure_peak(results, ev.side, ev.region, ev.onset_s, ev.offset_s)
            after[ev.id] = dataclasses.replace(ev, peak=entry["peak"])
    return dataclasses.replace(review, decisions=(*review.decisions, entry), events=tuple(after.values()),
                               created=review.created or at, updated=at)


def reviewed_events(review: Review, t: np.ndarray | None = None) -> Events:
    """The reviewed timeline: every event not rejected, as an event table.

    Parameters
    ----------
    review : Review
    t : ndarray, shape (n_frames,) | None
        Frame times in seconds; gives each event its onset and offset frame (:func:`with_frames`), which the
        pattern needs for the time in spasm. Without it the frames are -1.
    """
    kept = [ev for ev in review.events if ev.status != "rejected"]
    cols = {k: [getattr(ev, k) for ev in kept] for k in ("onset_s", "offset_s", "side", "region", "kind", "peak")}
    events = Events.from_columns(**cols, score=[np.nan if ev.score is None else ev.score for ev in kept])
    return with_frames(events, t) if t is not None else events


def with_frames(events: Events, t: np.ndarray) -> Events:
    """The events with their onset and offset frames: the frames nearest their times.

    Parameters
    ----------
    events : Events
    t : ndarray, shape (n_frames,)
        Frame times in seconds, increasing.
    """
    if not len(t):
        return events
    frames = []
    for times in (events.onset_s, events.offset_s):
        idx = np.clip(np.searchsorted(t, times), 1, max(len(t) - 1, 1))
        if len(t) > 1:
            idx = np.where(np.abs(t[idx - 1] - times) <= np.abs(t[idx] - times), idx - 1, idx)
        frames.append(np.minimum(idx, len(t) - 1).astype(np.int64))
    return dataclasses.replace(events, onset_frame=frames[0], offset_frame=frames[1])
