"""A clinician's review in its analysis folder: its three files written, read back, and scored.

``review.json``
    The record (:class:`twitchcam.review.Review`): who reviewed and when, the automatic events as they were, every
    decision in order, the current state of each event, and the SHA-256 of the ``events.csv`` it started from.
``events_reviewed.csv``
    The reviewed timeline in the exact ``events.csv`` contract: every event not rejected, as corrected, with the
    missed ones added. Events not yet looked at stand as detected.
``summary_reviewed.json``
    :func:`twitchcam.pattern.classify_pattern` run again on the reviewed timeline: the ``summary.json`` schema, plus
    a ``review`` key saying whose review it is and how far it got.

The three files are written after every decision, each to a temporary file in the folder, flushed to disk and
renamed into place (:func:`twitchcam.folder.write_atomic`), ``review.json`` first: a killed process leaves every
decision made so far, and :func:`write_review` rebuilds the other two from it. The report and the exports say which
timeline they show (:func:`describe_timeline`, :func:`review_changes`); ``twitchcam review-stats`` scores the
automatic timeline of reviewed folders against the reviewed one (:func:`score_folder`).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .config import Config
from .events import EVENT_SIDES, Events
from .folder import (
    REVIEW_FILES,
    Results,
    file_sha256,
    format_events_csv,
    read_config,
    read_events_csv,
    read_results,
    write_atomic,
    write_json,
)
from .pattern import classify_pattern
from .review import FORMAT, Review, ReviewError, apply_decision, replay, reviewed_events, start_review, with_frames

REVIEW_FILE, EVENTS_REVIEWED_FILE, SUMMARY_REVIEWED_FILE = REVIEW_FILES


def reviewed_summary(results: Results, review: Review) -> dict:
    """``summary_reviewed.json``: the pattern and summary of the reviewed timeline, by the analysis' own rules.

    Parameters
    ----------
    results : Results
        The automatic analysis (signals, settings, summary).
    review : Review

    Returns
    -------
    dict
        The ``summary.json`` schema (``video``, ``source`` and ``twitchcam_version`` kept from the automatic
        summary) plus
        ``review``: ``reviewers``, ``created``, ``updated``, ``progress``, ``events_csv_sha256``, and the automatic
        ``automatic_pattern`` and ``automatic_side``.
    """
    summary = classify_pattern(reviewed_events(review, results.t), results.signals(), results.config)
    doc = summary.to_dict()
    # The facts about the video do not change with a review; signals.csv keeps times to 0.1 ms only, so measuring
    # them again from it could differ in the last digit from summary.json.
    doc["video"] = results.summary["video"]
    for key in ("source", "twitchcam_version"):
        if key in results.summary:
            doc[key] = results.summary[key]
    doc["review"] = {"reviewers": review.reviewers, "created": review.created, "updated": review.updated,
                     "progress": review.progress(), "events_csv_sha256": review.events_sha256,
                     "automatic_pattern": results.summary["pattern"], "automatic_side": results.summary["side"]}
    return doc


def load_review(out_dir: str | Path) -> Review | None:
    """The review of an analysis folder, or None when it has none.

    Raises
    ------
    ReviewError
        If ``review.json`` is not a twitchcam review, or was made on another ``events.csv`` (the analysis was
        run again after the review).
    """
    out = Path(out_dir)
    path = out / REVIEW_FILE
    if not path.exists():
        return None
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        if doc.get("format") != FORMAT:
            raise ValueError
        original = tuple(doc["original"])
        decisions = tuple(doc["decisions"])
    except (ValueError, KeyError, TypeError):
        raise ReviewError(f"{path}: not a twitchcam review") from None
    if doc["events_csv_sha256"] != file_sha256(out / "events.csv"):
        raise ReviewError(f"{path}: this review was made on another events.csv (the analysis was run again); "
                          "move review.json away to start a new review")
    config = read_config(out / "config.json")[0] if (out / "config.json").exists() else Config()
    return Review(doc["events_csv_sha256"], doc.get("source", ""), original, decisions,
                  replay(original, decisions, config), doc.get("created", ""), doc.get("updated", ""))


def open_review(out_dir: str | Path) -> tuple[Review, Results]:
    """The review of an analysis folder (a new one when it has none) and the analysis itself (automatic).

    Raises
    ------
    ValueError
        If the folder is not an analysis folder; :class:`ReviewError` as :func:`load_review`.
    """
    results = read_results(out_dir, reviewed=False)
    review = load_review(results.out_dir)
    if review is None:
        review = start_review(results.events, file_sha256(results.out_dir / "events.csv"), results.source_name)
    return review, results


def write_review(out_dir: str | Path, review: Review, results: Results) -> list[Path]:
    """Write ``review.json``, ``events_reviewed.csv`` and ``summary_reviewed.json``, each atomically, in that order.

    Returns
    -------
    list of Path
        The three files.
    """
    out = Path(out_dir)
    paths = [out / name for name in REVIEW_FILES]
    write_atomic(paths[0], json.dumps(review.to_dict(), indent=1) + "\n")
    write_atomic(paths[1], format_events_csv(reviewed_events(review)))
    write_json(reviewed_summary(results, review), paths[2])
    return paths


def record_decision(out_dir: str | Path, decision: dict, reviewer: str) -> Review:
    """Apply one decision to an analysis folder's review and save it (the review starts with the first decision).

    Callers that may decide on one folder from several threads hold a lock per folder around this.

    Returns
    -------
    Review
        The review with the decision.
    """
    review, results = open_review(out_dir)
    review = apply_decision(review, decision, reviewer, results)
    write_review(results.out_dir, review, results)
    return review


def describe_timeline(results: Results) -> str:
    """One sentence on which timeline a results object carries, for exports and reports.

    Returns
    -------
    str
        ``"automatic (not reviewed)"``, or whose review it is, when its latest decision was, and what changed.
    """
    review = results.summary.get("review") if results.timeline == "reviewed" else None
    if not review:
        return "automatic (not reviewed)"
    p = review["progress"]
    done = "all" if p["complete"] else f"{p['reviewed']} of"
    when = str(review["updated"]).replace("T", " ")[:16] + " UTC"  # ISO 8601 UTC, to the minute
    return (f"reviewed by {', '.join(review['reviewers']) or 'an unnamed reviewer'} (last decision "
            f"{when}): {done} {p['automatic']} automatic events reviewed, {p['rejected']} rejected, "
            f"{p['corrected']} corrected, {p['added']} added")


def review_changes(automatic: Results, reviewed: Results) -> dict:
    """What a review changed, for the report: the two findings side by side and every changed event.

    Parameters
    ----------
    automatic : Results
        The folder read with ``reviewed=False``.
    reviewed : Results
        The same folder with its reviewed timeline (``timeline == "reviewed"``).

    Returns
    -------
    dict
        ``sentence`` (:func:`describe_timeline`); ``rows``: (label, automatic value, reviewed value, changed) for
        the pattern, the side, each HFS criterion and the unilateral and bilateral event counts; ``events``:
        (change, event, detail) for each rejected, corrected and added event, in time order.
    """
    a, r = automatic.summary, reviewed.summary
    count = lambda ev, side: int(np.sum((ev.side == side) & (ev.kind != "blink")))  # noqa: E731
    rows = [("Pattern", a["pattern"].replace("_", " "), r["pattern"].replace("_", " ")),
            ("Side (patient's)", a["side"] or "–", r["side"] or "–")]
    rows += [(f"Criterion: {name.replace('_', ' ')}", _criterion(a["criteria"][name]), _criterion(r["criteria"][name]))
             for name in ("unilateral", "irregular", "cn7_spread")]
    rows += [(f"{side.capitalize()} events (not blinks)", str(count(automatic.events, side)),
              str(count(reviewed.events, side))) for side in EVENT_SIDES]
    rows.append(("Blinks", str(int(np.sum(automatic.events.kind == "blink"))),
                 str(int(np.sum(reviewed.events.kind == "blink")))))
    review = load_review(automatic.out_dir)
    changes = []
    for ev in review.events if review else ():
        original = review.detected(ev.id)
        what = f"{ev.side} {ev.region} {ev.kind}, {ev.onset_s:.3f}–{ev.offset_s:.3f} s"
        if ev.status == "rejected":
            changes.append((ev.onset_s, "rejected", what, ev.reason.replace("_", " ") + (f"; {ev.note}" if ev.note
                                                                                          else "")))
        elif ev.status == "added":
            changes.append((ev.onset_s, "added", what, ev.note))
        elif original is not None and ev.values() != original:
            was = (f"detected as {original['side']} {original['region']} {original['kind']}, "
                   f"{original['onset_s']:.3f}–{original['offset_s']:.3f} s")
            changes.append((ev.onset_s, "corrected", what, was + (f"; {ev.note}" if ev.note else "")))
    return {"sentence": describe_timeline(reviewed), "rows": [(*row, row[1] != row[2]) for row in rows],
            "events": [c[1:] for c in sorted(changes, key=lambda c: c[0])]}


def find_reviewed_folders(paths) -> list[Path]:
    """Every folder at or below ``paths`` that holds both ``events.csv`` and ``events_reviewed.csv``, sorted.

    Raises
    ------
    ValueError
        If a path does not exist.
    """
    found = set()
    for path in map(Path, paths):
        if not path.exists():
            raise ValueError(f"{path}: no such file or folder")
        candidates = [path] if path.is_file() else [path, *(p.parent for p in path.rglob(EVENTS_REVIEWED_FILE))]
        found.update(p.parent if p.is_file() else p for p in candidates)
    return sorted(f for f in found if (f / "events.csv").is_file() and (f / EVENTS_REVIEWED_FILE).is_file())


def reviewed_truth(folder: str | Path) -> tuple[Events, str | None, str | None]:
    """A reviewed folder as benchmark truth: the reviewed timeline, its pattern and its side.

    The pattern is that of ``summary_reviewed.json``; when the folder lacks it (the reviewed timeline was made by
    another tool) it is computed from ``events_reviewed.csv`` with the folder's signals and settings, and is None
    when those are missing too.

    Returns
    -------
    events : Events
    pattern, side : str | None
    """
    out = Path(folder)
    events = read_events_csv(out / EVENTS_REVIEWED_FILE)
    if (out / SUMMARY_REVIEWED_FILE).is_file():
        summary = json.loads((out / SUMMARY_REVIEWED_FILE).read_text(encoding="utf-8"))
        return events, summary["pattern"], summary["side"]
    if not all((out / name).is_file() for name in ("summary.json", "signals.csv", "config.json")):
        return events, None, None
    results = read_results(out, reviewed=False)
    summary = classify_pattern(with_frames(events, results.t), results.signals(), results.config)
    return events, summary.pattern, summary.side


def score_folder(folder: str | Path, tolerance_s: float | None = None):
    """Score a folder's automatic timeline against its reviewed one (:func:`twitchcam.scoring.score_case`).

    Returns
    -------
    twitchcam.scoring.CaseScore
        Named by the folder; ``pattern``/``side`` from ``summary.json``, the reference ones from
        :func:`reviewed_truth`.
    """
    from .scoring import ONSET_TOLERANCE_S, score_case

    out = Path(folder)
    truth, truth_pattern, truth_side = reviewed_truth(out)
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8")) if (out / "summary.json").is_file() \
        else {}
    duration = float((summary.get("video") or {}).get("duration_s", float("nan")))
    return score_case(str(out), read_events_csv(out / "events.csv"), truth, summary.get("pattern"), truth_pattern,
                      summary.get("side"), truth_side, duration,
                      ONSET_TOLERANCE_S if tolerance_s is None else tolerance_s)


def _criterion(value: bool | None) -> str:
    """A criterion's status in words (None: not assessed, as the irregularity of fewer than four episodes)."""
    return "not assessed" if value is None else ("met" if value else "not met")
