"""Size limits for hand-written product code: modules up to 400 lines, functions up to 60.

Usage: ``python tools/check_size.py [ROOT ...]`` (default: ``cleanroom`` and ``clients``
under the repository). Prints one line per offender and exits 1 when there is any, so
``make lint`` fails. Generated code (``cleanroom/v1``, grpcio-tools output) is not ours
to size. A function's size is ``end_lineno - lineno + 1`` of its AST node (decorators
not counted, docstring and nested functions counted: they are read as one unit).
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
REPO = Path(__file__).resolve().parents[1]
DEFAULT_ROOTS = (REPO / "cleanroom", REPO / "clients")
GENERATED = (Path("cleanroom") / "v1",)


@dataclass(frozen=True)
class Offence:
    path: Path
    line: int
    what: str
    lines: int
    limit: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what} has {self.lines} lines (limit {self.limit})"


def is_generated(path: Path, repo: Path = REPO) -> bool:
    """True for generated modules: under a generated folder, or protoc/grpc output by name."""
    if path.name.endswith(("_pb2.py", "_pb2_grpc.py", "_pb2.pyi")):
        return True
    try:
        relative = path.resolve().relative_to(repo)
    except ValueError:
        return False
    return any(relative.is_relative_to(folder) for folder in GENERATED)


def _functions(tree: ast.AST, prefix: str = "") -> Iterator[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    """Every function and method with a dotted name (Class.method, outer.inner)."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield f"{prefix}{node.name}", node
            yield from _functions(node, f"{prefix}{node.name}.")
        elif isinstance(node, ast.ClassDef):
            yield from _functions(node, f"{prefix}{node.name}.")
        else:
            yield from _functions(node, prefix)


def check_source(
    source: str, path: Path, max_module: int = MAX_MODULE_LINES, max_function: int = MAX_FUNCTION_LINES
) -> list[Offence]:
    """The size offences of one module's source text."""
    found = []
    total = len(source.splitlines())
    if total > max_module:
        found.append(Offence(path, 1, "module", total, max_module))
    for name, node in _functions(ast.parse(source, filename=str(path))):
        size = (node.end_lineno or node.lineno) - node.lineno + 1
        if size > max_function:
            found.append(Offence(path, node.lineno, f"function {name}()", size, max_function))
    return found


def python_files(roots: Iterable[Path]) -> list[Path]:
    files: set[Path] = set()
    for root in roots:
        candidates = [root] if root.is_file() else root.rglob("*.py")
        files.update(f for f in candidates if not is_generated(f) and ".venv" not in f.parts)
    return sorted(files)


def check(roots: Iterable[Path]) -> list[Offence]:
    found = []
    for path in python_files(roots):
        shown = path.relative_to(REPO) if path.is_relative_to(REPO) else path
        found += check_source(path.read_text(encoding="utf-8"), shown)
    return found


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    roots = [Path(a).resolve() for a in args] or list(DEFAULT_ROOTS)
    missing = [str(r) for r in roots if not r.exists()]
    if missing:
        print(f"check_size: no such file or folder: {', '.join(missing)}", file=sys.stderr)
        return 2
    offences = check(roots)
    for offence in offences:
        print(offence)
    if offences:
        print(
            f"check_size: {len(offences)} over the limits (modules {MAX_MODULE_LINES} lines, functions {MAX_FUNCTION_LINES})",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
