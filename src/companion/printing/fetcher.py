"""The only way WeasyPrint may load anything: data: URLs and files under the allowed folders.

Passed to every HTML() and CSS() object. Anything else (http, https, ftp, file outside the
project, redirects) raises a fatal error, so a hostile reference stops the build instead of
reaching the network or embedding a local file. `refusals_as_errors()` turns that fatal error
(a BaseException, which WeasyPrint lets through) into a CompanionError with a C021 diagnostic.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

from weasyprint.urls import FatalURLFetchingError, URLFetcher, URLFetcherResponse

from companion.core import gate
from companion.core.errors import CompanionError, diagnostic
from companion.source.svgclean import Clean, clean_svg

MAX_FETCH_BYTES = 20 * 1024 * 1024


class RefusedResource(FatalURLFetchingError):
    """A build asked for a resource outside the allowed folders."""

    def __init__(self, url: str) -> None:
        super().__init__(f"refused to load {url[:200]}")
        self.url = url

    def __reduce__(self) -> tuple[type[RefusedResource], tuple[str]]:
        return RefusedResource, (self.url,)  # raised in a layout worker, re-raised in the parent


class RestrictedFetcher(URLFetcher):
    def __init__(self, *roots: Path) -> None:
        super().__init__(allowed_protocols=("data", "file"), allow_redirects=False, fail_on_errors=True)
        self.roots = tuple(root.resolve() for root in roots)

    def fetch(self, url: str, headers: object = None) -> URLFetcherResponse:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme == "data":
            return super().fetch(url, headers)
        if scheme == "file" and parts.netloc in ("", "localhost"):
            path = Path(url2pathname(unquote(parts.path)))
            data = self._read(path)
            if data is not None:
                return URLFetcherResponse(url, data)
        raise RefusedResource(url)

    def _read(self, path: Path) -> bytes | None:
        """The file through the reading gate, if it is inside one of the roots (an SVG as cleaned)."""
        for root in self.roots:
            if not path.absolute().is_relative_to(root):
                continue
            try:
                data = gate.read(path, root, MAX_FETCH_BYTES)
            except gate.Refused:
                return None
            if path.suffix.lower() == ".svg":
                cleaned = clean_svg(data)
                return cleaned.data if isinstance(cleaned, Clean) else None
            return data
        return None


@contextmanager
def refusals_as_errors(where: str = "styles") -> Iterator[None]:
    """Run WeasyPrint; a refused resource (or any fatal fetch error) becomes a C021 CompanionError."""
    try:
        yield
    except FatalURLFetchingError as exc:
        url = getattr(exc, "url", "") or (exc.args[0] if exc.args else "a resource")
        raise CompanionError(
            [
                diagnostic(
                    where,
                    "C021",
                    f"the layout asked for `{str(url)[:200]}`, which is outside the companion",
                    "styles and content may use only files under source/ and styles/",
                )
            ]
        ) from None
