"""README's layout names every part of the shared package, and the import-linter contract layers all of it."""

from __future__ import annotations

import tomllib

from tests.conftest import ROOT

PACKAGE = ROOT / "layers" / "synchub" / "synchub"


def parts() -> set[str]:
    return {p.name if p.is_dir() else p.stem for p in PACKAGE.iterdir()
            if (p.is_dir() and (p / "__init__.py").exists()) or (p.suffix == ".py" and p.stem != "__init__")}


def test_readme_layout_names_every_part_of_the_package():
    readme = (ROOT / "README.md").read_text()
    layout = readme[readme.index("## Layout"):readme.index("### How the data is kept")]
    missing = [part for part in sorted(parts()) if f"{part}/" not in layout and f"{part}.py" not in layout]
    assert not missing, missing


def test_the_layers_contract_covers_every_part():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    (contract,) = config["contracts"]
    layered = {name.strip() for layer in contract["layers"] for name in layer.split("|")}
    assert contract["containers"] == ["synchub"] and contract.get("exhaustive") is True
    assert layered == parts()
