"""Head motion added to simulated footage: a smooth random pose per output frame, and its image map.

A photo is given the small drift of someone sitting still; the ``sway`` generator multiplies it
(:data:`SWAY_STRENGTH`). The pose is applied to the whole frame after the twitch's warp, as the homography of the
face turned as a plane about its centre and seen in perspective.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

#: Peak excursions of the slow head motion given to a photo (strength 1), in degrees, iod and relative zoom: the
#: small drift of someone sitting still in front of a camera. ``sway`` multiplies them by :data:`SWAY_STRENGTH`.
HEAD_MOTION = {"roll_deg": 1.0, "yaw_deg": 2.0, "pitch_deg": 1.5, "shift_iod": 0.03, "zoom": 0.01}
SWAY_STRENGTH = 5.0


@dataclass(frozen=True)
class HeadMotion:
    """A smooth head trajectory, one pose per output frame.

    Parameters
    ----------
    roll_deg, yaw_deg, pitch_deg : ndarray, shape (n_frames,)
        In-plane tilt, turn and nod, degrees.
    shift_iod : ndarray, shape (n_frames, 2)
        Translation in the image (x right, y down), iod.
    zoom : ndarray, shape (n_frames,)
        Relative scale minus 1 (moving toward the camera is positive).
    """

    roll_deg: np.ndarray
    yaw_deg: np.ndarray
    pitch_deg: np.ndarray
    shift_iod: np.ndarray
    zoom: np.ndarray

    @classmethod
    def random(cls, t: np.ndarray, rng: np.random.Generator, strength: float = 1.0) -> HeadMotion:
        """Slow wandering: each degree of freedom a sum of three sinusoids of 0.03-0.3 Hz with random phases.

        Parameters
        ----------
        t : ndarray, shape (n_frames,)
            Time, s.
        rng : numpy.random.Generator
        strength : float
            Multiplies every peak excursion of :data:`HEAD_MOTION`; 0 is a still head.
        """
        def wander(peak):
            freq = rng.uniform(0.03, 0.3, 3)
            phase = rng.uniform(0, 2 * np.pi, 3)
            weight = rng.dirichlet(np.ones(3))
            return strength * peak * (weight[:, None] * np.sin(2 * np.pi * freq[:, None] * t + phase[:, None])).sum(0)

        return cls(wander(HEAD_MOTION["roll_deg"]), wander(HEAD_MOTION["yaw_deg"]), wander(HEAD_MOTION["pitch_deg"]),
                   np.stack([wander(HEAD_MOTION["shift_iod"]), wander(HEAD_MOTION["shift_iod"])], axis=1),
                   wander(HEAD_MOTION["zoom"]))

    def homography(self, i: int, centre: np.ndarray, iod: float) -> np.ndarray:
        """Image map of frame ``i``'s pose: the face turned as a plane about its centre, seen in perspective.

        Parameters
        ----------
        i : int
            Frame index.
        centre : ndarray, shape (2,)
            Centre of the face in the unmoved frame, pixels.
        iod : float
            Inter-ocular distance, pixels (sets the translation and the camera distance).

        Returns
        -------
        ndarray, shape (3, 3)
            Maps unmoved-frame pixels to output pixels.
        """
        yaw, pitch, roll = np.radians([self.yaw_deg[i], self.pitch_deg[i], self.roll_deg[i]])
        rot = cv2.Rodrigues(np.array([pitch, yaw, 0.0]))[0] @ cv2.Rodrigues(np.array([0.0, 0.0, roll]))[0]
        # Camera at ~7 iod (a face at arm's length); focal length equal to the distance keeps the scale at rest.
        dist = 7.0 * iod
        to_centre = np.array([[1, 0, -centre[0]], [0, 1, -centre[1]], [0, 0, 1]])
        plane = np.column_stack([rot[:, 0], rot[:, 1], [0, 0, dist]])
        focal = dist * (1 + self.zoom[i])
        c = centre + self.shift_iod[i] * iod
        camera = np.array([[focal, 0, c[0]], [0, focal, c[1]], [0, 0, 1]])
        h = camera @ plane @ to_centre
        return h / h[2, 2]

