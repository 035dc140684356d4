"""The side convention, pinned on a real photo: ``left`` is the PATIENT's left, on the IMAGE's right.

The portrait is unmirrored (as a camera records it). One eye, the one on the image's right, is closed by a local
warp of the photo; twitchcam must call that the patient's LEFT eye. A horizontal flip of the same picture (what a
mirrored preview shows) turns it into the patient's RIGHT eye.
"""

import numpy as np
import pytest

from twitchcam.landmarker import LandmarkDetector
from twitchcam.regions import EYE_CORNERS
from twitchcam.simulate import warp_face
from twitchcam.video import read_image

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def photo_and_landmarks(data_dir):
    image = read_image(data_dir / "single_face.jpg")
    with LandmarkDetector() as detector:
        xyz, _ = detector.detect(image, 0.0)
    return image, xyz


def eye_closure_per_side(image) -> dict:
    """Lid aperture / eye width per patient side, measured by MediaPipe on ``image``."""
    from twitchcam.regions import LOWER_LID, UPPER_LID

    with LandmarkDetector() as detector:
        xyz, _ = detector.detect(image, 0.0)
    out = {}
    for side in ("left", "right"):
        gap = np.linalg.norm(xyz[list(UPPER_LID[side]), :2] - xyz[list(LOWER_LID[side]), :2], axis=1).mean()
        width = np.linalg.norm(xyz[EYE_CORNERS[side][0], :2] - xyz[EYE_CORNERS[side][1], :2])
        out[side] = gap / width
    return out


def test_patient_left_eye_is_on_the_image_right(photo_and_landmarks):
    image, xyz = photo_and_landmarks
    assert xyz[EYE_CORNERS["left"][0], 0] > image.shape[1] / 2 > xyz[EYE_CORNERS["right"][0], 0]


def test_closing_the_eye_on_the_image_right_closes_the_patient_left_eye(photo_and_landmarks):
    image, xyz = photo_and_landmarks
    before = eye_closure_per_side(image)
    warped = warp_face(image, xyz, eye=(0.9, 0.0))
    # The warp acted on the image's right half only.
    diff = np.abs(warped.astype(int) - image.astype(int)).sum(axis=2)
    ys, xs = np.nonzero(diff > 30)
    assert xs.min() > xyz[:, 0].mean()
    after = eye_closure_per_side(warped)
    assert after["left"] < 0.5 * before["left"]
    assert after["right"] > 0.8 * before["right"]

    flipped = eye_closure_per_side(np.ascontiguousarray(warped[:, ::-1]))
    assert flipped["right"] < 0.5 * before["right"]
    assert flipped["left"] > 0.8 * before["left"]
