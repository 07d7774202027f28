"""A small incremental Server-Sent Events parser (WHATWG "event stream interpretation").

Fed raw bytes in chunks of any size; robust to an event, a line, a CRLF pair or a UTF-8
character split across chunks; handles comments, ``id``/``retry`` fields and multi-line
``data``. Stdlib only.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

__all__ = ["ServerSentEvent", "SSEParser", "TextDecoder"]

_EOL = re.compile(rb"\r\n|\r|\n")


@dataclass(frozen=True)
class ServerSentEvent:
    event: str = "message"
    data: str = ""
    id: str | None = None
    retry: int | None = None


@dataclass
class SSEParser:
    """``for ev in parser.feed(chunk): …`` then ``parser.close()`` at the end of the stream."""

    _buf: bytes = b""
    _skip_lf: bool = False
    _started: bool = False
    _event: str = ""
    _data: list[str] = field(default_factory=list)
    _id: str | None = None
    _retry: int | None = None
    last_event_id: str | None = None

    def feed(self, chunk: bytes) -> Iterator[ServerSentEvent]:
        if not chunk:
            return
        if self._skip_lf:
            self._skip_lf = False
            if chunk.startswith(b"\n"):
                chunk = chunk[1:]
        buf = self._buf + chunk
        if not self._started and buf:
            if len(buf) < 3 and codecs.BOM_UTF8.startswith(buf):
                self._buf = buf
                return
            self._started = True
            if buf.startswith(codecs.BOM_UTF8):
                buf = buf[len(codecs.BOM_UTF8) :]
        start = 0
        n = len(buf)
        while True:
            m = _EOL.search(buf, start)
            if m is None:
                break
            line = buf[start : m.start()]
            if m.group() == b"\r" and m.end() == n:
                self._skip_lf = True  # a CRLF pair may be split across chunks
            start = m.end()
            ev = self._line(line)
            if ev is not None:
                yield ev
        self._buf = buf[start:]

    def close(self) -> Iterator[ServerSentEvent]:
        """End of stream. An event whose lines all ended but which lacks the closing blank
        line is still dispatched (lenient); a half-received last line is discarded."""
        complete = not self._buf
        self._buf = b""
        if complete:
            ev = self._dispatch()
            if ev is not None:
                yield ev
        self._data = []
        self._event = ""
        self._retry = None

    def _line(self, raw: bytes) -> ServerSentEvent | None:
        line = raw.decode("utf-8", errors="replace")
        if line == "":
            return self._dispatch()
        if line.startswith(":"):
            return None
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        elif name == "id":
            if "\x00" not in value:
                self._id = value
                self.last_event_id = value
        elif name == "retry":
            if value.isdigit():
                self._retry = int(value)
        return None

    def _dispatch(self) -> ServerSentEvent | None:
        if not self._data:
            self._event = ""
            return None
        ev = ServerSentEvent(
            event=self._event or "message",
            data="\n".join(self._data),
            id=self._id,
            retry=self._retry,
        )
        self._event = ""
        self._data = []
        self._retry = None
        return ev


class TextDecoder:
    """Incremental decoder: a multibyte character split across chunks is kept whole."""

    def __init__(self, encoding: str = "utf-8") -> None:
        try:
            self._dec = codecs.getincrementaldecoder(encoding)(errors="replace")
        except LookupError:
            self._dec = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def decode(self, chunk: bytes) -> str:
        return self._dec.decode(chunk)

    def flush(self) -> str:
        return self._dec.decode(b"", final=True)
