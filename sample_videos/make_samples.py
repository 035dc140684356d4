"""Make the demo clips of ``sample_videos/``: a left hemifacial spasm and a normal face, each with its truth.

Run from anywhere (paths are relative to this file)::

    python sample_videos/make_samples.py

Writes ``hfs_left.mp4`` + ``hfs_left_truth/`` and ``normal.mp4`` + ``normal_truth/`` next to this file. The same
command gives the same clips: the courses are seeded and the sources are the real footage in ``tests/data/``.
"""

from pathlib import Path

from twitchcam.simulate import simulate

HERE = Path(__file__).resolve().parent
DATA = HERE.parent / "tests" / "data"

#: name -> (source, keyword arguments of simulate)
SAMPLES = {
    "hfs_left": (DATA / "single_face.mp4", dict(generator="hfs", side="left", duration_s=24.0, seed=0)),
    "normal": (DATA / "0-f15-hao-ph.jpg", dict(generator="normal", duration_s=20.0, seed=0)),
}


def main() -> None:
    """Make every sample video of SAMPLES again, with its known truth, into this folder."""
    for name, (source, kwargs) in SAMPLES.items():
        result = simulate(source, HERE, name=name, **kwargs)
        size_mb = result.video.stat().st_size / 1e6
        print(f"{result.video.relative_to(HERE.parent)}: {size_mb:.1f} MB, {len(result.events)} truth events, "
              f"expected pattern {result.pattern}{' (' + result.side + ')' if result.side else ''}")


if __name__ == "__main__":
    main()
