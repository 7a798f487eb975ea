"""A local stand-in for the Hugging Face Hub on 127.0.0.1: the endpoints huggingface_hub 2.4 calls for
`create_repo` and `create_commit` (repos/create, validate-yaml, preupload, commit). It records what it
receives so tests can check the repo id, the privacy flag, the files and the token that arrived. With
`drip_s`, every answer comes in four pieces that far apart: a slow server that is still answering.

`SilentServer` takes connections and never answers: an endpoint behind a hung proxy or a stuck server."""

from __future__ import annotations

import base64
import json
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    created: list[dict[str, Any]] = field(default_factory=list)
    commits: list[dict[str, Any]] = field(default_factory=list)
    auth: set[str] = field(default_factory=set)
    unknown: list[str] = field(default_factory=list)


class FakeHub:
    def __init__(self, drip_s: float = 0.0) -> None:
        self.received = Received()
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: Any) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                hub.received.unknown.append(f"GET {self.path}")
                self._answer(404, {"error": "not implemented in the fake hub"})

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                hub.received.auth.add(self.headers.get("Authorization", ""))
                path = self.path.split("?")[0]
                if path == "/api/repos/create":
                    payload = json.loads(body)
                    hub.received.created.append(payload)
                    repo = f"{payload.get('organization')}/{payload['name']}"
                    return self._answer(200, {"url": f"{hub.url}/{repo}", "name": repo})
                if path == "/api/validate-yaml":
                    return self._answer(200, {"errors": [], "warnings": []})
                match = re.fullmatch(r"/api/models/([^/]+/[^/]+)/(preupload|commit)/([^/]+)", path)
                if match and match.group(2) == "preupload":
                    files = json.loads(body)["files"]
                    return self._answer(200, {"files": [{"path": f["path"], "uploadMode": "regular",
                                                         "shouldIgnore": False} for f in files]})
                if match:
                    lines = [json.loads(line) for line in body.decode().splitlines() if line.strip()]
                    files = {item["value"]["path"]: len(base64.b64decode(item["value"]["content"]))
                             for item in lines if item["key"] == "file"}
                    header = next(item["value"] for item in lines if item["key"] == "header")
                    hub.received.commits.append({"repo": match.group(1), "files": files,
                                                 "summary": header.get("summary")})
                    return self._answer(200, {"commitUrl": f"{hub.url}/{match.group(1)}/commit/{'a' * 40}",
                                              "commitOid": "a" * 40, "pullRequestUrl": None})
                hub.received.unknown.append(f"POST {path}")
                self._answer(404, {"error": "not implemented in the fake hub"})

            def _answer(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if not drip_s:
                    self.wfile.write(data)
                    return
                step = -(-len(data) // 4)
                for start in range(0, len(data), step):
                    time.sleep(drip_s)
                    self.wfile.write(data[start:start + step])

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeHub:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


class SilentServer:
    """Accepts connections on 127.0.0.1 and never sends a byte."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.held: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:  # closed by __exit__
                return
            self.held.append(conn)

    def __enter__(self) -> SilentServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.close()
        for conn in self.held:
            conn.close()
