"""Fixtures for the deployment tests: a scripted HTTP server on 127.0.0.1 standing in for Kibana or Elasticsearch."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


Reply = tuple[int, Any]  # status, JSON body
Route = Callable[[Request], Reply]


@dataclass
class FakeServer:
    """Answers each request with the route registered for (method, path without query); records requests."""

    url: str = ""
    routes: dict[tuple[str, str], Route] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    extra_headers: dict[str, str] = field(default_factory=dict)

    def route(self, method: str, path: str, reply: Route | Reply) -> None:
        if callable(reply):
            self.routes[(method, path)] = reply
        else:
            fixed: Reply = reply
            self.routes[(method, path)] = lambda _request: fixed

    def answer(self, request: Request) -> Reply:
        self.requests.append(request)
        route = self.routes.get((request.method, request.path.split("?", 1)[0]))
        if route is None:
            return 404, {"message": f"no route for {request.method} {request.path}"}
        return route(request)


def _handler(server: FakeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            request = Request(self.command, self.path, {k.lower(): v for k, v in self.headers.items()},
                              self.rfile.read(length))  # fmt: skip
            status, body = server.answer(request)
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in server.extra_headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _serve

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@pytest.fixture
def fake_server() -> Iterator[FakeServer]:
    fake = FakeServer()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    fake.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield fake
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def closed_port_url() -> str:
    """A loopback URL nothing listens on (the port was just released)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
