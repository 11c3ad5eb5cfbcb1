# SPDX-License-Identifier: MIT
"""A small Alibaba Cloud OpenAPI client for the cloud simulator tests, written
independently of the simulator's verifier (tests/sim/cloudsim_sign.py): both are
checked against the published vectors (tests/unit/aliyun/testdata), and the
simulator is then driven over HTTPS by this client. Nonces come from the `random`
module, which tests/e2e/conftest.py seeds with EIP_TEST_SEED."""
import base64
import datetime
import hashlib
import hmac
import http.client
import json
import pathlib
import random
import ssl
import time
import urllib.error
import urllib.request

import pytest

VPC = "2016-04-28"
ECS = "2014-05-26"
STS = "2015-04-01"
AK, SK = "LTAIsimAccessKey0001", "simSecret0001"
REPO = pathlib.Path(__file__).resolve().parents[3]
# the published vectors, shared with the C unit tests (tests/unit/aliyun/test_sign.c)
VECTORS = REPO / "tests" / "unit" / "aliyun" / "testdata" / "aliyun-signature-vectors.json"


def load_vectors():
    """The published signature vectors; a missing file fails the test."""
    if not VECTORS.is_file():
        pytest.fail(f"{VECTORS} is missing: the signature vectors are part of the repository")
    return json.loads(VECTORS.read_text())


# ---------------------------------------------------------------- the test's own signer
UNRESERVED = set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")


def enc(s):
    return "".join(chr(b) if b in UNRESERVED else "%%%02X" % b for b in str(s).encode("utf-8"))


def rpc_sts(method, params):
    pairs = sorted((enc(k), enc(v)) for k, v in params.items())
    return method + "&" + enc("/") + "&" + enc("&".join(k + "=" + v for k, v in pairs))


def rpc_sig(secret, sts):
    return base64.b64encode(hmac.new(f"{secret}&".encode(), sts.encode(), "sha1").digest()).decode()


def v3_canonical(method, path, query, headers, signed, body_hash):
    q = "&".join(k + "=" + v for k, v in sorted((enc(k), enc(v)) for k, v in query.items()))
    names = sorted(signed)
    hdrs = "".join(n + ":" + headers[n].strip() + "\n" for n in names)
    return f"{method}\n{path}\n{q}\n{hdrs}\n{';'.join(names)}\n{body_hash}"


def v3_sig(secret, canonical):
    sts = "ACS3-HMAC-SHA256\n" + hashlib.sha256(canonical.encode()).hexdigest()
    return sts, hmac.new(secret.encode(), sts.encode(), "sha256").hexdigest()


def utcnow(offset=0):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=offset)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


class Resp:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.raw = status, headers, body
        try:
            self.body = json.loads(body) if body else {}
        except ValueError:
            self.body = {}

    @property
    def code(self):
        return self.body.get("Code", "")

    def __repr__(self):
        return f"<{self.status} {self.raw[:300]!r}>"


class Client:
    """Signs RPC (HMAC-SHA1) or V3 (ACS3-HMAC-SHA256) requests to the simulator."""

    def __init__(self, cloud, akid=AK, secret=SK, token=None, style="rpc"):
        self.cloud, self.akid, self.secret, self.token, self.style = cloud, akid, secret, token, style
        self.ctx = ssl.create_default_context(cafile=cloud.ca_file)
        self.last_sts = None

    def conn(self, timeout=10):
        return http.client.HTTPSConnection("127.0.0.1", self.cloud.port, context=self.ctx,
                                           timeout=timeout)

    def call(self, action, params=None, version=VPC, style=None, method="POST", nonce=None,
             timestamp=None, tamper=False, timeout=10, anonymous=False, region=True):
        style = style or self.style
        params = dict(params or {})
        if region and "RegionId" not in params and version != STS:
            params["RegionId"] = "cn-hangzhou"
        nonce = nonce or "%032x" % random.getrandbits(128)
        timestamp = timestamp or utcnow()
        if style == "rpc":
            q = {"Action": action, "Version": version, "Format": "JSON", **params}
            if not anonymous:
                q.update({"AccessKeyId": self.akid, "SignatureMethod": "HMAC-SHA1",
                          "SignatureVersion": "1.0", "SignatureNonce": nonce,
                          "Timestamp": timestamp})
                if self.token:
                    q["SecurityToken"] = self.token
                self.last_sts = rpc_sts(method, q)
                q["Signature"] = rpc_sig(self.secret + ("x" if tamper else ""), self.last_sts)
            body = "&".join(enc(k) + "=" + enc(v) for k, v in q.items())
            if method == "GET":
                return self._send("GET", "/?" + body, {}, b"", timeout)
            return self._send("POST", "/", {"Content-Type": "application/x-www-form-urlencoded"},
                              body.encode(), timeout)
        # V3: parameters in a form body, everything signed
        body = "&".join(enc(k) + "=" + enc(v) for k, v in params.items()).encode()
        headers = {"host": f"127.0.0.1:{self.cloud.port}", "x-acs-action": action,
                   "x-acs-version": version, "x-acs-date": timestamp,
                   "x-acs-signature-nonce": nonce,
                   "x-acs-content-sha256": hashlib.sha256(body).hexdigest(),
                   "content-type": "application/x-www-form-urlencoded"}
        if self.token:
            headers["x-acs-security-token"] = self.token
        if not anonymous:
            canon = v3_canonical(method, "/", {}, headers, list(headers), headers["x-acs-content-sha256"])
            self.last_sts, sig = v3_sig(self.secret + ("x" if tamper else ""), canon)
            headers["authorization"] = (f"ACS3-HMAC-SHA256 Credential={self.akid},"
                                        f"SignedHeaders={';'.join(sorted(headers))},Signature={sig}")
        return self._send(method, "/", headers, body, timeout)

    def _send(self, method, path, headers, body, timeout):
        c = self.conn(timeout)
        try:
            c.request(method, path, body=body, headers=headers)
            r = c.getresponse()
            return Resp(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
        finally:
            c.close()

    def ok(self, action, params=None, **kw):
        r = self.call(action, params, **kw)
        assert r.status == 200, r
        assert r.body["RequestId"]
        assert r.headers["x-acs-request-id"] == r.body["RequestId"]
        return r.body


def sim(cloud, method, path, body=None):
    ctx = ssl.create_default_context(cafile=cloud.ca_file)
    req = urllib.request.Request(f"https://127.0.0.1:{cloud.port}{path}", method=method,
                                 data=None if body is None else json.dumps(body).encode())
    with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
        return json.loads(r.read())


def md_get(cloud, node, path, headers=None, method="GET"):
    req = urllib.request.Request(f"http://127.0.0.1:{cloud.metadata_ports[node]}{path}",
                                 method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def wait_status(client, aid, want, timeout=5):
    deadline = time.time() + timeout
    while True:
        b = client.ok("DescribeEipAddresses", {"AllocationId": aid})
        st = b["EipAddresses"]["EipAddress"][0]["Status"]
        if st == want:
            return b["EipAddresses"]["EipAddress"][0]
        assert time.time() < deadline, f"{aid} stayed {st}, wanted {want}"
        time.sleep(0.05)


def wait_gone(client, aid, timeout=5):
    """Polls DescribeEipAddresses until aid is no longer listed (released)."""
    deadline = time.time() + timeout
    while True:
        b = client.ok("DescribeEipAddresses", {"AllocationId": aid})
        if b["TotalCount"] == 0:
            return
        st = b["EipAddresses"]["EipAddress"][0]["Status"]
        assert time.time() < deadline, f"{aid} still {st}, wanted it gone"
        time.sleep(0.05)
