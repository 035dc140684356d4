"""The manifest of a batch, ``batch.csv``: one row per video, what identifies its result, and how it went.

Written by :func:`twitchcam.batch.run_batch` each time a video finishes (atomically, so it always tells what is
done, what failed and why, and what is still pending) and read back when a batch resumes.

Columns (:data:`MANIFEST_COLUMNS`)
----------------------------------
``video``
    The video's absolute path, as the batch was given it.
``sha256``, ``config_sha256``
    The sha256 of the video's content (:func:`hash_file`) and of the settings and model bundle
    (:func:`config_digest`): a ``done`` row is reused when both match.
``status``
    ``pending`` | ``done`` | ``failed``.
``pattern``, ``side``
    The classified pattern and the PATIENT's affected side; empty when unknown.
``error``
    One line for the user; empty when done.
``out_dir``
    The video's analysis folder inside the batch folder (:func:`output_name`).
``elapsed_s``
    Wall time of the analysis on its worker, s (two decimals).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterable
from pathlib import Path

from .config import Config
from .folder import write_atomic

MANIFEST_NAME = "batch.csv"
MANIFEST_COLUMNS = ("video", "sha256", "config_sha256", "status", "pattern", "side", "error", "out_dir",
                    "elapsed_s")


def hash_file(path: str | Path, chunk_bytes: int = 1 << 20) -> str:
    """The sha256 of a file's content, read in chunks (hex digest)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(chunk_bytes):
            digest.update(chunk)
    return digest.hexdigest()


def config_digest(config: Config, model_sha256: str) -> str:
    """The sha256 (hex) of the settings and the model bundle: what must match for a result to be reused."""
    doc = json.dumps({"config": config.to_dict(), "model_sha256": model_sha256}, sort_keys=True)
    return hashlib.sha256(doc.encode()).hexdigest()


def output_name(video: str | Path, sha256: str) -> str:
    """The analysis folder name of a video: ``<stem>_<first 10 hex digits of its content sha256>``."""
    return f"{Path(video).stem}_{sha256[:10]}"


def read_manifest(path: str | Path) -> dict[str, dict]:
    """Rows of a ``batch.csv`` by video; empty when the file does not exist.

    Raises
    ------
    ValueError
        The file is not a manifest this version wrote (another header, a row of the wrong length, an unknown
        status, not text). It is never overwritten then: it may be another tool's file, or a record to keep.
    """
    path = Path(path)
    if not path.exists():
        return {}
    advice = "move it away or choose another --out"
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            header = tuple(next(reader, ()))
            if header != MANIFEST_COLUMNS:
                raise ValueError(f"{path}: not a twitchcam batch manifest (its header is not "
                                 f"{','.join(MANIFEST_COLUMNS)}); {advice}")
            rows = {}
            for line, cells in enumerate(reader, start=2):
                row = dict(zip(MANIFEST_COLUMNS, cells))
                if len(cells) != len(MANIFEST_COLUMNS) or row["status"] not in ("pending", "done", "failed"):
                    raise ValueError(f"{path}: line {line} is not a manifest row (cut short or edited); {advice}")
                rows[row["video"]] = row
            return rows
    except (UnicodeDecodeError, csv.Error) as err:
        raise ValueError(f"{path}: not a twitchcam batch manifest ({err}); {advice}") from None


def write_manifest(path: str | Path, rows: Iterable[dict]) -> None:
    """Write ``batch.csv`` atomically, one row per video with :data:`MANIFEST_COLUMNS`."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, MANIFEST_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_atomic(path, buf.getvalue())
