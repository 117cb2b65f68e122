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
