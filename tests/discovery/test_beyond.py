"""Discovery that never leaves a user guessing (namespaces only): one entry per server, a
reason when nothing is found, servers beyond the subnet through remembered entries."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from .netlab import Lab, make_lab, until
from .test_mdns import servers_json, servers_seen, start_server

pytestmark = pytest.mark.mdns


def test_server_on_two_subnets_is_listed_once_with_both_addresses(tmp_path: Path) -> None:
    lab = make_lab("d")
    try:
        lab.bridge("br2")
        lab.node("server")
        lab.node("viewer")
        lab.plug("server", "br", "10.77.0.10/24", "veth0")
        lab.plug("server", "br2", "10.78.0.10/24", "veth1")
        lab.plug("viewer", "br", "10.77.0.2/24", "veth0")
        lab.plug("viewer", "br2", "10.78.0.2/24", "veth1")
        srv, port = start_server(lab, "server", "TwoHomes", tmp_path)
        try:
            # Listed again until both addresses have been heard (each subnet answers on its own).
            entries = servers_seen(lab, "viewer", tmp_path,
                                   lambda es: {"10.77.0.10", "10.78.0.10"} <= {a for e in es for a in e["addresses"]})  # type: ignore[attr-defined]
            assert len(entries) == 1, entries
            assert sorted(entries[0]["addresses"]) == ["10.77.0.10", "10.78.0.10"]  # type: ignore[arg-type]
            assert entries[0]["port"] == port
        finally:
            srv.stop()
    finally:
        lab.close()


def test_nothing_found_says_why(tmp_path: Path) -> None:
    lab = make_lab("e")
    try:
        lab.node("alone")
        lab.plug("alone", "br", "10.77.0.9/24")
        # The self-test listens for its own query for a moment: again if it missed it.
        r = until(lambda r: "Multicast works" in r.stderr,
                  lambda: lab.pyrtc("alone", "servers", "--timeout", "1", log_dir=tmp_path / "l"))
        assert r.returncode == 0 and r.stdout == ""
        assert "Searched with mDNS on: veth0 10.77.0.9/24" in r.stderr
        assert "No PyRTC server answered" in r.stderr
        assert "Multicast works on 10.77.0.9" in r.stderr  # our own test query came back
        assert "TCP port 47474" in r.stderr
        doctor = lab.pyrtc("alone", "doctor", "--timeout", "1", log_dir=tmp_path / "l")
        assert doctor.returncode == 0
        assert "veth0" in doctor.stdout and "Searched with mDNS on" in doctor.stdout
    finally:
        lab.close()


def _routed_lab() -> Lab:
    """Two subnets joined by a router namespace (unicast forwarding, no multicast routing)."""
    lab = make_lab("g")
    lab.bridge("br2")
    for node in ("router", "client", "server"):
        lab.node(node)
    lab.plug("router", "br", "10.77.0.1/24", "veth0")
    lab.plug("router", "br2", "10.78.0.1/24", "veth1")
    lab.run("router", ["sysctl", "-qw", "net.ipv4.ip_forward=1"])
    lab.plug("client", "br", "10.77.0.2/24")
    lab.plug("server", "br2", "10.78.0.5/24")
    lab.run("client", ["ip", "route", "add", "default", "via", "10.77.0.1"])
    lab.run("server", ["ip", "route", "add", "default", "via", "10.78.0.1"])
    return lab


def test_server_beyond_the_subnet_through_its_remembered_entry(tmp_path: Path) -> None:
    lab = _routed_lab()
    try:
        srv, port = start_server(lab, "server", "FarAway", tmp_path)
        try:
            assert servers_json(lab, "client", tmp_path) == []  # mDNS does not cross the router
            r = lab.pyrtc("client", "send", "--room", "General", "--name", "ann", "hi",
                          log_dir=tmp_path / "l")
            assert r.returncode == 1 and "no PyRTC server found" in r.stderr
            r = lab.pyrtc("client", "send", "--server", f"10.78.0.5:{port}", "--room", "General",
                          "--name", "ann", "first, by address", log_dir=tmp_path / "l")
            assert r.returncode == 0, r.stderr
            [entry] = servers_seen(lab, "client", tmp_path, lambda es: any(e["reachable"] for e in es))
            assert entry["name"] == "FarAway" and entry["source"] == "remembered"
            assert entry["reachable"] is True and entry["addresses"] == ["10.78.0.5"]
            r = lab.pyrtc("client", "send", "--room", "General", "--name", "ann", "then by memory",
                          log_dir=tmp_path / "l")
            assert r.returncode == 0, r.stderr
            r = lab.pyrtc("client", "tail", "--room", "General", "--json", log_dir=tmp_path / "l")
            assert [json.loads(x)["text"] for x in r.stdout.splitlines()] == ["first, by address",
                                                                              "then by memory"]
        finally:
            srv.stop()
        # Stopped: shown as unreachable by the next listing (a 1 s probe).
        r = lab.pyrtc("client", "servers", "--json", "--timeout", "1", log_dir=tmp_path / "l")
        [entry] = [json.loads(x) for x in r.stdout.splitlines()]
        assert entry["reachable"] is False
    finally:
        lab.close()


def test_remembered_and_discovered_server_is_one_entry(tmp_path: Path) -> None:
    lab = make_lab("h")
    try:
        lab.node("a")
        lab.node("b")
        lab.plug("a", "br", "10.77.0.1/24")
        lab.plug("b", "br", "10.77.0.2/24")
        srv, port = start_server(lab, "a", "Both", tmp_path)
        try:
            r = lab.pyrtc("b", "send", "--server", f"10.77.0.1:{port}", "--room", "General", "--name",
                          "x", "hi", log_dir=tmp_path / "l")
            assert r.returncode == 0, r.stderr
            entries = servers_seen(lab, "b", tmp_path, lambda es: any(e["source"] == "mdns" for e in es))
            assert len(entries) == 1 and entries[0]["source"] == "mdns"
        finally:
            srv.stop()
    finally:
        lab.close()


def test_lab_is_isolated() -> None:
    """The host namespace never gets a bridge or a veth of ours."""
    out = subprocess.run(["ip", "-br", "link"], capture_output=True, text=True).stdout
    assert "br0" not in out and "veth0" not in out
