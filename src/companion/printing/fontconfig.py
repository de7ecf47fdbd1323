"""WeasyPrint's fonts: the bundled ones and nothing else, on every machine.

Why this is needed: WeasyPrint honours `@font-face` only through a `FontConfiguration` passed to
every `CSS(...)` and to `render(...)`; without one the rules are ignored without a word, and
fontconfig picks whatever system font answers to the family name: EB Garamond on a machine that
happens to have Debian's fonts-ebgaramond, DejaVu on any other (LIBRARY-NOTES, "Fonts").

Why it is made this way: a `FontConfiguration` alone still sees every system font, so a character
or a family the bundled fonts lack would silently come from the system. fontconfig reads the file
named by FONTCONFIG_FILE when a configuration is loaded; ours (fonts.conf beside this module) lists
no font folder and includes no system configuration, so the configuration WeasyPrint builds holds
exactly the fonts the `@font-face` rules add (through the restricted fetcher, so only files under
the project). A character no bundled font has is drawn as the bundled font's .notdef box, and the
build has already warned about it (C025). The variable is set only while the configuration is
loaded, under a lock, so nothing else in the process is affected.

One configuration is kept per set of font files for the life of the process: a preview server's
rebuilds reuse it. Each layout worker makes its own (core/parallel.py says why none is inherited).
The folders are removed when the process exits; a worker's are in its scratch folder, which goes
with the worker.
"""

from __future__ import annotations

import atexit
import io
import logging
import os
import shutil
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from weasyprint import CSS
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher

from companion.core import gate
from companion.core.cache import digest
from companion.core.errors import CompanionError, Location, diagnostic
from companion.source import fonts

FONTS_CONF = Path(__file__).with_name("fonts.conf")
_LOCK = threading.Lock()
_KEPT: dict[str, FontConfiguration] = {}
_MAX_KEPT = 4


def stylesheets(
    styles: Path, names: Sequence[str], fetcher: URLFetcher, **options: Any
) -> tuple[list[CSS], FontConfiguration]:
    """The style sheets `names` (under `styles`) for WeasyPrint, and the font configuration that
    holds their `@font-face` fonts and no other: pass it to every other CSS() and to render()."""
    faces, problems = fonts.font_faces(styles, names)
    if problems:  # `companion check` reports these too; a layout never starts without its fonts
        raise CompanionError(list(problems))
    where = faces[0].where if faces else Location(fonts.shown_path(styles / names[0]))
    if not faces:
        raise CompanionError([diagnostic(where, "C037", "no @font-face rule names a bundled font", _HINT)])
    config = _config(
        digest(*((f.family, f.style, f.file.name, gate.read(f.file, styles, gate.FONT_LIMIT)) for f in faces))
    )
    handler = _Refusals()
    logger = logging.getLogger("weasyprint")
    logger.addHandler(handler)
    try:
        sheets = [  # read through the gate, like every project file
            CSS(
                file_obj=io.BytesIO(gate.styles_file(styles, name)),
                base_url=f"{styles}/",
                url_fetcher=fetcher,
                font_config=config,
                **options,
            )
            for name in names
        ]
    finally:
        logger.removeHandler(handler)
    if handler.families or not _has_fonts(config):
        families = handler.families or [face.family for face in faces]
        message = "the bundled font for `{}` cannot be loaded by the layout engine"
        raise CompanionError(
            [diagnostic(where, "C037", message.format(family), _HINT) for family in dict.fromkeys(families)]
        )
    return sheets, config


_HINT = "put working OpenType or TrueType fonts in styles/fonts/ and name them with @font-face"


def _config(key: str) -> FontConfiguration:
    """A configuration that knows no system font; one is kept per set of bundled fonts."""
    with _LOCK:
        kept = _KEPT.get(key)
        if kept is None:
            previous = os.environ.get("FONTCONFIG_FILE")
            os.environ["FONTCONFIG_FILE"] = str(FONTS_CONF)
            try:
                kept = FontConfiguration()
            finally:
                if previous is None:
                    del os.environ["FONTCONFIG_FILE"]
                else:
                    os.environ["FONTCONFIG_FILE"] = previous
            while len(_KEPT) >= _MAX_KEPT:
                _release(_KEPT.pop(next(iter(_KEPT))))
            _KEPT[key] = kept
        return kept


def _has_fonts(config: FontConfiguration) -> bool:
    """Whether the `@font-face` rules added any font: with none, Pango would crash the process."""
    from weasyprint.text.ffi import ffi, fontconfig

    found = fontconfig.FcConfigGetFonts(config._config, fontconfig.FcSetApplication)
    return bool(found != ffi.NULL and found.nfont > 0)


def _release(config: FontConfiguration) -> None:
    folder = getattr(config, "_folder", None)  # WeasyPrint's copies of the fonts it was given
    if folder:
        shutil.rmtree(folder, ignore_errors=True)
        config._folder = None


@atexit.register
def _release_all() -> None:  # never runs in a worker (it leaves by os._exit)
    for config in _KEPT.values():
        _release(config)


class _Refusals(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.families: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.msg == "Font-face %r cannot be loaded" and record.args:
            args: Any = record.args
            self.families.append(str(args[0]))
