"""``python -m tests.deploy.layer_bytecode DIR``: the built layer holds CPython 3.13 bytecode for every module
and no other version's (3.13 ignores other versions' .pyc, and Lambda mounts the layer read-only, so a module
without its cpython-313 file would be compiled again at every cold start). Exits 1 naming what is wrong."""

from __future__ import annotations

import sys
from pathlib import Path

TAG = "cpython-313"


def problems(root: Path) -> list[str]:
    found = []
    sources = [path for path in root.rglob("*.py") if "__pycache__" not in path.parts]
    if not sources:
        return [f"no Python modules under {root}"]
    for source in sources:
        compiled = source.parent / "__pycache__" / f"{source.stem}.{TAG}.pyc"
        if not compiled.exists():
            found.append(f"{source.relative_to(root)} has no {TAG} bytecode")
    for compiled in root.rglob("__pycache__/*.pyc"):
        if f".{TAG}." not in compiled.name:
            found.append(f"{compiled.relative_to(root)} is another version's bytecode")
    return found


def main() -> None:
    root = Path(sys.argv[1])
    found = problems(root)
    for line in found[:20]:
        print(line, file=sys.stderr)
    if found:
        print(
            f"{len(found)} problem(s): the layer must be compiled by Python 3.13 (layers/synchub/Makefile)",
            file=sys.stderr,
        )
        sys.exit(1)
    modules = sum(1 for _ in root.rglob("*.py"))
    print(f"layer bytecode: {modules} modules, each with its {TAG} .pyc, no other version's")


if __name__ == "__main__":
    main()
