"""Reading real footage: timestamps, variable frame rate, rotation, truncated and non-video files."""

import struct

import numpy as np
import pytest

from twitchcam.video import VideoError, VideoWriter, downscale, iter_frames, iter_frames_between, probe_video


def rotate_mp4(src, dst, degrees=90):
    """Copy an mp4, setting the track's display matrix to a rotation (what phones write)."""
    data = bytearray(src.read_bytes())
    i = data.find(b"tkhd")
    version = data[i + 4]
    offset = i + 8 + (32 if version == 1 else 20) + 16
    a, b = {90: (0, 1), 180: (-1, 0), 270: (0, -1)}[degrees]
    struct.pack_into(">9i", data, offset, a << 16, b << 16, 0, -b << 16, a << 16, 0, 0, 0, 1 << 30)
    dst.write_bytes(bytes(data))


@pytest.mark.model
def test_timestamps_come_from_the_container(data_dir):
    frames = list(iter_frames(data_dir / "single_face.mp4"))
    t = np.array([f.t for f in frames])
    assert len(frames) == 72
    assert t[0] == 0.0
    np.testing.assert_allclose(np.diff(t), 1 / 30, atol=1e-6)
    assert [f.index for f in frames] == list(range(72))


@pytest.mark.model
def test_variable_frame_rate_hevc_keeps_real_intervals(data_dir):
    t = np.array([f.t for f in iter_frames(data_dir / "face_noface.mov")])
    steps = np.diff(t)
    assert np.all(steps > 0)
    # Real VFR footage: the intervals differ (phone camera), so index/fps would misplace events.
    assert steps.max() - steps.min() > 0.01
    info = probe_video(data_dir / "face_noface.mov")
    assert t[-1] == pytest.approx(6.36, abs=0.05)
    assert abs(len(t) / info.fps_nominal - t[-1]) > 0.01


@pytest.mark.model
def test_rotated_phone_video_is_decoded_upright(data_dir, tmp_path):
    rotated = tmp_path / "rotated.mp4"
    rotate_mp4(data_dir / "single_face.mp4", rotated, 90)
    info = probe_video(rotated)
    assert info.rotation_deg in (90, 270)
    frame = next(iter_frames(rotated))
    assert frame.image.shape == (640, 360, 3)


@pytest.mark.model
def test_not_a_video_is_a_one_line_error(tmp_path):
    fake = tmp_path / "notes.mp4"
    fake.write_text("this is a text file renamed .mp4\n")
    with pytest.raises(VideoError, match="not a readable video") as err:
        probe_video(fake)
    assert "\n" not in str(err.value)


@pytest.mark.model
def test_missing_file_and_folder_are_errors(tmp_path):
    with pytest.raises(VideoError, match="no such file"):
        probe_video(tmp_path / "absent.mp4")
    with pytest.raises(VideoError, match="folder"):
        probe_video(tmp_path)


@pytest.mark.model
def test_truncated_mp4_is_an_error(data_dir, tmp_path):
    cut = tmp_path / "cut.mp4"
    cut.write_bytes((data_dir / "single_face.mp4").read_bytes()[:100_000])
    with pytest.raises(VideoError):
        list(iter_frames(cut))


@pytest.mark.model
def test_truncated_mjpeg_keeps_the_frames_before_the_damage(data_dir, tmp_path):
    avi = tmp_path / "clip.avi"
    with VideoWriter(avi, 30, (640, 360)) as writer:
        for frame in iter_frames(data_dir / "single_face.mp4"):
            writer.write(frame.image)
    cut = tmp_path / "cut.avi"
    data = avi.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    frames = list(iter_frames(cut))
    assert 10 < len(frames) < 72


@pytest.mark.model
def test_zero_byte_file_is_an_error(tmp_path):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(VideoError):
        probe_video(empty)


def test_huge_frames_are_downscaled_for_inference():
    image = np.zeros((4320, 7680, 3), np.uint8)
    assert downscale(image, 1280).shape == (720, 1280, 3)
    small = np.zeros((360, 640, 3), np.uint8)
    assert downscale(small, 1280) is small


@pytest.mark.model
def test_stopping_early_releases_the_decoder(data_dir):
    for frame in iter_frames(data_dir / "single_face.mp4", queue_size=2):
        if frame.index == 3:
            break
    # A second full pass works: nothing was left locked or half-read.
    assert sum(1 for _ in iter_frames(data_dir / "single_face.mp4")) == 72


@pytest.mark.model
def test_a_frames_csv_sidecar_gives_the_capture_times(data_dir, tmp_path):
    """A live recording keeps its capture clock beside the video; analysis uses it instead of nominal fps."""
    avi = tmp_path / "video.avi"
    with VideoWriter(avi, 30, (640, 360)) as writer:
        for frame in iter_frames(data_dir / "single_face.mp4"):
            writer.write(frame.image)
    # A pause of 2 s after frame 10, and the last frame without its row (as after a kill).
    times = np.arange(71) / 30 + np.where(np.arange(71) > 10, 2.0, 0.0)
    (tmp_path / "video.frames.csv").write_text("frame,t_s\n" + "".join(f"{i},{t:.4f}\n" for i, t in enumerate(times)))
    t = np.array([f.t for f in iter_frames(avi)])
    assert len(t) == 72
    np.testing.assert_allclose(t[:71], times, atol=1e-4)
    assert t[71] == pytest.approx(times[70] + 1 / 30, abs=1e-3)


@pytest.mark.model
def test_stretches_read_after_seeks_give_the_sequential_frames_and_timestamps(data_dir):
    # A variable-frame-rate HEVC .mov: seeks there land up to several frames before or after the target.
    path = str(data_dir / "face_noface.mov")
    frames = list(iter_frames(path))
    for n in (2, 5):
        seams = [*np.arange(n) * frames[-1].t / n, np.inf]
        stitched = [f for a, b in zip(seams[:-1], seams[1:]) for f in iter_frames_between(path, a, b)]
        assert [f.t for f in stitched] == [f.t for f in frames], n
        assert all(np.array_equal(f.image, g.image) for f, g in zip(stitched, frames)), n
