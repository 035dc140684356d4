"""An ELAN file edited by a clinician, brought back as a review (``twitchcam review-import SESSION FILE.eaf``).

The file is read as :func:`twitchcam.exports.write_eaf` writes it: one tier per side and region
(:data:`twitchcam.exports.EAF_TIERS`), each annotation an event from its start to its end, its value
``<kind> peak=<peak>`` (the kind alone, or nothing, is accepted too: an empty value takes the kind of its duration).
A tier with annotations that is not one of these, or a value that is not a kind, is an error naming it: guessing
what a tier of someone's own means would put events on the wrong side or region.

The imported timeline becomes decisions on the folder's review (:mod:`twitchcam.review`), so the record says what
ELAN changed: each imported event is paired one to one with an event of the current review on the same tier, onsets
within :data:`PAIR_TOLERANCE_S`. A pair with the same times and kind is accepted, a pair that differs is corrected
to the imported times and kind, an event of the review left without a pair is rejected (reason ``other``), and an
imported event without a pair is added.
"""

from __future__ import annotations

from pathlib import Path

from .config import Config
from .events import EVENT_KINDS, Events
from .exports import EAF_TIERS
from .review import Review, apply_decision, derive_kind, reviewed_events
from .review_files import open_review, write_review
from .scoring import match_events

#: Largest onset shift, in seconds, at which an edited annotation is still the event it was exported as.
PAIR_TOLERANCE_S = 0.25

# ELAN stores milliseconds, and an event one frame long was exported 1 ms long: times within this are unchanged.
_SAME_TIME_S = 0.0015


def read_eaf_events(path: str | Path) -> Events:
    """The events of an ELAN file in twitchcam's tiers.

    Parameters
    ----------
    path : str | Path
        The ``.eaf`` file.

    Returns
    -------
    Events
        Times in seconds; ``peak`` from the annotation's ``peak=`` (NaN when absent).

    Raises
    ------
    ValueError
        One line naming the first tier, or annotation value, that is not understood.
    """
    from pympi import Eaf

    path = Path(path)
    try:
        eaf = Eaf(str(path))
    except Exception as err:  # pympi raises bare exceptions of several kinds on a file that is not EAF
        raise ValueError(f"{path}: not an ELAN .eaf file ({err})") from None
    cols = {k: [] for k in ("onset_s", "offset_s", "side", "region", "kind", "peak")}
    for tier in eaf.get_tier_names():
        annotations = eaf.get_annotation_data_for_tier(tier)
        if tier not in EAF_TIERS:
            if annotations:
                raise ValueError(f"{path}: tier {tier!r} is not one twitchcam understands (expected: "
                                 f"{', '.join(EAF_TIERS)}); rename it or move its annotations to one of those")
            continue
        side, region = tier.split()
        for start, end, value, *_ in annotations:
            words = str(value or "").split()
            onset, offset = start / 1000, end / 1000
            kind = words[0] if words else derive_kind(side, offset - onset, Config())
            if kind not in EVENT_KINDS:
                raise ValueError(f"{path}: tier {tier!r} at {onset:.3f} s: {value!r} does not start with a kind "
                                 f"({', '.join(EVENT_KINDS)})")
            peak = next((w.split("=", 1)[1] for w in words[1:] if w.startswith("peak=")), "nan")
            try:
                peak = float(peak)
            except ValueError:
                raise ValueError(f"{path}: tier {tier!r} at {onset:.3f} s: {value!r} has an unreadable peak") from None
            for key, v in zip(cols, (onset, offset, side, region, kind, peak)):
                cols[key].append(v)
    return Events.from_columns(**cols)


def import_decisions(review: Review, imported: Events, source: str) -> list[dict]:
    """The decisions that turn a review's current timeline into an imported one (see the module docstring).

    Parameters
    ----------
    review : Review
    imported : Events
        The edited timeline (:func:`read_eaf_events`).
    source : str
        Where it came from, for the decisions' notes.

    Returns
    -------
    list of dict
        Decisions for :func:`twitchcam.review.apply_decision`, in the order of the review's events, added ones last.
    """
    # In the order Events.from_columns sorts a table, so row j of ``current`` is ``events[j]``.
    events = sorted(review.events, key=lambda ev: (ev.onset_s, ev.side, ev.region))
    current = Events.from_columns(*([getattr(ev, k) for ev in events]
                                    for k in ("onset_s", "offset_s", "side", "region", "kind", "peak")))
    match = match_events(imported, current, PAIR_TOLERANCE_S, sides=("left", "right", "bilateral"))
    paired = {int(j): int(i) for i, j in match.pairs}
    note = f"imported from {source}"
    decisions = []
    for j, ev in enumerate(events):
        if j not in paired:
            if ev.status != "rejected":
                decisions.append({"action": "reject", "event": ev.id, "reason": "other",
                                  "note": f"removed in ELAN ({source})"})
            continue
        i = paired[j]
        changes = {}
        for key in ("onset_s", "offset_s"):
            value = round(float(getattr(imported, key)[i]), 3)
            if abs(value - getattr(ev, key)) > _SAME_TIME_S:
                changes[key] = value
        kind = str(imported.kind[i])
        # Moved edges re-derive the kind (review.derive_kind): the file's kind is kept if that would change it.
        if kind != ev.kind or (changes and derive_kind(ev.side, changes.get("offset_s", ev.offset_s)
                                                       - changes.get("onset_s", ev.onset_s), Config(), ev.kind)
                               != kind):
            changes["kind"] = kind
        if changes:
            decisions.append({"action": "edit", "event": ev.id, "changes": changes, "note": note})
        elif ev.status in ("pending", "rejected"):
            decisions.append({"action": "accept", "event": ev.id, "note": note})
    done = set(paired.values())
    for i in range(len(imported)):
        if i not in done:
            changes = {"onset_s": float(imported.onset_s[i]), "offset_s": float(imported.offset_s[i]),
                       "side": str(imported.side[i]), "region": str(imported.region[i]),
                       "kind": str(imported.kind[i])}
            decisions.append({"action": "add", "note": f"added in ELAN ({source})", "changes": changes})
    return decisions


def import_eaf(out_dir: str | Path, eaf_path: str | Path, reviewer: str) -> tuple[Review, dict]:
    """Import an edited ELAN file as decisions on an analysis folder's review, and save it.

    Parameters
    ----------
    out_dir : str | Path
        The analysis folder.
    eaf_path : str | Path
        The ELAN file.
    reviewer : str
        Who edited it.

    Returns
    -------
    review : Review
        The saved review.
    counts : dict of str to int
        Decisions made per action.

    Raises
    ------
    ValueError
        On a tier or value the file should not have (:func:`read_eaf_events`), or an impossible event.
    """
    imported = read_eaf_events(eaf_path)
    review, results = open_review(out_dir)
    decisions = import_decisions(review, imported, Path(eaf_path).name)
    for decision in decisions:
        review = apply_decision(review, decision, reviewer, results)
    write_review(results.out_dir, review, results)
    counts = {a: sum(d["action"] == a for d in decisions) for a in ("accept", "edit", "reject", "add")}
    counts["events"] = len(reviewed_events(review))
    return review, counts

