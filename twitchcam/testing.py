"""Landmark trajectories with known twitches, for tests and benchmarks of the numpy core.

:func:`make_landmarks` moves a real face's 478 landmarks (one frame of ``tests/data/single_face.mp4``, stored as
``face_template.npy``) exactly as a twitch would: an eye closure of amplitude ``a`` brings the measured upper-lid
points ``a`` of the way to the lower lid, a mouth pull of ``a`` moves the same-side corner ``a`` inter-ocular
distances up and out, a brow raise of ``a`` lifts the brow ``a`` inter-ocular distances. Head motion (3D rotation,
translation, zoom), symmetric expressions, blinks, landmark jitter and variable frame rate can be layered on, so
the expected events are known exactly.

The movements are a course of :mod:`twitchcam.courses`, which generates every course (this module only draws
them), drawn with the same envelope and in the same vocabulary (``side`` the patient's ``left`` | ``right`` or
``bilateral``): a generated course (an :class:`~twitchcam.events.Events` table from
:func:`~twitchcam.courses.make_course`, drawn as the video simulator :mod:`twitchcam.simulate` renders it), or
:class:`Twitch` rows, written by hand or spelled from a course by :func:`as_twitches` (the core tests' regular
course, :func:`~twitchcam.courses.regular_course`). numpy only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .config import check_option
from .courses import REGULAR_RAMP_S, envelope, locate_half_maximum, trace_course
from .events import EVENT_SIDES, Events
from .landmarks import Landmarks
from .regions import BROW, EYE_CORNERS, LOWER_LID, MOUTH_CORNER, REGIONS, SIDES, UPPER_LID

_TEMPLATE_PATH = Path(__file__).with_name("face_template.npy")


@dataclass(frozen=True)
class Twitch:
    """One movement to inject, spelled by its start and full length.

    It is drawn with the courses' envelope (:func:`twitchcam.courses.envelope`): a raised-cosine rise of
    ``ramp_s`` (at most half the duration) from ``onset_s``, a plateau, and a fall of ``ramp_s`` ending at
    ``onset_s + duration_s``; its half maximum is half a ramp after the start and before the end.

    Parameters
    ----------
    onset_s : float
        Start, in seconds.
    duration_s : float
        Length, in seconds (start to end of relaxation).
    side : str
        ``left``, ``right`` (the patient's) or ``bilateral`` (both sides at once: a blink, a smile, raised brows).
    region : str
        ``periocular`` (eye closure fraction), ``perioral`` (mouth-corner pull, inter-ocular distances) or
        ``brow`` (brow raise, inter-ocular distances).
    amplitude : float
        Peak size in the region's unit.
    ramp_s : float
        Rise and fall time, in seconds (by default a regular course's, :data:`twitchcam.courses.REGULAR_RAMP_S`).
    """

    onset_s: float
    duration_s: float
    side: str
    region: str
    amplitude: float
    ramp_s: float = REGULAR_RAMP_S

    def __post_init__(self):
        check_option("Twitch.side", self.side, EVENT_SIDES)
        check_option("Twitch.region", self.region, REGIONS)

    def trace(self, t: np.ndarray) -> np.ndarray:
        """The movement's size at each time, in the region's unit.

        Parameters
        ----------
        t : ndarray, shape (n_frames,)
            Time in seconds.

        Returns
        -------
        ndarray, shape (n_frames,)
            0 outside ``[onset_s, onset_s + duration_s]``, ``amplitude`` on the plateau.
        """
        onset, offset, ramp = locate_half_maximum(self.onset_s, self.duration_s, self.ramp_s)
        return self.amplitude * envelope(t, onset, offset, ramp, ramp)


def as_twitches(course: Events, ramp_s: float = REGULAR_RAMP_S) -> list[Twitch]:
    """The rows of a course as :class:`Twitch` rows, each rising and falling in one symmetric ramp.

    How the core tests draw :func:`twitchcam.courses.regular_course`, whose movements were planned with one ramp
    (a course drawn as an ``Events`` table takes each kind's ramps instead), and how they add hand-written rows to
    it or pick some of its rows.

    Parameters
    ----------
    course : Events
        Onset and offset at half maximum (:mod:`twitchcam.courses`).
    ramp_s : float
        Rise and fall time, s; a row shorter than it at half maximum gets a ramp as long as that.

    Returns
    -------
    list of Twitch
        One per row, in the course's order, starting half a ramp before its onset and ending half a ramp after
        its offset.
    """
    rows = []
    for onset, offset, side, region, peak in zip(course.onset_s.tolist(), course.offset_s.tolist(),
                                                 course.side.tolist(), course.region.tolist(), course.peak.tolist()):
        half = min(ramp_s, offset - onset) / 2
        start = onset - half
        rows.append(Twitch(start, (offset + half) - start, side, region, peak, ramp_s))
    return rows


def _traces(course: Sequence[Twitch] | Events, t: np.ndarray) -> list[tuple[str, str, np.ndarray]]:
    """``(side, region, size at each time t)`` of each movement of a course, drawn with the courses' envelope.

    An :class:`~twitchcam.events.Events` course is traced as the video simulator traces it
    (:func:`twitchcam.courses.trace_course`).
    """
    if isinstance(course, Events):
        return list(zip(course.side, course.region, trace_course(course, t)))
    return [(tw.side, tw.region, tw.trace(t)) for tw in course]


def _rotation(yaw: np.ndarray, pitch: np.ndarray, roll: np.ndarray) -> np.ndarray:
    """Rotation matrices, shape (n, 3, 3), from angles in radians."""
    cy, sy, cp, sp, cr, sr = np.cos(yaw), np.sin(yaw), np.cos(pitch), np.sin(pitch), np.cos(roll), np.sin(roll)
    one, zero = np.ones_like(yaw), np.zeros_like(yaw)
    ry = np.stack([np.stack([cy, zero, sy], -1), np.stack([zero, one, zero], -1), np.stack([-sy, zero, cy], -1)], 1)
    rx = np.stack([np.stack([one, zero, zero], -1), np.stack([zero, cp, -sp], -1), np.stack([zero, sp, cp], -1)], 1)
    rz = np.stack([np.stack([cr, -sr, zero], -1), np.stack([sr, cr, zero], -1), np.stack([zero, zero, one], -1)], 1)
    return rz @ rx @ ry


def make_landmarks(duration_s: float = 60.0, fps: float = 30.0, twitches: Sequence[Twitch] | Events = (),
                   head_yaw_deg: float = 0.0, head_pitch_deg: float = 0.0, head_roll_deg: float = 0.0,
                   head_shift_px: float = 0.0, zoom: float = 0.0, head_period_s: float = 7.0,
                   noise_px: float = 0.0, vfr_jitter: float = 0.0, missing: list[tuple[float, float]] = (),
                   seed: int = 0) -> Landmarks:
    """Make a landmark trajectory with known movements.

    Parameters
    ----------
    duration_s, fps : float
        Length in seconds and mean frame rate.
    twitches : sequence of Twitch | Events
        Movements to inject: rows written by hand, or a course of :func:`twitchcam.courses.make_course` (the
        course a simulated video of the same arguments shows). Movements of one side and region that overlap
        add up.
    head_yaw_deg, head_pitch_deg, head_roll_deg : float
        Amplitudes of slow sinusoidal head rotation, in degrees.
    head_shift_px : float
        Amplitude of slow head translation, in pixels.
    zoom : float
        Amplitude of slow relative size change (0.2 = +-20 %).
    head_period_s : float
        Period of the head motion, in seconds.
    noise_px : float
        Standard deviation of independent landmark jitter, in pixels.
    vfr_jitter : float
        Relative jitter of frame intervals (variable frame rate); 0 gives a constant rate.
    missing : list of (start_s, end_s)
        Intervals without a face (NaN rows).
    seed : int
        Random seed for jitter.

    Returns
    -------
    Landmarks
        Frame size 640x360, as the template's clip.
    """
    rng = np.random.default_rng(seed)
    n = int(round(duration_s * fps))
    steps = np.full(n, 1 / fps) * (1 + vfr_jitter * rng.uniform(-1, 1, n))
    t = np.concatenate([[0.0], np.cumsum(steps[:-1])])
    template = np.load(_TEMPLATE_PATH).astype(np.float64)
    xyz = np.repeat(template[None], n, axis=0)

    left_c, right_c = template[EYE_CORNERS["left"][0]], template[EYE_CORNERS["right"][0]]
    iod = np.linalg.norm(left_c - right_c)
    lateral = (left_c - right_c) / iod
    eyes_mid = (left_c + right_c) / 2
    mouth_mid = (template[MOUTH_CORNER["left"]] + template[MOUTH_CORNER["right"]]) / 2
    up = eyes_mid - mouth_mid
    up -= up.dot(lateral) * lateral
    up /= np.linalg.norm(up)

    for side_or_both, region, amp in _traces(twitches, t):
        for side in (SIDES if side_or_both == "bilateral" else (side_or_both,)):
            if region == "periocular":
                upper, lower = list(UPPER_LID[side]), list(LOWER_LID[side])
                gap = template[lower] - template[upper]
                xyz[:, upper] += amp[:, None, None] * gap[None]
            elif region == "perioral":
                outward = lateral if side == "left" else -lateral
                xyz[:, MOUTH_CORNER[side]] += amp[:, None] * iod * (outward + up) / np.sqrt(2)
            else:
                xyz[:, list(BROW[side])] += amp[:, None, None] * iod * up

    phase = 2 * np.pi * t / head_period_s
    rot = _rotation(np.radians(head_yaw_deg) * np.sin(phase), np.radians(head_pitch_deg) * np.sin(0.7 * phase),
                    np.radians(head_roll_deg) * np.sin(1.3 * phase))
    centre = template.mean(axis=0)
    scale = 1 + zoom * np.sin(0.5 * phase)
    shift = head_shift_px * np.stack([np.sin(0.9 * phase), np.cos(1.1 * phase), np.zeros(n)], -1)
    xyz = scale[:, None, None] * np.einsum("tkl,tpl->tpk", rot, xyz - centre) + centre + shift[:, None]
    if noise_px:
        xyz += rng.normal(0, noise_px, xyz.shape)

    found = np.ones(n, bool)
    for a, b in missing:
        found[(t >= a) & (t <= b)] = False
    xyz[~found] = np.nan
    return Landmarks(t, xyz.astype(np.float32), found, found.astype(np.int16), (640, 360))

