"""What a piece of CSS would load, read from tinycss2's tokens (WeasyPrint's own CSS parser), so that
escapes (`@\\69mport`, `u\\72l(`), case (`URL(`) and comments cannot hide a reference."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import tinycss2
from tinycss2 import ast

_URL_FUNCTIONS = frozenset({"url", "src", "image-set", "image", "cross-fade", "element"})
"""Functions whose string arguments name a resource (CSS Values 4 and Images 4)."""


@dataclass(frozen=True)
class Reference:
    line: int
    col: int
    target: str
    """The URL as the CSS means it (escapes decoded)."""
    kind: str
    """'import', 'url' or 'at-rule' (an at-rule other than @import whose target could not be read)."""


def _walk(values: Iterable[ast.Node]) -> Iterator[Reference]:
    for node in values:
        if isinstance(node, ast.URLToken):
            yield Reference(node.source_line, node.source_column, node.value, "url")
        elif isinstance(node, ast.FunctionBlock):
            if node.lower_name in _URL_FUNCTIONS:
                for arg in node.arguments:
                    if isinstance(arg, ast.StringToken):
                        yield Reference(arg.source_line, arg.source_column, arg.value, "url")
            yield from _walk(node.arguments)
        elif isinstance(node, ast.ParenthesesBlock | ast.SquareBracketsBlock | ast.CurlyBracketsBlock):
            yield from _walk(node.content)
        elif isinstance(node, ast.AtRule):
            yield from _at_rule(node)
        elif isinstance(node, ast.QualifiedRule):
            yield from _walk(node.prelude)
            yield from _walk(node.content)
        elif isinstance(node, ast.Declaration):
            yield from _walk(node.value)


def _at_rule(rule: ast.AtRule) -> Iterator[Reference]:
    if rule.lower_at_keyword == "import":
        target = next(
            (t for t in rule.prelude if isinstance(t, ast.StringToken | ast.URLToken | ast.FunctionBlock)),
            None,
        )
        if isinstance(target, ast.StringToken | ast.URLToken):
            yield Reference(rule.source_line, rule.source_column, target.value, "import")
            return
        if isinstance(target, ast.FunctionBlock):
            text = next((a.value for a in target.arguments if isinstance(a, ast.StringToken)), "")
            yield Reference(rule.source_line, rule.source_column, text, "import")
            return
        yield Reference(rule.source_line, rule.source_column, "", "import")
        return
    yield from _walk(rule.prelude)
    if rule.content is not None:
        yield from _walk(tinycss2.parse_blocks_contents(rule.content))


def stylesheet_references(text: str) -> list[Reference]:
    """Every resource a style sheet refers to (imports, url(), src(), image-set()...)."""
    return list(_walk(tinycss2.parse_stylesheet(text, skip_comments=True, skip_whitespace=True)))


def declarations_references(text: str) -> list[Reference]:
    """The same, for a `style="..."` attribute."""
    return list(_walk(tinycss2.parse_blocks_contents(text, skip_comments=True, skip_whitespace=True)))


def value_references(text: str) -> list[Reference]:
    """The same, for a single value (an SVG presentation attribute such as fill="url(#g)")."""
    return list(_walk(tinycss2.parse_component_value_list(text, skip_comments=True)))
