"""Shared fixtures: paths of the real footage in tests/data and their landmarks, extracted once per session."""

from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA


@pytest.fixture(scope="session")
def single_face_analysis():
    """The whole pipeline on the real 2.4 s clip of a normal face (one natural blink)."""
    from twitchcam.pipeline import analyze

    return analyze(DATA / "single_face.mp4")
