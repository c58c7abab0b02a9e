"""Files served with HTTP byte ranges (RFC 7233), so a player can seek in a long call.

One implementation for every view that serves recordings. The rules:

- No ``Range`` header (or a method other than GET, or an ``If-Range`` we cannot match:
  we send no validators): the whole file, 200.
- One range, in any of the three forms ``bytes=a-b``, ``bytes=a-`` and ``bytes=-n``
  (numbers may have leading zeros; ``b`` past the end is cut to the end; ``-n`` longer
  than the file is the whole file): 206 with ``Content-Range: bytes a-b/size``.
- Several ranges: the whole file, 200 (RFC 7233 lets a server answer so; no multipart).
- A header that is not a byte range (another unit, a range ending before it starts,
  garbage) or a range that lies outside the file (``a`` at or past the end, ``-0``, any
  range of an empty file): 416 with ``Content-Range: bytes */size``. RFC 7233 would let a
  server ignore a malformed header; refusing it tells the client its request was wrong.

Every answer says ``Accept-Ranges: bytes`` and ``Cache-Control: private, no-store``:
recordings are personal data, and a copy replayed from a browser cache would be a
listening the server never sees. ``on_deliver`` runs once before any answer that
carries bytes of the file (200 or 206 to GET), whatever the range, so the caller can
record the access; HEAD and 416 deliver nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO

from django.http import FileResponse, HttpRequest, HttpResponse, StreamingHttpResponse
from django.utils.http import content_disposition_header

_SPEC = re.compile(r"^(\d*)-(\d*)$")
# Larger than any file: longer numbers are read as "past the end", not parsed.
_HUGE = 10**18
BLOCK = 64 * 1024


class Unsatisfiable(ValueError):
    """A Range header to answer with 416."""


@dataclass(frozen=True)
class ByteRange:
    start: int
    end: int  # inclusive

    @property
    def length(self) -> int:
        return self.end - self.start + 1


def _number(digits: str) -> int:
    return int(digits) if len(digits) <= 18 else _HUGE


def parse(header: str | None, size: int) -> ByteRange | None:
    """The one range of ``header`` to send from a file of ``size`` bytes; None for the
    whole file (no header, several ranges); raises :class:`Unsatisfiable`."""
    if header is None or not header.strip():
        return None
    unit, sep, ranges = header.strip().partition("=")
    if not sep or unit.strip().lower() != "bytes":
        raise Unsatisfiable(f"not a byte range: {header!r}")
    specs = [s.strip() for s in ranges.split(",") if s.strip()]
    if not specs:
        raise Unsatisfiable(f"no range in {header!r}")
    satisfiable = []
    for spec in specs:
        match = _SPEC.match(spec)
        if not match or not (match.group(1) or match.group(2)):
            raise Unsatisfiable(f"not a byte range: {spec!r}")
        first, last = match.group(1), match.group(2)
        if first:
            start = _number(first)
            end = _number(last) if last else size - 1
            if last and end < start:
                raise Unsatisfiable(f"the range ends before it starts: {spec!r}")
            if start < size:
                satisfiable.append(ByteRange(start, min(end, size - 1)))
        else:
            suffix = _number(last)
            if suffix > 0 and size > 0:
                satisfiable.append(ByteRange(max(size - suffix, 0), size - 1))
    if not satisfiable:
        raise Unsatisfiable(f"{header!r} lies outside {size} bytes")
    if len(specs) > 1:
        return None
    return satisfiable[0]


class _Slice:
    """``length`` bytes of an open file from ``start``, in blocks; closed with the
    response (also when the client goes away before reading it)."""

    def __init__(self, fh: IO[bytes], start: int, length: int) -> None:
        self.fh, self.remaining = fh, length
        fh.seek(start)

    def __iter__(self) -> Iterator[bytes]:
        while self.remaining > 0:
            block = self.fh.read(min(BLOCK, self.remaining))
            if not block:
                break
            self.remaining -= len(block)
            yield block

    def close(self) -> None:
        self.fh.close()


def respond(
    request: HttpRequest,
    open_file: Callable[[], IO[bytes]],
    size: int,
    *,
    content_type: str,
    filename: str,
    as_attachment: bool = False,
    on_deliver: Callable[[], None] | None = None,
) -> HttpResponse:
    """The answer to ``request`` for a file of ``size`` bytes (see the module's rules)."""
    header = request.headers.get("Range")
    if request.method != "GET" or request.headers.get("If-Range"):
        header = None
    try:
        wanted = parse(header, size)
    except Unsatisfiable:
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
    else:
        if request.method == "HEAD":
            response = HttpResponse(content_type=content_type)
            response["Content-Length"] = str(size)
        else:
            if on_deliver is not None:
                on_deliver()
            if wanted is None:
                response = FileResponse(
                    open_file(),
                    content_type=content_type,
                    as_attachment=as_attachment,
                    filename=filename,
                )
            else:
                response = StreamingHttpResponse(
                    _Slice(open_file(), wanted.start, wanted.length),
                    status=206,
                    content_type=content_type,
                )
                response["Content-Range"] = f"bytes {wanted.start}-{wanted.end}/{size}"
                response["Content-Length"] = str(wanted.length)
        if as_attachment or request.method == "HEAD":
            disposition = content_disposition_header(as_attachment, filename)
            if disposition:
                response["Content-Disposition"] = disposition
    response["Accept-Ranges"] = "bytes"
    response["Cache-Control"] = "private, no-store"
    return response
