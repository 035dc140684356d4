"""Landmarks on real footage and photos: shapes, NaN rows, choosing the patient, the model file."""

import numpy as np
import pytest

from twitchcam.config import Config
from twitchcam.landmarker import LandmarkDetector, ModelError, detect_landmarks, find_model
from twitchcam.regions import EYE_CORNERS
from twitchcam.video import iter_frames, read_image

pytestmark = pytest.mark.model


def test_landmarks_of_a_real_clip(data_dir):
    lm = detect_landmarks(iter_frames(data_dir / "single_face.mp4"))
    assert lm.xyz.shape == (72, 478, 3)
    assert lm.xyz.dtype == np.float32
    assert lm.face_found.all()
    assert lm.frame_size == (640, 360)
    # Pixel units: the face sits inside the frame.
    assert 0 < np.nanmin(lm.xyz[..., 0]) and np.nanmax(lm.xyz[..., 0]) < 640


def test_frames_without_face_are_nan_rows_not_dropped(data_dir):
    frames = list(iter_frames(data_dir / "face_noface.mov"))
    lm = detect_landmarks(frames)
    assert len(lm) == len(frames)
    np.testing.assert_array_equal(lm.t, [f.t for f in frames])
    assert 0.2 < lm.face_found.mean() < 0.8
    assert np.isnan(lm.xyz[~lm.face_found]).all()
    assert np.isfinite(lm.xyz[lm.face_found]).all()
    # The face leaves: found at the start, gone at the end.
    assert lm.face_found[:10].all() and lm.face_found[-10:].mean() < 0.5


def test_video_mode_gives_the_same_face(data_dir):
    frames = list(iter_frames(data_dir / "single_face.mp4"))[:20]
    image_mode = detect_landmarks(frames, Config(running_mode="image"))
    video_mode = detect_landmarks(frames, Config(running_mode="video"))
    assert video_mode.face_found.all()
    assert np.nanmedian(np.abs(image_mode.xyz - video_mode.xyz)[..., :2]) < 3.0


def test_with_two_faces_the_largest_is_the_patient(data_dir):
    image = read_image(data_dir / "multi_face.jpg")
    with LandmarkDetector() as detector:
        xyz, n = detector.detect(image, 0.0)
    assert n >= 2
    # The two people in the photo: the patient is the larger face (larger inter-ocular distance).
    iod = np.linalg.norm(xyz[EYE_CORNERS["left"][0], :2] - xyz[EYE_CORNERS["right"][0], :2])
    assert iod > 40


def test_model_lookup_and_errors(tmp_path, monkeypatch):
    assert find_model().name == "face_landmarker.task"
    with pytest.raises(ModelError, match="not found"):
        find_model(tmp_path / "absent.task")
    bad = tmp_path / "bad.task"
    bad.write_bytes(b"not a model")
    monkeypatch.setenv("TWITCHCAM_MODEL", str(bad))
    assert find_model() == bad
    with pytest.raises(ModelError, match="cannot load"):
        LandmarkDetector()
