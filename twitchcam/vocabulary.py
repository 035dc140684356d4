"""The words and colours every view uses for sides, regions, signals and patterns: one table each.

The report, the figures, the annotated video, the live window, the exports, the cohort page and the web app all
take their wording and colours from here (MNE-Python keeps such tables in ``mne/defaults.py``), so a side has one
colour and a pattern one name wherever a person sees it. Sides and regions themselves, and their landmarks, are
:data:`twitchcam.regions.SIDES` and :data:`twitchcam.regions.REGIONS`.
"""

from __future__ import annotations

#: Colour of each side (the patient's) and of both eyes together, as HTML hex: the Okabe-Ito vermillion and blue,
#: told apart with every common colour-vision deficiency.
SIDE_COLOURS = {"left": "#d55e00", "right": "#0072b2", "bilateral": "#666666"}

#: What a region is called in a sentence ("LEFT eye", "mouth twitch").
REGION_WORDS = {"periocular": "eye", "perioral": "mouth", "brow": "brow"}

#: The signal that measures each region (a :data:`twitchcam.signals.SIGNAL_NAMES` entry), and back.
REGION_SIGNALS = {"periocular": "eye_closure", "perioral": "mouth_pull", "brow": "brow_raise"}
SIGNAL_REGIONS = {signal: region for region, signal in REGION_SIGNALS.items()}

#: The :class:`~twitchcam.config.Config` field holding each region's own onset threshold.
REGION_THRESHOLD_FIELDS = {"periocular": "eye_on_frac", "perioral": "mouth_on_iod", "brow": "brow_on_iod"}
#: The :class:`~twitchcam.config.Config` field holding each region's fixed asymmetry threshold.
REGION_ASYM_FIELDS = {"periocular": "eye_asym_frac", "perioral": "mouth_asym_iod", "brow": "brow_asym_iod"}

#: What each region's signal is called on an axis or a meter.
SIGNAL_LABELS = {"periocular": "eye closure", "perioral": "mouth pull", "brow": "brow raise"}

#: The short name of each pattern (:data:`twitchcam.pattern.PATTERNS`), in tables and lists.
PATTERN_LABELS = {
    "hemifacial_spasm": "consistent with hemifacial spasm",
    "unilateral_other": "one-sided, other pattern",
    "bilateral": "bilateral",
    "none": "none beyond blinking",
    "insufficient_data": "insufficient data",
}


def bgr(hex_colour: str) -> tuple[int, int, int]:
    """An HTML hex colour as the ``(blue, green, red)`` tuple OpenCV draws with.

    Parameters
    ----------
    hex_colour : str
        ``"#rrggbb"``.

    Returns
    -------
    tuple of int
        Each channel in 0..255.
    """
    value = hex_colour.lstrip("#")
    red, green, blue = (int(value[i:i + 2], 16) for i in (0, 2, 4))
    return blue, green, red
