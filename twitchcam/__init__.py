"""twitchcam: documents involuntary facial twitching from video, and whether its pattern is the one of hemifacial
spasm. It documents; it does not diagnose."""

__version__ = "0.1.0"
