# SPDX-License-Identifier: MIT
"""Alibaba Cloud OpenAPI request signatures, as the server side recomputes them.

RPC style (SignatureVersion 1.0, HMAC-SHA1): every parameter except Signature,
percent-encoded (RFC 3986 unreserved characters kept, UTF-8, space %20, '*' %2A),
sorted by key, joined with '&'; StringToSign = METHOD '&' enc('/') '&' enc(query);
key = AccessKeySecret + '&'; Signature = base64(HMAC-SHA1).

V3 (ACS3-HMAC-SHA256): CanonicalRequest = METHOD \\n URI \\n query \\n
headers (name:value\\n each, lower-case, sorted) \\n signed-header-names \\n
hex(sha256(body)); StringToSign = 'ACS3-HMAC-SHA256' \\n hex(sha256(CanonicalRequest));
Signature = hex(HMAC-SHA256(secret, StringToSign)).
"""
import base64
import hashlib
import hmac
import urllib.parse

V3_ALGORITHM = "ACS3-HMAC-SHA256"


def pct(value):
    """Percent-encodes a string the way both signature styles require."""
    return urllib.parse.quote(str(value), safe="-_.~")


def canonical_query(params):
    """params: dict key -> value (str). Sorted by encoded key."""
    items = sorted((pct(k), pct(v)) for k, v in params.items())
    return "&".join(f"{k}={v}" for k, v in items)


def rpc_string_to_sign(method, params):
    """params: every request parameter except Signature."""
    return f"{method}&{pct('/')}&{pct(canonical_query(params))}"


def rpc_sign(secret, string_to_sign):
    mac = hmac.new((secret + "&").encode(), string_to_sign.encode(), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode()


def v3_canonical_uri(path):
    return urllib.parse.quote(path or "/", safe="/-_.~") or "/"


def v3_canonical_request(method, path, query, headers, signed_headers, hashed_payload):
    """query: dict of decoded parameters; headers: dict lower-case name -> value;
    signed_headers: list of lower-case names (sorted by this function)."""
    names = sorted(h.lower() for h in signed_headers)
    canon_headers = "".join(f"{n}:{str(headers.get(n, '')).strip()}\n" for n in names)
    return "\n".join([method, v3_canonical_uri(path), canonical_query(query),
                      canon_headers, ";".join(names), hashed_payload])


def v3_string_to_sign(canonical_request):
    return V3_ALGORITHM + "\n" + hashlib.sha256(canonical_request.encode()).hexdigest()


def v3_sign(secret, string_to_sign):
    return hmac.new(secret.encode(), string_to_sign.encode(), hashlib.sha256).hexdigest()


def parse_v3_authorization(value):
    """'ACS3-HMAC-SHA256 Credential=ID,SignedHeaders=a;b,Signature=hex' ->
    dict(algorithm, credential, signed_headers(list), signature) or None."""
    if not value:
        return None
    algo, _, rest = value.strip().partition(" ")
    fields = {}
    for part in rest.split(","):
        k, sep, v = part.strip().partition("=")
        if sep:
            fields[k.strip()] = v.strip()
    if not {"Credential", "SignedHeaders", "Signature"} <= set(fields):
        return None
    return {"algorithm": algo, "credential": fields["Credential"],
            "signed_headers": [h for h in fields["SignedHeaders"].split(";") if h],
            "signature": fields["Signature"]}


def hmac_equal(a, b):
    """Constant-time comparison of two signature strings."""
    return hmac.compare_digest(str(a).encode(), str(b).encode())
