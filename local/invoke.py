"""``python -m local.invoke FUNCTION EVENT``: run one function once with an event file, like
``sam local invoke`` but without Docker.

It uses the emulator of a running ``make run`` (``MOTO_PORT``, default 4566) when there is one, so the
function sees the local stack's data; otherwise it starts a private emulator with the template's
resources and the demo data source.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from local import demo
from local.ports import free_port, in_use
from local.resources import attach_resources, create_resources
from local.stack import install_functions, start_emulator, use_emulator
from local.template import load_template


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.invoke", description=__doc__.split("\n\n")[0])
    parser.add_argument("function", help="logical id in template.yaml, e.g. CreateTaskFunction")
    parser.add_argument("event", type=Path, help="event file, e.g. events/create_task.json")
    parser.add_argument("--moto-port", type=int, default=int(os.environ.get("MOTO_PORT", 4566)))
    args = parser.parse_args(argv)

    template = load_template()
    event = json.loads(args.event.read_text())
    emulator = None
    if in_use(args.moto_port):
        use_emulator(f"http://127.0.0.1:{args.moto_port}")
        stack = attach_resources(template)
        print(f"# using the running local stack's emulator on port {args.moto_port}", file=sys.stderr)
    else:
        emulator = start_emulator(free_port())
        stack = create_resources(template)
    functions = install_functions(template, stack)
    if emulator is not None:
        demo.seed(f"http://127.0.0.1:{os.environ.get('PORT', '8080')}")
    if args.function not in functions:
        print(f"unknown function {args.function}; the template has: {', '.join(sorted(functions))}", file=sys.stderr)
        return 2
    try:
        result = functions[args.function].invoke(event)
    finally:
        if emulator is not None:
            emulator.stop()
    print(json.dumps(result, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
