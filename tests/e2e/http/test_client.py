# SPDX-License-Identifier: MIT
"""End-to-end tests of http/client.c through build/drivers/http_fetch against
Python servers on 127.0.0.1 (conftest.py). The driver runs under ASan/LSan;
every run also checks its exit status and stderr."""
import json
import socket
import time

import pytest


def done(events):
    d = [e for e in events if e["event"] == "done"]
    assert len(d) == 1, events
    return d[0]


# ---- plain HTTP -----------------------------------------------------------------

def test_get_headers_and_body(fetch, http_server):
    ev = fetch("--show-header", "x-test", "--show-header", "X-DUP", "--show-header", "x-folded",
               "--show-header", "x-absent", "--header", "X-Token: s3cret", "--print-body",
               http_server.url("/echo"))
    d = done(ev)
    assert d["error"] == "HTTP_OK" and d["status"] == 200
    assert d["error_message"] == ""
    body = json.loads(d["body"])
    assert d["body_len"] == len(d["body"])
    assert body["method"] == "GET"
    # case-insensitive lookup, the last of repeated headers wins, folded lines joined
    assert d["headers"] == {"x-test": "yes", "X-DUP": "2", "x-folded": "a b", "x-absent": None}
    (req,) = http_server.rec.requests
    assert req["method"] == "GET" and req["path"] == "/echo"
    assert req["headers"]["x-token"] == "s3cret"
    assert req["headers"]["user-agent"].startswith("eip-agent/")
    assert "expect" not in req["headers"]


def test_post_body_and_headers(fetch, http_server):
    payload = '{"a": 1, "b": "two"}'
    ev = fetch("--method", "POST", "--data", payload, "--header", "Content-Type: application/json",
               "--header", "Authorization: Bearer t0ken", http_server.url("/echo?x=1"))
    d = done(ev)
    assert d["error"] == "HTTP_OK" and d["status"] == 200
    (req,) = http_server.rec.requests
    assert req["method"] == "POST" and req["path"] == "/echo?x=1"
    assert req["body"] == payload.encode()
    assert req["headers"]["content-type"] == "application/json"
    assert req["headers"]["content-length"] == str(len(payload))
    assert req["headers"]["authorization"] == "Bearer t0ken"


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_other_methods(fetch, http_server, method):
    args = ["--method", method]
    if method != "DELETE":
        args += ["--data", "xyz"]
    d = done(fetch(*args, http_server.url("/echo")))
    assert d["error"] == "HTTP_OK"
    (req,) = http_server.rec.requests
    assert req["method"] == method
    assert req["body"] == (b"" if method == "DELETE" else b"xyz")
    # curl's form-urlencoded default must not leak into JSON/patch requests
    assert "content-type" not in req["headers"]


def test_post_without_body_sends_zero_length(fetch, http_server):
    d = done(fetch("--method", "POST", http_server.url("/echo")))
    assert d["error"] == "HTTP_OK"
    (req,) = http_server.rec.requests
    assert req["headers"].get("content-length") == "0"


def test_proxy_environment_is_ignored(fetch, http_server):
    env = {"http_proxy": "http://127.0.0.1:1", "HTTPS_PROXY": "http://127.0.0.1:1",
           "ALL_PROXY": "http://127.0.0.1:1", "no_proxy": ""}
    d = done(fetch(http_server.url("/echo"), env=env))
    assert d["error"] == "HTTP_OK"


def test_name_resolution(fetch, http_server):
    # "localhost" goes through curl's resolver (threaded: the loop never blocks).
    d = done(fetch(f"http://localhost:{http_server.port}/echo"))
    assert d["error"] == "HTTP_OK"


def test_head_of_a_big_object(fetch, http_server):
    d = done(fetch("--method", "HEAD", "--max-bytes", "10", "--show-header", "content-length",
                   http_server.url("/headbig")))
    assert d["error"] == "HTTP_OK" and d["status"] == 200 and d["body_len"] == 0
    assert d["headers"]["content-length"] == "100000000"
    assert http_server.rec.requests[0]["method"] == "HEAD"


def test_redirect_not_followed(fetch, http_server):
    d = done(fetch("--show-header", "location", http_server.url("/status?code=302")))
    assert d["error"] == "HTTP_OK" and d["status"] == 302
    assert d["headers"]["location"] == "/echo"
    assert len(http_server.rec.requests) == 1


def test_error_status_is_a_response(fetch, http_server):
    d = done(fetch(http_server.url("/status?code=503")))
    assert d["error"] == "HTTP_OK" and d["status"] == 503 and d["body_len"] == 2


def test_1xx_headers_are_dropped(fetch, http_server):
    d = done(fetch("--show-header", "x-early", "--show-header", "x-late",
                   http_server.url("/continue")))
    assert d["error"] == "HTTP_OK" and d["status"] == 201
    assert d["headers"] == {"x-early": None, "x-late": "2"}


def test_bad_options_fail_synchronously(fetch):
    for args in (["ftp://127.0.0.1/x"], ["--header", "NoColon", "http://127.0.0.1:1/"],
                 ["--method", "GE T", "http://127.0.0.1:1/"], ["not a url"],
                 ["--key", "/k", "http://127.0.0.1:1/"]):
        ev = fetch(*args, expect_rc=3)
        assert [e["event"] for e in ev] == ["send_failed"], args
        assert ev[0]["errno"] == 22  # EINVAL


# ---- failures -----------------------------------------------------------------------

def test_connection_refused(fetch):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    d = done(fetch("--header", "X-Token: s3cret", f"http://127.0.0.1:{port}/"))
    assert d["error"] == "HTTP_E_CONNECT" and d["status"] == 0
    assert d["error_message"] and "s3cret" not in d["error_message"]


@pytest.fixture
def blackhole():
    """127.0.0.1:port that listens but never accepts, with its accept queue full:
    the kernel drops further SYNs, so a new connect never completes."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(0)
    port = ls.getsockname()[1]
    fillers = []
    for _ in range(16):
        c = socket.socket()
        c.setblocking(False)
        c.connect_ex(("127.0.0.1", port))
        fillers.append(c)
    # Prove the queue is full: a fresh blocking connect must not complete.
    probe = socket.socket()
    probe.settimeout(0.5)
    with pytest.raises(socket.timeout):
        probe.connect(("127.0.0.1", port))
    probe.close()
    yield port
    for c in fillers:
        c.close()
    ls.close()


def test_connect_timeout(fetch, blackhole):
    t0 = time.monotonic()
    d = done(fetch("--connect-timeout-ms", "400", f"http://127.0.0.1:{blackhole}/"))
    elapsed = time.monotonic() - t0
    assert d["error"] == "HTTP_E_TIMEOUT", d
    assert 0.35 <= d["total_s"] < 5 and elapsed < 10


def test_total_timeout(fetch, http_server):
    d = done(fetch("--timeout-ms", "500", http_server.url("/stall")))
    assert d["error"] == "HTTP_E_TIMEOUT", d
    assert d["status"] == 200  # the response line came before the stall
    assert 0.45 <= d["total_s"] < 5


def test_no_total_timeout_by_default_cancel_from_timer(fetch, http_server):
    ev = fetch("--cancel-after-ms", "300", http_server.url("/stall"))
    assert [e["event"] for e in ev] == ["cancelled"]


def test_server_reset_mid_response(fetch, http_server):
    d = done(fetch(http_server.url("/reset")))
    assert d["error"] == "HTTP_E_CLOSED", d


def test_server_close_mid_response(fetch, http_server):
    d = done(fetch(http_server.url("/close")))
    assert d["error"] == "HTTP_E_CLOSED", d
    assert d["status"] == 200


def test_server_sends_nothing(fetch, http_server):
    d = done(fetch(http_server.url("/nothing")))
    assert d["error"] == "HTTP_E_CLOSED", d
    assert d["status"] == 0


@pytest.mark.parametrize("count,expect", [(30, "HTTP_OK"), (100, "HTTP_E_TOO_LARGE")])
def test_response_header_cap(fetch, http_server, count, expect):
    # 1 KiB headers: 30 fit in the 64 KiB header store, 100 do not.
    d = done(fetch("--show-header", "x-h-0", http_server.url(f"/manyheaders?n={count}")))
    assert d["error"] == expect, d
    if expect == "HTTP_OK":
        assert d["headers"]["x-h-0"] == "v" * 1000


# ---- body cap -------------------------------------------------------------------------

@pytest.mark.parametrize("chunked", ["0", "1"])
def test_response_cap(fetch, http_server, chunked):
    d = done(fetch("--max-bytes", "1000", http_server.url(f"/big?n=1001&chunked={chunked}")))
    assert d["error"] == "HTTP_E_TOO_LARGE", d
    d = done(fetch("--max-bytes", "1000", http_server.url(f"/big?n=1000&chunked={chunked}")))
    assert d["error"] == "HTTP_OK" and d["body_len"] == 1000


def test_response_cap_aborts_early(fetch, http_server):
    total = 256 * 1024 * 1024
    d = done(fetch("--max-bytes", "100000", http_server.url(f"/big?n={total}&chunked=1")))
    assert d["error"] == "HTTP_E_TOO_LARGE"
    assert d["total_s"] < 10
    assert http_server.rec.finished_event("/big").wait(20)
    # The transfer stopped right away: only what socket buffers absorbed was sent.
    assert http_server.rec.sent["/big"] < 64 * 1024 * 1024


def test_default_cap_is_8_mib(fetch, http_server):
    n = 8 * 1024 * 1024
    assert done(fetch(http_server.url(f"/big?n={n}&chunked=1")))["error"] == "HTTP_OK"
    assert done(fetch(http_server.url(f"/big?n={n + 1}&chunked=1")))["error"] == "HTTP_E_TOO_LARGE"


# ---- streaming ---------------------------------------------------------------------------

@pytest.mark.parametrize("tls", [False, True])
def test_streaming_chunks_arrive_before_the_end(fetch, make_server, pki, tls_context, tls):
    http_server = make_server(tls_context() if tls else None)
    extra = ["--cacert", pki["ca"]] if tls else []
    p = fetch.popen(*extra, "--stream", "--print-body", "--show-header", "x-stream",
                    http_server.url("/stream"))
    events = []
    deadline = time.monotonic() + 30
    for line in p.stdout:
        e = json.loads(line)
        events.append(e)
        if e["event"] == "chunk":
            assert e["status"] == 200 and e["headers"] == {"x-stream": "yes"}
            http_server.rec.gate.put(1)  # only now may the server send the next piece
        if e["event"] == "done" or time.monotonic() > deadline:
            break
    out, err = p.communicate(timeout=30)
    events += fetch.check(p.returncode, out, err)
    assert http_server.rec.gate_timeouts == 0
    chunks = [e for e in events if e["event"] == "chunk"]
    assert [c["data"] for c in chunks] == ["one", "two", "three"]
    d = done(events)
    assert d["error"] == "HTTP_OK" and d["chunks"] == 3 and d["streamed"] == 11
    assert d["body_len"] == 0 and d["headers"] == {"x-stream": "yes"}


def test_streaming_ignores_the_cap(fetch, http_server):
    d = done(fetch("--stream", "--max-bytes", "10", http_server.url("/big?n=300000&chunked=1")))
    assert d["error"] == "HTTP_OK" and d["streamed"] == 300000


def test_abort_from_on_chunk(fetch, http_server):
    total = 256 * 1024 * 1024
    d = done(fetch("--stream", "--abort-after-chunks", "1",
                   http_server.url(f"/big?n={total}&chunked=1")))
    assert d["error"] == "HTTP_E_ABORTED" and d["chunks"] == 1
    assert http_server.rec.finished_event("/big").wait(20)
    assert http_server.rec.sent["/big"] < 64 * 1024 * 1024


def test_cancel_inside_on_chunk(fetch, http_server):
    ev = fetch("--stream", "--cancel-after-chunks", "2", http_server.url("/big?n=3000000&chunked=1"))
    kinds = [e["event"] for e in ev]
    assert kinds == ["chunk", "chunk", "cancelled"], kinds  # no on_done after cancel


# ---- many at once, and freeing with requests in flight ----------------------------------------

def test_parallel_requests(fetch, http_server):
    ev = fetch("--parallel", "200", http_server.url("/echo"))
    assert ev[-1] == {"event": "summary", "count": 200, "errors": {"HTTP_OK": 200},
                      "statuses": {"200": 200}}
    assert len(http_server.rec.requests) == 200


def test_keep_alive_reuse_from_on_done(fetch, http_server):
    # Each next request is sent from inside on_done; the connection is reused
    # (its socket leaves and rejoins curl's socket callback).
    ev = fetch("--repeat", "20", http_server.url("/ka"))
    assert ev[-1]["errors"] == {"HTTP_OK": 20}
    assert len(http_server.rec.requests) == 20
    assert http_server.rec.connections == 1


def test_parallel_keep_alive(fetch, http_server):
    ev = fetch("--parallel", "100", "--repeat", "3", http_server.url("/ka"))
    assert ev[-1]["errors"] == {"HTTP_OK": 300}
    assert len(http_server.rec.requests) == 300
    assert http_server.rec.connections <= 64  # max_total_connections default


def test_free_with_requests_in_flight(fetch, http_server):
    ev = fetch("--parallel", "5", "--free-after-ms", "300", http_server.url("/stall"))
    assert ev[0] == {"event": "freeing", "active": 5}
    assert ev[-1]["errors"] == {"HTTP_E_CANCELLED": 5}


def test_free_in_flight_single(fetch, http_server):
    ev = fetch("--free-after-ms", "200", http_server.url("/stall"))
    assert [e["event"] for e in ev] == ["freeing", "done"]
    assert ev[1]["error"] == "HTTP_E_CANCELLED"


# ---- TLS -----------------------------------------------------------------------------

def test_https_with_ca(fetch, make_server, pki, tls_context):
    srv = make_server(tls_context())
    d = done(fetch("--cacert", pki["ca"], "--print-body", srv.url("/echo")))
    assert d["error"] == "HTTP_OK" and d["status"] == 200
    assert len(srv.rec.requests) == 1


def test_https_with_ca_pem_in_memory(fetch, make_server, pki, tls_context):
    srv = make_server(tls_context())
    assert done(fetch("--ca-pem", pki["ca"], srv.url("/echo")))["error"] == "HTTP_OK"
    assert done(fetch("--ca-pem", pki["other_ca"], srv.url("/echo")))["error"] == "HTTP_E_TLS"


def test_https_wrong_ca_fails(fetch, make_server, pki, tls_context):
    srv = make_server(tls_context())
    d = done(fetch("--cacert", pki["other_ca"], srv.url("/echo")))
    assert d["error"] == "HTTP_E_TLS", d
    assert srv.rec.requests == []


def test_https_system_store_rejects_test_ca(fetch, make_server, pki, tls_context):
    srv = make_server(tls_context())
    assert done(fetch(srv.url("/echo")))["error"] == "HTTP_E_TLS"


def test_https_insecure_only_when_asked(fetch, make_server, pki, tls_context):
    srv = make_server(tls_context())
    d = done(fetch("--cacert", pki["other_ca"], "--insecure", srv.url("/echo")))
    assert d["error"] == "HTTP_OK"


def test_https_name_mismatch_fails(fetch, make_server, pki, tls_context):
    srv = make_server(tls_context("named", sans=("apiserver.internal",)))
    d = done(fetch("--cacert", pki["ca"], srv.url("/echo")))
    assert d["error"] == "HTTP_E_TLS", d


def test_tls_server_name(fetch, make_server, pki, tls_context):
    ctx = tls_context("named", sans=("apiserver.internal",))
    srv = make_server(ctx)
    seen = []
    ctx.sni_callback = lambda sock, name, c: seen.append(name)
    d = done(fetch("--cacert", pki["ca"], "--tls-server-name", "apiserver.internal",
                   "--print-body", srv.url("/echo?q=1")))
    assert d["error"] == "HTTP_OK", d
    assert seen == ["apiserver.internal"]
    (req,) = srv.rec.requests
    # TLS used the other name; HTTP still addresses the real authority.
    assert req["headers"]["host"] == f"127.0.0.1:{srv.port}"
    assert req["path"] == "/echo?q=1"
    # and a wrong name still fails verification
    d = done(fetch("--cacert", pki["ca"], "--tls-server-name", "other.internal", srv.url("/echo")))
    assert d["error"] == "HTTP_E_TLS"


def test_mutual_tls_files(fetch, make_server, pki, tls_context):
    srv = make_server(tls_context(client_ca=True))
    d = done(fetch("--cacert", pki["ca"], "--cert", pki["client_crt"], "--key", pki["client_key"],
                   srv.url("/echo")))
    assert d["error"] == "HTTP_OK", d
    assert srv.rec.requests[0]["client_cn"] == "client1"
    d = done(fetch("--cacert", pki["ca"], srv.url("/echo")))
    assert d["error"] == "HTTP_OK"
    assert srv.rec.requests[1]["client_cn"] is None


def test_mutual_tls_pem_blobs(fetch, make_server, pki, tls_context):
    srv = make_server(tls_context(client_ca=True))
    d = done(fetch("--ca-pem", pki["ca"], "--cert-pem", pki["client_crt"], "--key-pem",
                   pki["client_key"], srv.url("/echo")))
    assert d["error"] == "HTTP_OK", d
    assert srv.rec.requests[0]["client_cn"] == "client1"


@pytest.mark.parametrize("path", ["/reset", "/close", "/nothing"])
def test_https_peer_gone_mid_response_is_closed(fetch, make_server, pki, tls_context, path):
    # A watch over TLS that loses its peer must look like CLOSED, not like a TLS failure.
    srv = make_server(tls_context())
    d = done(fetch("--cacert", pki["ca"], srv.url(path)))
    assert d["error"] == "HTTP_E_CLOSED", d


def test_https_stall_times_out(fetch, make_server, pki, tls_context):
    srv = make_server(tls_context())
    d = done(fetch("--cacert", pki["ca"], "--timeout-ms", "400", srv.url("/stall")))
    assert d["error"] == "HTTP_E_TIMEOUT", d


def test_https_streaming_abort(fetch, make_server, pki, tls_context):
    srv = make_server(tls_context())
    d = done(fetch("--cacert", pki["ca"], "--stream", "--abort-after-chunks", "2",
                   srv.url("/big?n=50000000&chunked=1")))
    assert d["error"] == "HTTP_E_ABORTED" and d["chunks"] == 2


def test_mutual_tls_combined_pem(fetch, make_server, pki, tls_context, tmp_path):
    # A key inside the certificate file/PEM, as kubeconfigs sometimes have it.
    combined = tmp_path / "combined.pem"
    combined.write_bytes(open(pki["client_crt"], "rb").read() + open(pki["client_key"], "rb").read())
    srv = make_server(tls_context(client_ca=True))
    assert done(fetch("--cacert", pki["ca"], "--cert", combined, srv.url("/echo")))["error"] == "HTTP_OK"
    assert done(fetch("--cacert", pki["ca"], "--cert-pem", combined, srv.url("/echo")))["error"] == "HTTP_OK"
    assert [r["client_cn"] for r in srv.rec.requests] == ["client1", "client1"]


def test_mutual_tls_mismatched_key_fails(fetch, make_server, pki, tls_context):
    srv = make_server(tls_context(client_ca=True))
    other_key = pki["dir"] + "/server.key"
    d = done(fetch("--cacert", pki["ca"], "--cert", pki["client_crt"], "--key", other_key,
                   srv.url("/echo")))
    assert d["error"] == "HTTP_E_TLS", d
    assert srv.rec.requests == []


def test_client_default_ca_and_request_override(fetch, make_server, pki, tls_context):
    srv = make_server(tls_context())
    ok = done(fetch("--client-cacert", pki["ca"], srv.url("/echo")))
    assert ok["error"] == "HTTP_OK"
    # The request's own CA replaces the client's default (it does not add to it).
    d = done(fetch("--client-cacert", pki["ca"], "--ca-pem", pki["other_ca"], srv.url("/echo")))
    assert d["error"] == "HTTP_E_TLS"
    d = done(fetch("--client-cacert", pki["ca"], "--cacert", pki["other_ca"], srv.url("/echo")))
    assert d["error"] == "HTTP_E_TLS"


def test_user_agent_option(fetch, http_server):
    done(fetch("--user-agent", "probe/1", http_server.url("/echo")))
    assert http_server.rec.requests[0]["headers"]["user-agent"] == "probe/1"


def test_https_parallel(fetch, make_server, pki, tls_context):
    srv = make_server(tls_context())
    ev = fetch("--cacert", pki["ca"], "--parallel", "50", srv.url("/echo"))
    assert ev[-1]["errors"] == {"HTTP_OK": 50}
