"""The wheel holds the whole package: a folder missing from pyproject.toml's package list is silently left out."""

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")

REPO = Path(__file__).resolve().parents[1]
#: What a wheel is built from.
SOURCES = ("twitchcam", "models", "pyproject.toml", "README.md", "LICENSE")


def _setuptools_config() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]


def _source_files() -> list[str]:
    """The files of :data:`SOURCES` a commit would hold (tracked or new, not ignored), as paths from the repository:
    not a stale ``build/`` or ``*.egg-info`` folder, bytecode, or whatever else .gitignore keeps out of a clone."""
    if (REPO / ".git").exists():
        listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", *SOURCES],
                                cwd=REPO, capture_output=True, check=True).stdout.decode().split("\0")
        return sorted(name for name in listed if name and (REPO / name).is_file())
    # An unpacked source archive holds what its release holds.
    return sorted(p.relative_to(REPO).as_posix() for name in SOURCES for p in [REPO / name, *(REPO / name).rglob("*")]
                  if p.is_file() and "__pycache__" not in p.parts)


def _package_files() -> set[str]:
    """Every file an installed twitchcam should have, as wheel paths: the package folder's files and the top-level
    ``models/`` installed as ``twitchcam/models/`` (pyproject's package-dir)."""
    return {re.sub(r"^models/", "twitchcam/models/", name) for name in _source_files()
            if name.startswith(("twitchcam/", "models/"))}


def test_every_folder_of_the_package_is_listed_in_pyproject():
    folders = {Path(name).parent.as_posix().replace("/", ".") for name in _source_files()
               if name.startswith("twitchcam/")}
    config = _setuptools_config()
    assert "twitchcam.simulate" in folders
    assert set(config["packages"]) == folders | {"twitchcam.models"}
    assert config["package-dir"]["twitchcam.models"] == "models"


def test_the_wheel_holds_every_file_of_the_package(tmp_path):
    # Built from a copy of the files a clone holds: setuptools builds in the source tree, and a build/ folder left by
    # an earlier build puts its stale files in the wheel (a package missing from the list passed so; a module that
    # was moved away would still be shipped). Built as `pip install .` builds it, in an isolated build environment,
    # so the check is of what users get.
    source = tmp_path / "source"
    for name in _source_files():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / name, source / name)
    run = subprocess.run([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--verbose",
                          "-w", str(tmp_path / "dist")], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    # The build backend warns of nothing deprecated (as it did of the table form of project.license).
    assert not re.findall(r".*Warning: .*deprecated.*", run.stdout + run.stderr, re.IGNORECASE)
    (wheel,) = (tmp_path / "dist").glob("twitchcam-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = archive.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert "License-Expression: BSD-3-Clause" in metadata.splitlines()
    assert [n.split("/", 1)[1] for n in names if n.endswith("/LICENSE")] == ["licenses/LICENSE"]
    names = {n for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert {"twitchcam/simulate/__init__.py", "twitchcam/simulate/warp.py", "twitchcam/courses.py"} <= names
    assert names == _package_files()
