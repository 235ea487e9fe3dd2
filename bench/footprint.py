"""Installed size of a set of requirements with everything they pull in: the weight an inference image carries.

    python bench/footprint.py scoring/requirements.txt   # or requirement strings: "tensorflow-cpu==2.21.0" ...

Measured in this venv (which holds every pin of the project): the requirements' dependency closure (Requires-Dist,
markers evaluated for this interpreter, extras followed) and the size on disk of every file each distribution's
RECORD lists, i.e. what `pip install` of those pins writes into site-packages (byte-code pip compiles included),
without building a throwaway venv. The base image's own Python is not counted: it is the same for every path.
"""

from __future__ import annotations

import sys
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name


def read_requirements(path: Path) -> list[str]:
    lines = (line.split("#")[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("-")]


def closure(requirements: list[str]) -> dict[str, metadata.Distribution]:
    """{canonical name: installed distribution} for the requirements and all they require; raises
    PackageNotFoundError naming a distribution that is not installed here."""
    found: dict[str, metadata.Distribution] = {}
    extras_seen: set[tuple[str, str]] = set()
    stack = [(Requirement(r), "") for r in requirements]
    while stack:
        req, extra = stack.pop()
        if req.marker and not req.marker.evaluate({"extra": extra}):
            continue
        name = canonicalize_name(req.name)
        wanted = [e for e in ("", *sorted(req.extras)) if (name, e) not in extras_seen]
        if not wanted:
            continue
        dist = found.get(name) or metadata.distribution(req.name)
        found[name] = dist
        for e in wanted:
            extras_seen.add((name, e))
            stack += [(Requirement(r), e) for r in dist.requires or []]
    return found


def installed_bytes(dist: metadata.Distribution) -> int:
    total = 0
    for file in dist.files or []:
        path = Path(dist.locate_file(file))
        if path.is_file():
            total += path.stat().st_size
    return total


def footprint(requirements: list[str]) -> dict:
    """{"mib": installed MiB, "distributions": n, "largest": [[name, MiB], ...] (top 5)}."""
    sizes = {name: installed_bytes(dist) for name, dist in closure(requirements).items()}
    largest = sorted(sizes.items(), key=lambda kv: -kv[1])[:5]
    return {
        "mib": sum(sizes.values()) / 2**20,
        "distributions": len(sizes),
        "largest": [[name, round(size / 2**20, 1)] for name, size in largest],
    }


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    reqs = read_requirements(Path(sys.argv[1])) if Path(sys.argv[1]).is_file() else sys.argv[1:]
    print(footprint(reqs))
