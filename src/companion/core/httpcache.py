"""Conditional requests and byte ranges (RFC 9110 sections 13 and 14), as pure functions: what to
answer a GET or HEAD for a representation with a given validator, size and date.

- `If-None-Match` (weak comparison, `*`, lists) wins over `If-Modified-Since`; a match is 304.
- `Range: bytes=a-b`, `a-` or `-n`, one range: 206 with `Content-Range`; a range past the end is 416
  with `Content-Range: bytes */size`; several ranges, other units or a malformed header are ignored
  (a whole 200, which RFC 9110 allows). `If-Range` with a stale ETag or date also gives the whole 200.
"""

from __future__ import annotations

import email.utils
import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus


@dataclass(frozen=True)
class Validators:
    etag: str  # quoted, e.g. "\"1f-5a3\""
    modified: int | None = None  # whole seconds since the epoch


@dataclass(frozen=True)
class Answer:
    status: HTTPStatus
    start: int = 0
    end: int = 0  # exclusive
    headers: tuple[tuple[str, str], ...] = ()

    @property
    def length(self) -> int:
        return self.end - self.start


def for_bytes(data: bytes, modified: int | None = None) -> Validators:
    return Validators(f'"{hashlib.sha256(data).hexdigest()[:32]}"', modified)


def for_file(stat: os.stat_result) -> Validators:
    return Validators(f'"{stat.st_size:x}-{stat.st_mtime_ns:x}"', int(stat.st_mtime))


def http_date(seconds: int) -> str:
    return email.utils.formatdate(seconds, usegmt=True)


def decide(headers: Mapping[str, str], validators: Validators, size: int) -> Answer:
    """The status and byte range to send for a GET or HEAD with these request headers."""
    common = [("ETag", validators.etag), ("Accept-Ranges", "bytes")]
    if validators.modified is not None:
        common.append(("Last-Modified", http_date(validators.modified)))
    if _not_modified(headers, validators):
        return Answer(HTTPStatus.NOT_MODIFIED, headers=tuple(common))
    whole = Answer(HTTPStatus.OK, 0, size, tuple(common))
    wanted = headers.get("Range")
    if not wanted or not _if_range_holds(headers.get("If-Range"), validators):
        return whole
    parsed = parse_range(wanted, size)
    if parsed is None:
        return whole
    if parsed == ():
        return Answer(
            HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE,
            headers=(*common, ("Content-Range", f"bytes */{size}")),
        )
    start, end = parsed  # type: ignore[misc]  # the () case returned above
    return Answer(
        HTTPStatus.PARTIAL_CONTENT,
        start,
        end,
        (*common, ("Content-Range", f"bytes {start}-{end - 1}/{size}")),
    )


def parse_range(value: str, size: int) -> tuple[int, int] | tuple[()] | None:
    """(start, end exclusive) of one satisfiable byte range; () when none is satisfiable; None when
    the header is to be ignored (not bytes, several ranges, malformed)."""
    unit, _, spec = value.strip().partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, dash, last = spec.strip().partition("-")
    first, last = first.strip(), last.strip()
    if not dash or not (first.isdigit() or first == "") or not (last.isdigit() or last == ""):
        return None
    if first == "":
        if last == "":
            return None
        suffix = int(last)
        return (max(size - suffix, 0), size) if suffix > 0 and size > 0 else ()
    start = int(first)
    end = size if last == "" else min(int(last) + 1, size)
    if last != "" and int(last) < start:
        return None
    return (start, end) if start < size else ()


def _tags(value: str) -> list[str]:
    return [tag.strip().removeprefix("W/") for tag in value.split(",") if tag.strip()]


def _not_modified(headers: Mapping[str, str], validators: Validators) -> bool:
    match = headers.get("If-None-Match")
    if match is not None:
        tags = _tags(match)
        return "*" in tags or validators.etag.removeprefix("W/") in tags
    since = headers.get("If-Modified-Since")
    if since is None or validators.modified is None:
        return False
    try:
        parsed = email.utils.parsedate_to_datetime(since)
    except (TypeError, ValueError):
        return False
    return validators.modified <= int(parsed.timestamp())


def _if_range_holds(value: str | None, validators: Validators) -> bool:
    if value is None:
        return True
    value = value.strip()
    if value.startswith(('"', "W/")):
        return value == validators.etag  # If-Range needs a strong match
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return False
    return validators.modified is not None and validators.modified == int(parsed.timestamp())
