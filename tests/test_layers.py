"""Lower layers never import higher ones; the protocol core does no I/O."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# logsetup sits below the window so that the window can write its logs without the CLI.
ORDER = ["protocol", "store", "server", "client", "discovery", "logsetup", "gui", "cli"]
#: Each layer's source (a folder or one module) and the package it installs as.
SOURCES = {"protocol": (ROOT / "pyrtc" / "protocol", "pyrtc.protocol"),
           "store": (ROOT / "pyrtc" / "store", "pyrtc.store"),
           "server": (ROOT / "pyrtc" / "server", "pyrtc.server"),
           "client": (ROOT / "pyrtc" / "client", "pyrtc.client"),
           "discovery": (ROOT / "discovery", "pyrtc.discovery"),
           "logsetup": (ROOT / "pyrtc" / "logsetup.py", "pyrtc.logsetup"),
           "gui": (ROOT / "gui", "pyrtc.gui"),
           "cli": (ROOT / "pyrtc" / "cli", "pyrtc.cli")}
IO_MODULES = {"asyncio", "socket", "threading", "selectors", "logging", "sqlite3", "ssl"}


def modules(layer: str) -> list[tuple[Path, str]]:
    """(path, the package its relative imports start from) for every module of a layer."""
    source, package = SOURCES[layer]
    if source.is_file():
        return [(source, package.rpartition(".")[0])]
    return [(path, ".".join([package, *path.parent.relative_to(source).parts]))
            for path in sorted(source.rglob("*.py"))]


def imports(path: Path, package: str) -> set[str]:
    """Every module (and module.name) the file imports, relative imports made absolute."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            out.add(base)
            out |= {f"{base}.{a.name}" for a in node.names}
    return out


def layer_of(name: str) -> str | None:
    for layer in ORDER:
        package = SOURCES[layer][1]
        if name == package or name.startswith(package + "."):
            return layer
    return None


def test_imports_resolve_relative_to_the_installed_package() -> None:
    assert imports(ROOT / "pyrtc" / "cli" / "main.py", "pyrtc.cli") >= {"pyrtc.logsetup.setup_logging",
                                                                       "pyrtc.cli.parser.build_parser"}
    assert "pyrtc.server.chatlog" in imports(ROOT / "pyrtc" / "logsetup.py", "pyrtc")
    assert layer_of("pyrtc.client.session") == "client" and layer_of("pyrtc.cli.main") == "cli"


def test_no_layer_imports_a_higher_one() -> None:
    bad = []
    for layer in ORDER:
        for path, package in modules(layer):
            for name in imports(path, package):
                other = layer_of(name)
                if other is not None and ORDER.index(other) > ORDER.index(layer):
                    bad.append(f"{path.relative_to(ROOT)} imports {name}")
    assert bad == []


def test_server_and_client_do_not_import_each_other() -> None:
    for a, b in (("server", "client"), ("client", "server")):
        for path, package in modules(a):
            assert not any(layer_of(n) == b for n in imports(path, package)), path


def test_protocol_does_no_io() -> None:
    for path, package in modules("protocol"):
        top = {n.split(".")[0] for n in imports(path, package)}
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
