"""A minimal JSON-over-HTTP client for OpenAI-compatible servers (standard library only).

One `JsonConnection` per worker thread keeps its keep-alive connection to one server. Errors are sorted into
the three kinds the engine reacts to differently: `Transient` (connection trouble, timeouts, 408/429/5xx: retry,
maybe elsewhere), `Rejected` (other 4xx: the request itself is wrong, retrying cannot help), and success.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from evalkit.errors import EvalkitError

API_KEY_ENV = "EVALKIT_API_KEY"


class Transient(Exception):
    """The server could not answer now: connection refused or reset, timeout, 408, 429 or 5xx."""


class Rejected(Exception):
    """The server answered 4xx: the request is wrong for this server."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Endpoint:
    """A server base URL split into its parts; `url` is what users see in messages."""

    url: str
    scheme: str
    host: str
    port: int
    prefix: str  # path before /v1 (servers behind a gateway), "" for a bare server

    @classmethod
    def parse(cls, text: str) -> "Endpoint":
        raw = text.strip()
        if not raw:
            raise EvalkitError("empty --endpoint: give a server URL such as http://127.0.0.1:8000")
        if "://" not in raw:
            raw = "http://" + raw
        parts = urlsplit(raw)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise EvalkitError(f"--endpoint {text!r} is not an http(s) URL: use e.g. http://127.0.0.1:8000")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise EvalkitError(f"--endpoint {text!r} has a bad port: use e.g. http://127.0.0.1:8000") from None
        prefix = parts.path.rstrip("/")
        if prefix.endswith("/v1"):
            prefix = prefix[: -len("/v1")]
        url = f"{parts.scheme}://{parts.hostname}:{port}{prefix}"
        return cls(url, parts.scheme, parts.hostname, port, prefix)


def _message(data: Any, raw: bytes) -> str:
    """The server's own error text, one line (vLLM and SGLang nest it under "error" or "message")."""
    msg: Any = None
    if isinstance(data, dict):
        err = data.get("error", data)
        msg = err.get("message") if isinstance(err, dict) else err
        msg = msg or data.get("message") or data.get("detail")
    text = str(msg if msg is not None else raw[:300].decode("utf-8", "replace")).strip()
    return text.splitlines()[0] if text else "(no message)"


class JsonConnection:
    """One persistent connection to one endpoint; reconnects after any failure."""

    def __init__(self, endpoint: Endpoint, timeout: float) -> None:
        self.endpoint = endpoint
        self.timeout = timeout
        self._conn: http.client.HTTPConnection | None = None
        key = os.environ.get(API_KEY_ENV)
        self._headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if key:
            self._headers["Authorization"] = f"Bearer {key}"

    def _connect(self) -> http.client.HTTPConnection:
        if self._conn is None:
            cls = http.client.HTTPSConnection if self.endpoint.scheme == "https" else http.client.HTTPConnection
            self._conn = cls(self.endpoint.host, self.endpoint.port, timeout=self.timeout)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:
                pass
            self._conn = None

    def abort(self) -> None:
        """From another thread: cut the request in progress (its `call` raises Transient at once), so a closing
        engine neither waits for it nor leaves the server generating for nobody."""
        sock = getattr(self._conn, "sock", None)
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def call(self, method: str, path: str, payload: Any = None) -> Any:
        """JSON in, JSON out. Raises Transient or Rejected; returns the decoded body on 2xx."""
        body = None if payload is None else json.dumps(payload).encode()
        try:
            conn = self._connect()
            conn.request(method, self.endpoint.prefix + path, body=body, headers=self._headers)
            resp = conn.getresponse()
            raw = resp.read()
            status = resp.status
        except (OSError, http.client.HTTPException, socket.timeout) as e:
            self.close()
            raise Transient(f"{type(e).__name__}: {e}".rstrip(": ")) from None
        try:
            data = json.loads(raw) if raw else None
        except ValueError:
            data = None
        if 200 <= status < 300:
            if data is None and raw:
                raise Transient(f"HTTP {status} with a body that is not JSON")
            return data
        if status in (408, 429) or status >= 500:
            self.close()
            raise Transient(f"HTTP {status}: {_message(data, raw)}")
        raise Rejected(status, _message(data, raw))
