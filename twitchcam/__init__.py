"""twitchcam: documents involuntary facial twitching from video, and whether its pattern is the one of hemifacial
spasm. It documents; it does not diagnose.

The main entry points are re-exported here and imported on first use, so ``import twitchcam`` stays light (no
MediaPipe or OpenCV until a video is read)::

    import twitchcam
    analysis = twitchcam.analyze("patient.mp4")            # twitchcam.pipeline.Analysis
    twitchcam.write_analysis(analysis, "results/patient")  # events.csv, summary.json, signals.csv, config.json
"""

__version__ = "0.1.0"

_EXPORTS = {
    "analyze": "twitchcam.pipeline",
    "analyze_landmarks": "twitchcam.pipeline",
    "Analysis": "twitchcam.pipeline",
    "Config": "twitchcam.config",
    "write_analysis": "twitchcam.folder",
}
__all__ = list(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'twitchcam' has no attribute {name!r}")
