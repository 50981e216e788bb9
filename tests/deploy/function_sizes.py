"""``python -m tests.deploy.function_sizes [BUILD_DIR]``: after ``sam build``, each function's deployment (its
code and its layers, unzipped) fits Lambda's 250 MB, and only the functions that read or write lake tables
carry pyarrow or pyiceberg. Prints each function's size; exits 1 naming what is wrong."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from local.template import load_template

LAMBDA_UNZIPPED_MAX = 250 * 1024 * 1024  # bytes: a function's code and all its layers, unzipped
TABLE_FUNCTIONS = {"SyncEngineFunction", "PreviewTableFunction"}  # those that scan or commit tables
LAKE_PACKAGES = ("pyarrow", "pyiceberg")


def size_of(path: Path) -> int:
    return sum(item.stat().st_size for item in path.rglob("*") if item.is_file() and not item.is_symlink())


def layer_ids(refs: list[Any]) -> list[str]:
    return [ref["Ref"] for ref in refs if isinstance(ref, dict) and "Ref" in ref]


def deployments(build: Path) -> dict[str, list[Path]]:
    """Each function's directories as Lambda unpacks them: its code, then its layers."""
    template = load_template(build / "template.yaml")
    global_layers = layer_ids(((template.get("Globals") or {}).get("Function") or {}).get("Layers") or [])
    resources = template["Resources"]
    found = {}
    for logical_id, resource in resources.items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        props = resource["Properties"]
        layers = global_layers + layer_ids(props.get("Layers") or [])
        found[logical_id] = [build / props["CodeUri"]] + [
            build / resources[layer]["Properties"]["ContentUri"] for layer in layers
        ]
    return found


def problems(build: Path) -> tuple[list[str], dict[str, int]]:
    found, sizes = [], {}
    for function, directories in deployments(build).items():
        missing = [str(directory) for directory in directories if not directory.is_dir()]
        if missing:
            found.append(f"{function}: not built: {', '.join(missing)}")
            continue
        sizes[function] = sum(size_of(directory) for directory in directories)
        if sizes[function] > LAMBDA_UNZIPPED_MAX:
            found.append(f"{function}: {sizes[function] / 2**20:.1f} MB unzipped, over Lambda's 250 MB")
        carried = [
            package
            for package in LAKE_PACKAGES
            for directory in directories
            if (directory / package).is_dir() or (directory / "python" / package).is_dir()
        ]
        if carried and function not in TABLE_FUNCTIONS:
            found.append(f"{function} touches no table but carries {', '.join(sorted(set(carried)))}")
    return found, sizes


def main() -> None:
    build = Path(sys.argv[1] if len(sys.argv) > 1 else ".aws-sam/build")
    found, sizes = problems(build)
    for function, size in sorted(sizes.items(), key=lambda item: -item[1])[:5]:
        print(f"{function}: {size / 2**20:.1f} MB unzipped (code and layers)")
    print(f"{len(sizes)} functions; only {', '.join(sorted(TABLE_FUNCTIONS))} carry pyarrow and pyiceberg")
    for line in found:
        print(line, file=sys.stderr)
    if found:
        sys.exit(1)


if __name__ == "__main__":
    main()
