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
    "C001": Code(
        "error", "source folder missing", "run `companion new DIR` to start one, or pass the folder"
    ),
    "C002": Code("error", "required file missing", "every companion needs book.yaml and about.yaml"),
    "C003": Code("error", "file is not valid UTF-8", "save the file as UTF-8"),
    "C004": Code("error", "file is empty"),
    "C005": Code("error", "file is too large", "source files are limited to 2 MB each"),
    "C006": Code("error", "file cannot be read"),
    "C007": Code("error", "structure nested too deeply", "YAML values may be nested at most 32 levels deep"),
    "C008": Code(
        "error",
        "control character not allowed",
        "delete it; invisible control characters cannot appear in an EPUB or PDF",
    ),
    # YAML and schema
    "C010": Code("error", "YAML syntax error"),
    "C011": Code(
        "error", "YAML anchors and aliases are not allowed", "repeat the value instead of aliasing it"
    ),
    "C012": Code("error", "unknown key"),
    "C013": Code("error", "required field missing"),
    "C014": Code("error", "wrong type or value"),
    "C015": Code(
        "error", "front matter missing or malformed", "start the file with ---, then `title: ...`, then ---"
    ),
    "C016": Code("error", "duplicate identifier", "every id must be unique across the companion"),
    "C017": Code("error", "YAML tags are not allowed", "remove the `!tag`; quote the value if it is text"),
    # Markdown content
    "C020": Code("error", "raw HTML is not allowed here", "use Markdown instead of HTML"),
    "C021": Code("error", "link or resource outside the companion", "only files under source/ may be used"),
    "C022": Code("error", "broken cross-reference", "link to the id of a chapter, character, theme or term"),
    "C023": Code(
        "error",
        "unsafe link",
        "links may only point at #ids in the companion or at mailto: addresses",
    ),
    "C024": Code("error", "undefined footnote"),
    "C025": Code(
        "warning",
        "character not in the bundled fonts",
        "print shows a box in its place, an e-reader its own font if it has one; consider rephrasing",
    ),
    # Fonts (styles/ @font-face rules and the fonts in built files)
    "C037": Code(
        "error",
        "a bundled font cannot be used",
        "put the font file in styles/fonts/ and name it with @font-face; no font is taken from the system",
    ),
    "C038": Code(
        "error",
        "a font that is not bundled set text in a built file",
        "declare every font with @font-face in styles/ and put its file in styles/fonts/",
    ),
    "C039": Code(
        "warning",
        "@font-face family is not the font's own name",
        "use the family name the font file gives itself (calibre and some reading systems match on it)",
    ),
    # Narration (the read-along edition)
    "C070": Code("error", "unknown narration voice"),
    "C071": Code("error", "narration engine or encoder not available"),
    "C072": Code(
        "warning",
        "the narration voice speaks another language or region",
        "no packaged voice matches the book's language: choose the nearest, or espeak-ng's voice for it",
    ),
    "C073": Code(
        "error", "lexicon entry is not a word or phrase", "write the word as it appears in the text"
    ),
    # Images
    "C030": Code("error", "image missing"),
    "C031": Code("error", "image has no alt text", "write ![what the image shows](path)"),
    "C032": Code("error", "file is not a supported image", "use JPEG, PNG, GIF or a clean SVG"),
    "C033": Code("warning", "image resolution too low for print"),
    "C034": Code("error", "SVG contains scripts or external references"),
    "C036": Code("warning", "a printed line runs past its measure", "break the long word or shorten it"),
    # New projects (`companion new`)
    "N001": Code("error", "folder for a new project is not empty", "name a new or empty folder"),
    # Built files (preflight)
    "P001": Code("error", "EPUBCheck message", "EPUBCheck's own message follows its ID"),
    "P002": Code("error", "DAISY Ace accessibility violation", "see http://kb.daisy.org/publishing/docs/"),
    "P003": Code("error", "validator not available"),
    "P004": Code("error", "`--` inside a comment", "Kindle's converter rejects it: remove the comment"),
    "P005": Code("error", "CSS custom property", "Kindle ignores var() and --name: write the value itself"),
    "P006": Code("error", "media type is not an EPUB core media type"),
    "P007": Code("error", "language missing", "set dc:language in the OPF and lang on every document"),
    "P008": Code(
        "error", "file too large", "Send to Kindle accepts EPUBs up to 50 MB, 10 MB per file inside"
    ),
    "P009": Code("error", "accessibility metadata missing", "see EPUB Accessibility 1.1, section 5"),
    "P010": Code(
        "error", "PDF box missing or wrong", "every page needs a TrimBox and a BleedBox 0.125 in larger"
    ),
    "P011": Code("error", "font not embedded or not bundled"),
    "P012": Code("error", "odd page count", "print interiors have an even number of pages"),
    "P013": Code("error", "PDF metadata missing"),
    "P014": Code("warning", "image resolution below 300 dpi", "use a larger image or print it smaller"),
    "P015": Code("error", "file is not a readable PDF or EPUB"),
    "P016": Code("error", "PDF is not tagged", "build it with tags (WeasyPrint pdf_tags=True)"),
    "P017": Code("error", "PDF variant incomplete"),
    "P018": Code("error", "text outside the live area", "keep text at least 0.25 in inside the trim"),
    # Distribution
    "D001": Code("error", "file to send is missing", "build it first with `companion build`"),
    "D002": Code("error", "file is too large to send", "Send to Kindle accepts files up to 50 MB"),
    "D003": Code("error", "file type cannot be sent", "send the .epub, .kepub.epub or .pdf"),
    "D004": Code("error", "cannot reach the mail server", "check --smtp HOST:PORT (or COMPANION_SMTP)"),
    "D005": Code(
        "error",
        "mail server login failed",
        "set COMPANION_SMTP_PASSWORD or add `machine HOST login USER password ...` to ~/.netrc",
    ),
    "D006": Code("error", "mail server refused the message"),
    "D007": Code("error", "secure connection to the mail server failed"),
    "D010": Code("error", "folder to serve is missing", "build the outputs first with `companion build`"),
    "D011": Code("error", "cannot listen on the address", "pick another --port, or --port 0 for a free one"),
}


def codes_table() -> str:
    """Every code as a Markdown table (for the README and `companion codes`)."""
    rows = ["| code | severity | problem | what to do |", "| --- | --- | --- | --- |"]
    for name, code in CODES.items():
        cells = (name, code.severity, code.summary, code.hint)
        rows.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(rows) + "\n"
