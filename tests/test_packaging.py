"""The wheel holds the whole package: a folder missing from pyproject.toml's package list is silently left out."""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")

REPO = Path(__file__).resolve().parents[1]


def _setuptools_config() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]


def _package_files() -> set[str]:
    """Every file an installed twitchcam should have, as wheel paths: the package folder as it is on disk and the
    top-level ``models/`` installed as ``twitchcam/models/`` (pyproject's package-dir)."""
    files = {p.relative_to(REPO).as_posix() for p in (REPO / "twitchcam").rglob("*")
             if p.is_file() and "__pycache__" not in p.parts}
    files |= {f"twitchcam/models/{p.name}" for p in (REPO / "models").iterdir() if p.is_file()}
    return files


def test_every_folder_of_the_package_is_listed_in_pyproject():
    folders = {p.parent.relative_to(REPO).as_posix().replace("/", ".") for p in (REPO / "twitchcam").rglob("*")
               if p.is_file() and "__pycache__" not in p.parts}
    config = _setuptools_config()
    assert "twitchcam.simulate" in folders
    assert set(config["packages"]) == folders | {"twitchcam.models"}
    assert config["package-dir"]["twitchcam.models"] == "models"


def test_the_wheel_holds_every_file_of_the_package(tmp_path):
    # Built from a copy: setuptools builds in the source tree, and a build/ folder left by an earlier build would put
    # its stale files in the wheel (a package missing from the list passed so). Built as `pip install .` builds it,
    # in an isolated build environment, so the check is of what users get.
    source = tmp_path / "source"
    ignore = shutil.ignore_patterns("__pycache__")
    for folder in ("twitchcam", "models"):
        shutil.copytree(REPO / folder, source / folder, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    run = subprocess.run([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--quiet",
                          "-w", str(tmp_path / "dist")], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    (wheel,) = (tmp_path / "dist").glob("twitchcam-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = {n for n in archive.namelist() if not n.split("/")[0].endswith(".dist-info")}
    assert {"twitchcam/simulate/__init__.py", "twitchcam/simulate/warp.py", "twitchcam/courses.py"} <= names
    assert names == _package_files()
