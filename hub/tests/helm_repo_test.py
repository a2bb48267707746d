#!/usr/bin/env python3
"""The hub as a Helm chart repository, exercised with Helm's own engine (helm-python-sdk, Helm v4).

Starts the hub binary (HUB_BIN, default target/debug/fogwhisk-hub) on a free loopback port with
anonymous reads off; the admin token creates a publisher and a reader token and registers a site.
Packages charts with Helm, uploads them with the publisher token the way `helm cm-push` does (multipart
field "chart", Basic auth) and as a raw body, reads index.yaml through Helm with the reader token, pulls
the chart back through Helm with the site token and compares digests; checks that no other token can
upload, that a released version cannot be replaced (not even with ?force) and that a revoked token stops
working at once. Prints "N passed, N failed"; exits non-zero on any failure.
Needs: pip install helm-python-sdk
"""

import base64
import json
import os
import re
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request

import helm_python as helm

ADMIN = "helm-test-admin-token-0123456789"
RESULTS = {"passed": 0, "failed": 0}


def check(name, fn):
    try:
        fn()
        RESULTS["passed"] += 1
        print(f"ok   {name}")
    except Exception as e:  # noqa: BLE001 - every failure is reported, then counted
        RESULTS["failed"] += 1
        print(f"FAIL {name}: {e!r}")


TOKENS = {"admin": ADMIN}


def request(method, url, body=None, headers=None, auth="publisher"):
    """`auth` names whose token goes as Basic <role>:<token> (None: no credentials)."""
    req = urllib.request.Request(url, data=body, method=method, headers=dict(headers or {}))
    if auth:
        token = base64.b64encode(f"{auth}:{TOKENS[auth]}".encode()).decode()
        req.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def multipart(fields):
    """Encodes {field: (filename, bytes)} as multipart/form-data, like helm-push does."""
    boundary = "fogwhisk-test-boundary"
    out = b""
    for name, (filename, data) in fields.items():
        out += (
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode() + data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return out, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


def start_hub(data_dir):
    default_bin = os.path.join(os.path.dirname(__file__), "..", "..", "target", "debug", "fogwhisk-hub")
    binary = os.environ.get("HUB_BIN", default_bin)
    env = dict(os.environ, FOGWHISK_HUB_ADMIN_TOKEN=ADMIN, FOGWHISK_HUB_ANONYMOUS_READS="false", RUST_LOG="warn")
    env.pop("FOGWHISK_HUB_CONFIG", None)
    proc = subprocess.Popen(
        [binary, "serve", "--listen", "127.0.0.1:0", "--data", data_dir],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True,
    )
    for line in proc.stdout:
        m = re.search(r"listening on (http://[0-9.:]+)", line)
        if m:
            return proc, m.group(1)
    proc.kill()
    raise RuntimeError("hub did not start")


def main():
    work = tempfile.mkdtemp(prefix="hub-helm-")
    proc, base = start_hub(os.path.join(work, "data"))
    try:
        run(work, base)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    print(f"{RESULTS['passed']} passed, {RESULTS['failed']} failed")
    return 0 if RESULTS["failed"] == 0 else 1


def issue_tokens(base):
    for role in ("publisher", "reader"):
        status, text = request("POST", f"{base}/api/v1/tokens", json.dumps({"role": role}).encode(),
                               {"Content-Type": "application/json"}, auth="admin")
        assert status == 201, (status, text)
        TOKENS[role] = json.loads(text)["token"]
    status, text = request("POST", f"{base}/api/v1/sites", json.dumps({"id": "torino", "tz": "Europe/Rome"}).encode(),
                           {"Content-Type": "application/json"}, auth="admin")
    assert status == 201, (status, text)
    TOKENS["site"] = json.loads(text)["token"]


def run(work, base):
    issue_tokens(base)
    src = os.path.join(work, "src")
    os.makedirs(src)
    helm.Chart.create("edge", src)
    chart_dir = os.path.join(src, "edge")
    assert not helm.lint(chart_dir)["errors"]
    pkgs = os.path.join(work, "pkgs")
    os.makedirs(pkgs)
    v1 = helm.package(chart_dir, destination=pkgs, version="0.1.0")
    v2 = helm.package(chart_dir, destination=pkgs, version="0.2.0", app_version="2.0")
    v9 = helm.package(chart_dir, destination=pkgs, version="0.9.0")
    data1 = open(v1, "rb").read()

    def upload_multipart():
        body, headers = multipart({"chart": ("edge-0.1.0.tgz", data1)})
        status, text = request("POST", f"{base}/api/charts", body, headers)
        assert status == 201, (status, text)

    def upload_raw():
        status, text = request("POST", f"{base}/api/charts", open(v2, "rb").read(), {"Content-Type": "application/gzip"})
        assert status == 201, (status, text)

    def index_through_helm():
        idx = helm.repo_index(base, username="reader", password=TOKENS["reader"])
        versions = [e["version"] for e in idx["entries"]["edge"]]
        assert versions == ["0.2.0", "0.1.0"], versions
        entry = idx["entries"]["edge"][1]
        assert "sha256:" + entry["digest"] == helm.digest(v1), (entry["digest"], helm.digest(v1))
        assert entry["urls"] == ["charts/edge-0.1.0.tgz"], entry["urls"]
        assert idx["entries"]["edge"][0]["appVersion"] == "2.0"

    def pull_back_through_helm():
        dest = os.path.join(work, "pulled")
        os.makedirs(dest)
        helm.pull("edge", repo_url=base, version="0.1.0", destination=dest, username="site", password=TOKENS["site"])
        pulled = os.path.join(dest, "edge-0.1.0.tgz")
        assert helm.digest(pulled) == helm.digest(v1)
        latest = os.path.join(work, "latest")
        os.makedirs(latest)
        helm.pull("edge", repo_url=base, destination=latest, username="site", password=TOKENS["site"])
        assert os.listdir(latest) == ["edge-0.2.0.tgz"], os.listdir(latest)
        assert helm.Chart.load(os.path.join(latest, "edge-0.2.0.tgz")).version == "0.2.0"

    def reads_need_credentials():
        status, _ = request("GET", f"{base}/index.yaml", auth=None)
        assert status == 401, status
        try:
            helm.repo_index(base)
        except helm.HelmError:
            return
        raise AssertionError("helm read the index without credentials")

    def only_the_publisher_uploads():
        body, headers = multipart({"chart": ("edge-0.9.0.tgz", open(v9, "rb").read())})
        for who in ("admin", "reader", "site"):
            status, _ = request("POST", f"{base}/api/charts", body, headers, auth=who)
            assert status == 403, (who, status)
        status, _ = request("DELETE", f"{base}/api/charts/edge/0.1.0", auth="site")
        assert status == 403, status
        status, _ = request("GET", f"{base}/index.yaml", auth="admin")
        assert status == 403, status

    def released_version_is_immutable_even_forced():
        body, headers = multipart({"chart": ("edge-0.1.0.tgz", data1)})
        status, _ = request("POST", f"{base}/api/charts", body, headers)
        assert status == 409, status
        status, text = request("POST", f"{base}/api/charts?force", body, headers)
        assert status == 409 and b"immutable" in text, (status, text)

    def revoked_token_stops_at_once():
        status, text = request("GET", f"{base}/api/v1/tokens", auth="admin")
        reader_id = next(t["id"] for t in json.loads(text) if t["role"] == "reader")
        assert request("DELETE", f"{base}/api/v1/tokens/{reader_id}", auth="admin")[0] == 204
        assert request("GET", f"{base}/index.yaml", auth="reader")[0] == 401
        try:
            helm.repo_index(base, username="reader", password=TOKENS["reader"])
        except helm.HelmError:
            return
        raise AssertionError("helm read the index with a revoked token")

    def api_listing_and_delete():
        status, text = request("GET", f"{base}/api/charts/edge")
        assert status == 200 and [e["version"] for e in json.loads(text)] == ["0.2.0", "0.1.0"], text
        assert request("HEAD", f"{base}/api/charts/edge/0.2.0")[0] == 200
        assert request("DELETE", f"{base}/api/charts/edge/0.2.0")[0] == 200
        assert request("HEAD", f"{base}/api/charts/edge/0.2.0")[0] == 404
        idx = helm.repo_index(base, username="site", password=TOKENS["site"])
        assert [e["version"] for e in idx["entries"]["edge"]] == ["0.1.0"]

    check("upload multipart (helm cm-push form)", upload_multipart)
    check("upload raw body", upload_raw)
    check("index.yaml read by helm: newest first, digest", index_through_helm)
    check("pull back through helm: digest equal", pull_back_through_helm)
    check("reads need credentials when anonymous reads are off", reads_need_credentials)
    check("admin, reader and site tokens cannot upload or delete; admin cannot read", only_the_publisher_uploads)
    check("409 on a released version, ?force included", released_version_is_immutable_even_forced)
    check("api listing, HEAD and DELETE", api_listing_and_delete)
    check("a revoked reader token gets 401 at once, through helm too", revoked_token_stops_at_once)


if __name__ == "__main__":
    sys.exit(main())
