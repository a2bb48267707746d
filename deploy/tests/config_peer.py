"""Feeds the charts' rendered configuration to the real fogwhisk-edge and fogwhisk-hub binaries.

The ConfigMap's TOML file and the container's environment (values and Secret references resolved
from the rendered Secret) are given to the binary exactly as the pod would; only the data folder
is moved to a temporary one. Both binaries reject unknown keys, so a chart setting the services do
not know fails here. Binaries: CHECK_EDGE_BIN / CHECK_HUB_BIN (not FOGWHISK_*: the services would read
those as settings), else target/debug/.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Callable

Check = Callable[[str, bool, str], bool]


def binary(root: Path, name: str) -> Path:
    env = os.environ.get("CHECK_" + name.removeprefix("fogwhisk-").upper() + "_BIN")
    return Path(env) if env else root / "target" / "debug" / name


def container_env(docs: list[dict[str, Any]], deployment: str) -> dict[str, str]:
    """The environment of the first container of `deployment`, Secret references resolved."""
    secrets = {d["metadata"]["name"]: d.get("stringData") or {} for d in docs if d["kind"] == "Secret"}
    dep = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == deployment)
    env: dict[str, str] = {}
    for e in dep["spec"]["template"]["spec"]["containers"][0].get("env", []):
        if "value" in e:
            env[e["name"]] = str(e["value"])
            continue
        ref = e["valueFrom"]["secretKeyRef"]
        value = secrets.get(ref["name"], {}).get(ref["key"])
        if value is None and not ref.get("optional"):
            raise KeyError(f"{e['name']}: Secret {ref['name']} has no key {ref['key']}")
        if value is not None:
            env[e["name"]] = value
    return env


def _run(cmd: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("FOGWHISK_EDGE_", "FOGWHISK_HUB_"))}
    return subprocess.run(cmd, env={**clean, **env}, capture_output=True, text=True, timeout=60)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_and_probe(check: Check, label: str, cmd: list[str], env: dict[str, str], port: int, paths: list[str]) -> None:
    """Starts `cmd` (a `serve` on 127.0.0.1:port), waits until every probe path answers 200, then
    stops it with SIGTERM, as Kubernetes does, and expects a clean exit."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("FOGWHISK_EDGE_", "FOGWHISK_HUB_"))}
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(cmd, env={**clean, **env}, stdout=log, stderr=subprocess.STDOUT)
        try:
            for path in paths:
                status, deadline = None, time.monotonic() + 60
                while time.monotonic() < deadline and proc.poll() is None:
                    try:
                        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
                            status = r.status
                            break
                    except urllib.error.HTTPError as e:
                        status = e.code
                        break
                    except OSError:
                        time.sleep(0.1)
                log.seek(0)
                check(f"{label}: probe GET {path} answers 200 on the service started with the chart's configuration",
                      status == 200, f"status {status}; output: {log.read().decode(errors='replace')[-1500:]}")
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        log.seek(0)
        check(f"{label}: stops cleanly on SIGTERM", proc.returncode == 0,
              f"exit {proc.returncode}; output: {log.read().decode(errors='replace')[-1500:]}")


def check_edge(check: Check, root: Path, toml: str, env: dict[str, str], label: str,
               files: dict[str, str] | None = None) -> None:
    """`files`: container path -> content of the Secret files the pod mounts; they are written under the
    temporary folder and their paths in `toml` moved there."""
    exe = binary(root, "fogwhisk-edge")
    if not check(f"{label}: fogwhisk-edge binary present", exe.exists(),
                 f"{exe} missing: cargo build -p fogwhisk-edge, or set CHECK_EDGE_BIN"):
        return
    with tempfile.TemporaryDirectory(prefix="fogwhisk-edge-cfg-") as tmp:
        for path, content in (files or {}).items():
            local = Path(tmp) / "mounts" / path.lstrip("/")
            local.parent.mkdir(parents=True, exist_ok=True)
            local.write_text(content)
            local.chmod(0o400)
            toml = toml.replace(f'"{path}"', f'"{local}"')
        cfg = Path(tmp) / "edge.toml"
        cfg.write_text(toml)
        res = _run([str(exe), "--config", str(cfg), "--data", str(Path(tmp) / "data"), "namespaces", "list"], env)
        check(f"{label}: fogwhisk-edge accepts the rendered edge.toml, environment and secret files", res.returncode == 0,
              (res.stderr or res.stdout)[-1500:])
        secrets = [v for k, v in env.items() if "TOKEN" in k and v] + [v for v in (files or {}).values() if v]
        leaked = [v[:4] + "..." for v in secrets if v in res.stdout + res.stderr]
        check(f"{label}: fogwhisk-edge prints no secret", not leaked, str(leaked))
        port = _free_port()
        os.chmod(tmp, 0o755)  # like the pod's /tmp: runtime processes may run as another user
        cfg.write_text(toml.replace('runtime_dir = "/tmp/runtimes"', f'runtime_dir = "{Path(tmp) / "runtimes"}"'))
        serve_and_probe(check, f"{label} fogwhisk-edge",
                        [str(exe), "--config", str(cfg), "--data", str(Path(tmp) / "data"), "serve",
                         "--listen", f"127.0.0.1:{port}"], env, port, ["/api/v1", "/metrics"])


def edge_refuses(root: Path, toml: str, env: dict[str, str], files: dict[str, str], want: str) -> tuple[bool, str]:
    """Starts `fogwhisk-edge serve` on the rendered configuration and expects it to refuse at once, saying `want`."""
    exe = binary(root, "fogwhisk-edge")
    with tempfile.TemporaryDirectory(prefix="fogwhisk-edge-cfg-") as tmp:
        for path, content in files.items():
            local = Path(tmp) / "mounts" / path.lstrip("/")
            local.parent.mkdir(parents=True, exist_ok=True)
            local.write_text(content)
            toml = toml.replace(f'"{path}"', f'"{local}"')
        cfg = Path(tmp) / "edge.toml"
        cfg.write_text(toml)
        res = _run([str(exe), "--config", str(cfg), "--data", str(Path(tmp) / "data"), "serve",
                    "--listen", f"127.0.0.1:{_free_port()}"], env)
        out = (res.stderr or "") + (res.stdout or "")
        return res.returncode != 0 and want in out, f"exit {res.returncode}: {out[-800:]}"


def check_hub(check: Check, root: Path, toml: str, env: dict[str, str], label: str, expect: str,
              serve: bool = False) -> None:
    exe = binary(root, "fogwhisk-hub")
    if not check(f"{label}: fogwhisk-hub binary present", exe.exists(),
                 f"{exe} missing: cargo build -p fogwhisk-hub, or set CHECK_HUB_BIN"):
        return
    with tempfile.TemporaryDirectory(prefix="fogwhisk-hub-cfg-") as tmp:
        cfg = Path(tmp) / "hub.toml"
        cfg.write_text(toml.replace('data_dir = "/data"', f'data_dir = "{Path(tmp) / "data"}"'))
        res = _run([str(exe), "--config", str(cfg), "config"], env)
        check(f"{label}: fogwhisk-hub accepts the rendered hub.toml and environment",
              res.returncode == 0 and expect in res.stdout, (res.stderr or res.stdout)[-1500:])
        secrets = [v for k, v in env.items() if ("TOKEN" in k or "PASSWORD" in k) and v]
        check(f"{label}: fogwhisk-hub config output shows no secret",
              not any(s in res.stdout + res.stderr for s in secrets), "a secret value was printed")
        if serve and res.returncode == 0:
            port = _free_port()
            serve_and_probe(check, f"{label} fogwhisk-hub",
                            [str(exe), "--config", str(cfg), "serve", "--listen", f"127.0.0.1:{port}"], env, port,
                            ["/health", "/metrics", "/index.yaml"])
