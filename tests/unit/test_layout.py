"""The development guide's layout names every part of the shared package, the import-linter contract layers all of it, and a
module over 300 lines says why in its docstring."""

from __future__ import annotations

import ast
import tomllib

from tests.conftest import ROOT

PACKAGE = ROOT / "layers" / "synchub" / "synchub"


def parts() -> set[str]:
    return {
        p.name if p.is_dir() else p.stem
        for p in PACKAGE.iterdir()
        if (p.is_dir() and (p / "__init__.py").exists()) or (p.suffix == ".py" and p.stem != "__init__")
    }


def test_the_layout_names_every_part_of_the_package():
    guide = (ROOT / "docs" / "development.md").read_text()
    layout = guide[guide.index("## Layout") : guide.index("### How the data is kept")]
    missing = [part for part in sorted(parts()) if f"{part}/" not in layout and f"{part}.py" not in layout]
    assert not missing, missing


def test_the_layers_contract_covers_every_part():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    (contract,) = config["contracts"]
    layered = {name.strip() for layer in contract["layers"] for name in layer.split("|")}
    assert contract["containers"] == ["synchub"] and contract.get("exhaustive") is True
    assert layered == parts()


LONG_MODULE_LINES = 300


def test_a_module_over_300_lines_says_why_in_its_docstring():
    unexplained = []
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text()
        if text.count("\n") > LONG_MODULE_LINES:
            docstring = ast.get_docstring(ast.parse(text)) or ""
            if "\nSize: " not in docstring:
                unexplained.append(f"{path.relative_to(PACKAGE)} ({text.count(chr(10))} lines)")
    assert not unexplained, unexplained


def test_a_function_local_import_says_why_where_it_stands():
    """Imports inside functions exist only to keep a cold start small, and say so on their line (or the line
    above, for a run of imports)."""
    silent = []
    for path in sorted(PACKAGE.rglob("*.py")):
        lines = path.read_text().splitlines()
        for function in ast.walk(ast.parse("\n".join(lines))):
            if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(function):
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    first = node.lineno - 1
                    while first > 0 and lines[first - 1].strip().startswith(("import ", "from ")):
                        first -= 1  # a run of imports is explained once, at its head
                    explained = "#" in lines[first] or (first > 0 and lines[first - 1].strip().startswith("#"))
                    if not explained:
                        silent.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert not silent, silent
