"""A loopback HTTP proxy in front of moto: records every request (its call, form or JSON body, access
key id) and can inject faults — throttling for the next N requests of a call, or a refusal of one
access key — before forwarding the rest unchanged. Not a fake of AWS: every answer that is not an
injected fault is moto's own."""

from __future__ import annotations

import http.client
import http.server
import json
import re
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

_KEY = re.compile(r"Credential=([^/]+)/")


@dataclass
class Request:
    call: str  # X-Amz-Target's operation, or a query API's Action
    body: dict[str, Any]  # JSON body, or the form fields (first value each) of a query API
    access_key: str
    at: float


@dataclass
class Throttle:
    remaining: int
    call: str = ""  # "" = any call
    status: int = 400  # 400 with ThrottlingException, or 429


@dataclass
class AwsProxy:
    upstream: str
    requests: list[Request] = field(default_factory=list)
    refuse_key: str = ""  # requests signed with this access key id get UnrecognizedClientException
    throttle: Throttle | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""
    _server: Any = None

    def count(self, call: str) -> int:
        with self.lock:
            return sum(1 for r in self.requests if r.call == call)

    def of(self, call: str) -> list[Request]:
        with self.lock:
            return [r for r in self.requests if r.call == call]

    def _fault(self, call: str, key: str) -> tuple[int, bytes] | None:
        with self.lock:
            if self.refuse_key and key == self.refuse_key:
                return 400, json.dumps({"__type": "UnrecognizedClientException",
                                        "message": "The security token included in the request is invalid."}).encode()
            t = self.throttle
            if t is not None and t.remaining > 0 and (not t.call or t.call == call):
                t.remaining -= 1
                if t.status == 429:
                    return 429, b""
                return 400, json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"}).encode()
        return None

    def start(self) -> AwsProxy:
        upstream = urllib.parse.urlsplit(self.upstream)
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                return None

            def _answer(self, status: int, data: bytes, headers: list[tuple[str, str]]) -> None:
                self.send_response(status)
                for k, v in headers:
                    if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                text = raw.decode("utf-8", "replace")
                call = (self.headers.get("X-Amz-Target") or "").split(".")[-1]
                if call:
                    body: dict[str, Any] = json.loads(text) if text.strip() else {}
                else:  # a query API (STS): Action=... in the form body
                    body = {k: v[0] for k, v in urllib.parse.parse_qs(text).items()}
                    call = str(body.get("Action") or "")
                found = _KEY.search(self.headers.get("Authorization") or "")
                key = found.group(1) if found else ""
                with proxy.lock:
                    proxy.requests.append(Request(call, body, key, time.monotonic()))
                fault = proxy._fault(call, key)
                if fault is not None:
                    self._answer(fault[0], fault[1], [("Content-Type", "application/x-amz-json-1.1")])
                    return
                conn = http.client.HTTPConnection(upstream.hostname or "127.0.0.1", upstream.port, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "connection"}
                conn.request("POST", self.path, body=raw, headers=headers)
                answer = conn.getresponse()
                data = answer.read()
                conn.close()
                self._answer(answer.status, data, answer.getheaders())

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
