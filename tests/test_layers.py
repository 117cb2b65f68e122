"""Lower layers never import higher ones; the protocol core does no I/O."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ORDER = ["protocol", "store", "server", "client", "discovery", "gui", "cli"]
FOLDERS = {"protocol": ROOT / "pyrtc" / "protocol", "store": ROOT / "pyrtc" / "store",
           "server": ROOT / "pyrtc" / "server", "client": ROOT / "pyrtc" / "client",
           "discovery": ROOT / "discovery", "gui": ROOT / "gui"}
IO_MODULES = {"asyncio", "socket", "threading", "selectors", "logging", "sqlite3", "ssl"}


def imports(path: Path) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            out.add(base)
            out |= {f"{base}.{a.name}" if node.module else f"{base}{a.name}" for a in node.names}
    return out


def layer_of(name: str, here: str) -> str | None:
    for layer in ORDER:
        if f"pyrtc.{layer}" in name or name.startswith(f"..{layer}") or name == f"..{layer}":
            return layer
    return None


def test_no_layer_imports_a_higher_one() -> None:
    bad = []
    for layer, folder in FOLDERS.items():
        for path in folder.rglob("*.py"):
            for name in imports(path):
                other = layer_of(name, layer)
                if other is not None and ORDER.index(other) > ORDER.index(layer):
                    bad.append(f"{path.relative_to(ROOT)} imports {name}")
    assert bad == []


def test_server_and_client_do_not_import_each_other() -> None:
    for a, b in (("server", "client"), ("client", "server")):
        for path in FOLDERS[a].rglob("*.py"):
            assert not any(layer_of(n, a) == b for n in imports(path)), path


def test_protocol_does_no_io() -> None:
    for path in FOLDERS["protocol"].rglob("*.py"):
        top = {n.split(".")[0] for n in imports(path) if not n.startswith(".")}
        assert not top & IO_MODULES, f"{path.name} imports {top & IO_MODULES}"


# Installed names of the product's folders (pyproject's package-dir).
PACKAGES = {"pyrtc": ROOT / "pyrtc", "pyrtc.discovery": ROOT / "discovery", "pyrtc.gui": ROOT / "gui"}


def product_modules() -> dict[str, Path]:
    """Every product module by its import name (a package by its own name, for its __init__)."""
    out: dict[str, Path] = {}
    for package, folder in PACKAGES.items():
        for path in folder.rglob("*.py"):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join([package, *parts])] = path
    return out


def imported_modules(name: str, path: Path, known: set[str]) -> set[str]:
    """The product modules `path` imports, relative ones and those under TYPE_CHECKING
    included (`ast.walk` sees every import, whatever it is nested in)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            base = ".".join(filter(None, [base, node.module or ""]))
            # `from pkg import x` imports the module pkg.x where there is one, else pkg.
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:  # `import a.b.c` of a name: its module
                target = target.rpartition(".")[0]
            if target and target != name:
                out.add(target)
    return out


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import circle of `graph` (its modules in order, the first repeated), or []."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt):], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return []

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return []


def test_find_cycle_sees_a_circle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) == []


def test_no_import_circle_among_product_modules() -> None:
    """Counted as the reader sees them: an import only for type checking still ties the two
    modules together, and a circle means neither can be understood (or tested) alone."""
    modules = product_modules()
    known = set(modules)
    graph = {name: imported_modules(name, path, known) for name, path in modules.items()}
    assert "pyrtc.server.connection" in graph["pyrtc.server.app"]  # the graph sees relative imports
    cycle = find_cycle(graph)
    assert not cycle, " -> ".join(cycle)
