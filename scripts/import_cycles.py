"""Print the pairs of Cradle's packages that import each other, and the imports that make each pair.

A pair of packages that import each other cannot be understood, tested or replaced one without the other; the count
should only go down. Packages are cradle's folders (accounts, audit, unit, ...); the modules at the top (scope.py,
cli.py, ...) are shared by design and not counted. Imports inside functions count too: they are still a dependency,
only a later one.

    python scripts/import_cycles.py           the count and each pair
    python scripts/import_cycles.py -v        with the modules behind each direction
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CRADLE = ROOT / "cradle"


def _package(module: str) -> str | None:
    """The cradle package a dotted module name belongs to, or None outside cradle's folders."""
    parts = module.split(".")
    if parts[0] != "cradle" or len(parts) < 2 or not (CRADLE / parts[1]).is_dir():
        return None
    return parts[1]


def _imported(path: Path) -> set[str]:
    """Every module name an import in this file may refer to (relative imports resolved)."""
    here = list(path.relative_to(ROOT).parent.parts)  # the package a relative import starts from
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join([*here[: len(here) - node.level + 1], *([node.module] if node.module else [])])
            else:
                base = node.module or ""
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def package_imports() -> dict[tuple[str, str], set[str]]:
    """(importer, imported) package pairs, each with the modules of the importer that make it."""
    edges: dict[tuple[str, str], set[str]] = defaultdict(set)
    for path in sorted(CRADLE.rglob("*.py")):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        source = _package(module)
        if source is None:
            continue
        for name in _imported(path):
            target = _package(name)
            if target is not None and target != source:
                edges[(source, target)].add(module.removesuffix(".__init__"))
    return edges


def cycles() -> list[tuple[str, str]]:
    """The pairs of packages that import each other, in order."""
    edges = package_imports()
    return sorted({tuple(sorted(pair)) for pair in edges if (pair[1], pair[0]) in edges})


def main(argv: list[str]) -> int:
    edges = package_imports()
    pairs = cycles()
    print(f"{len(pairs)} pairs of packages import each other")
    for a, b in pairs:
        print(f"  {a} <-> {b}")
        if "-v" in argv:
            for x, y in ((a, b), (b, a)):
                print(f"      {x} -> {y}: {', '.join(sorted(edges[(x, y)]))}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
