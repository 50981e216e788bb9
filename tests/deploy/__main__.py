"""``python -m tests.deploy``: the deployed template's resources per type, for each parameter set."""

from __future__ import annotations

from tests.deploy.transformed import PARAMETER_SETS, deployed, resource_counts


def main() -> None:
    counts = {name: resource_counts(deployed(name)) for name in PARAMETER_SETS}
    names = list(counts)
    types = sorted(set().union(*counts.values()))
    width = max(len(t) for t in types)
    print(f"{'resource type':<{width}}  " + "  ".join(f"{n:>20}" for n in names))
    for kind in types:
        print(f"{kind:<{width}}  " + "  ".join(f"{counts[n][kind]:>20}" for n in names))
    print(f"{'total':<{width}}  " + "  ".join(f"{sum(counts[n].values()):>20}" for n in names))


if __name__ == "__main__":
    main()
