"""Known-truth twitch videos: real face footage with twitches injected at known times.

This is the ground truth of the accuracy benchmark. A real face video or photo is animated and warped so that the
patient's eyelids, mouth corner or brow move at planned times; the plan is written out as ``events.csv`` and
``summary.json`` in the same schema as an analysis, so a result can be scored against it row by row.

Modules, in the order a simulation runs through them:

- :mod:`.footage`: the source frames and their landmarks (:class:`Footage`): a photo, a video's longest
  stretch at rest, or a whole video.
- :mod:`twitchcam.courses`: the planned movements (an :class:`~twitchcam.events.Events` table) and their
  envelope, shared with the landmark factory :mod:`twitchcam.testing`.
- :mod:`.warp`: one frame's twitch rendered into the image (:func:`warp_face`).
- :mod:`.head_motion`: slow head motion added on top (:class:`HeadMotion`).
- :mod:`.simulation`: the entry point :func:`simulate`, which renders every frame and writes the video and
  its truth (:class:`SimulationResult`).

Conventions
-----------
- ``side`` is the PATIENT's side, as everywhere in twitchcam (see :mod:`twitchcam.regions`): in an unmirrored
  image the patient's left eye is on the image's right.
- A planned movement is one row of an :class:`~twitchcam.events.Events` table (one row per region per side, the
  analysis' own schema), with onset and offset at half maximum (:mod:`twitchcam.courses`).
- A photo is animated with slow head motion and natural blinks. A video is reduced to its longest stretch with the
  face at rest, so that every movement in the output is a planned one, or used whole with its own talking, blinks
  and head turns; either is looped forward and backward (ping-pong) to the requested duration.
"""

from .footage import Footage, load_footage
from .head_motion import HeadMotion
from .simulation import SimulationResult, simulate
from .warp import warp_face

__all__ = ["Footage", "HeadMotion", "SimulationResult", "load_footage", "simulate", "warp_face"]
