"""Could the image tell one eye's closure from a blink where the landmarks cannot? A study, not part of the product.

Run: python benchmarks/eye_image.py [--real DIR]   (after ``benchmarks/accuracy.py`` has cached its landmarks)

MediaPipe reads a one-sided eye closure at about half its depth and drags the open eye along (docs/accuracy.md).
This script measures, on the tuning clips only, how two image measures of each eye behave where that matters. Each
frame's grey image is sampled in a patch aligned on the eye's corners (32 x 16 pixels spanning 1.4 x 0.7 eye
widths, from the cached landmarks): ``change`` is 1 minus the correlation of the patch with the eye's median patch
over the recording; ``closure`` is 1 minus the patch's contrast along the rows of the eye's middle (the iris
against the white, which a closed lid hides), relative to the eye's own 75th percentile. It prints, for the
injected eye twitches, both eyes' values at the twitch's peak next to the landmarks' closure, and for the
untouched clips the same at each closure the analysis counted as bilateral (blinks and winks), and how far apart
the eyes are on all frames (95th percentile). The clips are read from ``--real`` and never copied.
"""

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np
from accuracy import REAL, TUNING_CLIPS, WORK

from twitchcam.folder import read_events_csv
from twitchcam.landmarks import Landmarks
from twitchcam.pipeline import analyze_landmarks
from twitchcam.regions import EYE_CORNERS, SIDES

PATCH_W, PATCH_H = 32, 16


def eye_patches(video: Path, lm: Landmarks) -> np.ndarray:
    """Grey patches aligned on each eye's corners, shape (n_frames, 2, PATCH_H, PATCH_W), NaN without a face."""
    out = np.full((len(lm), 2, PATCH_H, PATCH_W), np.nan, np.float32)
    cap = cv2.VideoCapture(str(video))
    for i in range(len(lm)):
        ok, frame = cap.read()
        if not ok:
            break
        if not lm.face_found[i]:
            continue
        grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        for s, side in enumerate(SIDES):
            outer, inner = (lm.xyz[i, k, :2].astype(np.float64) for k in EYE_CORNERS[side])
            centre, along = (outer + inner) / 2, inner - outer
            width = np.linalg.norm(along)
            u = along / width
            n = np.array([-u[1], u[0]])
            n = n if n[1] >= 0 else -n  # across the eye, pointing down the image
            sx, sy = 1.4 * width / PATCH_W, 0.7 * width / PATCH_H
            # Patch pixel (x, y) -> image point: centre + (x - W/2) sx u + (y - H/2) sy n.
            m = np.column_stack([u * sx, n * sy, centre - u * sx * PATCH_W / 2 - n * sy * PATCH_H / 2])
            out[i, s] = cv2.warpAffine(grey, m, (PATCH_W, PATCH_H), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                       borderMode=cv2.BORDER_REPLICATE)
    cap.release()
    return out


def change(patches: np.ndarray) -> np.ndarray:
    """1 - correlation of each eye's patch with its median patch, shape (n_frames, 2)."""
    flat = patches.reshape(len(patches), 2, -1).astype(np.float64)
    flat -= flat.mean(axis=2, keepdims=True)
    flat /= np.linalg.norm(flat, axis=2, keepdims=True) + 1e-9
    ref = np.nanmedian(flat, axis=0)
    ref -= ref.mean(axis=1, keepdims=True)
    ref /= np.linalg.norm(ref, axis=1, keepdims=True)
    return 1 - np.einsum("nsk,sk->ns", flat, ref)


def closure(patches: np.ndarray) -> np.ndarray:
    """1 - the row contrast of each eye's middle relative to its 75th percentile, shape (n_frames, 2)."""
    middle = patches[:, :, 5:11, 8:24].astype(np.float64)
    contrast = middle.std(axis=3).mean(axis=2) / (patches.reshape(len(patches), 2, -1).mean(axis=2) + 1)
    return 1 - contrast / np.nanquantile(contrast, 0.75, axis=0)


def at_peaks(name: str, t: np.ndarray, eye: np.ndarray, measures: dict, windows) -> None:
    """Print both eyes' landmark closure and image measures at the landmark peak of each (side, start, stop)."""
    for side, a, b in windows:
        s = SIDES.index(side) if side in SIDES else int(np.nanargmax(np.nanmax(eye[(t >= a) & (t <= b)], axis=0)))
        inside = np.flatnonzero((t >= a) & (t <= b))
        if not np.isfinite(eye[inside, s]).any():
            continue
        k = inside[np.nanargmax(eye[inside, s])]
        cells = " ".join(f"{key} {v[k, s]:5.2f}/{v[k, 1 - s]:5.2f}" for key, v in measures.items())
        print(f"  {name:<34} {a:6.2f} {side:<9} landmarks {eye[k, s]:5.2f}/{eye[k, 1 - s]:5.2f}  {cells}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real", type=Path, default=REAL)
    args = parser.parse_args()
    if not all((args.real / clip).exists() for clip in TUNING_CLIPS):
        print(f"real clips not found in {args.real}: nothing to measure", file=sys.stderr)
        return 0
    print("values: the eye named (twitching, or more closed) / the other eye")
    for clip in TUNING_CLIPS:
        stem = Path(clip).stem
        cases = [(f"real_{stem}", args.real / clip)] + [
            (f"inj_{stem}_hfs_{side}", WORK / "videos" / f"inj_{stem}_hfs_{side}.mp4") for side in SIDES]
        for name, video in cases:
            cache = WORK / "landmarks" / f"{name}_image.npz"
            if not (cache.exists() and video.exists()):
                continue
            lm = Landmarks.load(cache)
            analysis = analyze_landmarks(lm)
            t, eye = analysis.signals.t, analysis.signals.eye_closure
            patches = eye_patches(video, lm)
            measures = {"change": change(patches), "closure": closure(patches)}
            if name.startswith("real_"):
                ev = analysis.events
                closures = [(ev.side[k], ev.onset_s[k], ev.offset_s[k]) for k in range(len(ev))
                            if ev.region[k] == "periocular"]
                apart = " ".join(f"{key} {np.nanquantile(np.abs(v[:, 0] - v[:, 1]), 0.95):.2f}"
                                 for key, v in measures.items())
                print(f"{name}: left-right difference on all frames, 95th percentile: {apart}")
                at_peaks(name, t, eye, measures, closures)
            else:
                truth = read_events_csv(WORK / "videos" / f"{name}_truth" / "events.csv")
                twitches = [(truth.side[k], truth.onset_s[k], truth.offset_s[k]) for k in range(len(truth))
                            if truth.region[k] == "periocular"]
                print(f"{name}: injected eye twitches")
                at_peaks(name, t, eye, measures, twitches)
    return 0


if __name__ == "__main__":
    sys.exit(main())
