"""The one catalogue of diagnostic codes. The README's table is generated from it (`companion codes`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Code:
    severity: str  # "error" or "warning"
    summary: str
    hint: str = ""


CODES: dict[str, Code] = {
    # Files and folders
    "C001": Code("error", "source folder missing", "run `companion new DIR` to start one, or pass the folder"),
    "C002": Code("error", "required file missing", "every companion needs source/book.yaml"),
    "C003": Code("error", "file is not valid UTF-8", "save the file as UTF-8"),
    "C004": Code("error", "file is empty"),
    "C005": Code("error", "file is too large", "source files are limited to 2 MB each"),
    "C006": Code("error", "file cannot be read"),
    # YAML and schema
    "C010": Code("error", "YAML syntax error"),
    "C011": Code("error", "YAML anchors and aliases are not allowed", "repeat the value instead of aliasing it"),
    "C012": Code("error", "unknown key"),
    "C013": Code("error", "required field missing"),
    "C014": Code("error", "wrong type or value"),
    "C015": Code("error", "front matter missing or malformed", "start the file with ---, then `title: ...`, then ---"),
    "C016": Code("error", "duplicate identifier", "every id must be unique across the companion"),
    # Markdown content
    "C020": Code("error", "raw HTML is not allowed here", "use Markdown instead of HTML"),
    "C021": Code("error", "link or resource outside the companion", "only files under source/ may be used"),
    "C022": Code("error", "broken cross-reference", "link to the id of a chapter, character, theme or term"),
    "C023": Code("error", "unsafe link", "links may use https:, http: or mailto: only"),
    "C024": Code("error", "undefined footnote"),
    # Images
    "C030": Code("error", "image missing"),
    "C031": Code("error", "image has no alt text", "write ![what the image shows](path)"),
    "C032": Code("error", "file is not a supported image", "use JPEG, PNG, GIF or a clean SVG"),
    "C033": Code("warning", "image resolution too low for print"),
    "C034": Code("error", "SVG contains scripts or external references"),
    # Built files (preflight)
    "P001": Code("error", "EPUB validation finding"),
    "P002": Code("error", "accessibility finding"),
    "P010": Code("error", "PDF box missing or wrong"),
    "P011": Code("error", "font not embedded or not bundled"),
    "P012": Code("error", "odd page count"),
    "P013": Code("error", "PDF metadata missing"),
    "P014": Code("warning", "image resolution below 300 dpi"),
    "P015": Code("error", "file is not a PDF or EPUB"),
    # Distribution
    "D001": Code("error", "file to send is missing", "build it first with `companion build`"),
    "D002": Code("error", "file is too large to send", "Send to Kindle accepts files up to 50 MB"),
    "D003": Code("error", "file type cannot be sent", "send the .epub, .kepub.epub or .pdf"),
    "D004": Code("error", "cannot reach the mail server", "check --smtp HOST:PORT (or COMPANION_SMTP)"),
    "D005": Code("error", "mail server login failed",
                 "set COMPANION_SMTP_PASSWORD or add `machine HOST login USER password ...` to ~/.netrc"),
    "D006": Code("error", "mail server refused the message"),
    "D007": Code("error", "secure connection to the mail server failed"),
    "D010": Code("error", "folder to serve is missing", "build the outputs first with `companion build`"),
    "D011": Code("error", "cannot listen on the address", "pick another --port, or --port 0 for a free one"),
}
