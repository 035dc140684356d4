"""The numpy core, the analysis folder (written and read back) and the report import without OpenCV or MediaPipe."""

import subprocess
import sys

import pytest

pytestmark = pytest.mark.core

#: Run in a fresh interpreter: a finder first on ``sys.meta_path`` refuses cv2 and mediapipe, as on a machine
#: without them, then the modules that must not need them are imported.
BLOCKED_IMPORT = """
import sys

class Refuse:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("cv2", "mediapipe"):
            raise ImportError(f"{name} is blocked in this test")
        return None

sys.meta_path.insert(0, Refuse())
import twitchcam.events, twitchcam.asymmetry, twitchcam.baselines, twitchcam.pattern, twitchcam.signals
import twitchcam.stream, twitchcam.folder, twitchcam.report, twitchcam.landmarks, twitchcam.testing
assert "cv2" not in sys.modules and "mediapipe" not in sys.modules
print("ok")
"""


def test_core_imports_without_opencv_or_mediapipe():
    run = subprocess.run([sys.executable, "-c", BLOCKED_IMPORT], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "ok"


def test_the_blocking_finder_blocks():
    """The check above could pass by not blocking anything; importing a module that needs OpenCV must fail."""
    code = BLOCKED_IMPORT.replace("import twitchcam.events", "import twitchcam.video\nimport twitchcam.events")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert run.returncode != 0
    assert "cv2 is blocked" in run.stderr
