"""Known-truth simulation: warps measured by MediaPipe on real faces, the side convention, courses and outputs.

Tests that run the MediaPipe model or decode video are marked ``model``; the courses, the drive, the head motion
and the landmark factory's use of the courses run without either.
"""


import numpy as np
import pytest

from twitchcam.config import Config
from twitchcam.courses import (
    CLOSURE_CLEARANCE_S,
    EXPECTED_PATTERN,
    GENERATORS,
    LATERALIZED,
    MAX_DISPLACEMENT_IOD,
    MIN_GAP_S,
    REGULAR_RAMP_S,
    check_course,
    envelope,
    make_course,
    regular_course,
)
from twitchcam.events import Events
from twitchcam.folder import read_events_csv
from twitchcam.landmarker import LandmarkDetector
from twitchcam.pipeline import analyze_landmarks
from twitchcam.regions import BROW, EYE_CORNERS, MOUTH_CORNER
from twitchcam.signals import compute_signals
from twitchcam.simulate import Footage, HeadMotion, load_footage, simulate, warp_face
from twitchcam.simulate.footage import eye_opening, footage_closures
from twitchcam.simulate.simulation import Drive
from twitchcam.simulate.warp import FaceFrame
from twitchcam.testing import Twitch, as_twitches, make_landmarks
from twitchcam.video import iter_frames, read_image

LEFT, RIGHT = 0, 1


@pytest.fixture(scope="module")
def detector():
    with LandmarkDetector() as det:
        yield det


@pytest.fixture(scope="module")
def photo(data_dir, detector):
    """A real portrait and its landmarks."""
    image = read_image(data_dir / "single_face.jpg")
    xyz, _ = detector.detect(image, 0.0)
    return image, xyz


def closure(detector, image, rest_xyz):
    """MediaPipe-measured closure of (left, right) eye in ``image`` against the unwarped landmarks."""
    xyz, _ = detector.detect(image, 0.0)
    assert xyz is not None
    return 1 - eye_opening(xyz) / eye_opening(rest_xyz)


@pytest.mark.model
def test_side_convention_left_is_image_right(photo):
    image, xyz = photo
    # The patient's left eye (263) appears on the image's right in an unmirrored photo ...
    assert xyz[EYE_CORNERS["left"][0], 0] > xyz[EYE_CORNERS["right"][0], 0]
    # ... so a left twitch changes pixels right of the face's midline only.
    out = warp_face(image, xyz, eye=(1.0, 0.0), mouth=(0.12, 0.0), brow=(0.08, 0.0))
    changed = np.abs(out.astype(int) - image.astype(int)).sum(axis=2) > 10
    cols = np.nonzero(changed)[1]
    midline = xyz[[10, 1, 152], 0].mean()
    assert len(cols) > 200
    assert np.mean(cols > midline) > 0.97


@pytest.mark.model
def test_eye_warp_closes_that_eye_and_not_the_other(photo, detector):
    image, xyz = photo
    for side, col in (("left", LEFT), ("right", RIGHT)):
        eye = np.zeros(2)
        eye[col] = 0.8
        measured = closure(detector, warp_face(image, xyz, eye=eye), xyz)
        # MediaPipe under-reads a one-eyed closure (it expects both eyes alike), but the drop is large and the
        # other eye barely follows.
        assert measured[col] > 0.4, (side, measured)
        assert measured[1 - col] < 0.4 * measured[col], (side, measured)


@pytest.mark.model
def test_full_bilateral_closure_reads_as_closed_eyes(photo, detector):
    image, xyz = photo
    measured = closure(detector, warp_face(image, xyz, eye=(1.0, 1.0), squeeze=(0.0, 0.0)), xyz)
    # A real blink in tests/data/single_face.mp4 reads as 0.8.
    assert (measured > 0.65).all(), measured


@pytest.mark.model
def test_closure_grows_with_amplitude(photo, detector):
    image, xyz = photo
    readings = [closure(detector, warp_face(image, xyz, eye=(a, 0.0)), xyz)[LEFT] for a in (0.0, 0.5, 1.0)]
    assert abs(readings[0]) < 0.03
    assert readings[0] < readings[1] < readings[2]


@pytest.mark.model
def test_mouth_warp_pulls_same_side_corner_up_and_out(photo, detector):
    image, xyz = photo
    iod = FaceFrame.from_landmarks(xyz).iod
    moved, _ = detector.detect(warp_face(image, xyz, mouth=(0.12, 0.0)), 0.0)
    left = (moved[MOUTH_CORNER["left"], :2] - xyz[MOUTH_CORNER["left"], :2]) / iod
    right = (moved[MOUTH_CORNER["right"], :2] - xyz[MOUTH_CORNER["right"], :2]) / iod
    # Out is the image's right for the patient's left corner; up is -y.
    assert left[0] > 0.03 and left[1] < -0.05, left
    assert np.linalg.norm(right) < 0.03, right


@pytest.mark.model
def test_brow_warp_raises_the_brow(photo, detector):
    image, xyz = photo
    iod = FaceFrame.from_landmarks(xyz).iod
    moved, _ = detector.detect(warp_face(image, xyz, brow=(0.0, 0.1)), 0.0)
    rise = {s: -(moved[list(BROW[s]), 1] - xyz[list(BROW[s]), 1]).mean() / iod for s in ("left", "right")}
    assert rise["right"] > 0.03 and abs(rise["left"]) < 0.015, rise


@pytest.mark.model
def test_flipped_left_twitch_is_a_right_twitch(photo, detector):
    image, xyz = photo
    flipped = warp_face(image, xyz, eye=(1.0, 0.0))[:, ::-1]
    moved, _ = detector.detect(np.ascontiguousarray(flipped), 0.0)
    rest, _ = detector.detect(np.ascontiguousarray(image[:, ::-1]), 0.0)
    measured = 1 - eye_opening(moved) / eye_opening(rest)
    assert measured[RIGHT] > 0.4 and measured[LEFT] < 0.4 * measured[RIGHT], measured


@pytest.mark.model
def test_warp_is_identity_at_rest_and_local(photo):
    image, xyz = photo
    np.testing.assert_array_equal(warp_face(image, xyz), image)
    out = warp_face(image, xyz, eye=(1.0, 1.0), mouth=(0.15, 0.15), brow=(0.1, 0.1))
    span = xyz[:, :2].max(axis=0) - xyz[:, :2].min(axis=0)
    lo = np.floor(xyz[:, :2].min(axis=0) - 0.3 * span).astype(int)
    hi = np.ceil(xyz[:, :2].max(axis=0) + 0.3 * span).astype(int)
    outside = np.ones(image.shape[:2], bool)
    outside[max(lo[1], 0):hi[1], max(lo[0], 0):hi[0]] = False
    np.testing.assert_array_equal(out[outside], image[outside])


def test_envelope_half_maximum_at_onset_and_offset():
    t = np.arange(0, 3, 0.001)
    env = envelope(t, 1.0, 2.0, 0.1, 0.2)
    assert env.shape == t.shape
    assert env[1000] == pytest.approx(0.5) and env[2000] == pytest.approx(0.5)
    assert env[1500] == 1.0 and env[:940].max() == 0.0 and env[2110:].max() == 0.0
    both = envelope(t, [1.0, 0.5], [2.0, 0.6], [0.1, 0.04], [0.2, 0.1])
    assert both.shape == (2, len(t))
    np.testing.assert_allclose(both[0], env)


@pytest.mark.parametrize("generator", GENERATORS)
def test_courses_are_well_formed_and_reproducible(generator):
    events = make_course(generator, 30.0, side="right", seed=3)
    again = make_course(generator, 30.0, side="right", seed=3)
    np.testing.assert_array_equal(events.onset_s, again.onset_s)
    np.testing.assert_array_equal(events.peak, again.peak)
    assert not np.array_equal(events.onset_s, make_course(generator, 30.0, side="right", seed=4).onset_s)
    assert len(events) >= 3
    assert (events.onset_s > 0).all() and (events.offset_s < 30).all()
    assert (events.peak > 0).all()
    eye = events.region == "periocular"
    assert (events.peak[eye] <= 1).all()
    blink = events.kind == "blink"
    assert (events.side[blink] == "bilateral").all() and (events.region[blink] == "periocular").all()
    tonic = events.duration_s >= 1.0
    assert (events.kind[~blink] == np.where(tonic[~blink], "tonic", "clonic")).all()
    if generator in LATERALIZED:
        assert set(events.side[~blink]) == {"right"}
    else:
        assert set(events.side) == {"bilateral"}
    # Each twitch of a burst and each blink is a distinct event: episodes (rows starting within 0.15 s of
    # each other are one episode) are MIN_GAP_S apart.
    starts = np.r_[True, np.diff(events.onset_s) > 0.15]
    ends = np.maximum.reduceat(events.offset_s, np.flatnonzero(starts))
    assert (events.onset_s[starts][1:] - ends[:-1] >= MIN_GAP_S - 1e-9).all()


def test_hfs_course_structure():
    for seed in range(5):
        ev = make_course("hfs", 30.0, side="left", seed=seed, blinks=False)
        eye, mouth, brow = (ev[ev.region == r] for r in ("periocular", "perioral", "brow"))
        assert (eye.kind == "tonic").sum() >= 1
        assert mouth.onset_s.min() >= 10.0, "the first third is eye-only"
        assert len(mouth) >= 3 and len(brow) >= 1
        # Every mouth twitch starts 0-100 ms after an eye twitch; every brow raise during one.
        lag = mouth.onset_s[:, None] - eye.onset_s[None, :]
        assert (((lag >= 0) & (lag <= 0.1)).any(axis=1)).all()
        assert ((brow.onset_s[:, None] >= eye.onset_s) & (brow.onset_s[:, None] <= eye.offset_s)).any(axis=1).all()
        intervals = np.diff(eye.onset_s)
        assert intervals.std() / intervals.mean() > 0.3, "irregular"


def test_twitches_kept_off_the_footages_closures_keep_clear_of_them_and_the_tonic_spasm_ends():
    # Closures of a blinking face every 3 s (0.3 s each, as footage_closures gives them). Twitches keep clear of
    # them by CLOSURE_CLEARANCE_S: right at a closure's end the footage's eyes still reopen.
    avoid = np.array([(a, a + 0.3) for a in np.arange(1.0, 30.0, 3.0)])
    for seed in range(5):
        ev = make_course("hfs", 30.0, side="left", seed=seed, blinks=False, avoid=avoid)
        eye = ev[ev.region == "periocular"]
        assert len(eye) >= 5
        # One tonic spasm of 1.2-3 s (it ran to the end of the recording when no closure was in its way).
        assert np.sum(eye.kind == "tonic") == 1 and np.all(eye.duration_s <= 3.0)
        overlap = (eye.onset_s[:, None] < avoid[None, :, 1]) & (eye.offset_s[:, None] > avoid[None, :, 0])
        assert not overlap.any()
        assert not ((eye.onset_s[:, None] < avoid[None, :, 1] + CLOSURE_CLEARANCE_S)
                    & (eye.offset_s[:, None] > avoid[None, :, 0] - CLOSURE_CLEARANCE_S)).any()


def test_footage_that_closes_its_eyes_every_second_still_gets_twitches_throughout():
    # 0.3 s closures every 1.2 s: no room for a tonic spasm, which stays due while clonic twitches go on (they
    # stopped once the spasm was due).
    avoid = np.array([(a, a + 0.3) for a in np.arange(1.0, 30.0, 1.2)])
    for seed in range(5):
        eye = make_course("hfs", 30.0, side="left", seed=seed, blinks=False, avoid=avoid)
        eye = eye[eye.region == "periocular"]
        assert eye.onset_s.max() > 22.0 and len(eye) >= 8
        assert not ((eye.onset_s[:, None] < avoid[None, :, 1] + CLOSURE_CLEARANCE_S)
                    & (eye.offset_s[:, None] > avoid[None, :, 0] - CLOSURE_CLEARANCE_S)).any()


def test_mimickers_differ_from_hfs_where_they_should():
    rhythmic = make_course("rhythmic", 30.0, seed=1, blinks=False)
    intervals = np.diff(rhythmic.onset_s)
    assert intervals.std() / intervals.mean() < 0.05
    assert set(make_course("eye_only", 30.0, seed=1).region) == {"periocular"}
    mouth_only = make_course("mouth_only", 30.0, seed=1, blinks=False)
    assert set(mouth_only.region) == {"perioral"}
    bleph = make_course("blepharospasm", 30.0, seed=1, blinks=False)
    assert set(bleph.side) == {"bilateral"} and (bleph.duration_s > 0.5).all()
    assert set(make_course("normal", 30.0, seed=1).kind) == {"blink"}
    low = make_course("hfs", 30.0, seed=1, amplitude=0.35, blinks=False)
    assert low.peak[low.region == "periocular"].max() <= 0.35
    # Scaled beyond what the warp renders, peaks are clipped in the truth too.
    high = make_course("hfs", 30.0, seed=1, amplitude=3.0, blinks=False)
    assert high.peak[high.region == "periocular"].max() == 1.0
    assert high.peak[high.region != "periocular"].max() == MAX_DISPLACEMENT_IOD
    check_course(high)


def test_the_regular_course_is_a_table_of_twitches_spelled_half_a_ramp_in_from_start_and_end():
    course = regular_course("right", 30.0, seed=2)
    eye, mouth = course[course.region == "periocular"], course[course.region == "perioral"]
    assert set(course.side) == {"right"} and len(course) == len(eye) + len(mouth) and len(eye) >= 5
    # One amplitude, the third twitch tonic (1.5 s from start to end), the mouth from the third on 50 ms later.
    assert eye.kind.tolist() == ["clonic", "clonic", "tonic"] + ["clonic"] * (len(eye) - 3)
    assert eye.duration_s[2] == pytest.approx(1.5 - REGULAR_RAMP_S)
    assert set(eye.peak.tolist()) == {0.6} and set(mouth.peak.tolist()) == {0.08}
    np.testing.assert_allclose(mouth.onset_s, eye.onset_s[2:] + 0.05)
    np.testing.assert_allclose(mouth.duration_s, eye.duration_s[2:])
    # The same draws without the eye: the mouth alone, from the first twitch.
    alone = regular_course("right", 30.0, seed=2, eye=False)
    assert set(alone.region) == {"perioral"}
    np.testing.assert_allclose(alone.onset_s, eye.onset_s + 0.05)
    rhythmic = regular_course("left", 30.0, seed=1, rhythmic=True, with_mouth=False)
    np.testing.assert_allclose(np.diff(rhythmic.onset_s), 3.0)
    assert rhythmic.onset_s.max() < 30.0 - 2.5 + REGULAR_RAMP_S / 2
    with pytest.raises(ValueError, match="side must be one of left, right, got 'bilateral'"):
        regular_course("bilateral")


def test_a_course_spelled_as_twitches_crosses_half_its_peak_at_the_tables_onset_and_offset():
    course = regular_course("left", 20.0, seed=4)
    rows = as_twitches(course)
    assert [(row.side, row.region, row.amplitude, row.ramp_s) for row in rows] == [
        (side, region, peak, REGULAR_RAMP_S) for side, region, peak in zip(course.side, course.region, course.peak)]
    np.testing.assert_allclose([row.onset_s for row in rows], course.onset_s - REGULAR_RAMP_S / 2)
    np.testing.assert_allclose([row.duration_s for row in rows], course.duration_s + REGULAR_RAMP_S)
    for row, onset, offset, peak in zip(rows, course.onset_s, course.offset_s, course.peak):
        assert row.trace(np.array([onset, offset])).tolist() == pytest.approx([peak / 2, peak / 2], abs=1e-9)
    # A row shorter at half maximum than the ramp gets a ramp as long as that: a raised cosine up and down.
    short = as_twitches(Events.from_columns([1.0], [1.04], ["left"], ["periocular"], ["clonic"], [0.5]))[0]
    assert (short.onset_s, short.duration_s) == pytest.approx((0.98, 0.08))
    assert short.trace(np.array([1.0, 1.02, 1.04])).tolist() == pytest.approx([0.25, 0.5, 0.25])
    with pytest.raises(ValueError, match="perioral and brow"):
        check_course(Events.from_columns([1.0], [1.2], ["left"], ["perioral"], ["clonic"], [0.3]))


def test_drive_from_events():
    ev = Events.from_columns([1.0, 1.0, 2.0], [1.2, 1.2, 2.2], ["left", "left", "bilateral"],
                             ["periocular", "perioral", "periocular"], ["clonic", "clonic", "blink"], [0.8, 0.1, 0.9])
    t = np.arange(0, 3, 1 / 30)
    drive = Drive.from_events(ev, t)
    k = 33  # 1.1 s
    assert drive.eye[k, LEFT] == pytest.approx(0.8) and drive.eye[k, RIGHT] == 0
    assert drive.squeeze[k, LEFT] == pytest.approx(0.8) and drive.mouth[k, LEFT] == pytest.approx(0.1)
    k = 63  # 2.1 s: a blink closes both eyes without squeezing
    np.testing.assert_allclose(drive.eye[k], 0.9)
    assert (drive.squeeze[k] == 0).all()
    assert not drive.active()[:20].any() and drive.active()[k]


def test_ping_pong_frame_index():
    footage = Footage(np.zeros((4, 2, 2, 3), np.uint8), np.zeros((4, 478, 3), np.float32),
                      np.array([0.0, 0.1, 0.2, 0.3]), "x", False, (0.0, 0.3))
    t = np.arange(0, 1.3, 0.1)
    np.testing.assert_array_equal(footage.frame_index(t), [0, 1, 2, 3, 2, 1, 0, 1, 2, 3, 2, 1, 0])


def test_head_motion_is_identity_at_rest_and_moves_with_sway():
    still = HeadMotion(np.zeros(1), np.zeros(1), np.zeros(1), np.zeros((1, 2)), np.zeros(1))
    np.testing.assert_allclose(still.homography(0, np.array([100.0, 80.0]), 50.0), np.eye(3), atol=1e-12)
    t = np.arange(0, 20, 1 / 30)
    sway = HeadMotion.random(t, np.random.default_rng(0), strength=5.0)
    assert 2.0 < np.abs(sway.yaw_deg).max() <= 10.0
    assert np.abs(np.diff(sway.roll_deg)).max() < 0.5  # smooth: under half a degree per frame


@pytest.mark.model
def test_video_source_keeps_only_a_stretch_at_rest(data_dir):
    footage = load_footage(data_dir / "single_face.mp4")
    start, end = footage.stretch_s
    # The clip has a natural blink at 0.83-0.97 s and starts to smile at 0.6 s; neither is kept.
    assert start > 1.0 and end - start >= 0.5
    assert len(footage.images) == len(footage.xyz) == len(footage.t)
    assert footage.size == (640, 360)


@pytest.mark.model
def test_simulate_writes_video_and_truth(tmp_path, data_dir, detector):
    own = Events.from_columns([1.0, 1.05, 2.5], [1.4, 1.4, 3.8], ["left", "left", "left"],
                              ["periocular", "perioral", "periocular"], ["clonic", "clonic", "tonic"],
                              [1.0, 0.12, 0.9])
    result = simulate(data_dir / "single_face.jpg", tmp_path, generator="hfs", side="left", duration_s=4.5,
                      fps=20, seed=5, events=own, blinks=False)
    assert result.video == tmp_path / "hfs_left.mp4" and result.video.is_file()
    assert result.pattern == EXPECTED_PATTERN["hfs"] == "hemifacial_spasm" and result.side == "left"
    truth = read_events_csv(result.truth_dir / "events.csv")
    assert len(truth) == len(result.events) == 3
    np.testing.assert_allclose(truth.onset_s, result.events.onset_s, atol=5e-4)
    assert (truth.kind == result.events.kind).all()
    import json

    summary = json.loads((result.truth_dir / "summary.json").read_text())
    assert {"pattern": "hemifacial_spasm", "side": "left", "generator": "hfs", "seed": 5}.items() <= summary.items()
    assert summary["source"] == "single_face.jpg" and len(summary["source_sha256"]) == 64

    frames = list(iter_frames(result.video))
    assert len(frames) == 90
    np.testing.assert_allclose([f.t for f in frames], np.arange(90) / 20, atol=1e-3)
    rest, _ = detector.detect(frames[10].image, 0.0)
    for k, expect_closed in ((24, True), (62, True), (10, False), (85, False)):
        xyz, _ = detector.detect(frames[k].image, 0.0)
        drop = 1 - eye_opening(xyz)[LEFT] / eye_opening(rest)[LEFT]
        assert (drop > 0.35) == expect_closed, (k, drop)


@pytest.mark.model
def test_whole_stretch_takes_the_whole_real_clip_at_its_own_rate_and_keeps_twitches_off_its_blinks(tmp_path,
                                                                                                   data_dir):
    # single_face.mp4: 2.4 s at 30 fps, a natural blink at 0.83-0.97 s and a smile from 0.6 s.
    footage = load_footage(data_dir / "single_face.mp4", stretch="whole")
    assert len(footage.t) == 72 and footage.stretch_s[0] == 0.0
    assert footage.fps == pytest.approx(30.0)
    t = np.arange(12 * 30) / 30
    closures = footage_closures(footage, t)
    # Played forward and back: the one blink of the clip is seen once per pass, five times in 12 s.
    assert len(closures) == 5
    assert closures[0, 0] == pytest.approx(0.83 - 0.1, abs=0.07)
    result = simulate(data_dir / "single_face.mp4", tmp_path, generator="hfs", side="right", duration_s=12.0,
                      seed=2, stretch="whole")
    truth = read_events_csv(result.truth_dir / "events.csv")
    # No natural blinks are added to footage that blinks by itself, and no planned twitch meets its blinks.
    assert not np.any(truth.side == "bilateral") and np.sum(truth.region == "periocular") >= 4
    # (events.csv keeps milliseconds: a twitch may start within a millisecond of a closure's end)
    clash = ((truth.onset_s[:, None] < closures[None, :, 1] - 1e-3)
             & (truth.offset_s[:, None] > closures[None, :, 0] + 1e-3))
    assert not clash[truth.region == "periocular"].any()
    frames = list(iter_frames(result.video))
    assert len(frames) == 360
    np.testing.assert_allclose([f.t for f in frames][:3], [0, 1 / 30, 2 / 30], atol=2e-3)
    import json

    assert json.loads((result.truth_dir / "summary.json").read_text())["source_stretch"] == "whole"


@pytest.mark.parametrize("side", ["left", "right"])
@pytest.mark.parametrize("generator", GENERATORS)
def test_every_course_drawn_as_landmarks_is_analyzed_as_planned(generator, side):
    # One course for both simulators: the landmark factory draws a generated course as the video does, and the
    # analysis finds it row for row, with the pattern the generator promises.
    course = make_course(generator, 30.0, side=side, seed=0)
    analysis = analyze_landmarks(make_landmarks(30, 30, course))
    assert analysis.pattern == EXPECTED_PATTERN[generator]
    assert analysis.side == (side if generator in LATERALIZED else None)
    found = analysis.events
    assert len(found) == len(course)
    for column in ("side", "region", "kind"):
        np.testing.assert_array_equal(getattr(found, column), getattr(course, column))
    # Onset and offset are at half maximum in the course; detected ones where the signal crosses its threshold.
    np.testing.assert_allclose(found.onset_s, course.onset_s, atol=2 / 30)
    np.testing.assert_allclose(found.offset_s, course.offset_s, atol=4 / 30)
    np.testing.assert_allclose(found.peak, course.peak, atol=0.05)


def test_the_landmark_factory_moves_a_course_as_the_video_drive_does():
    course = make_course("hfs", 30.0, side="left", seed=0)
    landmarks = make_landmarks(30, 30, course)
    signals = compute_signals(landmarks, Config())
    drive = Drive.from_events(course, landmarks.t)
    assert drive.eye.max() > 0.9 and drive.mouth.max() > 0.1 and drive.brow.max() > 0.05
    # The eye closure is measured on the very lid points that were moved: equal to the drive. The mouth and brow
    # signals measure the moved points against a head frame, within a few percent of the pull.
    np.testing.assert_allclose(signals.eye_closure, drive.eye, atol=1e-5)
    np.testing.assert_allclose(signals.brow_raise, drive.brow, atol=5e-4)
    np.testing.assert_allclose(signals.mouth_pull, drive.mouth, atol=5e-3)


def test_a_hand_written_twitch_speaks_the_events_vocabulary_and_has_half_maximum_half_a_ramp_in():
    with pytest.raises(ValueError, match="Twitch.side must be one of left, right, bilateral, got 'both'"):
        Twitch(1.0, 0.3, "both", "periocular", 0.9)
    with pytest.raises(ValueError, match="Twitch.region must be one of periocular, perioral, brow"):
        Twitch(1.0, 0.3, "left", "cheek", 0.9)
    t = np.arange(0, 2, 0.001)
    trace = Twitch(0.5, 1.0, "left", "periocular", 0.8, ramp_s=0.1).trace(t)
    assert trace[:501].max() == 0.0 and trace[1500:].max() == 0.0
    assert trace[550] == pytest.approx(0.4) and trace[1450] == pytest.approx(0.4)
    assert (trace[600:1401] == 0.8).all()
    # Shorter than two ramps: a raised cosine up and down, peaking at the middle.
    short = Twitch(0.5, 0.1, "left", "periocular", 1.0, ramp_s=0.1).trace(t)
    assert short.argmax() == 550 and short.max() == pytest.approx(1.0)
