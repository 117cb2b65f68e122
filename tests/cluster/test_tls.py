"""`pyrtc server --cluster tls://…`: the link to NATS is encrypted and NATS's certificate
verified (against --cluster-ca); one that does not verify stops the server at start, clearly."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pyrtc.client import ClientSession, Identity

from ..cli.procs import Server, run
from .certs import make_ca_and_server_cert, make_client_cert
from .natsd import NatsServer


@pytest.fixture
async def tls_nats(tmp_path: Path) -> AsyncIterator[tuple[NatsServer, Path]]:
    """A nats-server that speaks TLS only, and the CA that signed its certificate."""
    ca, cert, key = make_ca_and_server_cert(tmp_path / "pki")
    srv = NatsServer(tmp_path / "jetstream", tls=(cert, key))
    await srv.start()
    yield srv, ca
    await srv.stop()


async def session(server: Server, name: str) -> ClientSession:
    host, port = server.address.rsplit(":", 1)
    s = ClientSession(host, int(port), name, identity=Identity.generate())
    await s.connect()
    await s.join("General")
    return s


async def test_two_servers_over_tls_serve_one_chat(tmp_path: Path, tls_nats: tuple[NatsServer, Path],
                                                    started: list[Server]) -> None:
    nats, ca = tls_nats
    assert nats.url.startswith("tls://")
    for name in ("a", "b"):
        started.append(await asyncio.to_thread(Server, tmp_path / name, "--cluster", nats.url, "--cluster-ca",
                                               str(ca), "--chat-id", "tlstest"))
    a, b = started
    ann, bob = await session(a, "ann"), await session(b, "bob")
    seq = await ann.send("General", "hello over TLS")
    await bob.wait_for(lambda s: seq in s.rooms["General"].by_seq, timeout=30)
    seen = bob.state.rooms["General"].by_seq[seq]
    assert (seen.sender, seen.text) == ("ann", "hello over TLS")
    await ann.close()
    await bob.close()
    for srv in (a, b):
        code, _ = srv.stop()
        assert code == 0
        logged = "".join(f.read_text(errors="replace") for f in srv.logs.rglob("*") if f.is_file())
        assert "cluster: chat" in logged and "not encrypted" not in logged


@pytest.mark.parametrize("ca", ["none", "wrong"])
async def test_a_nats_certificate_that_does_not_verify_stops_the_server_at_start(
        tmp_path: Path, tls_nats: tuple[NatsServer, Path], ca: str) -> None:
    nats, _ = tls_nats
    extra = ["--cluster-ca", str(make_ca_and_server_cert(tmp_path / "other", "Another CA")[0])] if ca == "wrong" else []
    r = await asyncio.to_thread(run, "server", "--cluster", nats.url, *extra, "--no-announce", "--host", "127.0.0.1",
                                "--port", "0", "--data-dir", str(tmp_path / "d"), log_dir=tmp_path / "logs")
    assert r.returncode == 1, r.stdout
    assert f"pyrtc: cannot reach the cluster at {nats.url}: certificate verify failed" in r.stderr, r.stderr
    assert "--cluster-ca" in r.stderr and "Traceback" not in r.stderr
    assert "listening" not in r.stdout  # never served, never fell back to plain text


async def test_a_nats_that_requires_client_certificates_takes_cluster_cert_and_key(
        tmp_path: Path, started: list[Server]) -> None:
    ca, cert, key = make_ca_and_server_cert(tmp_path / "pki")
    nats = NatsServer(tmp_path / "jetstream", tls=(cert, key), client_ca=ca)
    await nats.start()
    try:
        args = ["server", "--cluster", nats.url, "--cluster-ca", str(ca), "--no-announce", "--host", "127.0.0.1",
                "--port", "0", "--data-dir", str(tmp_path / "d")]
        r = await asyncio.to_thread(run, *args, log_dir=tmp_path / "logs")
        assert r.returncode == 1 and "cannot reach the cluster" in r.stderr, r.stderr  # no certificate: refused
        assert "certificate required" in r.stderr and "--cluster-cert" in r.stderr and "Traceback" not in r.stderr
        client_cert, client_key = make_client_cert(tmp_path / "pki")
        srv = await asyncio.to_thread(Server, tmp_path / "a", "--cluster", nats.url, "--cluster-ca", str(ca),
                                      "--cluster-cert", str(client_cert), "--cluster-key", str(client_key))
        started.append(srv)
        ann = await session(srv, "ann")
        assert await ann.send("General", "through a NATS that checks who we are") == 1
        await ann.close()
        assert srv.stop()[0] == 0
    finally:
        await nats.stop()


def test_plain_nats_to_another_host_is_reported_unencrypted_loopback_and_tls_are_not() -> None:
    from pyrtc.server.cluster.link import unencrypted  # nats-py: only a cluster's server needs it

    assert unencrypted(["nats://10.0.0.5:4222", "nats://nats.lan:4222", "nats.lan:4222"]) == [
        "nats://10.0.0.5:4222", "nats://nats.lan:4222", "nats.lan:4222"]
    assert unencrypted(["nats://127.0.0.1:4222", "nats://localhost:4222", "nats://[::1]:4222",
                        "tls://nats.lan:4222"]) == []


def test_a_cluster_ca_without_a_tls_url_is_refused(tmp_path: Path) -> None:
    ca = make_ca_and_server_cert(tmp_path / "pki")[0]
    r = run("server", "--cluster", "nats://127.0.0.1:4222", "--cluster-ca", str(ca), "--no-announce", "--host",
            "127.0.0.1", "--port", "0", "--data-dir", str(tmp_path / "d"), log_dir=tmp_path / "logs")
    assert r.returncode == 1 and "tls://" in r.stderr and "Traceback" not in r.stderr
