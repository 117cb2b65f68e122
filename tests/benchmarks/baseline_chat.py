"""The design PyRTC replaces, written faithfully for the benchmark: the Python-tutorial chat
server. socket + threading, one thread per client, a lock around the client list, one JSON
object per line, files as base64 inside the JSON, and one sendall() per recipient.

Commands (one JSON line each): {"cmd":"join","room":R,"name":N}, {"cmd":"msg","text":T},
{"cmd":"file","name":F,"data":BASE64}. Everyone in the room (the sender too) gets
{"from":N,"room":R,"text":T} lines. TCP_NODELAY is on (without it p99 is tens of ms).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import socket
import sys
import threading


class Server:
    def __init__(self, host: str, port: int, data_dir: str) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(4096)
        self.lock = threading.Lock()
        self.clients: dict[socket.socket, str] = {}  # socket -> room
        self.data_dir = data_dir

    def serve(self) -> None:
        while True:
            conn, _ = self.sock.accept()
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=self.handle, args=(conn,), daemon=True).start()

    def broadcast(self, room: str, payload: dict[str, object]) -> None:
        line = (json.dumps(payload) + "\n").encode()
        with self.lock:
            targets = [c for c, r in self.clients.items() if r == room]
        for c in targets:
            try:
                c.sendall(line)
            except OSError:
                pass

    def handle(self, conn: socket.socket) -> None:
        name, room = "?", ""
        f = conn.makefile("rb")
        try:
            for raw in f:
                msg = json.loads(raw)
                cmd = msg.get("cmd")
                if cmd == "join":
                    name, room = msg["name"], msg["room"]
                    with self.lock:
                        self.clients[conn] = room
                    conn.sendall(b'{"joined": true}\n')
                elif cmd == "msg":
                    self.broadcast(room, {"from": name, "room": room, "text": msg["text"]})
                elif cmd == "file":
                    data = base64.b64decode(msg["data"])
                    path = os.path.join(self.data_dir, os.path.basename(msg["name"]) or "file")
                    with open(path, "wb") as out:
                        out.write(data)
                    conn.sendall(b'{"stored": true}\n')
                elif cmd == "get":
                    path = os.path.join(self.data_dir, os.path.basename(msg["name"]))
                    with open(path, "rb") as src:
                        body = base64.b64encode(src.read()).decode()
                    conn.sendall((json.dumps({"file": msg["name"], "data": body}) + "\n").encode())
        except (OSError, ValueError, KeyError):
            pass
        finally:
            with self.lock:
                self.clients.pop(conn, None)
            conn.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--data-dir", default=".")
    args = ap.parse_args()
    srv = Server(args.host, args.port, args.data_dir)
    print(f"listening on {args.host}:{srv.sock.getsockname()[1]}", flush=True)
    try:
        srv.serve()
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
