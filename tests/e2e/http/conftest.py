# SPDX-License-Identifier: MIT
"""Fixtures for tests/e2e/http: a scriptable HTTP(S) server on 127.0.0.1 that
records what it saw, and a runner for build/drivers/http_fetch (ASan/LSan on;
a sanitizer report or a bad exit status fails the test)."""
import json
import os
import queue
import socket
import socketserver
import ssl
import struct
import subprocess
import threading

import pytest

import simtls

SAN_ENV = {
    "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0:exitcode=86",
    "LSAN_OPTIONS": "exitcode=87",
    "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1",
}


class Recorder:
    def __init__(self):
        self.lock = threading.Lock()
        self.requests = []
        self.sni = []
        self.sent = {}  # path -> bytes the server managed to send
        self.finished = {}  # path -> threading.Event
        self.gate = queue.Queue()
        self.gate_timeouts = 0
        self.connections = 0
        self.stop = threading.Event()

    def add(self, req):
        with self.lock:
            self.requests.append(req)

    def finished_event(self, path):
        with self.lock:
            return self.finished.setdefault(path, threading.Event())


def _read_request(f):
    line = f.readline(65537)
    if not line:
        return None
    method, target, _ = line.decode("latin-1").rstrip("\r\n").split(" ", 2)
    headers = []
    while True:
        h = f.readline(65537)
        if h in (b"\r\n", b"\n", b""):
            break
        name, _, value = h.decode("latin-1").partition(":")
        headers.append((name.strip(), value.strip()))
    hd = {}
    for k, v in headers:
        hd[k.lower()] = v
    n = int(hd.get("content-length", "0"))
    body = f.read(n) if n else b""
    return {"method": method, "path": target, "headers": hd, "raw_headers": headers,
            "body": body}


def _chunk(data):
    return b"%x\r\n%s\r\n" % (len(data), data)


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        srv = self.server
        sock = self.request
        if srv.tls_ctx is not None:
            try:
                sock = srv.tls_ctx.wrap_socket(sock, server_side=True)
            except (ssl.SSLError, OSError):
                return
        with srv.rec.lock:
            srv.rec.connections += 1
        f = sock.makefile("rb")
        try:
            while self.one(srv, sock, f):
                pass
        finally:
            try:
                sock.close()
            except OSError:
                pass

    def one(self, srv, sock, f):
        """Serves one request; True to read another on this connection."""
        try:
            req = _read_request(f)
        except (OSError, ValueError):
            return False
        if req is None:
            return False
        if srv.tls_ctx is not None:
            cert = sock.getpeercert()
            cn = None
            if cert:
                for rdn in cert.get("subject", ()):
                    for k, v in rdn:
                        if k == "commonName":
                            cn = v
            req["client_cn"] = cn
        srv.rec.add(req)
        path = req["path"].split("?", 1)[0]
        query = dict(p.split("=", 1) for p in req["path"].partition("?")[2].split("&") if "=" in p)
        keep = False
        try:
            name = path.strip("/").replace("-", "_") or "echo"
            keep = getattr(self, "route_" + name, self.route_echo)(sock, req, query)
        except OSError:
            pass
        finally:
            srv.rec.finished_event(path).set()
        return bool(keep)

    def send(self, sock, data):
        sock.sendall(data)

    def route_echo(self, sock, req, query):
        body = json.dumps({"method": req["method"], "path": req["path"],
                           "headers": req["headers"],
                           "body": req["body"].decode("latin-1")}).encode()
        self.send(sock, b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                  b"X-Dup: 1\r\nx-dup: 2\r\nX-Test: yes\r\nX-Folded: a\r\n b\r\n"
                  b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body))

    def route_ka(self, sock, req, query):
        """Keep-alive: answers and waits for the next request on the connection."""
        self.send(sock, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nka")
        return True

    def route_headbig(self, sock, req, query):
        """Answers HEAD as a server with a 100 MB object would."""
        self.send(sock, b"HTTP/1.1 200 OK\r\nContent-Length: 100000000\r\nX-Head: 1\r\n"
                  b"Connection: close\r\n\r\n")

    def route_status(self, sock, req, query):
        code = int(query.get("code", "200"))
        self.send(sock, b"HTTP/1.1 %d X\r\nContent-Length: 2\r\nLocation: /echo\r\n"
                  b"Connection: close\r\n\r\nhi" % code)

    def route_manyheaders(self, sock, req, query):
        n = int(query.get("n", "10"))
        hdrs = b"".join(b"X-H-%d: %s\r\n" % (i, b"v" * 1000) for i in range(n))
        self.send(sock, b"HTTP/1.1 200 OK\r\n" + hdrs +
                  b"Content-Length: 2\r\nConnection: close\r\n\r\nok")

    def route_continue(self, sock, req, query):
        self.send(sock, b"HTTP/1.1 100 Continue\r\nX-Early: 1\r\n\r\n"
                  b"HTTP/1.1 201 Created\r\nX-Late: 2\r\nContent-Length: 2\r\n"
                  b"Connection: close\r\n\r\nok")

    def route_big(self, sock, req, query):
        n = int(query.get("n", "1000"))
        chunked = query.get("chunked") == "1"
        path = "/big"
        sent = 0
        try:
            if chunked:
                self.send(sock, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                          b"Connection: close\r\n\r\n")
            else:
                self.send(sock, b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n"
                          b"Connection: close\r\n\r\n" % n)
            piece = b"x" * 65536
            while sent < n:
                part = piece[: min(len(piece), n - sent)]
                self.send(sock, _chunk(part) if chunked else part)
                sent += len(part)
            if chunked:
                self.send(sock, b"0\r\n\r\n")
        finally:
            with self.server.rec.lock:
                self.server.rec.sent[path] = sent

    def route_stall(self, sock, req, query):
        self.send(sock, b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
        self.server.rec.stop.wait(30)

    def route_stream(self, sock, req, query):
        pieces = [b"one", b"two", b"three"]
        self.send(sock, b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Stream: yes\r\n"
                  b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
        for i, p in enumerate(pieces):
            self.send(sock, _chunk(p))
            if i + 1 < len(pieces):
                # The test releases the next piece only after the driver has
                # printed this one: proof that chunks arrive before the end.
                try:
                    self.server.rec.gate.get(timeout=10)
                except queue.Empty:
                    self.server.rec.gate_timeouts += 1
        self.send(sock, b"0\r\n\r\n")

    def route_reset(self, sock, req, query):
        self.send(sock, b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"y" * 100)
        # SO_LINGER {1, 0}: close() sends a RST instead of a FIN. Whether the
        # client read the partial body first or not, it must report CLOSED.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()

    def route_close(self, sock, req, query):
        self.send(sock, b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"y" * 100)

    def route_nothing(self, sock, req, query):
        pass


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
    request_queue_size = 512

    def __init__(self, tls_ctx=None):
        self.tls_ctx = tls_ctx
        self.rec = Recorder()
        super().__init__(("127.0.0.1", 0), Handler)
        self.port = self.server_address[1]
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path="/echo"):
        scheme = "https" if self.tls_ctx is not None else "http"
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def close(self):
        self.rec.stop.set()
        self.shutdown()
        self.server_close()


@pytest.fixture
def make_server():
    servers = []

    def make(tls_ctx=None):
        s = Server(tls_ctx)
        servers.append(s)
        return s

    yield make
    for s in servers:
        s.close()


@pytest.fixture
def http_server(make_server):
    return make_server()


@pytest.fixture(scope="session")
def pki(tmp_path_factory):
    """A CA with a server certificate for 127.0.0.1/localhost, one for the name
    apiserver.internal only, a client certificate, and an unrelated second CA."""
    d = str(tmp_path_factory.mktemp("pki"))
    other = str(tmp_path_factory.mktemp("pki-other"))
    ca = simtls.ensure_ca(d)
    client_crt, client_key = simtls.issue(d, "client1", client=True)
    simtls.issue(d, "server")
    simtls.issue(d, "named", sans=("apiserver.internal",))
    return {"dir": d, "ca": ca, "other_ca": simtls.ensure_ca(other),
            "client_crt": client_crt, "client_key": client_key}


@pytest.fixture
def tls_context(pki):
    """tls_context(name="server", sans=..., client_ca=False) -> a fresh server SSLContext."""

    def make(name="server", sans=("localhost", "127.0.0.1", "::1"), client_ca=False):
        return simtls.server_context(pki["dir"], name, sans, client_ca=client_ca)

    return make


class Fetch:
    def __init__(self, exe):
        self.exe = str(exe)

    def popen(self, *args, env=None):
        env = dict(os.environ, **SAN_ENV, **(env or {}))
        return subprocess.Popen([self.exe, *map(str, args)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=env)

    @staticmethod
    def check(rc, out, err, expect_rc=0):
        err = err.decode(errors="replace") if isinstance(err, bytes) else err
        assert "Sanitizer" not in err and "runtime error" not in err, err
        assert rc == expect_rc, f"exit {rc}: {err}"
        events = [json.loads(l) for l in out.decode().splitlines() if l.strip()]
        return events

    def __call__(self, *args, timeout=60, expect_rc=0, env=None):
        p = self.popen(*args, env=env)
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
            raise AssertionError(f"http_fetch hung: {err.decode(errors='replace')}")
        return self.check(p.returncode, out, err, expect_rc)


@pytest.fixture(scope="session")
def fetch(driver):
    return Fetch(driver("http_fetch"))
