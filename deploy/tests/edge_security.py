"""The edge agent's pod security, exactly as issue 9 grants it, checked on rendered manifests.

The agent container runs as uid 0 with every capability dropped but SETUID, SETGID (switch a runtime
process to its own uid and gid), KILL (signal those processes), CHOWN and FOWNER (hand each its folder
and take it back); no privilege escalation, read-only root file system, RuntimeDefault seccomp. Secrets
reach it as files of the release's Secret, never as environment variables.
"""

from __future__ import annotations

import tomllib
from typing import Any

CAPABILITIES = {"SETUID", "SETGID", "KILL", "CHOWN", "FOWNER"}
SECRET_KEYS = {"hub-token": "token_file", "guest-key": "guest_file", "whisk-system-key": "whisk_system_file"}
SECRET_MOUNT = "/etc/fogwhisk-secrets"


def _seccomp(ctx: dict[str, Any] | None) -> str | None:
    return ((ctx or {}).get("seccompProfile") or {}).get("type")


def problems(deployment: dict[str, Any], toml_text: str, secret_name: str) -> list[str]:
    """Everything in the agent Deployment that differs from the granted security; [] when exact."""
    out: list[str] = []
    pod = deployment["spec"]["template"]["spec"]
    c = pod["containers"][0]
    sc = c.get("securityContext") or {}
    psc = pod.get("securityContext") or {}
    caps = sc.get("capabilities") or {}
    added = {str(x).upper().removeprefix("CAP_") for x in caps.get("add") or []}
    dropped = {str(x).upper() for x in caps.get("drop") or []}
    if "ALL" not in dropped:
        out.append(f"capabilities.drop must contain ALL (has {sorted(dropped)})")
    if added - CAPABILITIES:
        out.append(f"capabilities beyond {sorted(CAPABILITIES)} added: {sorted(added - CAPABILITIES)}")
    if CAPABILITIES - added:
        out.append(f"capabilities missing (runtime processes could not get their own uid): {sorted(CAPABILITIES - added)}")
    if sc.get("allowPrivilegeEscalation") is not False:
        out.append(f"allowPrivilegeEscalation must be false (is {sc.get('allowPrivilegeEscalation')!r})")
    if sc.get("privileged"):
        out.append("privileged must not be set")
    if sc.get("readOnlyRootFilesystem") is not True:
        out.append("readOnlyRootFilesystem must be true")
    if sc.get("runAsUser", psc.get("runAsUser")) != 0:
        out.append(f"the agent must run as uid 0 (runAsUser {sc.get('runAsUser', psc.get('runAsUser'))!r})")
    if sc.get("runAsNonRoot", psc.get("runAsNonRoot")) is not False:
        out.append("runAsNonRoot must be false (it contradicts runAsUser 0)")
    if _seccomp(sc) != "RuntimeDefault" and _seccomp(psc) != "RuntimeDefault":
        out.append("seccompProfile must be RuntimeDefault")
    if "fsGroup" in psc:
        out.append(f"pod fsGroup {psc['fsGroup']} would make the data volume group-accessible")
    if pod.get("hostPID") or pod.get("hostIPC") or pod.get("hostNetwork"):
        out.append("hostPID/hostIPC/hostNetwork must be off")
    # Secrets: files of the Secret, never environment variables.
    for e in c.get("env") or []:
        ref = (e.get("valueFrom") or {}).get("secretKeyRef")
        if ref or "TOKEN" in e["name"] or e["name"].startswith("FOGWHISK_EDGE_KEYS__"):
            out.append(f"secret in the environment: {e['name']}")
    for ef in c.get("envFrom") or []:
        if "secretRef" in ef:
            out.append(f"a Secret as environment: {ef['secretRef']}")
    mounts = {m["name"]: m for m in c.get("volumeMounts") or []}
    vols = {v["name"]: v for v in pod.get("volumes") or []}
    mounted: dict[str, str] = {}  # Secret key -> file path in the container
    for name, m in mounts.items():
        v = vols.get(name) or {}
        sources = [s["secret"] for s in (v.get("projected") or {}).get("sources", []) if "secret" in s]
        if "secret" in v:
            sources.append(v["secret"])
        for src in sources:
            if src.get("name", src.get("secretName")) != secret_name:
                continue
            if not m.get("readOnly"):
                out.append(f"secret volume {name} must be mounted readOnly")
            mode = (v.get("projected") or v.get("secret") or {}).get("defaultMode", 0o644)
            if mode & 0o077:
                out.append(f"secret volume {name}: mode {oct(mode)} lets other uids read it")
            for it in src.get("items") or []:
                mounted[it["key"]] = f"{m['mountPath'].rstrip('/')}/{it['path']}"
    cfg = tomllib.loads(toml_text)
    where = {"token_file": cfg.get("hub", {}).get("token_file"),
             "guest_file": cfg.get("keys", {}).get("guest_file"),
             "whisk_system_file": cfg.get("keys", {}).get("whisk_system_file")}
    for key, setting in SECRET_KEYS.items():
        if mounted.get(key) is None:
            out.append(f"Secret key {key} is not mounted as a file")
        elif where[setting] != mounted[key]:
            out.append(f"edge.toml {setting} = {where[setting]!r}, but {key} is mounted at {mounted[key]}")
    if "token" in cfg.get("hub", {}):
        out.append("edge.toml holds the hub token itself")
    return out


def secret_files(docs: list[dict[str, Any]], deployment: str) -> dict[str, str]:
    """Container path -> content of every Secret key the agent gets as a file (rendered Secrets only)."""
    secrets = {d["metadata"]["name"]: d.get("stringData") or {} for d in docs if d["kind"] == "Secret"}
    dep = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == deployment)
    pod = dep["spec"]["template"]["spec"]
    vols = {v["name"]: v for v in pod.get("volumes") or []}
    out: dict[str, str] = {}
    for m in pod["containers"][0].get("volumeMounts") or []:
        v = vols.get(m["name"]) or {}
        for src in [s["secret"] for s in (v.get("projected") or {}).get("sources", []) if "secret" in s]:
            data = secrets.get(src["name"], {})
            for it in src.get("items") or []:
                if it["key"] in data:
                    out[f"{m['mountPath'].rstrip('/')}/{it['path']}"] = data[it["key"]]
                elif not src.get("optional"):
                    raise KeyError(f"Secret {src['name']} has no key {it['key']}")
    return out
