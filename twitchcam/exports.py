"""An analysis' event timeline in the formats researchers' tools read: BIDS events, WebVTT captions, ELAN.

``bids``
    ``events.tsv`` and its ``events.json`` sidecar, as BIDS specifies task events: tab-separated, columns
    ``onset`` and ``duration`` in seconds first, ``n/a`` for a missing value, every column described in the
    sidecar. ``onset`` is the presentation time from the start of the video; ``duration`` is
    ``offset_s - onset_s`` of ``events.csv`` (frames inclusive); ``sample`` is the 0-based video frame of the
    onset. Written with the standard library: no maintained library writes plain BIDS events files.
``vtt``
    ``events.vtt`` (written with ``webvtt-py``), so any video player or a browser's ``<track>`` shows the events
    as captions over the video. A twitch of 100 ms would flash by unread, so a caption stays on screen at least
    :data:`MIN_CAPTION_S`; each line states the event's real duration, and the exact times are in the other
    exports. Cues never overlap: where several events are on screen, one cue lists them all.
``eaf``
    ``events.eaf`` for ELAN (written with ``pympi-ling``): one tier per side and region (``left periocular``,
    ..., ``bilateral periocular``), annotations ``<kind> peak=<peak>``, times in milliseconds, linked to the
    video (and to ``annotated.webm`` when present). An event one frame long gets 1 ms, as ELAN needs an end after
    the start.

Sides are the PATIENT's, as everywhere in twitchcam. When the analysis folder holds a clinician's review
(:mod:`twitchcam.review`), every format carries the reviewed timeline and says so: ``TimelineSource`` in the BIDS
sidecar, the header note of the captions, a ``twitchcam_timeline`` property in the ELAN header.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .config import check_option
from .folder import Results, read_results, write_atomic, write_json
from .review_files import describe_timeline
from .vocabulary import REGION_WORDS

FORMATS = ("bids", "vtt", "eaf")

#: Shortest time a caption stays on screen, in seconds.
MIN_CAPTION_S = 1.0

#: Tiers of the ELAN file, one per side and region, in this order.
EAF_TIERS = tuple(f"{side} {region}" for side in ("left", "right") for region in ("periocular", "perioral", "brow")) \
    + ("bilateral periocular",)

BIDS_COLUMNS = ("onset", "duration", "sample", "trial_type", "side", "region", "kind", "peak")

_MIME_TYPES = {".mp4": "video/mp4", ".m4v": "video/mp4", ".mov": "video/quicktime", ".webm": "video/webm",
               ".avi": "video/x-msvideo", ".mkv": "video/x-matroska", ".mpg": "video/mpeg", ".mpeg": "video/mpeg"}



def parse_formats(text: str | list | tuple) -> tuple[str, ...]:
    """Check a list of export formats, given as ``"bids,vtt"`` or a sequence.

    Raises
    ------
    ValueError
        Naming the allowed values, for an unknown format.
    """
    items = text.split(",") if isinstance(text, str) else list(text)
    names = tuple(dict.fromkeys(x.strip().lower() for x in items if x.strip()))
    if not names:
        raise ValueError(f"export formats must be among {', '.join(FORMATS)} (comma-separated), got {text!r}")
    for name in names:
        check_option("export format", name, FORMATS)
    return names


def _onset_samples(results: Results) -> np.ndarray:
    """0-based frame index of each event's onset, shape (n_events,)."""
    if not len(results.t):
        return np.zeros(len(results.events), np.int64)
    idx = np.searchsorted(results.t, results.events.onset_s - 5e-4)
    return np.minimum(idx, len(results.t) - 1)


def _bids_value(x) -> str:
    if isinstance(x, (float, np.floating)):
        return "n/a" if not np.isfinite(x) else f"{x:.4f}"
    return str(x)


def write_bids_events(results: Results, out_dir: str | Path) -> list[Path]:
    """Write ``events.tsv`` and the ``events.json`` sidecar (see module docstring).

    Returns
    -------
    list of Path
        The two files.
    """
    out = Path(out_dir)
    ev = results.events
    samples = _onset_samples(results)
    lines = ["\t".join(BIDS_COLUMNS)]
    for i in range(len(ev)):
        lines.append("\t".join([
            f"{ev.onset_s[i]:.3f}", f"{ev.offset_s[i] - ev.onset_s[i]:.3f}", str(int(samples[i])),
            f"{ev.side[i]}_{ev.region[i]}_{ev.kind[i]}", ev.side[i], ev.region[i], ev.kind[i],
            _bids_value(ev.peak[i])]))
    tsv = out / "events.tsv"
    write_atomic(tsv, "\n".join(lines) + "\n")
    fps = results.summary["video"].get("fps")
    sidecar = {
        "onset": {"Description": "Onset of the event: presentation time of its first video frame, from the start of "
                                 "the video.", "Units": "s"},
        "duration": {"Description": "Time from the first to the last video frame of the event (both included).",
                     "Units": "s"},
        "sample": {"Description": "0-based index of the video frame at the onset"
                                  + (f" (about {fps:g} frames per second)." if fps else ".")},
        "trial_type": {"Description": "Side, region and kind of the event, joined by underscores.",
                       "Levels": {f"{s}_{r}_{k}": f"{k} event of the patient's {s} {REGION_WORDS[r]}"
                                  for s in ("left", "right") for r in REGION_WORDS for k in ("clonic", "tonic")}
                       | {"bilateral_periocular_blink": "blink: both eyes closing together briefly",
                          "bilateral_periocular_clonic": "both eyes closing together, shorter than 1 s but longer "
                                                         "than a blink",
                          "bilateral_periocular_tonic": "both eyes closing together for 1 s or more"}},
        "side": {"Description": "Side of the face, the PATIENT's (the patient's left appears on the right of an "
                               "unmirrored video).",
                 "Levels": {"left": "the patient's left", "right": "the patient's right",
                            "bilateral": "both eyes together"}},
        "region": {"Description": "Muscle region.",
                   "Levels": {"periocular": "around the eye (orbicularis oculi)",
                              "perioral": "mouth corner (zygomaticus, risorius, orbicularis oris)",
                              "brow": "eyebrow (frontalis)"}},
        "kind": {"Description": "Kind of contraction, by the 1 s boundary of the Jankovic scale.",
                 "Levels": {"clonic": f"brief twitch, shorter than {results.config.tonic_min_s:g} s",
                            "tonic": f"sustained spasm, {results.config.tonic_min_s:g} s or longer",
                            "blink": f"both eyes closing together, for at most {results.config.blink_max_s:g} s "
                                     "beyond half their depth"}},
        "peak": {"Description": "Peak amplitude. periocular: eye closure as a fraction of that eye's resting "
                                "opening (1 = fully closed). perioral: mouth-corner pull up and out, and brow: brow "
                                "elevation, both in inter-ocular distances (outer eye corners)."},
    }
    sidecar["TimelineSource"] = f"twitchcam events, {describe_timeline(results)}."
    js = out / "events.json"
    write_json(sidecar, js)
    return [tsv, js]


def caption_cues(results: Results, min_caption_s: float = MIN_CAPTION_S) -> list[tuple[float, float, list[str]]]:
    """Non-overlapping caption cues: each a time span and the lines of the events on screen during it.

    Parameters
    ----------
    results : Results
    min_caption_s : float
        Shortest time an event's line stays on screen, in seconds.

    Returns
    -------
    list of (start_s, end_s, lines)
    """
    ev = results.events
    if not len(ev):
        return []
    starts = ev.onset_s
    ends = np.maximum(ev.offset_s, ev.onset_s + min_caption_s)
    labels = []
    for i in range(len(ev)):
        who = "BOTH eyes" if ev.side[i] == "bilateral" else f"{ev.side[i].upper()} {REGION_WORDS[ev.region[i]]}"
        labels.append(f"{who}: {ev.kind[i]} {ev.offset_s[i] - ev.onset_s[i]:.2f} s")
    bounds = np.unique(np.r_[starts, ends])
    cues: list[tuple[float, float, list[str]]] = []
    for a, b in zip(bounds[:-1], bounds[1:]):
        on = np.flatnonzero((starts <= a) & (ends >= b))
        if not len(on):
            continue
        lines = [labels[i] for i in on]
        if cues and cues[-1][2] == lines and abs(cues[-1][1] - a) < 1e-9:
            cues[-1] = (cues[-1][0], float(b), lines)
        else:
            cues.append((float(a), float(b), lines))
    return cues


def write_vtt(results: Results, path: str | Path) -> Path:
    """Write the events as WebVTT captions (see module docstring)."""
    from webvtt import Caption, WebVTT
    from webvtt.models import Timestamp

    captions = [Caption(str(Timestamp.from_seconds(a)), str(Timestamp.from_seconds(b)), lines, identifier=str(k + 1))
                for k, (a, b, lines) in enumerate(caption_cues(results))]
    note = (f"twitchcam events of {results.source_name}. LEFT and RIGHT are the patient's sides (the patient's left "
            f"appears on the right of an unmirrored video). Captions stay at least {MIN_CAPTION_S:g} s on screen; "
            f"each line gives the event's real duration. Timeline: {describe_timeline(results)}.")
    # A note ends at the first "-->"; the reviewer's name is text from the review page.
    note = note.replace("-->", "->")
    path = Path(path)
    write_atomic(path, WebVTT(captions=captions, header_comments=[note]).content)
    return path


def _media_descriptor(video: Path, eaf_dir: Path) -> tuple[str, str, str]:
    """(MEDIA_URL, RELATIVE_MEDIA_URL, MIME_TYPE) of a video linked from an ELAN file in ``eaf_dir``."""
    mime = _MIME_TYPES.get(video.suffix.lower(), "video/*")
    if video.exists():
        rel = Path(os.path.relpath(video.resolve(), eaf_dir.resolve())).as_posix()
        return video.resolve().as_uri(), rel if rel.startswith(".") else f"./{rel}", mime
    # Only a file name is known (the video is elsewhere): ELAN asks for it when the file is opened.
    return video.name, f"./{video.name}", mime


def write_eaf(results: Results, path: str | Path, video: str | Path | None = None) -> Path:
    """Write the events as an ELAN annotation file (see module docstring).

    Parameters
    ----------
    results : Results
    path : str | Path
        The ``.eaf`` file.
    video : str | Path | None
        The analyzed video to link; by default the file named in ``summary.json``, assumed beside the folder.
    """
    from pympi import Eaf
    from pympi.Elan import to_string

    path = Path(path)
    eaf = Eaf(author="twitchcam")
    eaf.add_property("twitchcam_timeline", describe_timeline(results))
    eaf.remove_tier("default")
    for tier in EAF_TIERS:
        eaf.add_tier(tier)
    media = Path(video) if video else results.out_dir.parent / results.source_name
    for m in (media, results.out_dir / "annotated.webm"):
        if m == media or m.exists():
            url, rel, mime = _media_descriptor(m, path.parent)
            eaf.add_linked_file(url, relpath=rel, mimetype=mime)
    ev = results.events
    for i in range(len(ev)):
        start = int(round(ev.onset_s[i] * 1000))
        end = max(int(round(ev.offset_s[i] * 1000)), start + 1)
        value = f"{ev.kind[i]} peak={ev.peak[i]:.4f}" if np.isfinite(ev.peak[i]) else ev.kind[i]
        eaf.add_annotation(f"{ev.side[i]} {ev.region[i]}", start, end, value)
    write_atomic(path, '<?xml version="1.0" encoding="UTF-8"?>\n' + to_string(eaf) + "\n")
    return path


def write_exports(out_dir: str | Path, formats, video: str | Path | None = None) -> list[Path]:
    """Write the requested timeline exports into an analysis folder.

    Parameters
    ----------
    out_dir : str | Path
        An analysis folder (see :func:`twitchcam.folder.read_results`).
    formats : str | sequence of str
        Among :data:`FORMATS`, e.g. ``"bids,vtt,eaf"``.
    video : str | Path | None
        The analyzed video, linked from the ELAN file.

    Returns
    -------
    list of Path
        The files written.
    """
    names = parse_formats(formats)
    results = read_results(out_dir)
    out = results.out_dir
    written: list[Path] = []
    for name in names:
        if name == "bids":
            written += write_bids_events(results, out)
        elif name == "vtt":
            written.append(write_vtt(results, out / "events.vtt"))
        else:
            written.append(write_eaf(results, out / "events.eaf", video))
    return written
