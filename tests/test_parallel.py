"""Landmarks on several cores: MediaPipe instances in threads, and how many of them run at once."""

import numpy as np
import pytest

from twitchcam import landmarker
from twitchcam.config import Config
from twitchcam.landmarker import ONE_INSTANCE_CORES, RETRY_WINDOWS, InstanceChooser, LandmarkDetector, detect_landmarks
from twitchcam.video import iter_frames, read_image


@pytest.mark.core
def test_chooser_keeps_every_instance_while_the_process_gets_its_cores():
    chooser = InstanceChooser(2)
    for _ in range(3 * RETRY_WINDOWS):
        chooser.measured(1.9)
    assert chooser.active == 2
    # One short window (a hiccup) is not a loaded machine.
    chooser.measured(1.0)
    chooser.measured(1.9)
    chooser.measured(1.0)
    assert chooser.active == 2


@pytest.mark.core
def test_chooser_runs_one_instance_on_a_loaded_machine_and_retries_all():
    chooser = InstanceChooser(2)
    chooser.measured(ONE_INSTANCE_CORES - 0.01)
    assert chooser.active == 2
    chooser.measured(0.6)
    assert chooser.active == 1
    for _ in range(RETRY_WINDOWS - 1):
        chooser.measured(1.0)
    assert chooser.active == 1
    chooser.measured(1.0)
    assert chooser.active == 2, "all instances are tried again after RETRY_WINDOWS windows"
    chooser.measured(0.9)
    assert chooser.active == 1, "a retry that still gets one core goes back after one window"
    for _ in range(RETRY_WINDOWS):
        chooser.measured(1.0)
    assert chooser.active == 2
    chooser.measured(1.8)
    chooser.measured(1.0)
    assert chooser.active == 2, "the machine became free: back to needing two short windows"


@pytest.mark.core
def test_chooser_measures_cores_over_windows_of_wall_time():
    seen = []
    chooser = InstanceChooser(2)
    chooser.measured = seen.append
    window = landmarker.MEASURE_WINDOW_S
    chooser.frame_done(10.0, 5.0)
    chooser.frame_done(10.0 + window / 2, 5.6)
    assert seen == []
    chooser.frame_done(10.0 + window, 5.0 + 1.5 * window)
    chooser.frame_done(10.0 + 2 * window, 5.0 + 2.5 * window)
    assert seen == pytest.approx([1.5, 1.0])
    assert InstanceChooser(1).active == 1


@pytest.mark.model
def test_native_landmarks_equal_mediapipes_own_conversion(data_dir):
    images = [f.image for f in list(iter_frames(data_dir / "face_noface.mov"))[::9]]
    images.append(read_image(data_dir / "multi_face.jpg"))
    with LandmarkDetector(Config()) as detector:
        assert detector._detect_native is not None, "the installed mediapipe has the C result this reads"
        native = [detector.detect_faces(image, 0.0) for image in images]
        detector._detect_native = None
        public = [detector.detect_faces(image, 0.0) for image in images]
    # The face leaves the clip after its eighth sampled frame; the photo shows two people.
    assert [len(f) for f in native] == [len(f) for f in public] == [1] * 8 + [0] * 11 + [2]
    for a, b in zip(native, public):
        for x, y in zip(a, b):
            assert x.dtype == np.float32 and x.shape == (478, 3)
            np.testing.assert_array_equal(x, y)


@pytest.mark.model
def test_threads_switching_instances_give_the_landmarks_of_one(data_dir, monkeypatch):
    frames = list(iter_frames(data_dir / "face_noface.mov"))
    one = detect_landmarks(frames, Config(inference_threads=1))
    switches = []
    measured = InstanceChooser.measured

    def recorded(self, cores):
        measured(self, cores)
        switches.append(self.active)

    # Every frame closes a window that looks loaded, so the run switches between one and two instances.
    monkeypatch.setattr(landmarker, "MEASURE_WINDOW_S", 0.0)
    monkeypatch.setattr(landmarker, "ONE_INSTANCE_CORES", np.inf)
    monkeypatch.setattr(landmarker, "RETRY_WINDOWS", 3)
    monkeypatch.setattr(InstanceChooser, "measured", recorded)
    two = detect_landmarks(frames, Config(inference_threads=2))
    assert 1 in switches and switches.count(2) >= 2
    np.testing.assert_array_equal(two.t, one.t)
    np.testing.assert_array_equal(two.n_faces, one.n_faces)
    np.testing.assert_array_equal(two.xyz, one.xyz)
