"""Every tunable setting of an analysis, in one frozen dataclass.

Field names carry their unit (``_s`` seconds, ``_px`` pixels, ``_iod`` fraction of the inter-ocular distance,
``_frac`` a dimensionless fraction). The effective configuration is written next to every result as
``config.json`` so that an analysis can be reproduced exactly.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

from .vocabulary import REGION_ASYM_FIELDS, REGION_THRESHOLD_FIELDS

RUNNING_MODES = ("image", "video")


def check_option(name: str, value, allowed, error: type[Exception] = ValueError):
    """Check that ``value`` is one of ``allowed``, with the one message every boundary gives (MNE's
    ``_check_option``).

    Parameters
    ----------
    name : str
        What the value is called in the message (an option, a field, a column).
    value : object
        The value to check.
    allowed : sequence of str
        The closed set, in the order the message lists it.
    error : type of Exception
        Raised when the value is not allowed (a module's own error type, e.g. ``ReviewError``).

    Returns
    -------
    str
        ``value``, so a check can sit in an assignment.

    Raises
    ------
    error
        ``"{name} must be one of a, b, c, got 'x'"``.
    """
    # Only strings: every closed set here is of words, and ``in`` on an array or a list would not mean "is one of".
    if isinstance(value, str) and value in allowed:
        return value
    raise error(f"{name} must be one of {', '.join(map(str, allowed))}, got {value!r}")

#: The allowed closed range ``(low, high)`` of every numeric setting, checked by :meth:`Config.__post_init__`.
#: Lower bounds above 0 are where 0 breaks the arithmetic (a zero-length baseline block, a zero-pixel frame);
#: upper bounds are where a value stops making sense for a face video, or would exhaust the machine
#: (each MediaPipe instance of ``inference_threads`` holds ~25 MB and a thread).
RANGES = {
    "inference_threads": (0, 16),
    "max_side_px": (64, 8192),
    "min_face_detection_confidence": (0.0, 1.0),
    "min_face_presence_confidence": (0.0, 1.0),
    "max_head_rotation_deg": (1.0, 90.0),
    "min_face_found_frac": (0.0, 1.0),
    "min_analyzable_s": (0.0, 3600.0),
    "min_decoded_frac": (0.0, 1.0),
    "baseline_window_s": (1.0, 600.0),
    "baseline_block_s": (0.1, 60.0),
    "eye_on_frac": (0.0, 1.0),
    "eye_asym_frac": (0.0, 1.0),
    "mouth_on_iod": (0.0, 1.0),
    "mouth_asym_iod": (0.0, 1.0),
    "brow_on_iod": (0.0, 1.0),
    "brow_asym_iod": (0.0, 1.0),
    "bilateral_on_frac": (0.0, 1.0),
    "bilateral_off_frac": (0.0, 1.0),
    "bilateral_ratio": (0.0, 1.0),
    "uneven_closure_ratio": (0.0, 1.0),
    "noise_k": (0.0, 100.0),
    "asym_local_k": (0.0, 100.0),
    "asym_window_s": (1.0, 600.0),
    "asym_trend_s": (1.0, 600.0),
    "asym_max_rotation_deg": (1.0, 90.0),
    "opposite_max_frac": (0.0, 100.0),
    "twitch_max_rise_s": (0.0, 10.0),
    "slow_min_score": (0.0, 100.0),
    "brief_max_s": (0.0, 10.0),
    "brief_min_score": (0.0, 1.0),
    "deep_closure_frac": (0.0, 1.0),
    "coupled_min_score": (0.0, 100.0),
    "merge_gap_s": (0.0, 10.0),
    "mouth_brow_merge_gap_s": (0.0, 10.0),
    "min_event_s": (0.0, 10.0),
    "tonic_min_s": (0.01, 60.0),
    "blink_max_s": (0.0, 10.0),
    "min_events": (1, 10000),
    "unilateral_min_li": (0.0, 1.0),
    "unilateral_stray_events": (0, 10000),
    "bilateral_min_closures": (1, 10000),
    "bilateral_min_per_min": (0.0, 1000.0),
    "irregular_min_cv": (0.0, 10.0),
    "coupling_window_s": (0.0, 10.0),
    "min_coupling_frac": (0.0, 1.0),
}


@dataclass(frozen=True)
class Config:
    """Settings of the twitchcam pipeline.

    Parameters
    ----------
    running_mode : {"image", "video"}
        MediaPipe running mode. ``"image"`` runs detection and landmarks independently on every frame, so nothing
        smooths a brief twitch away. VIDEO mode may track and smooth landmarks over time (it was reported to
        roughly halve the amplitude of 80-300 ms eyelid twitches with earlier MediaPipe releases); with mediapipe
        1.2 both modes were measured to give identical landmarks at the same cost
        (``benchmarks/running_mode.py``). IMAGE stays the default because it cannot smooth.
    inference_threads : int
        MediaPipe instances run side by side on the frames of one video (IMAGE mode only); 0 means one per core
        the process may run on (:func:`available_cores`), at most 4: a batch or split worker bound to one core
        runs one.
    max_side_px : int
        Frames whose longer side exceeds this are downscaled before landmark inference. Landmarks are still
        reported in pixels of the original frame.
    min_face_detection_confidence, min_face_presence_confidence : float
        Passed to MediaPipe.
    max_head_rotation_deg : float
        Frames where the head is turned further than this from its usual pose are not analyzed (NaN signals):
        landmarks of a face in profile are unreliable.
    min_face_found_frac : float
        Below this fraction of frames with a face, the pattern is ``insufficient_data``.
    min_analyzable_s : float
        Below this much video time with a face, the pattern is ``insufficient_data``.
    min_decoded_frac : float
        A file of which less than this fraction of the frames its container announces could be decoded (a
        truncated or damaged recording) gives a result flagged incomplete (``video.complete`` false in
        ``summary.json``, a note, the report, the cohort table).
    baseline_window_s : float
        Width of the rolling window over which each side's resting eye opening, mouth-corner and brow positions
        are estimated. Longer than a tonic spasm, shorter than a slow change of posture.
    baseline_block_s : float
        The baseline is computed on blocks of this length, then smoothed across blocks; this keeps it O(n).
    eye_on_frac, eye_asym_frac : float
        A unilateral eye event needs that eye's closure (1 - opening / resting opening) to reach ``eye_on_frac``
        and to exceed the other eye's closure by ``eye_asym_frac``. It spans the frames where both exceed half
        their threshold (hysteresis). MediaPipe under-reports lid closure (a lid warped 30 % closed measures
        ~10-15 %) and couples the eyes a little, hence the low values.
    mouth_on_iod, mouth_asym_iod : float
        The same for the mouth corner's pull up and out, in inter-ocular distances.
    brow_on_iod, brow_asym_iod : float
        The same for brow elevation, in inter-ocular distances.
    bilateral_on_frac, bilateral_off_frac : float
        Both eyes closed by at least ``bilateral_on_frac`` (spanning the frames where both exceed
        ``bilateral_off_frac``) is a bilateral closure, if the eyes also agree to within ``bilateral_ratio``.
    bilateral_ratio : float
        Minimum ratio of the less closed to the more closed eye's peak for a bilateral closure. Blinks measure
        ~0.9; one eye's twitch drags the other along to ~0.1-0.4 in MediaPipe's landmarks, at times further
        (such a closure is then bilateral: the landmarks cannot tell it from an unequal blink).
    uneven_closure_ratio : float
        Frames where one eye is closed less than ``uneven_closure_ratio`` times the other, for more frames than
        ``merge_gap_s`` spans, are no part of a closure of both eyes: a one-sided closure (a twitch while the
        other eye squints, or just after a blink) is not covered by the blink next to it. So are frames where the
        more closed eye closed again by more than ``bilateral_off_frac`` over the last ``coupling_window_s``
        while the other followed it less than ``uneven_closure_ratio`` as far and stays less than
        ``bilateral_ratio`` as closed (a twitch while both eyes are half shut). A blink's eyes close and reopen at
        slightly different speeds, but for a frame or two and, in the tuning clips' slow reopenings, to no less
        than ~0.6 of each other.
    noise_k : float
        Thresholds are raised to ``noise_k`` times the signal's robust frame-to-frame noise when the footage is
        noisier than the fixed thresholds assume.
    asym_local_k : float
        Asymmetry thresholds are raised to ``asym_local_k`` times the local robust spread of the left-right
        difference (after its head-pose model and slow trend are removed), so they follow the recording: higher
        while the face talks, laughs or turns, lower while it is calm.
    asym_window_s : float
        Window of that local spread (a running median of block deviations), s.
    asym_trend_s : float
        Window of the running median removed from the left-right difference as its slow trend (a held asymmetric
        expression, a light moving across the face), s. Longer than twice a tonic spasm so that one is kept.
    asym_max_rotation_deg : float
        Frames where the head is turned further than this from its usual pose are measured (blinks and bilateral
        closures count) but are no evidence of a one-sided twitch: the far side is foreshortened and tracked
        worse.
    opposite_max_frac : float
        A frame is no evidence of a one-sided twitch when this side has risen since the movement began and the
        other side has moved the opposite way by more than this fraction of that rise: one brow up and the other
        down, or one mouth corner out and the other in, is head roll or a tracking error, not a contraction.
        Movement is measured from the frame before the run (for the other mouth corner or brow, from its highest
        level over the ``coupling_window_s`` before it: it may move first), not from rest: a corner that merely
        sits in or out of its rest place (talking, pursed lips) is not moving. Without a measured frame before
        the run, from rest.
    twitch_max_rise_s : float
        A twitch rises fast (a clonic twitch in tens of milliseconds). While the face moves (the local spread has
        raised the asymmetry threshold), a one-sided movement that takes longer than this plus one frame interval
        (rises are timed in whole frames) to rise from 20 % to 80 % of its peak (a smirk, a cheek puff, the uneven
        start of an expression) is an event only when its score reaches ``slow_min_score``. Tonic spasms build up
        more slowly but strongly. A brief eye closure that rises within it counts from ``brief_min_score``,
        whether the face moves or not (``brief_max_s``).
    slow_min_score : float
        Score (asymmetry over the local threshold) a slowly rising movement needs to be an event, unless it is an
        eye closing by at least ``deep_closure_frac``.
    brief_max_s : float
        A one-sided eye closure lasting at most this long (its run's span plus one frame interval) that rises
        within ``twitch_max_rise_s``, while the other eye closes less than ``bilateral_ratio`` as far, has a clonic
        twitch's shape, brief and fast, which no expression has (a squint or a smile is slower and lasts): it is
        an event from ``brief_min_score``, on a calm face or a moving one.
    brief_min_score : float
        Score a brief, fast one-sided eye closure (``brief_max_s``) needs to be an event, where other one-sided
        movements need 1 (a deep eye closure and a movement coupled to an eye twitch ``coupled_min_score``, a slow
        one on a moving face ``slow_min_score``). At 1 the rule changes nothing.
    deep_closure_frac : float
        A one-sided eye closure at least this deep is an event however slowly it rises, and from
        ``coupled_min_score`` of the local threshold: a tonic spasm builds up over a few hundred milliseconds, and
        a wink is a true one-sided closure, however expressive the face around it.
    coupled_min_score : float
        A mouth-corner or brow movement together with an eye twitch of the same side is an event from this
        fraction of its asymmetry threshold (synkinesis); a brow movement is an event only so.
    merge_gap_s : float
        Supra-threshold runs of one eye separated by less than this are one event.
    mouth_brow_merge_gap_s : float
        The same for a mouth corner or a brow: a sustained pull or raise (a tonic spasm's) wavers in the landmarks
        more than an eye's closure does, and its pieces are one movement.
    min_event_s : float
        Shorter runs are discarded as landmark jitter; a mouth-corner or brow movement with an eye twitch of its
        side counts from a single frame (the eye's event shows it was no jitter).
    tonic_min_s : float
        Jankovic scale: contractions lasting at least this long are tonic, shorter ones clonic.
    blink_max_s : float
        Closures of both eyes shorter than ``tonic_min_s`` that stay beyond half their own depth for at most
        this long are blinks (normal blinks last ~100-400 ms; a blink's slow reopening and two blinks in a row do
        not count toward it); longer ones are clonic, and from ``tonic_min_s`` on tonic.
    min_events : int
        Fewer one-sided twitches than this on the leading side is pattern ``none`` (nothing to classify); an eye
        twitch and the mouth movement with it count once (:func:`twitchcam.pattern.count_twitches`).
    unilateral_min_li : float
        Minimum absolute laterality index, (left - right) / (left + right) over unilateral events, to call the
        pattern one-sided.
    unilateral_stray_events : int
        Twitches (the name is older than the count) on the other side that leave a pattern one-sided whatever
        its laterality index, beside at least twice ``min_events`` twitches on the affected side, an eye twitch
        and a mouth movement overlapping it or starting within ``coupling_window_s`` of it counted once on both
        sides (:func:`twitchcam.pattern.count_twitches`): a stray twitch, as one false detection in a recording
        of a moving face can be, does not make eight one-sided twitches two-sided.
    bilateral_min_closures : int
        Bilateral eye closures longer than a blink needed (besides ``bilateral_min_per_min``) for closures beyond
        normal blinking, the ``bilateral`` pattern of blepharospasm: a few long blinks or an emotional squint are
        not.
    bilateral_min_per_min : float
        The rate of such closures needed, per minute of measured video.
    irregular_min_cv : float
        Minimum coefficient of variation of the intervals between episodes on the affected side to call the
        rhythm irregular (a metronomic rhythm has CV near 0; gamma-distributed intervals around 0.5-1).
    coupling_window_s : float
        A perioral event is coupled to a periocular event of the same side when it overlaps it or their onsets
        are within this.
    min_coupling_frac : float
        CN VII spread needs at least this fraction of the affected side's perioral events coupled to periocular
        events (synkinetic co-contraction), besides both regions being involved.
    """

    running_mode: str = "image"
    inference_threads: int = 0
    max_side_px: int = 1280
    min_face_detection_confidence: float = 0.5
    min_face_presence_confidence: float = 0.5
    max_head_rotation_deg: float = 35.0
    min_face_found_frac: float = 0.5
    min_analyzable_s: float = 2.0
    min_decoded_frac: float = 0.95
    baseline_window_s: float = 12.0
    baseline_block_s: float = 1.0
    eye_on_frac: float = 0.11
    eye_asym_frac: float = 0.08
    mouth_on_iod: float = 0.02
    mouth_asym_iod: float = 0.018
    brow_on_iod: float = 0.02
    brow_asym_iod: float = 0.015
    bilateral_on_frac: float = 0.3
    bilateral_off_frac: float = 0.15
    bilateral_ratio: float = 0.7
    uneven_closure_ratio: float = 0.5
    noise_k: float = 4.0
    asym_local_k: float = 4.5
    asym_window_s: float = 6.0
    asym_trend_s: float = 6.0
    asym_max_rotation_deg: float = 25.0
    opposite_max_frac: float = 0.5
    twitch_max_rise_s: float = 0.06
    slow_min_score: float = 2.0
    brief_max_s: float = 0.35
    brief_min_score: float = 0.8
    deep_closure_frac: float = 0.4
    coupled_min_score: float = 0.5
    merge_gap_s: float = 0.08
    mouth_brow_merge_gap_s: float = 0.2
    min_event_s: float = 0.05
    tonic_min_s: float = 1.0
    blink_max_s: float = 0.5
    min_events: int = 3
    unilateral_min_li: float = 0.8
    unilateral_stray_events: int = 1
    bilateral_min_closures: int = 5
    bilateral_min_per_min: float = 10.0
    irregular_min_cv: float = 0.3
    coupling_window_s: float = 0.3
    min_coupling_frac: float = 0.3

    def __post_init__(self):
        """Reject a wrong type, a non-finite or out-of-range value, by field name with what is allowed.

        Raises
        ------
        ValueError
            One line naming the field, the value and the allowed values or range (:data:`RANGES`).
        """
        check_option("running_mode", self.running_mode, RUNNING_MODES)
        for field in dataclasses.fields(self):
            if field.name not in RANGES:
                continue
            value = getattr(self, field.name)
            low, high = RANGES[field.name]
            integer = field.type == "int"
            kind = "an integer" if integer else "a number"
            # bool is an int in Python, but true/false in a config file is a mistake, not 1/0.
            if isinstance(value, bool) or not isinstance(value, int if integer else (int, float)):
                raise ValueError(f"{field.name} must be {kind} from {low} to {high}, got {value!r}")
            if not math.isfinite(value) or not low <= value <= high:
                raise ValueError(f"{field.name} must be {kind} from {low} to {high}, got {value!r}")
        if self.bilateral_off_frac > self.bilateral_on_frac:
            raise ValueError(f"bilateral_off_frac ({self.bilateral_off_frac}) must not exceed bilateral_on_frac "
                             f"({self.bilateral_on_frac})")
        if self.baseline_block_s > self.baseline_window_s:
            raise ValueError(f"baseline_block_s ({self.baseline_block_s}) must not exceed baseline_window_s "
                             f"({self.baseline_window_s})")

    @property
    def on_thresholds(self) -> dict:
        """Each region's own threshold (``eye_on_frac``, ``mouth_on_iod``, ``brow_on_iod``), keyed by region
        (``periocular``, ``perioral``, ``brow``), in that order.
        """
        return {region: getattr(self, name) for region, name in REGION_THRESHOLD_FIELDS.items()}

    @property
    def asym_thresholds(self) -> dict:
        """Each region's fixed asymmetry threshold (``eye_asym_frac``, ``mouth_asym_iod``, ``brow_asym_iod``),
        keyed by region, in the order of :attr:`on_thresholds`.
        """
        return {region: getattr(self, name) for region, name in REGION_ASYM_FIELDS.items()}

    def to_dict(self) -> dict:
        """Return the settings as a JSON-ready dict."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> Config:
        """Build a Config from a dict, rejecting unknown keys by name.

        Raises
        ------
        ValueError
            Not a dict, an unknown key, or a value :meth:`__post_init__` rejects.
        """
        if not isinstance(values, dict):
            raise ValueError(f"settings must be a JSON object of name: value, got {type(values).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown config keys: {', '.join(unknown)}")
        return cls(**values)

    @classmethod
    def from_json(cls, path: str | Path) -> Config:
        """Read a Config from a JSON file such as a previous run's ``config.json``.

        Raises
        ------
        ValueError
            The file cannot be read, is not JSON, or holds a setting :meth:`from_dict` rejects; the message is
            one line that names the file.
        """
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
            raise ValueError(f"{path}: cannot read the settings ({reason})") from None
        try:
            values = json.loads(text)
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}: not valid JSON ({err.msg} at line {err.lineno}, column {err.colno})") \
                from None
        try:
            return cls.from_dict(values)
        except ValueError as err:
            raise ValueError(f"{path}: {err}") from None


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity where the OS has one): what "one per core" defaults mean."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1
