"""Landmark-index tables of the MediaPipe 478-point face mesh, in the PATIENT's anatomical terms.

``left`` and ``right`` are always the patient's sides. In an unmirrored recording (what a camera delivers and
what twitchcam analyzes) the patient faces the camera, so the patient's LEFT eye appears on the IMAGE'S RIGHT:
landmark 263 (left eye, outer corner) has a larger image x than landmark 33 (right eye, outer corner). MediaPipe's
own ``FACEMESH_LEFT_EYE`` follows the same (subject's) convention. ``tests/test_side_convention.py`` pins this on a
real photo.
"""

from __future__ import annotations

SIDES = ("left", "right")
REGIONS = ("periocular", "perioral", "brow")

N_LANDMARKS = 478

#: Eye corners (outer, inner) per side.
EYE_CORNERS = {"left": (263, 362), "right": (33, 133)}

#: Upper-lid points and the lower-lid points facing them, per side (same order, so pair i spans the aperture).
UPPER_LID = {"left": (387, 386, 385), "right": (160, 159, 158)}
LOWER_LID = {"left": (373, 374, 380), "right": (144, 145, 153)}

#: Upper edge of the eyebrow, lateral to medial.
BROW = {"left": (300, 293, 334, 296, 336), "right": (70, 63, 105, 66, 107)}

#: Mouth corner (cheilion) per side.
MOUTH_CORNER = {"left": 291, "right": 61}

#: Points that stay fixed relative to the skull during facial expressions: forehead, nasal bridge and dorsum,
#: nasal alae, and the face outline at the temples and tragi. They define the head-fixed frame. Lids, brows,
#: cheeks, lips and chin are excluded because they are what moves.
RIGID = (10, 151, 9, 8, 168, 6, 197, 195, 5, 4, 1, 2, 98, 327, 21, 251, 234, 454)

#: Outline points used only for drawing the tracked regions.
EYE_OUTLINE = {
    "left": (263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466),
    "right": (33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246),
}
LIPS_OUTLINE = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185)


def mirror_side(side: str) -> str:
    """Return the other side, as a horizontal flip of the image maps one onto the other."""
    return {"left": "right", "right": "left"}[side]


def side_order(affected: str | None) -> tuple[str, str]:
    """Both sides, the affected one first (left first when neither is)."""
    return (affected, mirror_side(affected)) if affected else SIDES
