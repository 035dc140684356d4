"""Signals, events and pattern on generated landmark trajectories with known twitches (exact expectations)."""

import numpy as np
import pytest

from twitchcam.asymmetry import pose_asymmetry
from twitchcam.baselines import nanquantile_sorted, rolling_baseline
from twitchcam.config import Config
from twitchcam.courses import regular_course
from twitchcam.events import Events, _runs, detect_events, one_sided_levels
from twitchcam.landmarks import Landmarks
from twitchcam.pattern import classify_pattern, count_twitches
from twitchcam.pipeline import analyze_landmarks
from twitchcam.signals import compute_signals
from twitchcam.testing import Twitch, as_twitches, make_landmarks

pytestmark = pytest.mark.core

FPS = 30.0


def unilateral(events: Events) -> Events:
    return events[np.isin(events.side, ("left", "right"))]


def test_runs_match_scipy_label_and_closing():
    """Event runs are found with numpy run-length arithmetic (fast enough for live chunks); scipy.ndimage's
    binary closing and labelling define what they must be."""
    from scipy import ndimage

    rng = np.random.default_rng(0)
    for _ in range(3000):
        n, max_gap = int(rng.integers(1, 50)), int(rng.integers(0, 5))
        active = rng.random(n) < rng.random()
        values = np.where(rng.random(n) < 0.2, np.nan, rng.normal(size=n))
        closed = active
        if max_gap and active.any():
            pad = max_gap + 1
            closed = ndimage.binary_closing(np.pad(active, pad), np.ones(max_gap + 1, bool))[pad:-pad] | active
        labels, n_runs = ndimage.label(closed)
        start, stop, (peak,) = _runs(active, [values], max_gap)
        spans = ndimage.find_objects(labels)
        assert start.tolist() == [s[0].start for s in spans]
        assert stop.tolist() == [s[0].stop - 1 for s in spans]
        expected = (ndimage.maximum(np.where(np.isfinite(values), values, -np.inf), labels, np.arange(1, n_runs + 1))
                    if n_runs else [])
        np.testing.assert_array_equal(peak, np.asarray(expected, float).reshape(-1))


def test_eye_closure_signal_is_exact_on_the_twitching_side():
    lm = make_landmarks(10, FPS, [Twitch(4.0, 1.0, "left", "periocular", 0.6)])
    sig = compute_signals(lm)
    plateau = (lm.t > 4.2) & (lm.t < 4.8)
    np.testing.assert_allclose(sig.eye_closure[plateau, 0], 0.6, atol=1e-3)
    np.testing.assert_allclose(sig.eye_closure[:, 1], 0.0, atol=1e-3)
    np.testing.assert_allclose(sig.mouth_pull, 0.0, atol=1e-4)


def test_clonic_twitches_are_found_at_their_onsets():
    onsets = [2.0, 5.3, 6.1, 9.7, 14.2]
    lm = make_landmarks(20, FPS, [Twitch(t, 0.2, "left", "periocular", 0.5) for t in onsets], noise_px=0.2)
    events = detect_events(compute_signals(lm))
    assert list(events.side) == ["left"] * 5
    assert list(events.region) == ["periocular"] * 5
    assert list(events.kind) == ["clonic"] * 5
    np.testing.assert_allclose(events.onset_s, onsets, atol=2 / FPS)
    np.testing.assert_allclose(events.peak, 0.5, atol=0.05)


def test_tonic_spasm_is_tonic_and_jankovic_boundary_is_one_second():
    lm = make_landmarks(20, FPS, [Twitch(3.0, 2.0, "right", "periocular", 0.8),
                                  Twitch(10.0, 0.7, "right", "periocular", 0.8)])
    events = detect_events(compute_signals(lm))
    assert list(events.kind) == ["tonic", "clonic"]
    assert list(events.side) == ["right", "right"]
    assert events.duration_s[0] == pytest.approx(2.0, abs=0.15)


def test_synchronous_eye_closures_are_bilateral_blinks_never_unilateral():
    blinks = [Twitch(t, 0.25, "bilateral", "periocular", 0.9) for t in np.arange(1, 29, 2.9)]
    lm = make_landmarks(30, FPS, blinks, noise_px=0.2)
    events = detect_events(compute_signals(lm))
    assert len(events) == len(blinks)
    assert set(events.side) == {"bilateral"}
    assert set(events.kind) == {"blink"}
    summary = classify_pattern(events, compute_signals(lm))
    assert summary.pattern == "none"


def test_long_bilateral_closures_are_not_blinks():
    lm = make_landmarks(20, FPS, [Twitch(2, 0.8, "bilateral", "periocular", 0.8),
                                  Twitch(8, 1.6, "bilateral", "periocular", 0.8)])
    events = detect_events(compute_signals(lm))
    assert list(events.kind) == ["clonic", "tonic"]
    assert set(events.side) == {"bilateral"}


def test_a_blink_is_timed_at_half_its_depth_so_a_slow_reopening_or_a_double_blink_is_still_a_blink():
    # A blink closes both eyes to 0.8 for 0.2 s, and they reopen slowly: 0.3 closed for 0.5 s more, above
    # bilateral_off_frac, so the closure of both spans 0.7 s. At half its depth it lasts 0.2 s: a blink, timed as
    # blinks often are. So do two blinks 0.2 s apart between which the eyes only half reopen (one run, joined
    # across the gap), and a minute of 12 such blinks is no pattern; a forceful 0.8-s closure (0.8 deep
    # throughout) is not a blink.
    t = np.arange(0, 60, 1 / FPS)
    eye = np.zeros((len(t), 2))
    for onset in np.arange(2, 58, 5.0):
        for side in (0, 1):
            eye[:, side] += _pulse(t, onset, 0.25, 0.5) + _pulse(t, onset, 0.75, 0.3)
    signals = _signals(t, eye=eye)
    events = detect_events(signals)
    assert events.side.tolist() == ["bilateral"] * 12
    assert set(events.kind) == {"blink"}
    np.testing.assert_allclose(events.duration_s, 0.7, atol=0.05)
    assert classify_pattern(events, signals).pattern == "none"
    double = np.zeros((len(t), 2))
    for side in (0, 1):
        double[:, side] += _pulse(t, 5.0, 0.2, 0.8) + _pulse(t, 5.4, 0.2, 0.8) + _pulse(t, 5.15, 0.3, 0.3)
    events = detect_events(_signals(t, eye=double))
    assert list(zip(events.side, events.kind)) == [("bilateral", "blink")]
    np.testing.assert_allclose(events.duration_s, 0.55, atol=0.05)
    forceful = np.zeros((len(t), 2))
    forceful[:, :] = _pulse(t, 5.0, 0.8, 0.8)[:, None]
    assert detect_events(_signals(t, eye=forceful)).kind.tolist() == ["clonic"]
    # A frame without a face in it does not cut it short.
    eye = forceful.copy()
    eye[np.flatnonzero(t >= 5.4)[0]] = np.nan
    assert detect_events(_signals(t, eye=eye)).kind.tolist() == ["clonic"]
    # Eyes held half shut (0.45) for 3 s with a blink in it: a closure that long is tonic, however brief its
    # deepest moment.
    held = np.zeros((len(t), 2))
    held[:, :] = (_pulse(t, 5.0, 3.0, 0.45) + _pulse(t, 6.0, 0.2, 0.55))[:, None]
    assert detect_events(_signals(t, eye=held)).kind.tolist() == ["tonic"]


def test_eye_and_mouth_twitch_together_is_two_rows():
    lm = make_landmarks(10, FPS, [Twitch(3.0, 0.3, "left", "periocular", 0.6),
                                  Twitch(3.05, 0.3, "left", "perioral", 0.1)])
    events = detect_events(compute_signals(lm))
    assert list(zip(events.side, events.region)) == [("left", "periocular"), ("left", "perioral")]


def test_head_motion_smiles_and_blinks_give_no_unilateral_event():
    moves = [Twitch(t, 0.25, "bilateral", "periocular", 0.9) for t in np.arange(1, 59, 3.7)]
    moves += [Twitch(t, 2.0, "bilateral", "perioral", 0.12) for t in np.arange(2, 58, 6.5)]
    moves += [Twitch(t, 1.0, "bilateral", "brow", 0.08) for t in np.arange(4, 58, 9.0)]
    lm = make_landmarks(60, FPS, moves, head_yaw_deg=25, head_pitch_deg=12, head_roll_deg=10, head_shift_px=40,
                        zoom=0.25, noise_px=0.3)
    analysis = analyze_landmarks(lm)
    assert len(unilateral(analysis.events)) == 0
    assert analysis.pattern == "none"


@pytest.mark.parametrize("side", ["left", "right"])
def test_hfs_course_is_hemifacial_spasm_on_its_side_despite_head_motion(side):
    lm = make_landmarks(60, FPS, as_twitches(regular_course(side, 60, seed=3)), head_yaw_deg=15, head_roll_deg=8,
                        zoom=0.1, noise_px=0.3)
    analysis = analyze_landmarks(lm)
    assert analysis.pattern == "hemifacial_spasm"
    assert analysis.side == side
    assert analysis.summary.criteria == {"unilateral": True, "irregular": True, "cn7_spread": True}
    m = analysis.summary.metrics
    assert m["laterality_index"] == (1.0 if side == "left" else -1.0)
    assert m["eye_mouth_coupling"] == 1.0
    assert m["eye_mouth_lag_s"] == pytest.approx(0.05, abs=0.05)
    assert m["eye_first"] is True


def test_a_mouth_that_joins_an_eye_spasm_late_is_coupled_to_it():
    # Left eye spasms of 1.2 s whose mouth corner joins 0.5 s in (beyond coupling_window_s of the eye's onset,
    # within the spasm): synkinesis all the same, as the detector and the twitch count judge it.
    onsets = np.array([2.0, 6.5, 9.0, 15.5, 19.0, 26.0])
    eye = [Twitch(t, 1.2, "left", "periocular", 0.6) for t in onsets]
    mouth = [Twitch(t + 0.5, 0.4, "left", "perioral", 0.08) for t in onsets]
    analysis = analyze_landmarks(make_landmarks(30, FPS, eye + mouth, noise_px=0.2))
    m = analysis.summary.metrics
    assert m["unilateral_events"] == {"left": 12, "right": 0} and m["unilateral_twitches"]["left"] == 6
    assert m["eye_mouth_coupling"] == 1.0
    assert m["eye_mouth_lag_s"] == pytest.approx(0.5, abs=0.05)
    assert analysis.summary.criteria["cn7_spread"] is True and analysis.pattern == "hemifacial_spasm"


def test_rhythmic_unilateral_twitching_is_not_hfs():
    lm = make_landmarks(60, FPS, as_twitches(regular_course("left", 60, seed=1, rhythmic=True)), noise_px=0.3)
    analysis = analyze_landmarks(lm)
    assert analysis.pattern == "unilateral_other"
    assert analysis.summary.criteria["irregular"] is False
    assert analysis.summary.metrics["interval_cv"] < 0.1


def test_three_coupled_one_sided_episodes_are_hfs_with_their_rhythm_not_assessed():
    # Three episodes give two intervals: too few to see a rhythm, which is then not held against the pattern.
    course = []
    for onset in (4.0, 9.5, 17.0):
        course += [Twitch(onset, 0.25, "left", "periocular", 0.6), Twitch(onset + 0.05, 0.2, "left", "perioral", 0.08)]
    analysis = analyze_landmarks(make_landmarks(24, FPS, course, noise_px=0.2))
    assert analysis.pattern == "hemifacial_spasm" and analysis.side == "left"
    assert analysis.summary.criteria == {"unilateral": True, "irregular": None, "cn7_spread": True}
    assert analysis.summary.metrics["interval_cv"] is None
    assert analysis.summary.confidence["level"] == "borderline"
    assert "too few episodes to judge their rhythm" in analysis.summary.confidence["reasons"]


def test_mouth_only_twitching_is_not_hfs():
    lm = make_landmarks(60, FPS, as_twitches(regular_course("right", 60, seed=1, eye=False)), noise_px=0.3)
    analysis = analyze_landmarks(lm)
    assert analysis.pattern == "unilateral_other"
    assert analysis.side == "right"
    assert analysis.summary.criteria["cn7_spread"] is False


def test_blepharospasm_like_closures_are_bilateral():
    closures = [Twitch(t, 0.8 if i % 3 else 1.6, "bilateral", "periocular", 0.8)
                for i, t in enumerate(np.arange(1, 58, 2.7))]
    analysis = analyze_landmarks(make_landmarks(60, FPS, closures, noise_px=0.3))
    assert analysis.pattern == "bilateral"
    assert analysis.side is None


def test_brow_raise_with_eye_closure_is_reported_and_its_absence_does_not_count_against_hfs():
    course = as_twitches(regular_course("left", 60, seed=5))
    with_brow = course + [Twitch(tw.onset_s, tw.duration_s, "left", "brow", 0.06)
                          for tw in course if tw.region == "periocular"][:3]
    a = analyze_landmarks(make_landmarks(60, FPS, with_brow))
    b = analyze_landmarks(make_landmarks(60, FPS, course))
    assert a.summary.metrics["other_babinski_sign"] is True
    assert b.summary.metrics["other_babinski_sign"] is False
    assert a.pattern == b.pattern == "hemifacial_spasm"


def test_frames_without_face_are_nan_rows_and_counted():
    lm = make_landmarks(20, FPS, [Twitch(2, 0.3, "left", "periocular", 0.6)], missing=[(8, 12)])
    analysis = analyze_landmarks(lm)
    assert len(analysis.signals) == len(lm)
    gap = (lm.t >= 8) & (lm.t <= 12)
    assert np.isnan(analysis.signals.eye_closure[gap]).all()
    assert analysis.summary.video["face_found_fraction"] == pytest.approx(1 - gap.mean(), abs=1e-3)


def test_face_missing_most_of_the_time_is_insufficient_data():
    lm = make_landmarks(20, FPS, as_twitches(regular_course("left", 20, seed=1)), missing=[(3, 19)])
    assert analyze_landmarks(lm).pattern == "insufficient_data"


def test_variable_frame_rate_keeps_event_times_in_seconds():
    onsets = [3.0, 7.5, 12.25]
    lm = make_landmarks(15, 30, [Twitch(t, 0.3, "right", "periocular", 0.6) for t in onsets], vfr_jitter=0.4)
    assert np.ptp(np.diff(lm.t)) > 0.01
    events = detect_events(compute_signals(lm))
    np.testing.assert_allclose(events.onset_s, onsets, atol=0.06)


def test_thresholds_come_from_config():
    lm = make_landmarks(10, FPS, [Twitch(3, 0.3, "left", "periocular", 0.3)])
    assert len(detect_events(compute_signals(lm), Config(eye_on_frac=0.2))) == 1
    assert len(detect_events(compute_signals(lm), Config(eye_on_frac=0.4))) == 0
    assert len(detect_events(compute_signals(lm), Config(eye_asym_frac=0.4))) == 0


@pytest.mark.parametrize("q", [50, 80.0, np.float64(80.0), [80.0, 50.0], (80, 50), np.array([80.0, 50.0])])
def test_nanquantile_sorted_is_nanpercentile_for_every_form_of_q(q):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 2))
    x[rng.random(x.shape) < 0.3] = np.nan
    x[:, 1][5:] = np.nan  # a column with few values
    # A sequence gives each column its own percentile.
    per_column = np.broadcast_to(np.asarray(q, float), 2)
    expected = [np.nanpercentile(x[:, j], per_column[j]) for j in range(2)]
    np.testing.assert_allclose(nanquantile_sorted(x, q, axis=0), expected, rtol=0, atol=1e-12)


def test_rolling_baseline_ignores_a_tonic_spasm():
    t = np.arange(0, 30, 1 / 30)
    x = np.ones((len(t), 1))
    x[(t > 10) & (t < 13)] = 0.2
    base = rolling_baseline(x, t, window_s=12, block_s=1, q=80)
    np.testing.assert_allclose(base, 1.0)


def test_config_rejects_unknown_keys_and_bad_values():
    with pytest.raises(ValueError, match="unknown config keys: bogus"):
        Config.from_dict({"bogus": 1})
    with pytest.raises(ValueError, match="running_mode"):
        Config(running_mode="fast")
    with pytest.raises(ValueError, match="bilateral_off_frac"):
        Config(bilateral_on_frac=0.1, bilateral_off_frac=0.2)


def test_unequal_blinks_with_one_eye_lagging_are_bilateral_not_unilateral():
    moves = []
    for t in np.arange(1, 29, 2.9):
        moves.append(Twitch(t, 0.25, "left", "periocular", 0.9))
        moves.append(Twitch(t + 1 / FPS, 0.25, "right", "periocular", 0.7))
    events = detect_events(compute_signals(make_landmarks(30, FPS, moves, noise_px=0.2)))
    assert len(unilateral(events)) == 0
    assert (events.side == "bilateral").sum() == 10


def test_a_tonic_spasm_with_a_blink_in_the_middle_is_still_a_unilateral_tonic_event():
    # During the blink both eyes reach 0.9 closure: the spasming left eye closes the rest of the way.
    moves = [Twitch(5.0, 3.0, "left", "periocular", 0.5), Twitch(6.3, 0.25, "right", "periocular", 0.9),
             Twitch(6.3, 0.25, "left", "periocular", 0.4)]
    events = detect_events(compute_signals(make_landmarks(15, FPS, moves)))
    # Exactly these two: the spasm is one left tonic event from its onset to its end (the left eye stays closed
    # through the blink, which joins its two halves), and the blink is a bilateral blink inside it.
    assert list(zip(events.side, events.kind)) == [("left", "tonic"), ("bilateral", "blink")]
    assert set(events.region) == {"periocular"}
    np.testing.assert_allclose(events.onset_s, [5.0, 6.3], atol=0.1)
    np.testing.assert_allclose(events.offset_s, [8.0, 6.5], atol=0.1)


def test_a_tonic_spasm_that_begins_as_a_blink_ends_is_a_unilateral_tonic_event():
    # The spasm's run begins while both eyes reopen from the blink: that is no movement of the other eye away
    # from this one's.
    moves = [Twitch(6.3, 0.2, "bilateral", "periocular", 0.9), Twitch(6.45, 1.5, "left", "periocular", 0.6)]
    events = detect_events(compute_signals(make_landmarks(15, FPS, moves, noise_px=0.2)))
    assert list(zip(events.side, events.kind)) == [("bilateral", "blink"), ("left", "tonic")]
    # Where in the blink the spasm began cannot be seen: it is dated from the first frame after the blink and the
    # merge_gap_s (2 frames at 30 fps) around it, not from the blink's start.
    assert events.onset_frame[1] == events.offset_frame[0] + 2 + 1
    np.testing.assert_allclose(events.offset_s[1], 7.95, atol=0.1)


# --- Real-face behaviour: local thresholds, head pose, twitch shape, synkinesis, the pattern rule ---------------

def _signals(t, eye=None, mouth=None, brow=None, pose_deg=None):
    """Signals with the given (n, 2) region signals (zeros elsewhere), for detect_events on exact trajectories."""
    from twitchcam.signals import SIGNAL_NAMES, Signals

    n = len(t)
    zeros = np.zeros((n, 2))
    eye, mouth, brow = (zeros.copy() if x is None else np.asarray(x, float) for x in (eye, mouth, brow))
    pose = np.zeros((n, 3)) if pose_deg is None else np.asarray(pose_deg, float)
    return Signals(t, np.ones(n, bool), np.ones(n, bool), eye, mouth, brow, 0.1 * (1 - eye), np.zeros(n),
                   np.ones(n), {name: np.zeros(2) for name in SIGNAL_NAMES}, 100.0, pose)


def _pulse(t, onset_s, duration_s, amplitude, ramp_s=0.04):
    return Twitch(onset_s, duration_s, "left", "periocular", amplitude, ramp_s).trace(t)


@pytest.mark.core
def test_the_pose_model_explains_the_difference_that_yaw_and_roll_make_and_not_a_twitch():
    t = np.arange(0, 20, 1 / FPS)
    pose = np.column_stack([20 * np.sin(2 * np.pi * t / 5), np.zeros_like(t), 15 * np.cos(2 * np.pi * t / 7)])
    by_pose = 0.01 * pose[:, 0] - 0.004 * pose[:, 2]
    twitch = (t >= 8) & (t < 8.3)
    difference = np.column_stack([by_pose + 0.4 * twitch, np.zeros_like(t)])
    use = np.column_stack([~twitch, np.ones_like(twitch)])
    fitted = pose_asymmetry(difference, pose, use)
    # Off the twitch the pose explains the difference (the ridge penalty shrinks it a little) ...
    residual = fitted[:, 0] - by_pose
    assert 1 - np.var(residual[~twitch]) / np.var(by_pose[~twitch]) > 0.99
    assert np.abs(residual).max() < 0.025
    # ... and the twitch's 0.4, left out of the fit, is left to the asymmetry; a column with no difference is
    # fitted as none.
    np.testing.assert_allclose(fitted[:, 1], 0, atol=1e-12)
    # A column that fewer than 30 frames may fit, and frames whose pose is unknown, get no model.
    few = use.copy()
    few[29:, 0] = False
    pose_unknown = pose.copy()
    pose_unknown[100:110] = np.nan
    assert not pose_asymmetry(difference, pose, few)[:, 0].any()
    few[29, 0] = True
    assert pose_asymmetry(difference, pose, few)[:, 0].any()
    assert not pose_asymmetry(difference, pose_unknown, use)[100:110].any()


def test_the_eye_difference_that_head_turns_explain_is_no_event_but_a_twitch_during_a_turn_is():
    # A turned head makes the far eye look smaller: here 0.012 of closure per degree of yaw, turns of +-25 deg
    # every 4 s, which alone reaches 0.3 of closure (far above the eye's thresholds).
    t = np.arange(0, 30, 1 / FPS)
    yaw = 25 * np.sin(2 * np.pi * t / 4)
    eye = np.zeros((len(t), 2))
    eye[:, 0] = np.clip(0.012 * yaw, 0, None)
    eye[:, 1] = np.clip(-0.012 * yaw, 0, None)
    onsets = [3.3, 11.6, 19.1, 26.4]
    for onset in onsets:
        eye[:, 0] += _pulse(t, onset, 0.25, 0.6)
    pose = np.stack([yaw, np.zeros_like(t), np.zeros_like(t)], axis=1)
    events = unilateral(detect_events(_signals(t, eye=eye, pose_deg=pose)))
    assert events.side.tolist() == ["left"] * 4
    assert events.region.tolist() == ["periocular"] * 4
    np.testing.assert_allclose(events.onset_s, onsets, atol=0.05)
    # Without the pose the turns are unexplained asymmetry: they raise the local threshold and hide the twitches.
    blind = unilateral(detect_events(_signals(t, eye=eye)))
    assert len(blind) < len(onsets)


def _talking_recording():
    """0-15 s calm with small twitches (0.05 iod of right mouth pull over the other corner); 15-30 s talking: both
    corners move 0.06 iod and unevenly (0.025 iod of left-right difference), which the fixed threshold alone would
    call one-sided pulls every few seconds. Returns t, the mouth signal (n_frames, 2) and the twitches' onsets.
    """
    rng = np.random.default_rng(0)
    t = np.arange(0, 30, 1 / FPS)
    talking = (t >= 15).astype(float)
    syllables = np.convolve(rng.normal(0, 1, (len(t))), np.ones(6) / 6, mode="same")
    mouth = np.stack([0.06 * talking * np.abs(syllables) + 0.025 * talking * syllables,
                      0.06 * talking * np.abs(syllables)], axis=1)
    onsets = [2.0, 5.5, 9.2, 12.7]
    for onset in onsets:
        mouth[:, 1] += _pulse(t, onset, 0.3, 0.05)
    return t, mouth, onsets


def test_the_asymmetry_threshold_follows_the_recording_so_talking_gives_no_event_and_calm_twitches_are_found():
    t, mouth, onsets = _talking_recording()
    events = unilateral(detect_events(_signals(t, mouth=mouth)))
    assert events.side.tolist() == ["right"] * 4
    np.testing.assert_allclose(events.onset_s, onsets, atol=0.05)
    fixed = unilateral(detect_events(_signals(t, mouth=mouth), Config(asym_local_k=0.0)))
    assert np.any(fixed.onset_s >= 15)


def test_the_level_a_side_had_to_reach_is_what_the_detector_used():
    # The talking recording: the right corner's level is the left corner plus the threshold, raised while the face
    # talks; each twitch's peak reaches it.
    t, mouth, _ = _talking_recording()
    signals, cfg = _signals(t, mouth=mouth), Config()
    levels = one_sided_levels(signals, cfg)[:, 1]  # perioral: (n_frames, left right)
    assert levels.shape == (len(t), 2)
    calm, talk = t < 15, t >= 15
    # Calm: the fixed threshold over the other side (the local spread is below it), never below the own threshold.
    rest = calm & (t < 1.5)
    np.testing.assert_allclose(levels[rest, 1], np.maximum(mouth[rest, 0] + cfg.mouth_asym_iod, cfg.mouth_on_iod),
                               atol=1e-3)
    assert np.all(levels >= cfg.mouth_on_iod - 1e-12)
    assert np.median(levels[talk] - mouth[talk][:, ::-1]) > 1.5 * cfg.mouth_asym_iod
    events = unilateral(detect_events(signals, cfg))
    assert len(events) == 4
    for onset, offset in zip(events.onset_s, events.offset_s):
        inside = (t >= onset) & (t <= offset)
        assert np.any(mouth[inside, 1] >= levels[inside, 1])


@pytest.mark.core
def test_a_twitch_while_both_eyes_are_half_shut_after_a_blink_is_its_own_event_dated_from_its_onset():
    # After a blink both eyes stay 0.25 closed (looking down): one closure of both above bilateral_off_frac from
    # 5.0 to 6.2 s. At 5.5 s the left eye closes to 0.6 and MediaPipe drags the right to 0.35 (0.58 of the left:
    # above uneven_closure_ratio, so not "one eye well ahead"). The left eye closed again by 0.35 while the right
    # followed by 0.1: that stretch is the left eye's own closure, cut out of the closure of both.
    t = np.arange(0, 12, 1 / FPS)
    eye = np.zeros((len(t), 2))
    for side in (0, 1):
        eye[:, side] += _pulse(t, 5.0, 0.2, 0.45) + _pulse(t, 5.1, 1.1, 0.25)
    eye[:, 0] += _pulse(t, 5.5, 0.25, 0.35)
    eye[:, 1] += _pulse(t, 5.5, 0.25, 0.1)
    events = detect_events(_signals(t, eye=eye))
    assert events.side.tolist() == ["bilateral", "left"]
    np.testing.assert_allclose(events.onset_s, [5.0, 5.5], atol=0.05)
    np.testing.assert_allclose(events.offset_s[1], 5.75, atol=0.05)
    # Both eyes closing again together (a second blink while half shut) is no one-sided closure.
    eye = np.zeros((len(t), 2))
    for side in (0, 1):
        eye[:, side] += _pulse(t, 5.0, 0.2, 0.45) + _pulse(t, 5.1, 1.1, 0.25) + _pulse(t, 5.5, 0.25, 0.35)
    eye[:, 1] += _pulse(t, 5.5, 0.25, 0.05)
    assert detect_events(_signals(t, eye=eye)).side.tolist() == ["bilateral"]


def test_a_one_frame_mouth_pull_counts_with_an_eye_twitch_of_its_side_and_not_alone():
    # A brief pull of the left mouth corner that MediaPipe shows in one frame at 30 fps.
    t = np.arange(0, 12, 1 / FPS)
    mouth = np.zeros((len(t), 2))
    mouth[np.flatnonzero(t >= 5.05)[0], 0] = 0.05
    eye = np.zeros((len(t), 2))
    eye[:, 0] = _pulse(t, 5.0, 0.2, 0.6)
    events = detect_events(_signals(t, eye=eye, mouth=mouth))
    assert list(zip(events.side, events.region)) == [("left", "periocular"), ("left", "perioral")]
    assert events.onset_frame[1] == events.offset_frame[1]
    assert len(detect_events(_signals(t, mouth=mouth))) == 0


def test_a_twitch_just_after_a_blink_is_not_covered_by_it_and_an_unequal_reopening_is():
    # MediaPipe drags the other eye along (0.25 here), so the eyes never both reopen between the blink and the
    # twitch: one run where both exceed bilateral_off_frac. The twitch's frames, the left eye more than twice as
    # closed as the right, are cut out of it.
    t = np.arange(0, 12, 1 / FPS)
    eye = np.zeros((len(t), 2))
    for side in (0, 1):
        eye[:, side] += _pulse(t, 5.0, 0.2, 0.6)
    eye[:, 1] += _pulse(t, 5.1, 0.55, 0.25)
    eye[:, 0] += _pulse(t, 5.35, 0.3, 0.6) + _pulse(t, 5.1, 0.2, 0.25)
    events = detect_events(_signals(t, eye=eye))
    assert events.side.tolist() == ["bilateral", "left"]
    np.testing.assert_allclose(events.onset_s, [5.0, 5.35], atol=0.05)
    np.testing.assert_allclose(events.offset_s[1], 5.65, atol=0.05)
    # A blink whose right eye reopens more slowly, the left staying at 0.57 of the right's closure (above
    # uneven_closure_ratio), stays one bilateral closure.
    eye = np.zeros((len(t), 2))
    for side in (0, 1):
        eye[:, side] += _pulse(t, 5.0, 0.2, 0.7)
    eye[:, 1] += _pulse(t, 5.1, 0.5, 0.35)
    eye[:, 0] += _pulse(t, 5.1, 0.5, 0.2)
    events = detect_events(_signals(t, eye=eye))
    assert events.side.tolist() == ["bilateral"]
    # So does a blink whose right eye closes two frames after the left: its uneven frames (the right eye less than
    # half as closed) last no longer than merge_gap_s, too briefly to be cut out.
    eye = np.zeros((len(t), 2))
    eye[:, 0] += _pulse(t, 5.0, 0.25, 0.8, ramp_s=0.1)
    eye[:, 1] += _pulse(t, 5.0 + 2 / FPS, 0.25, 0.8, ramp_s=0.1)
    events = detect_events(_signals(t, eye=eye))
    assert list(zip(events.side, events.onset_frame, events.offset_frame)) == [("bilateral", 153, 156)]


def test_a_fast_twitch_just_after_a_blink_on_a_moving_face_is_timed_from_its_own_foot():
    # Both eyes move on their own (smoothed noise, so the local threshold is raised and rises are timed). The
    # blink's frames, no evidence of a one-sided twitch, are not the foot of the twitch 0.05 s after it: timed from
    # before the blink, it would be a slow movement and dropped.
    t = np.arange(0, 20, 1 / FPS)
    lags = np.arange(-12, 13)
    kernel = np.exp(-0.5 * (lags / 3) ** 2) / np.exp(-0.5 * (lags / 3) ** 2).sum()
    noise = np.pad(np.random.default_rng(0).normal(0, 0.25, (len(t), 2)), ((12, 12), (0, 0)), mode="symmetric")
    eye = np.clip(np.stack([np.convolve(noise[:, j], kernel, mode="valid") for j in (0, 1)], axis=1), 0, None)
    for side in (0, 1):
        eye[:, side] += _pulse(t, 10.0, 0.2, 0.8)
    eye[:, 0] += _pulse(t, 10.25, 0.3, 0.3)
    events = unilateral(detect_events(_signals(t, eye=eye)))
    near = events[(events.onset_s > 10.1) & (events.onset_s < 10.5)]
    assert near.side.tolist() == ["left"]
    np.testing.assert_allclose(near.onset_s, [10.27], atol=0.04)


def test_a_slow_one_sided_smirk_on_a_moving_face_is_no_twitch_but_a_fast_pull_of_the_same_size_is():
    # Both corners move on their own while the person talks (independent, smoothed, ~0.01 iod).
    rng = np.random.default_rng(1)
    t = np.arange(0, 20, 1 / FPS)
    mouth = 0.025 * np.stack([np.convolve(rng.normal(0, 1, len(t)), np.ones(8) / 8, mode="same")
                              for _ in range(2)], axis=1)
    mouth[:, 0] += _pulse(t, 5.0, 1.2, 0.04, ramp_s=0.5)   # a smirk: half a second to build up
    mouth[:, 0] += _pulse(t, 12.0, 0.3, 0.04, ramp_s=0.04)  # a twitch
    events = unilateral(detect_events(_signals(t, mouth=mouth)))
    assert events.onset_s.round(1).tolist() == [12.0]
    assert events.side.tolist() == ["left"]
    # A fast pull within a second of a larger smirk is timed on its own rise, not on the smirk's before it.
    mouth[:, 0] += _pulse(t, 15.0, 0.4, 0.055, ramp_s=0.5) + _pulse(t, 16.0, 0.3, 0.04, ramp_s=0.04)
    events = unilateral(detect_events(_signals(t, mouth=mouth)))
    assert events.onset_s.round(1).tolist() == [12.0, 16.0]


def test_a_brief_fast_eye_closure_counts_below_the_local_threshold_but_a_long_one_or_a_blink_does_not():
    # Both eyes open and close a little on their own (slow, out of step), which raises the local threshold.
    t = np.arange(0, 20, 1 / FPS)
    moving = np.stack([0.04 * (1 + np.sin(2 * np.pi * 0.7 * t)), 0.04 * (1 + np.sin(2 * np.pi * 0.45 * t + 1))],
                      axis=1)
    brief = moving.copy()
    brief[:, 0] += _pulse(t, 5.0, 0.25, 0.28, ramp_s=0.04)  # a clonic twitch's shape, 0.9 of the local threshold
    events = unilateral(detect_events(_signals(t, eye=brief)))
    assert events.side.tolist() == ["left"] and events.onset_s.round(2).tolist() == [5.03]
    assert 0.8 <= events.score[0] < 1
    # Not so with the rule at 1, nor for the same closure held 0.4 s.
    assert not len(unilateral(detect_events(_signals(t, eye=brief), Config(brief_min_score=1.0))))
    held = moving.copy()
    held[:, 0] += _pulse(t, 5.0, 0.4, 0.28, ramp_s=0.04)
    assert not len(unilateral(detect_events(_signals(t, eye=held))))
    # An incomplete blink of unequal eyes on a calm face (both under bilateral_on_frac, so no closure of both) has
    # the same shape and score, but the other eye closes 0.74 as far: no event, unless that counted as one-sided.
    eye = np.zeros((len(t), 2))
    eye[:, 0] += _pulse(t, 5.0, 0.25, 0.29, ramp_s=0.04)
    eye[:, 1] += _pulse(t, 5.0, 0.25, 0.215, ramp_s=0.04)
    assert not len(unilateral(detect_events(_signals(t, eye=eye))))
    loose = unilateral(detect_events(_signals(t, eye=eye), Config(bilateral_ratio=0.8)))
    assert loose.side.tolist() == ["left"] and 0.8 <= loose.score[0] < 1


def test_a_wavering_mouth_pull_and_brow_raise_in_a_tonic_spasm_are_one_event_each():
    # A tonic spasm of the left eye for 1.5 s; the mouth corner and the brow go with it, each easing off for a
    # moment halfway (under their run's start level for 0.17 s, 5 frames).
    t = np.arange(0, 20, 1 / FPS)
    eye, mouth, brow = np.zeros((len(t), 2)), np.zeros((len(t), 2)), np.zeros((len(t), 2))
    eye[:, 0] += _pulse(t, 5.0, 1.5, 0.6, ramp_s=0.1)
    for x in (mouth, brow):
        x[:, 0] += _pulse(t, 5.1, 0.5, 0.05, ramp_s=0.06) + _pulse(t, 5.72, 0.5, 0.05, ramp_s=0.06)
    signals = _signals(t, eye=eye, mouth=mouth, brow=brow)
    events = detect_events(signals)
    assert list(zip(events.region, events.kind, events.onset_s.round(2), events.offset_s.round(2))) == [
        ("periocular", "tonic", 5.03, 6.47), ("brow", "tonic", 5.13, 6.2), ("perioral", "tonic", 5.13, 6.2)]
    # Joined across an eye's gap only, each would be two clonic movements.
    split = detect_events(signals, Config(mouth_brow_merge_gap_s=0.08))
    assert split.region.tolist() == ["periocular", "brow", "perioral", "brow", "perioral"]
    assert split.kind.tolist() == ["tonic"] + ["clonic"] * 4


def test_a_wink_is_one_sided_event_however_slow_and_one_or_two_winks_are_no_pattern():
    t = np.arange(0, 20, 1 / FPS)
    eye = np.zeros((len(t), 2))
    eye[:, 0] += _pulse(t, 4.0, 0.6, 0.9, ramp_s=0.25)
    eye[:, 1] += _pulse(t, 11.0, 0.6, 0.9, ramp_s=0.25)
    signals = _signals(t, eye=eye)
    events = detect_events(signals)
    assert unilateral(events).side.tolist() == ["left", "right"]
    assert classify_pattern(events, signals).pattern == "none"


def test_a_mouth_pull_with_an_eye_twitch_counts_below_its_own_threshold_but_not_without_one():
    t = np.arange(0, 20, 1 / FPS)
    eye, mouth = np.zeros((len(t), 2)), np.zeros((len(t), 2))
    eye[:, 0] += _pulse(t, 3.0, 0.3, 0.6)
    cfg = Config(mouth_asym_iod=0.03)
    weak = 0.025   # below the mouth's asymmetry threshold, above coupled_min_score of it and its own threshold
    assert cfg.coupled_min_score * cfg.mouth_asym_iod < weak < cfg.mouth_asym_iod and weak > cfg.mouth_on_iod
    mouth[:, 0] += _pulse(t, 3.05, 0.3, weak)
    mouth[:, 0] += _pulse(t, 9.0, 0.3, weak)    # the same pull without the eye
    events = unilateral(detect_events(_signals(t, eye=eye, mouth=mouth), cfg))
    assert events.region.tolist() == ["periocular", "perioral"]
    np.testing.assert_allclose(events.onset_s, [3.0, 3.05], atol=0.05)


def test_brow_movements_without_an_eye_closure_are_no_events():
    t = np.arange(0, 20, 1 / FPS)
    brow, eye = np.zeros((len(t), 2)), np.zeros((len(t), 2))
    for onset in (2.0, 6.0, 10.0):
        brow[:, 1] += _pulse(t, onset, 0.4, 0.06)          # talking brows, one-sided
    eye[:, 1] += _pulse(t, 15.0, 1.3, 0.8)
    brow[:, 1] += _pulse(t, 15.1, 1.0, 0.06)               # brow up as the eye closes: "other Babinski sign"
    events = unilateral(detect_events(_signals(t, eye=eye, brow=brow)))
    assert events[events.region == "brow"].onset_s.round(1).tolist() == [15.1]


def test_opposite_movement_of_the_other_side_is_no_evidence_of_a_twitch():
    # One brow up, the other down by as much: a head roll or tracking error, not a contraction.
    t = np.arange(0, 20, 1 / FPS)
    mouth = np.zeros((len(t), 2))
    for onset in (3.0, 8.0, 13.0):
        shift = _pulse(t, onset, 0.3, 0.06)
        mouth[:, 0] += shift
        mouth[:, 1] -= shift
    assert len(unilateral(detect_events(_signals(t, mouth=mouth)))) == 0
    # Nor when the other corner moves first (by up to coupling_window_s), or the face was lost just before.
    for lead_frames in (1, 3, 8):
        shifted = np.zeros((len(t), 2))
        for onset in (3.0, 8.0, 13.0):
            shifted[:, 0] += _pulse(t, onset, 0.3, 0.06)
            shifted[:, 1] -= _pulse(t, onset - lead_frames / FPS, 0.3 + lead_frames / FPS, 0.06)
        assert len(unilateral(detect_events(_signals(t, mouth=shifted)))) == 0
    lost = mouth.copy()
    for onset in (3.0, 8.0, 13.0):
        lost[(t >= onset - 0.2) & (t < onset + 0.02)] = np.nan
    assert len(unilateral(detect_events(_signals(t, mouth=lost)))) == 0
    # A fall of both corners (a smile relaxing over 0.25 s) just before a pull is no opposite movement.
    relaxing = np.zeros((len(t), 2))
    for onset in (3.0, 8.0, 13.0):
        smile = 0.06 * np.where((t > onset - 1.0) & (t <= onset - 0.25), 1.0, np.clip((onset - t) / 0.25, 0, 1)
                                * (t > onset - 1.0))
        relaxing += smile[:, None]
        relaxing[:, 0] += _pulse(t, onset, 0.3, 0.06)
    events = unilateral(detect_events(_signals(t, mouth=relaxing)))
    assert events.side.tolist() == ["left"] * 3
    np.testing.assert_allclose(events.onset_s, [3.0, 8.0, 13.0], atol=0.05)
    # The same pulls on a face that holds its other corner in, below its rest place (pursed lips while talking),
    # are twitches: the other corner sits still, whatever its level.
    held = np.zeros((len(t), 2))
    held[:, 1] = -0.05
    for onset in (3.0, 8.0, 13.0):
        held[:, 0] += _pulse(t, onset, 0.3, 0.06)
    events = unilateral(detect_events(_signals(t, mouth=held)))
    assert events.side.tolist() == ["left"] * 3
    np.testing.assert_allclose(events.onset_s, [3.0, 8.0, 13.0], atol=0.05)


def test_a_few_long_blinks_are_none_and_repeated_forceful_closures_beyond_blinking_are_bilateral():
    few = [Twitch(t, 0.8, "bilateral", "periocular", 0.9) for t in (5.0, 25.0, 45.0)]
    a = analyze_landmarks(make_landmarks(60, FPS, few, noise_px=0.2))
    assert a.summary.metrics["bilateral_closures"] == 3
    assert a.pattern == "none"
    many = [Twitch(t, 0.8, "bilateral", "periocular", 0.9) for t in np.arange(2, 58, 5.0)]
    b = analyze_landmarks(make_landmarks(60, FPS, many, noise_px=0.2))
    assert b.summary.metrics["bilateral_beyond_blinking"] is True
    assert b.pattern == "bilateral"


def test_bilateral_closures_do_not_outvote_one_sided_evidence_and_are_a_red_flag():
    # A right hemifacial spasm for a minute, then half a minute of forceful closures of both eyes.
    course = as_twitches(regular_course("right", 60, seed=3))
    closures = [Twitch(t, 0.9, "bilateral", "periocular", 0.9) for t in np.arange(61, 89, 1.8)]
    analysis = analyze_landmarks(make_landmarks(90, FPS, course + closures, noise_px=0.2))
    assert analysis.summary.metrics["bilateral_closures"] == len(closures)
    assert analysis.summary.metrics["bilateral_beyond_blinking"] is True
    assert analysis.pattern == "hemifacial_spasm"
    assert analysis.side == "right"
    assert any("red flag" in note for note in analysis.summary.notes)


def test_one_stray_twitch_on_the_other_side_leaves_a_pattern_one_sided_and_three_do_not():
    # Six left eye-and-mouth twitches (12 events) at irregular intervals. On the right one eye twitch with its mouth
    # movement (2 events: laterality index 10/14 = 0.71, below 0.8) is one stray twitch; three eye twitches are a
    # pattern of their own.
    def pairs(times, side):
        return [Twitch(t + lag, 0.2, side, region, amplitude) for t in times
                for region, amplitude, lag in (("periocular", 0.6, 0.0), ("perioral", 0.08, 0.05))]

    left = pairs((2.0, 5.5, 7.0, 12.5, 16.0, 23.5), "left")
    stray = pairs((19.5,), "right")
    analysis = analyze_landmarks(make_landmarks(30, FPS, left + stray))
    metrics = analysis.summary.metrics
    assert metrics["unilateral_events"] == {"left": 12, "right": 2}
    assert metrics["unilateral_twitches"] == {"left": 6, "right": 1}
    assert analysis.pattern == "hemifacial_spasm"
    assert analyze_landmarks(make_landmarks(30, FPS, left + stray), Config(unilateral_stray_events=0)).pattern \
        == "unilateral_other"
    three = [Twitch(t, 0.2, "right", "periocular", 0.6) for t in (10.0, 19.5, 27.0)]
    analysis = analyze_landmarks(make_landmarks(30, FPS, left + three))
    assert analysis.summary.metrics["unilateral_twitches"] == {"left": 6, "right": 3}
    assert analysis.pattern == "bilateral"
    # Beside three twitches one on the other side is no stray, in events or in twitches: laterality index 0.5.
    few = analyze_landmarks(make_landmarks(30, FPS, left[:6] + stray))
    assert few.summary.metrics["unilateral_twitches"] == {"left": 3, "right": 1}
    assert few.summary.criteria["unilateral"] is False and few.pattern == "unilateral_other"


def test_two_stray_twitches_beside_five_are_not_both_sides_of_the_face():
    # Five left eye-and-mouth twitches and two right ones: 10 against 4 events, but 5 against 2 twitches. Two
    # twitches are fewer than min_events (3) on the right, so the face is not "twitching on both sides"
    # (bilateral); one-sided it is not either (laterality index 0.43, two strays).
    def pairs(times, side):
        return [Twitch(t + lag, 0.2, side, region, amplitude) for t in times
                for region, amplitude, lag in (("periocular", 0.6, 0.0), ("perioral", 0.08, 0.05))]

    analysis = analyze_landmarks(make_landmarks(30, FPS, pairs((2.0, 5.5, 12.5, 16.0, 23.5), "left")
                                                + pairs((9.0, 19.5), "right")))
    assert analysis.summary.metrics["unilateral_events"] == {"left": 10, "right": 4}
    assert analysis.summary.metrics["unilateral_twitches"] == {"left": 5, "right": 2}
    assert analysis.pattern == "unilateral_other" and analysis.side == "left"


def test_the_side_is_the_one_with_more_twitches_not_more_events():
    # Left: two eye-and-mouth twitches (4 events). Right: three eye twitches (3 events). In events the left
    # leads, in twitches (what the pattern counts) the right: three twitches there, a one-sided pattern of its own
    # (unilateral_other: the left's two keep it from being one-sided), and too few to be a clear one.
    left = [Twitch(t + lag, 0.2, "left", region, amplitude) for t in (4.0, 16.0)
            for region, amplitude, lag in (("periocular", 0.6, 0.0), ("perioral", 0.08, 0.05))]
    right = [Twitch(t, 0.2, "right", "periocular", 0.6) for t in (9.0, 13.5, 24.0)]
    analysis = analyze_landmarks(make_landmarks(30, FPS, left + right))
    summary = analysis.summary
    assert summary.metrics["unilateral_events"] == {"left": 4, "right": 3}
    assert summary.metrics["unilateral_twitches"] == {"left": 2, "right": 3}
    assert (analysis.pattern, analysis.side) == ("unilateral_other", "right")
    assert summary.confidence["twitches_on_side"] == 3 and summary.confidence["events_on_side"] == 3
    assert any(reason.startswith("few twitches (3 on the right") for reason in summary.confidence["reasons"])


def test_the_laterality_index_is_asked_toward_the_side_the_twitches_choose():
    # Left: three tonic eye spasms, each with 12 mouth events in it (3 twitches, 39 events). Right: four eye
    # twitches (4 twitches, 4 events). The twitches choose the right, the events lean left (index +0.81): not a
    # one-sided pattern, but both sides twitching.
    rows = []
    for onset in (2.0, 10.0, 18.0):
        rows.append((onset, onset + 3.0, "left", "periocular", "tonic"))
        rows += [(onset + 0.25 * k, onset + 0.25 * k + 0.1, "left", "perioral", "clonic") for k in range(12)]
    rows += [(onset, onset + 0.2, "right", "periocular", "clonic") for onset in (6.0, 14.0, 22.0, 27.0)]
    rows.sort()
    events = Events.from_columns(*map(list, zip(*rows)), peak=np.ones(len(rows)))
    summary = classify_pattern(events, compute_signals(make_landmarks(30, FPS, [])))
    assert summary.metrics["unilateral_twitches"] == {"left": 3, "right": 4}
    assert summary.metrics["laterality_index"] == pytest.approx(35 / 43, abs=1e-4)
    assert summary.criteria["unilateral"] is False and summary.pattern == "bilateral"


def test_a_mouth_joining_a_tonic_spasm_lags_that_spasm_not_a_later_twitch():
    from twitchcam.pattern import _coupling

    # A tonic eye spasm 0-3 s, an eye twitch at 3.5 s; the mouth joins the spasm at 2.9 s, nearer the twitch's
    # onset (0.6 s before it) than the spasm's (2.9 s after it).
    coupling, lag = _coupling(np.array([0.0, 3.5]), np.array([3.0, 3.7]), np.array([2.9]), np.array([3.0]), 0.3)
    assert (coupling, lag) == (1.0, pytest.approx(2.9))
    # Not overlapping any: the nearest onset within the window, before or after.
    coupling, lag = _coupling(np.array([0.0, 3.5]), np.array([0.2, 3.7]), np.array([3.3]), np.array([3.4]), 0.3)
    assert (coupling, lag) == (1.0, pytest.approx(-0.2))
    assert _coupling(np.array([0.0]), np.array([0.2]), np.array([3.3]), np.array([3.4]), 0.3) == (0.0, None)


def test_twitches_count_an_eye_event_and_the_mouth_event_with_it_once():
    events = Events.from_columns(
        onset_s=[1.0, 1.1, 5.0, 5.6, 9.0, 12.0], offset_s=[1.3, 1.3, 7.0, 6.5, 9.2, 12.2],
        side=["left", "left", "left", "left", "left", "right"],
        region=["periocular", "perioral", "periocular", "perioral", "perioral", "periocular"],
        kind=["clonic", "clonic", "tonic", "clonic", "clonic", "clonic"], peak=np.ones(6))
    # Left: a clonic eye twitch with its mouth movement (onsets 0.1 s apart), a tonic spasm whose mouth joins it
    # 0.6 s later (overlapping it), and a mouth movement on its own.
    assert count_twitches(events, "left", 0.3) == 3
    assert count_twitches(events, "right", 0.3) == 1
    assert count_twitches(Events.empty(), "left", 0.3) == 0
    # A chain of right eye twitches 0.5 s apart, each with its mouth movement 0.25 s later, is three twitches.
    chain = Events.from_columns(
        onset_s=[2.0, 2.25, 2.5, 2.75, 3.0, 3.25], offset_s=[2.1, 2.35, 2.6, 2.85, 3.1, 3.35], side=["right"] * 6,
        region=["periocular", "perioral"] * 3, kind=["clonic"] * 6, peak=np.ones(6))
    assert count_twitches(chain, "right", 0.3) == 3


def test_a_recording_without_frames_is_insufficient_data():
    analysis = analyze_landmarks(Landmarks.empty((640, 360)))
    assert analysis.pattern == "insufficient_data" and len(analysis.events) == 0


def test_every_one_sided_event_has_a_score_and_the_summary_says_when_a_finding_is_borderline():
    clear = analyze_landmarks(make_landmarks(60, FPS, as_twitches(regular_course("left", 60, seed=3)), noise_px=0.2))
    uni = unilateral(clear.events)
    assert np.all(np.isfinite(uni.score)) and np.all(uni.score >= Config().coupled_min_score)
    assert np.all(np.isnan(clear.events[clear.events.side == "bilateral"].score))
    assert clear.summary.confidence["level"] == "clear"
    assert clear.summary.confidence["reasons"] == []
    few = [tw for tw in as_twitches(regular_course("left", 60, seed=3)) if tw.onset_s < 8]
    borderline = analyze_landmarks(make_landmarks(60, FPS, few, noise_px=0.2))
    assert borderline.summary.confidence["level"] == "borderline"
    assert any(reason.startswith("few twitches") for reason in borderline.summary.confidence["reasons"])
