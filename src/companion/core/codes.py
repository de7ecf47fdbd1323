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
    # Gating by reading progress (gating.py)
    "C080": Code("error", "`reveals` names no part of the novel", "name one of `novel.parts` in book.yaml"),
    "C081": Code(
        "error",
        "`spoilers` says otherwise than `reveals`",
        "drop `spoilers:`; `reveals:` says how far the item gives away",
    ),
    "C082": Code("error", "a part id is used twice or is reserved", "give each part its own id"),
    "C083": Code(
        "error",
        "a section fence is not `::: reveals <part id>`",
        "open a gated section with `::: reveals part-two` and close it with `:::`",
    ),
    "C084": Code(
        "error",
        "`--through` names no stage of the novel",
        "use `start` or the id of one of `novel.parts` in book.yaml",
    ),
    # The host's kit (meetings.yaml, `companion build --format kit`)
    "C085": Code(
        "error", "a meeting names a part the novel does not have", "use the id of a part (`part-one`)"
    ),
    "C086": Code("error", "two meetings for the same part", "plan one meeting per part of the novel"),
    "C087": Code(
        "error",
        "a meeting's timings do not add up to its length",
        "make the `minutes` of its timings sum to the meeting's `minutes`",
    ),
    "C088": Code(
        "error",
        "the host's kit has no meetings",
        "plan a meeting for each part of the novel in source/meetings.yaml",
    ),
    "C089": Code(
        "error",
        "a handout or a question card does not fit",
        "a handout is at most two pages and a card holds about 250 characters: shorten the questions",
    ),
    # Images
    "C030": Code("error", "image missing"),
    "C031": Code("error", "image has no alt text", "write ![what the image shows](path)"),
    "C032": Code("error", "file is not a supported image", "use JPEG, PNG, GIF or a clean SVG"),
    "C033": Code("warning", "image resolution too low for print"),
    "C034": Code("error", "SVG contains scripts or external references"),
    "C036": Code("warning", "a printed line runs past its measure", "break the long word or shorten it"),
    # Files from a stranger (the reading gate, styles/)
    "C040": Code(
        "error",
        "file is a link to outside the project",
        "copy the file into the project instead of linking to it",
    ),
    "C041": Code(
        "error", "not a regular file", "replace the named pipe, device or socket with an ordinary file"
    ),
    "C042": Code(
        "error", "font file is not a font", "put only real .otf, .ttf, .woff or .woff2 fonts in styles/fonts/"
    ),
    "C043": Code(
        "error",
        "styles/ entry missing or of the wrong kind",
        "styles/ needs base.css, epub.css, print.css and cover.css as files, and fonts/ as a folder",
    ),
    "C044": Code(
        "error",
        "cannot write there",
        "name a folder you can write to (--out, `companion new DIR`); no output's name may be a folder",
    ),
    "C045": Code(
        "error",
        "SOURCE_DATE_EPOCH is not a usable time",
        "set it to whole seconds since 1970 (before the year 10000), or unset it",
    ),
    "C046": Code(
        "error",
        "Markdown nested too deeply",
        "emphasis, quotes and lists may be nested at most 32 levels deep",
    ),
    "C047": Code(
        "error",
        "YAML complex keys are not allowed",
        "write each key as plain text before its colon (`name: value`)",
    ),
    "C048": Code("error", "name reserved for companion's own use"),
    "C060": Code("error", "ISBN is not an ISBN-13", "13 digits starting 978 or 979; hyphens are allowed"),
    "C061": Code("error", "ISBN check digit is wrong"),
    # The layout lint (lint.py): the print interior's pages as a book designer reads them
    "L001": Code("warning", "heading stranded at the foot of a page", "keep two lines of its text with it"),
    "L002": Code("warning", "very short last page of a section", "shorten or lengthen the section a little"),
    "L003": Code("warning", "more than two hyphenated lines in a row", "reword one of the lines"),
    "L004": Code("warning", "a paragraph ends on half a word", "reword the paragraph's last line"),
    "L005": Code("warning", "a name is hyphenated", "names are never broken: check the style sheets"),
    "L006": Code("warning", "loose line: word spaces over twice normal", "reword, or allow a break nearby"),
    "L007": Code("warning", "contents leader stops short of its number", "check the contents styles"),
    "L008": Code(
        "warning", "a line of one word inside a paragraph", "look for markup around the word; reword nearby"
    ),
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
    "P030": Code(
        "error",
        "file is malformed; it could not be checked",
        "rebuild it, or ask whoever made it for an undamaged copy",
    ),
    # Print-on-demand services (`preflight --printer`, preflight_print.py)
    "P040": Code(
        "error",
        "page size or boxes not as the printer asks",
        "an interior is the trim, or trim + bleed on the top, bottom and outside only",
    ),
    "P041": Code("error", "RGB in a black-and-white interior", "use gray or K-only colours"),
    "P042": Code(
        "error", "cover ink coverage above the printer's limit", "convert through an ink-limited profile"
    ),
    "P043": Code(
        "error", "cover not CMYK", "give the cover's colours in CMYK, or let companion convert them"
    ),
    "P044": Code(
        "error",
        "text outside the printer's live area",
        "keep text, running heads and folios inside the margins",
    ),
    "P045": Code("error", "line too thin to print", "draw lines at least 0.25 pt wide"),
    "P046": Code("error", "not allowed in this PDF/X variant"),
    "P047": Code("error", "cover not in a variant the printer takes", "build it with --pdf-variant pdf/x-1a"),
    "P048": Code("error", "page labels missing or not the folios"),
    "P049": Code("error", "page count the printer does not take"),
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
    "D020": Code(
        "warning",
        "file in the output folder skipped",
        "it is not one companion can read; remove it or replace it with a real one",
    ),
    # Pushing to an e-reader (`companion push`)
    "D030": Code(
        "error",
        "no e-reader is mounted",
        "connect the reader by USB, choose to connect on its screen, or give its folder with --device PATH",
    ),
    "D031": Code("error", "several e-readers are mounted", "choose one with --device PATH"),
    "D032": Code(
        "error", "a Kindle cannot read EPUB over USB", "e-mail the book with `companion send` instead"
    ),
    "D033": Code(
        "error",
        "a different book of the same name is on the reader",
        "rename or delete it on the reader, or pass --replace to overwrite it",
    ),
    "D034": Code("error", "no built book to push", "build it first with `companion build`"),
    "D035": Code("error", "cannot write to the reader", "check that it is mounted writable and has room"),
    "D036": Code("error", "the --device folder is missing", "give the folder where the reader is mounted"),
    # Mail server certificates (`companion send`)
    "D040": Code(
        "error",
        "the mail server's certificate is not trusted",
        "trust your provider's CA with --cafile PATH (or SSL_CERT_FILE), or check --smtp HOST",
    ),
    "D041": Code("error", "the --cafile file cannot be used", "give a PEM file of CA certificates"),
    # The web edition (web.py)
    "D050": Code(
        "warning",
        "the web search knows English word forms only",
        "readers find words of other languages as written",
    ),
    "D051": Code(
        "warning",
        "the web edition has no sitemap: book.yaml gives no `web.url`",
        "add `web: {url: https://...}` (the site's address), or `web: {sitemap: false}`",
    ),
}


def codes_table() -> str:
    """Every code as a Markdown table (for the README and `companion codes`)."""
    rows = ["| code | severity | problem | what to do |", "| --- | --- | --- | --- |"]
    for name, code in CODES.items():
        cells = (name, code.severity, code.summary, code.hint)
        rows.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(rows) + "\n"
