"""Scoring a detected event timeline against a reference one: the accuracy rules of the project, in one place.

The rules are those of ``benchmarks/accuracy.py`` (which scores against simulated truth) and of
``twitchcam review-stats`` (which scores the automatic timeline against a clinician-reviewed one):

- Only **unilateral** events count (side ``left`` or ``right``, the PATIENT's side); bilateral eye closures and
  blinks are not scored.
- A detected and a reference event **match** when they have the same side and the same region and their onsets are
  within :data:`ONSET_TOLERANCE_S` of each other. Matching is **one to one** and optimal: the largest number of
  matches, and among those the smallest total onset gap (an assignment with non-matching pairs priced out).
- Precision is matches / detected events, recall matches / reference events, F1 their harmonic mean (0 without a
  match). Totals over several recordings pool the counts (micro-averaging), per region and over all regions.
- The **onset error** of a match is detected minus reference onset, in seconds.
- **Pattern agreement** is the share of recordings whose detected pattern equals the reference pattern; **side
  agreement** the share, among recordings whose reference has a side, whose detected side equals it.
- **False unilateral events per minute** count the detected unilateral events left without a match on the
  *negative* recordings (by default those whose reference has no unilateral event), per minute of them.

Every function here is pure: event tables (:class:`twitchcam.events.Events`) and plain values in, frozen
dataclasses out.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from .events import Events
from .regions import REGIONS

#: Largest onset difference of a match, in seconds.
ONSET_TOLERANCE_S = 0.25

#: The sides that are scored.
SCORED_SIDES = ("left", "right")

# A pair that may not match costs more than any sum of allowed gaps, so the assignment maximizes matches first.
_FORBIDDEN_COST = 1e6


@dataclass(frozen=True)
class EventMatch:
    """The one-to-one matching of a detected timeline with a reference timeline (unilateral events only).

    Parameters
    ----------
    predicted, reference : Events
        The unilateral events of each timeline, in their table order.
    pairs : ndarray, shape (n_matches, 2), int64
        Rows of ``predicted`` and ``reference`` that match, ordered by the predicted row.
    tolerance_s : float
        The onset tolerance the matching used, in seconds.
    """

    predicted: Events
    reference: Events
    pairs: np.ndarray
    tolerance_s: float = ONSET_TOLERANCE_S

    @property
    def true_positives(self) -> int:
        """Number of matches."""
        return len(self.pairs)

    @property
    def n_predicted(self) -> int:
        """Number of scored detected events."""
        return len(self.predicted)

    @property
    def n_true(self) -> int:
        """Number of scored reference events."""
        return len(self.reference)

    @property
    def onset_error_s(self) -> np.ndarray:
        """Detected minus reference onset of each match, shape (n_matches,), in seconds."""
        return self.predicted.onset_s[self.pairs[:, 0]] - self.reference.onset_s[self.pairs[:, 1]]

    def counts(self, region: str | None = None) -> tuple[int, int, int]:
        """``(true_positives, n_predicted, n_true)`` of one region, or of all regions when None."""
        if region is None:
            return self.true_positives, self.n_predicted, self.n_true
        tp = int(np.sum(self.predicted.region[self.pairs[:, 0]] == region))
        return tp, int(np.sum(self.predicted.region == region)), int(np.sum(self.reference.region == region))


def match_events(predicted: Events, reference: Events, tolerance_s: float = ONSET_TOLERANCE_S,
                 sides: tuple = SCORED_SIDES) -> EventMatch:
    """Match detected unilateral events one to one with reference events (same side and region, onsets within
    ``tolerance_s``; the largest number of matches, then the smallest total onset gap).

    Parameters
    ----------
    predicted : Events
        The detected timeline (e.g. ``events.csv``).
    reference : Events
        The timeline taken as true (simulated truth, or ``events_reviewed.csv``).
    tolerance_s : float
        Largest onset difference of a match, in seconds.
    sides : tuple of str
        The sides matched; scoring uses :data:`SCORED_SIDES` (other uses, such as pairing an edited timeline with
        the one it was edited from, add ``bilateral``).

    Returns
    -------
    EventMatch
        Its tables hold only the events of ``sides``.
    """
    p = predicted[np.isin(predicted.side, sides)]
    t = reference[np.isin(reference.side, sides)]
    if len(p) == 0 or len(t) == 0:
        return EventMatch(p, t, np.zeros((0, 2), np.int64), tolerance_s)
    same = (p.side[:, None] == t.side[None, :]) & (p.region[:, None] == t.region[None, :])
    gap = np.abs(p.onset_s[:, None] - t.onset_s[None, :])
    ok = same & (gap <= tolerance_s)
    rows, cols = linear_sum_assignment(np.where(ok, gap, _FORBIDDEN_COST))
    keep = ok[rows, cols]
    return EventMatch(p, t, np.column_stack([rows[keep], cols[keep]]).astype(np.int64), tolerance_s)


@dataclass(frozen=True)
class DetectionScore:
    """Precision, recall and F1 of pooled counts.

    Parameters
    ----------
    true_positives, n_predicted, n_true : int
        Pooled counts.
    precision, recall : float
        NaN when there is nothing to divide by.
    f1 : float
        Harmonic mean of precision and recall; 0 without a match.
    """

    true_positives: int
    n_predicted: int
    n_true: int
    precision: float
    recall: float
    f1: float


def detection_score(true_positives: int, n_predicted: int, n_true: int) -> DetectionScore:
    """Precision, recall and F1 from pooled counts (F1 is 0 when nothing matched)."""
    precision = true_positives / n_predicted if n_predicted else float("nan")
    recall = true_positives / n_true if n_true else float("nan")
    f1 = 2 * precision * recall / (precision + recall) if true_positives else 0.0
    return DetectionScore(int(true_positives), int(n_predicted), int(n_true), precision, recall, f1)


@dataclass(frozen=True)
class CaseScore:
    """One recording scored against its reference.

    Parameters
    ----------
    name : str
        The recording (a case or a session folder).
    match : EventMatch
    pattern, reference_pattern : str
        Detected and reference pattern (see :data:`twitchcam.pattern.PATTERNS`); None when unknown.
    side, reference_side : str | None
        Detected and reference affected side (the patient's), None for patterns without a side.
    duration_s : float
        Length of the recording, in seconds.
    negative : bool
        A recording without twitches, whose unmatched detected events count as false events per minute.
    """

    name: str
    match: EventMatch
    pattern: str | None = None
    reference_pattern: str | None = None
    side: str | None = None
    reference_side: str | None = None
    duration_s: float = float("nan")
    negative: bool = False


def score_case(name: str, predicted: Events, reference: Events, pattern: str | None = None,
               reference_pattern: str | None = None, side: str | None = None, reference_side: str | None = None,
               duration_s: float = float("nan"), tolerance_s: float = ONSET_TOLERANCE_S,
               negative: bool | None = None) -> CaseScore:
    """Score one recording: :func:`match_events` plus its patterns and sides.

    Parameters
    ----------
    name : str
    predicted, reference : Events
        Detected and reference timelines.
    pattern, reference_pattern : str | None
        Detected and reference pattern.
    side, reference_side : str | None
        Detected and reference side.
    duration_s : float
        Length of the recording, in seconds (for false events per minute).
    tolerance_s : float
        Onset tolerance of a match, in seconds.
    negative : bool | None
        Whether the recording has no twitches; by default, whether the reference has no unilateral event (a
        benchmark whose negative cases carry some labelled events, such as winks, says so itself).

    Returns
    -------
    CaseScore
    """
    match = match_events(predicted, reference, tolerance_s)
    return CaseScore(name, match, pattern, reference_pattern, side, reference_side, duration_s,
                     match.n_true == 0 if negative is None else bool(negative))


@dataclass(frozen=True)
class Totals:
    """Scores pooled over recordings.

    Parameters
    ----------
    n_cases : int
    overall : DetectionScore
        All unilateral events.
    per_region : dict of str to DetectionScore
        Keyed by region (``periocular``, ``perioral``, ``brow``).
    onset_error_median_s, onset_error_mean_s, onset_error_mean_abs_s : float
        Median and mean of detected minus reference onset over all matches, and the mean of its absolute value,
        in seconds; NaN without a match.
    pattern_agreement : float
        Share of recordings (with both patterns known) whose patterns agree; NaN when none.
    side_agreement : float
        Share of recordings whose reference has a side whose detected side agrees; NaN when none.
    false_unilateral_per_min : float
        Unmatched detected unilateral events per minute of the negative recordings; NaN without any.
    """

    n_cases: int
    overall: DetectionScore
    per_region: dict = field(default_factory=dict)
    onset_error_median_s: float = float("nan")
    onset_error_mean_s: float = float("nan")
    onset_error_mean_abs_s: float = float("nan")
    pattern_agreement: float = float("nan")
    side_agreement: float = float("nan")
    false_unilateral_per_min: float = float("nan")

    def to_dict(self) -> dict:
        """A JSON-ready document (NaN stays NaN; :func:`twitchcam.folder.write_json` writes it as null)."""
        score = lambda s: {"true_positives": s.true_positives, "n_predicted": s.n_predicted,  # noqa: E731
                           "n_true": s.n_true, "precision": s.precision, "recall": s.recall, "f1": s.f1}
        return {"n_cases": self.n_cases, "overall": score(self.overall),
                "per_region": {r: score(s) for r, s in self.per_region.items()},
                "onset_error_median_s": self.onset_error_median_s, "onset_error_mean_s": self.onset_error_mean_s,
                "onset_error_mean_abs_s": self.onset_error_mean_abs_s, "pattern_agreement": self.pattern_agreement,
                "side_agreement": self.side_agreement, "false_unilateral_per_min": self.false_unilateral_per_min}


def _mean(values: list) -> float:
    return float(np.mean(values)) if values else float("nan")


def score_totals(cases: list[CaseScore]) -> Totals:
    """Pool the scores of several recordings (counts summed, then precision, recall and F1).

    Parameters
    ----------
    cases : list of CaseScore

    Returns
    -------
    Totals
    """
    overall = detection_score(*(sum(c.match.counts()[k] for c in cases) for k in range(3)))
    per_region = {r: detection_score(*(sum(c.match.counts(r)[k] for c in cases) for k in range(3)))
                  for r in REGIONS}
    errors = np.concatenate([c.match.onset_error_s for c in cases]) if cases else np.zeros(0)
    patterned = [c for c in cases if c.pattern is not None and c.reference_pattern is not None]
    sided = [c for c in cases if c.reference_side]
    negatives = [c for c in cases if c.negative]
    negative_minutes = sum(c.duration_s for c in negatives) / 60
    false_per_min = (sum(c.match.n_predicted - c.match.true_positives for c in negatives) / negative_minutes
                     if negatives and negative_minutes > 0 else float("nan"))
    return Totals(
        n_cases=len(cases), overall=overall, per_region=per_region,
        onset_error_median_s=float(np.median(errors)) if errors.size else float("nan"),
        onset_error_mean_s=float(errors.mean()) if errors.size else float("nan"),
        onset_error_mean_abs_s=float(np.abs(errors).mean()) if errors.size else float("nan"),
        pattern_agreement=_mean([c.pattern == c.reference_pattern for c in patterned]),
        side_agreement=_mean([c.side == c.reference_side for c in sided]),
        false_unilateral_per_min=false_per_min,
    )
