# SPDX-License-Identifier: MIT
"""Test PKI for the simulators: a CA and server certificates made with the
openssl command (Python's standard library can serve TLS but not make
certificates). Clients get DIR/ca.crt and verify as usual; nothing turns
verification off."""
import os
import ssl
import subprocess


def _run(*args):
    subprocess.run(["openssl", *args], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.PIPE)


def ensure_ca(directory):
    """Creates DIR/ca.crt and DIR/ca.key once; returns the certificate path."""
    os.makedirs(directory, exist_ok=True)
    crt = os.path.join(directory, "ca.crt")
    key = os.path.join(directory, "ca.key")
    if not (os.path.exists(crt) and os.path.exists(key)):
        _run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-nodes", "-keyout", key, "-out", crt, "-days", "3650",
             "-subj", "/CN=eip-agent test CA",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    return crt


def issue(directory, name, sans=("localhost", "127.0.0.1", "::1"), client=False):
    """Issues DIR/<name>.crt and DIR/<name>.key signed by the CA of DIR.
    sans: DNS names and IP addresses. client=True makes a client certificate
    whose CN is name. Returns (cert_path, key_path)."""
    ca_crt = ensure_ca(directory)
    ca_key = os.path.join(directory, "ca.key")
    crt = os.path.join(directory, f"{name}.crt")
    key = os.path.join(directory, f"{name}.key")
    if os.path.exists(crt) and os.path.exists(key):
        return crt, key
    csr = os.path.join(directory, f"{name}.csr")
    ext = os.path.join(directory, f"{name}.ext")
    alt = []
    for s in sans:
        kind = "IP" if all(c in "0123456789.:abcdef" for c in s) and any(c in ".:" for c in s) else "DNS"
        alt.append(f"{kind}:{s}")
    with open(ext, "w") as f:
        f.write("basicConstraints=CA:FALSE\n")
        if client:
            f.write("extendedKeyUsage=clientAuth\n")
        else:
            f.write("extendedKeyUsage=serverAuth\n")
            f.write("subjectAltName=" + ",".join(alt) + "\n")
    _run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", key, "-out", csr, "-subj", f"/CN={name}")
    _run("x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key, "-CAcreateserial",
         "-out", crt, "-days", "3650", "-extfile", ext)
    os.unlink(csr)
    os.unlink(ext)
    return crt, key


def server_context(directory, name="server", sans=("localhost", "127.0.0.1", "::1"),
                   client_ca=False):
    """An ssl.SSLContext serving DIR/<name>.crt; client_ca=True also asks for
    (optional) client certificates signed by the same CA."""
    crt, key = issue(directory, name, sans)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(crt, key)
    if client_ca:
        ctx.load_verify_locations(os.path.join(directory, "ca.crt"))
        ctx.verify_mode = ssl.CERT_OPTIONAL
    return ctx
