"""The package's shape: which stage package may import which, no import cycle between modules, and a
light start for `companion check` and `companion codes`.

The rules are read off the source with `ast` (every import, at the top, inside functions and under
TYPE_CHECKING alike), so moving code cannot quietly add an edge.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "companion"

MAY_IMPORT: dict[str, set[str]] = {
    "core": set(),
    "source": {"core"},
    "render": {"source", "core"},
    "printing": {"render", "source", "core"},
    "epub": {"render", "source", "core", "printing.layout"},
    "readalong": {"epub", "render", "source", "core"},
    "preflight": {"source", "core", "printing.lint"},
    "deliver": {"core"},
    "web": {"epub", "deliver", "render", "source", "core"},
    "steps": {"web", "printing", "epub", "render", "source", "core"},
    "outputs": {"readalong", "render", "core"},
    "pipeline": {
        "outputs",
        "steps",
        "readalong",
        "web",
        "epub",
        "printing",
        "render",
        "source",
        "deliver",
        "core",
    },
    "author": {"outputs", "pipeline", "epub", "printing", "render", "source", "core"},
    "cli": {"outputs", "companion", "author", "pipeline", "preflight", "deliver", "render", "source", "core"},
    "__main__": {"cli"},
}
"""Stage package -> the packages (or single modules, as `printing.layout`) it may import. A package
always imports its own modules; `companion` is the top package (its __version__)."""

HEAVY = ("weasyprint", "pypdf", "pikepdf", "pypdfium2", "ebooklib", "watchfiles")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imports(path: Path, known: dict[str, Path]) -> set[str]:
    """The modules of ours that `path` imports (`from companion.x import y` is module x.y when that
    is a module, else x)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level:
            raise AssertionError(f"{path}: relative import; write `from companion.… import …`")
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "companion":
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                found.add(full if full in known else str(node.module))
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "companion")
    return found


def stage(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "companion"


def allowed(importer: str, imported: str) -> bool:
    here, there = stage(importer), stage(imported)
    if here == there:
        return True
    rules = MAY_IMPORT.get(here, set())
    return there in rules or imported.removeprefix("companion.") in rules


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(path, known) for name, path in known.items()}


def test_every_import_follows_the_table() -> None:
    edges = graph()
    assert set(MAY_IMPORT) | {"companion"} >= {stage(m) for m in edges}, "a new package needs a row"
    wrong = sorted(f"{a} imports {b}" for a, bs in edges.items() for b in bs if not allowed(a, b))
    assert wrong == []


def test_the_table_is_enforced_on_a_crafted_edge() -> None:
    """The check itself: a core module importing the source stage, or epub importing WeasyPrint's
    side of printing, is caught."""
    assert not allowed("companion.core.cache", "companion.source.model")
    assert not allowed("companion.epub.package", "companion.printing.interior")
    assert allowed("companion.epub.pagemap", "companion.printing.layout")
    assert not allowed("companion.deliver.opds", "companion.pipeline")


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                item = stack.pop()
                on_stack.discard(item)
                component.append(item)
                if item == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_no_two_modules_import_each_other() -> None:
    assert cycles(graph()) == []
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_module_is_over_400_lines() -> None:
    long = {name: n for name, path in modules().items() if (n := len(path.read_text().splitlines())) > 400}
    assert long == {}


def loaded_by(*args: str) -> set[str]:
    """The modules a `companion ARGS` run has imported by the time it exits."""
    code = (
        "import sys\nfrom companion.cli import main\n"
        f"try:\n    main({list(args)!r})\nexcept SystemExit:\n    pass\n"
        "print(' '.join(sorted(sys.modules)))"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    return set(run.stdout.split())


def test_check_and_codes_start_without_the_heavy_libraries() -> None:
    for args in (("check", str(ROOT / "source")), ("codes",)):
        loaded = loaded_by(*args)
        assert "companion.source.validate" in loaded or args == ("codes",)
        heavy = sorted(m for m in loaded if m.split(".")[0] in HEAVY)
        assert heavy == [], f"companion {args[0]} imports {heavy[:5]}"


def test_the_console_script_is_still_companion_cli_main() -> None:
    import click

    from companion.cli import main

    assert 'companion = "companion.cli:main"' in (ROOT / "pyproject.toml").read_text()
    assert isinstance(main, click.Group) and {"build", "check", "preflight", "preview"} <= set(main.commands)
