"""The user's seed material, split into the pieces that must appear in every built companion."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

SEED = Path(__file__).resolve().parent.parent.parent / "shared" / "seed" / "never-let-me-go.txt"


def pieces() -> list[str]:
    """Blurb, reviews and their sources, overview, setting, quotes and speakers, FAQ, closing."""
    lines = [line.strip() for line in SEED.read_text(encoding="utf-8").splitlines() if line.strip()]
    out: list[str] = []
    for line in lines:
        if line in {"Never Let Me Go", "written by", "FAQs :"}:
            continue
        if line.startswith(("Q: ", "A: ")):
            out.append(line[3:])
            continue
        match = re.match(r"^(.*\S)\s+[–-]\s+(The [A-Z][\w ]+|Kathy H\.|Miss Emily|Tommy)$", line)
        if match:
            text, who = match.groups()
            out.append(text.strip('“”"'))
            out.append(who)
            continue
        out.append(line)
    return out


def normal(text: str) -> str:
    """Letters and digits only, lower case, compatibility-folded (ligatures, curly quotes, hyphens gone)."""
    text = unicodedata.normalize("NFKC", text).lower()
    return re.sub(r"[\W_]+", "", text)
