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
