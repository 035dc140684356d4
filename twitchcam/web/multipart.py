"""The file of a ``multipart/form-data`` upload (``curl -F file=@video.mp4``), parsed as it streams in.

The pages send a video as the raw request body; a form upload wraps it in boundary lines and part headers, and
those bytes must never end up in the stored video. :class:`MultipartFile` is fed the body chunk by chunk and hands
back only the bytes of the one file part, so the upload still goes straight to disk, in bounded memory, under the
server's size limit. Other parts (``label``) are kept as short text fields.

The format is RFC 7578: ``--BOUNDARY CRLF headers CRLF CRLF content CRLF --BOUNDARY ... --BOUNDARY--``.
"""

from __future__ import annotations

import re

#: Longest part header block, and longest text field, accepted.
MAX_HEADER_BYTES = 16 << 10
MAX_FIELD_BYTES = 16 << 10

_PARAM_RE = re.compile(r';\s*([\w*-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]*))')


class MultipartError(ValueError):
    """The body is not a well-formed form upload of one file; the message is one sentence for the user."""


def _params(header_value: str) -> dict[str, str]:
    """The ``; key=value`` parameters of a header such as Content-Type or Content-Disposition."""
    return {m.group(1).lower(): (m.group(2) if m.group(2) is not None else m.group(3)).replace('\\"', '"')
            for m in _PARAM_RE.finditer(header_value)}


def boundary_of(content_type: str) -> str | None:
    """The boundary of a ``multipart/form-data`` Content-Type, or None when it is another type.

    Raises
    ------
    MultipartError
        A form upload without a usable boundary.
    """
    if not content_type.lower().startswith("multipart/form-data"):
        return None
    boundary = _params(content_type).get("boundary", "")
    if not 1 <= len(boundary) <= 70:
        raise MultipartError("the form upload has no valid boundary")
    return boundary


class MultipartFile:
    """Feed a ``multipart/form-data`` body; get back the content of its one file part.

    Parameters
    ----------
    boundary : str
        From the Content-Type (:func:`boundary_of`).

    Attributes
    ----------
    filename : str | None
        The file part's ``filename``, once its headers were read.
    fields : dict of str to str
        The text parts by name.
    """

    def __init__(self, boundary: str):
        self._first = b"--" + boundary.encode("latin-1")
        self._separator = b"\r\n" + self._first
        self._buffer = b""
        self._state = "preamble"
        self._part: dict | None = None
        self.filename: str | None = None
        self.fields: dict[str, str] = {}

    def feed(self, chunk: bytes) -> bytes:
        """Take the next piece of the body; return the file bytes it completes (possibly empty).

        Raises
        ------
        MultipartError
            Malformed framing, oversized part headers or fields, or a second file.
        """
        self._buffer += chunk
        out = bytearray()
        while True:
            if self._state == "preamble":
                at = self._buffer.find(self._first)
                if at < 0:
                    if len(self._buffer) > MAX_HEADER_BYTES:
                        raise MultipartError("the form upload does not start with its boundary")
                    break
                self._buffer = self._buffer[at + len(self._first):]
                self._state = "after_boundary"
            elif self._state == "after_boundary":
                if len(self._buffer) < 2:
                    break
                mark, self._buffer = self._buffer[:2], self._buffer[2:]
                if mark == b"--":
                    self._state = "done"
                elif mark == b"\r\n":
                    self._state = "headers"
                else:
                    raise MultipartError("the form upload's framing is damaged")
            elif self._state == "headers":
                at = self._buffer.find(b"\r\n\r\n")
                if at < 0:
                    if len(self._buffer) > MAX_HEADER_BYTES:
                        raise MultipartError("a part of the form upload has oversized headers")
                    break
                self._start_part(self._buffer[:at].decode("utf-8", "replace"))
                self._buffer = self._buffer[at + 4:]
                self._state = "content"
            elif self._state == "content":
                at = self._buffer.find(self._separator)
                if at < 0:
                    # Keep what could be the start of a separator split across chunks.
                    keep = len(self._separator) - 1
                    self._take(self._buffer[:-keep] if len(self._buffer) > keep else b"", out)
                    self._buffer = self._buffer[-keep:] if len(self._buffer) > keep else self._buffer
                    break
                self._take(self._buffer[:at], out)
                self._buffer = self._buffer[at + len(self._separator):]
                self._end_part()
                self._state = "after_boundary"
            else:  # done: anything after the closing boundary is an epilogue, ignored
                self._buffer = b""
                break
        return bytes(out)

    def close(self) -> None:
        """Check the body ended with its closing boundary.

        Raises
        ------
        MultipartError
            The body was cut short, or held no file.
        """
        if self._state != "done":
            raise MultipartError("the form upload was cut short")
        if self.filename is None:
            raise MultipartError("the form upload holds no file")

    def _start_part(self, headers: str) -> None:
        disposition = ""
        for line in headers.split("\r\n"):
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-disposition":
                disposition = value
        params = _params(disposition)
        is_file = "filename" in params or "filename*" in params
        if is_file and self.filename is not None:
            raise MultipartError("the form upload holds more than one file; send one video per upload")
        if is_file:
            self.filename = params.get("filename") or params.get("filename*", "").rpartition("'")[2] or "video"
        self._part = {"file": is_file, "name": params.get("name", ""), "data": bytearray()}

    def _take(self, data: bytes, out: bytearray) -> None:
        if self._part["file"]:
            out += data
            return
        self._part["data"] += data
        if len(self._part["data"]) > MAX_FIELD_BYTES:
            raise MultipartError(f"the form field {self._part['name']!r} is too long")

    def _end_part(self) -> None:
        if not self._part["file"]:
            self.fields[self._part["name"]] = self._part["data"].decode("utf-8", "replace")
        self._part = None
