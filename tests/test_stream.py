"""The streaming analyzer against the offline core, on generated landmarks with known twitches (milliseconds each)."""

import numpy as np
import pytest

from twitchcam.config import Config
from twitchcam.courses import regular_course
from twitchcam.events import Events
from twitchcam.landmarks import Landmarks
from twitchcam.pipeline import analyze_landmarks
from twitchcam.stream import StreamingAnalyzer
from twitchcam.testing import Twitch, as_twitches, make_landmarks

pytestmark = pytest.mark.core


def stream(lm: Landmarks, chunk: int = 8, **kwargs) -> tuple[Events, StreamingAnalyzer, list]:
    analyzer = StreamingAnalyzer(**kwargs)
    updates = [analyzer.push(lm[s:s + chunk]) for s in range(0, len(lm), chunk)]
    updates.append(analyzer.finish())
    return Events.concatenate([u.events for u in updates]), analyzer, updates


def match(live: Events, offline: Events) -> tuple[int, int]:
    """Pair events of the same side, region and kind; return (unpaired count, worst onset difference in frames)."""
    used: set[int] = set()
    worst = 0
    unpaired = 0
    for i in range(len(live)):
        candidates = [(abs(int(live.onset_frame[i]) - int(offline.onset_frame[j])), j) for j in range(len(offline))
                      if j not in used and (live.side[i], live.region[i], live.kind[i])
                      == (offline.side[j], offline.region[j], offline.kind[j])]
        if not candidates or min(candidates)[0] > 1:
            unpaired += 1
            continue
        d, j = min(candidates)
        used.add(j)
        worst = max(worst, d)
    return unpaired + len(offline) - len(used), worst


def test_clean_course_gives_exactly_the_offline_events():
    lm = make_landmarks(60, 30, as_twitches(regular_course("left", 60, seed=0)))
    offline = analyze_landmarks(lm)
    live, analyzer, updates = stream(lm)
    assert len(offline.events) > 20
    for name in ("side", "region", "kind", "onset_frame", "offset_frame"):
        np.testing.assert_array_equal(getattr(live, name), getattr(offline.events, name))
    np.testing.assert_allclose(live.onset_s, offline.events.onset_s)
    # Every frame gets its signals exactly once, and at rest they equal the offline ones.
    frames = np.concatenate([u.frames for u in updates])
    np.testing.assert_array_equal(frames, np.arange(len(lm)))
    eye = np.concatenate([u.signals.eye_closure for u in updates])
    np.testing.assert_allclose(eye, offline.signals.eye_closure, atol=1e-9)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_head_motion_and_jitter_agree_within_one_frame(seed):
    # Jitter of 0.15 px gives about the frame-to-frame noise MediaPipe has on real footage (eye closure ~0.013).
    lm = make_landmarks(90, 30, as_twitches(regular_course("right", 90, seed=seed)), head_yaw_deg=10, head_roll_deg=4,
                        zoom=0.05, noise_px=0.15, seed=seed)
    offline = analyze_landmarks(lm).events
    live, _, _ = stream(lm)
    unpaired, worst = match(live, offline)
    assert len(offline) > 20
    assert unpaired == 0 and worst <= 1


def test_result_does_not_depend_on_chunk_size():
    lm = make_landmarks(40, 30, as_twitches(regular_course("left", 40, seed=3)), noise_px=0.15, seed=3)
    results = [stream(lm, chunk)[0] for chunk in (1, 5, 30)]
    for other in results[1:]:
        np.testing.assert_array_equal(other.onset_frame, results[0].onset_frame)
        np.testing.assert_array_equal(other.side, results[0].side)


def test_events_are_reported_shortly_after_they_end():
    lm = make_landmarks(20, 30, [Twitch(8.0, 0.3, "left", "periocular", 0.6)])
    analyzer = StreamingAnalyzer()
    reported_at = None
    for s in range(0, len(lm), 8):
        update = analyzer.push(lm[s:s + 8])
        if len(update.events):
            reported_at = lm.t[min(s + 7, len(lm) - 1)]
            event = update.events
    assert reported_at is not None, "the twitch was not reported before the end of the stream"
    assert event.side.tolist() == ["left"] and event.region.tolist() == ["periocular"]
    # Known once ended (offset ~8.3 s) plus merge_gap_s plus at most one chunk: well under half a second.
    assert 0 < reported_at - event.offset_s[0] < 0.5


def test_state_stays_bounded_over_a_long_stream():
    lm = make_landmarks(120, 30, as_twitches(regular_course("left", 120, seed=1)))
    live, analyzer, _ = stream(lm, chunk=16, history_s=15)
    assert len(analyzer._hist) <= 15 * 30 + 16 + 1
    assert len(analyzer._blocks) <= analyzer._n_blocks_window + 2
    assert len(analyzer._emitted) < 20
    assert analyzer.n_detections < 2 * len(live)
    offline = analyze_landmarks(lm).events
    assert match(live, offline) == (0, 0)


def test_dropped_frames_and_face_loss():
    lm = make_landmarks(40, 30, as_twitches(regular_course("left", 40, seed=2)), missing=[(15.0, 17.0)], seed=2)
    rng = np.random.default_rng(0)
    kept = np.sort(rng.choice(len(lm), size=int(0.97 * len(lm)), replace=False))
    sub = lm[kept]
    live, _, updates = stream(sub)
    offline = analyze_landmarks(sub).events
    unpaired, worst = match(live, offline)
    assert unpaired <= 1 and worst <= 1
    measured = np.concatenate([u.signals.measured for u in updates])
    t = np.concatenate([u.signals.t for u in updates])
    assert not measured[(t >= 15.0) & (t <= 17.0)].any()


def test_face_appearing_late_and_a_stream_shorter_than_the_warmup():
    lm = make_landmarks(30, 30, [Twitch(12.0, 0.3, "left", "periocular", 0.6)], missing=[(0.0, 5.0)])
    live, analyzer, _ = stream(lm)
    assert analyzer.ready
    assert live.side.tolist() == ["left"] and abs(live.onset_s[0] - 12.0) < 0.1

    short = make_landmarks(1.5, 30, [Twitch(0.6, 0.3, "right", "periocular", 0.6)])
    live, analyzer, _ = stream(short, warmup_s=2.0)
    offline = analyze_landmarks(short).events
    np.testing.assert_array_equal(live.onset_frame, offline.onset_frame)

    nothing, analyzer, _ = stream(make_landmarks(3, 30, missing=[(0.0, 3.0)]))
    assert len(nothing) == 0 and not analyzer.ready


def test_history_must_hold_the_baseline_window():
    with pytest.raises(ValueError, match="history_s"):
        StreamingAnalyzer(Config(baseline_window_s=12.0), history_s=10.0)


def test_the_detection_window_must_hold_the_local_windows_twice_and_fit_the_history():
    with pytest.raises(ValueError, match="detect_window_s"):
        StreamingAnalyzer(detect_window_s=11.0)  # asym_window_s and asym_trend_s are 6 s
    with pytest.raises(ValueError, match="detect_window_s"):
        StreamingAnalyzer(history_s=20.0, detect_window_s=21.0)
    assert StreamingAnalyzer(detect_window_s=20.0).detect_window_s == 20.0


def test_a_face_at_rest_starts_no_detection():
    # Landmark jitter of 0.2 px lifts the signals over a run's start level now and then (it started 16 detections
    # in 30 s before they waited for a threshold), never to a threshold: only the final detection runs.
    lm = make_landmarks(30, 30, [], noise_px=0.2)
    live, analyzer, _ = stream(lm)
    assert len(live) == 0 and analyzer.n_detections == 1


def test_a_twitch_of_the_eye_and_the_mouth_is_one_detection():
    # The mouth corner's pull outlasts the eye's closure by 0.4 s: the detection waits for it (it ran once when the
    # eye's run ended and again for the mouth's before); with the final detection, two in all.
    lm = make_landmarks(12, 30, [Twitch(6.0, 0.2, "left", "periocular", 0.6),
                                 Twitch(6.0, 0.6, "left", "perioral", 0.08)])
    live, analyzer, _ = stream(lm)
    assert live.region.tolist() == ["periocular", "perioral"] and live.side.tolist() == ["left", "left"]
    assert analyzer.n_detections == 2


def test_a_brief_mouth_pull_just_before_its_eye_twitch_is_reported_as_offline():
    # A one-frame pull of the mouth corner 0.15 s before each eye twitch: weaker than a mouth event alone, it counts
    # with the eye twitch (detect_events). Decided as soon as it ended, before the eye twitch was seen, it was lost.
    moves = []
    for t in (4.0, 9.0, 14.5, 20.0):
        moves += [Twitch(t, 0.2, "left", "periocular", 0.6),
                  Twitch(t - 0.15, 1 / 30, "left", "perioral", 0.04, ramp_s=1 / 60)]
    lm = make_landmarks(26, 30, moves)
    offline = analyze_landmarks(lm).events
    live, _, _ = stream(lm, chunk=12)
    assert offline.region.tolist() == ["perioral", "periocular"] * 4
    assert match(live, offline) == (0, 0)


@pytest.mark.parametrize("chunk", [1, 12])
def test_a_lone_brief_mouth_twitch_is_reported_once_its_coupling_window_has_passed(chunk):
    # A mouth or brow event waits coupling_window_s after its onset for an eye twitch; nothing moves after it, so
    # the detection that decides it must come by itself, not at the end of the session (or never, once the
    # event has left the detection window).
    lm = make_landmarks(40, 30, [Twitch(5.0, 0.1, "left", "perioral", 0.08)])
    offline = analyze_landmarks(lm).events
    live, _, updates = stream(lm, chunk=chunk)
    assert len(updates[-1].events) == 0  # none left for finish()
    assert offline.region.tolist() == ["perioral"] and match(live, offline) == (0, 0)
    # Reported once it is final (onset + coupling_window_s + merge_gap_s + one frame), within a chunk and the
    # frames the run lasted (the detection waits from the run's last frame).
    reported_at = (next(i for i, u in enumerate(updates) if len(u.events)) + 1) * chunk - 1
    cfg = Config()
    due = offline.onset_frame[0] + round(cfg.coupling_window_s * 30) + round(cfg.merge_gap_s * 30) + 1
    lasted = offline.offset_frame[0] - offline.onset_frame[0]
    assert due <= reported_at < due + chunk + lasted


@pytest.mark.parametrize("chunk", [1, 12])
def test_a_long_twitch_followed_by_a_still_face_is_reported(chunk):
    # A run that has ended but is not final yet (its merge gap still open) when a timed detection comes: the signal
    # stays armed until the run is final, so a later detection reports it. Before, it was disarmed then and, with
    # nothing moving for longer than the detection window, lost (these lengths, with 1- and 12-frame chunks).
    for length in (1.03, 1.07, 1.33, 1.37):
        lm = make_landmarks(36, 30, [Twitch(5.0, length, "left", "periocular", 0.6)])
        live, _, _ = stream(lm, chunk=chunk)
        offline = analyze_landmarks(lm).events
        assert live.side.tolist() == offline.side.tolist() == ["left"], length
        assert match(live, offline) == (0, 0)


def test_float32_times_give_what_their_float64_values_give():
    # Chunks spanning two baseline blocks: each frame must get its own block's resting level, however the times
    # are stored (a chunk's first and last block are found one way, its frames' blocks another).
    lm = make_landmarks(30, 30, as_twitches(regular_course("left", 30, seed=1)), noise_px=0.15, seed=1)
    t32 = (np.arange(len(lm)) / 30 + 1000 / 3).astype(np.float32)
    results = []
    for t in (t32, t32.astype(np.float64)):
        lm_t = Landmarks(t, lm.xyz, lm.face_found, lm.n_faces, lm.frame_size)
        events, analyzer, updates = stream(lm_t, 45, config=Config(baseline_block_s=0.3))
        results.append((events, np.concatenate([u.signals.mouth_pull for u in updates]), analyzer.n_detections))
    (ev32, mouth32, n32), (ev64, mouth64, n64) = results
    np.testing.assert_array_equal(mouth32, mouth64)
    assert np.nanmax(np.abs(mouth64)) < 0.2  # the course's mouth pulls; rows left unwritten held 3 or more
    np.testing.assert_array_equal(ev32.onset_frame, ev64.onset_frame)
    np.testing.assert_array_equal(ev32.region, ev64.region)
    assert n32 == n64


@pytest.mark.parametrize("chunk", [1, 12])
def test_a_wavering_mouth_pull_in_a_tonic_spasm_is_reported_once_whole(chunk):
    # The mouth corner eases off for a moment halfway through the spasm: the first half must not be reported
    # before the second can join it (mouth_brow_merge_gap_s, longer than an eye's merge_gap_s), even by a
    # detection in that moment (detections every 0.1 s while the spasm goes on).
    twitches = [Twitch(5.0, 1.5, "left", "periocular", 0.6), Twitch(5.1, 0.5, "left", "perioral", 0.06),
                Twitch(5.72, 0.5, "left", "perioral", 0.06)]
    lm = make_landmarks(20, 30, twitches, noise_px=0.1, seed=2)
    live, _, _ = stream(lm, chunk, detect_every_s=0.1)
    offline = analyze_landmarks(lm).events
    mouth = live[live.region == "perioral"]
    assert mouth.side.tolist() == ["left"] and mouth.kind.tolist() == ["tonic"]
    np.testing.assert_array_equal(mouth.onset_frame, offline[offline.region == "perioral"].onset_frame)
    np.testing.assert_array_equal(mouth.offset_frame, offline[offline.region == "perioral"].offset_frame)
