"""Test certificates made with openssl: a CA, a server certificate it signs for 127.0.0.1, and an unrelated CA.

The files are laid out as cert-manager writes a Certificate's Secret (`tls.crt`, `tls.key`, `ca.crt`).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]


def _openssl(cwd: Path, *args: str) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, text=True)


def make_ca(cwd: Path, name: str) -> Path:
    _openssl(cwd, "req", "-x509", *EC, "-keyout", f"{name}.key", "-out", f"{name}.crt", "-days", "2",
             "-subj", f"/CN={name}", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    return cwd / f"{name}.crt"


def make_secret_files(cwd: Path) -> dict[str, Path]:
    """{'tls.crt', 'tls.key', 'ca.crt', 'wrong-ca.crt'} -> paths: a server certificate for 127.0.0.1 and
    localhost signed by ca.crt, and a CA that did not sign it."""
    make_ca(cwd, "ca")
    make_ca(cwd, "wrong-ca")
    (cwd / "server.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n"
                                    "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n")
    _openssl(cwd, "req", *EC, "-keyout", "tls.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1")
    _openssl(cwd, "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
             "-out", "tls.crt", "-days", "2", "-extfile", "server.ext")
    return {name: cwd / name for name in ("tls.crt", "tls.key", "ca.crt", "wrong-ca.crt")}
