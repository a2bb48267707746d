"""Runs the edge chart's rendered Mosquitto configuration in a real Mosquitto on loopback.

The rendered mosquitto.conf, ACL and password Secret are used as the pod would use them (the
password file hashed with `mosquitto_passwd -U`, as the init container does); only the paths and
the listener are moved to a temporary folder and a loopback port.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Callable

Check = Callable[[str, bool, str], bool]

PATH_REWRITES = {
    "persistence_location /mosquitto/data/": "persistence_location {data}/",
    "password_file /mosquitto/auth/passwd": "password_file {auth}",
    "acl_file /mosquitto/config/acl": "acl_file {acl}",
    "log_dest stdout": "log_dest stderr",
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_listening(port: int, proc: subprocess.Popen, deadline_s: float = 15.0) -> bool:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


class Broker:
    """One mosquitto process on a rendered configuration."""

    def __init__(self, conf: Path, port: int, log: Path) -> None:
        self.conf, self.port, self.log = conf, port, log
        self.proc: subprocess.Popen | None = None

    def start(self) -> bool:
        self.proc = subprocess.Popen(["mosquitto", "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                     stderr=open(self.log, "ab"))
        return _wait_listening(self.port, self.proc)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _pub(port: int, args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), *args],
                          capture_output=True, text=True, timeout=30)


def _sub_one(port: int, args: list[str], wait_s: int = 3) -> subprocess.CompletedProcess:
    return subprocess.run(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-C", "1", "-W", str(wait_s), *args],
                          capture_output=True, text=True, timeout=30)


def run(check: Check, conf_text: str, acl_text: str, passwd_text: str, users: dict[str, str], message: str) -> None:
    """Checks the rendered broker setup; `users` maps user names to their plain passwords."""
    for tool in ("mosquitto", "mosquitto_pub", "mosquitto_sub", "mosquitto_passwd"):
        if not check(f"mosquitto peer: {tool} installed", shutil.which(tool) is not None,
                     "install the Debian packages mosquitto and mosquitto-clients"):
            return
    for directive in ("persistence true", "allow_anonymous false", "password_file /mosquitto/auth/passwd",
                      "acl_file /mosquitto/config/acl"):
        check(f"mosquitto.conf has '{directive}'", directive in conf_text.splitlines(), conf_text)

    tmp = Path(tempfile.mkdtemp(prefix="fogwhisk-mosquitto-"))
    broker: Broker | None = None
    try:
        (tmp / "data").mkdir()
        auth, acl = tmp / "passwd", tmp / "acl"
        port = _free_port()
        conf = conf_text
        for old, new in PATH_REWRITES.items():
            check(f"mosquitto.conf: '{old}' present once", conf.count(old) == 1, conf)
            conf = conf.replace(old, new.format(data=tmp / "data", auth=auth, acl=acl))
        listeners = [line for line in conf.splitlines() if line.startswith("listener ")]
        check("mosquitto.conf: one listener", len(listeners) == 1, str(listeners))
        conf = conf.replace(listeners[0], f"listener {port} 127.0.0.1")
        (tmp / "mosquitto.conf").write_text(conf)
        acl.write_text(acl_text)
        auth.write_text(passwd_text)

        hashed = subprocess.run(["mosquitto_passwd", "-U", str(auth)], capture_output=True, text=True)
        lines = auth.read_text().split()
        check("init step: mosquitto_passwd -U hashes every user",
              hashed.returncode == 0 and len(lines) == len(users)
              and all(line.split(":", 1)[1].startswith("$") for line in lines),
              hashed.stderr + auth.read_text())
        if os.geteuid() == 0:  # mosquitto drops to its own user when started as root
            ids = pwd.getpwnam("mosquitto")
            for p in [tmp, *tmp.rglob("*")]:
                os.chown(p, ids.pw_uid, ids.pw_gid)
        for p in (auth, acl):
            p.chmod(0o600 if os.geteuid() != 0 else 0o640)

        broker = Broker(tmp / "mosquitto.conf", port, tmp / "mosquitto.log")
        if not check("mosquitto starts on the rendered configuration", broker.start(),
                     (tmp / "mosquitto.log").read_text(errors="replace")):
            return
        topic = "telemetry/7/9A3F21"
        agent, sensor = ("agent", users["agent"]), ("sensor", users["sensor"])

        anon = _pub(port, ["-t", topic, "-m", message])
        check("anonymous client is refused", anon.returncode != 0, anon.stdout + anon.stderr)
        wrong = _pub(port, ["-u", sensor[0], "-P", sensor[1] + "x", "-t", topic, "-m", message])
        check("wrong password is refused", wrong.returncode != 0, wrong.stdout + wrong.stderr)

        sent = _pub(port, ["-u", sensor[0], "-P", sensor[1], "-q", "1", "-r", "-t", topic, "-m", message])
        check("sensor publishes a retained reading (QoS 1)", sent.returncode == 0, sent.stderr)
        got = _sub_one(port, ["-u", agent[0], "-P", agent[1], "-t", "telemetry/#"])
        check("agent receives the reading byte for byte", got.returncode == 0 and got.stdout == message + "\n",
              f"rc={got.returncode} out={got.stdout!r} err={got.stderr!r}")
        spy = _sub_one(port, ["-u", sensor[0], "-P", sensor[1], "-t", "telemetry/#"], wait_s=2)
        check("ACL: the sensor user cannot read telemetry", spy.stdout == "",
              f"rc={spy.returncode} out={spy.stdout!r}")
        other = _pub(port, ["-u", sensor[0], "-P", sensor[1], "-q", "1", "-r", "-t", "actions/evil", "-m", "x"])
        leaked = _sub_one(port, ["-u", agent[0], "-P", agent[1], "-t", "actions/#"], wait_s=2)
        check("ACL: the sensor user cannot publish outside telemetry/ and status/",
              leaked.stdout == "", f"pub rc={other.returncode}, agent saw {leaked.stdout!r}")

        broker.stop()
        check("broker saved its persistence file on shutdown", (tmp / "data" / "mosquitto.db").exists(),
              str(list((tmp / "data").iterdir())))
        if not check("mosquitto restarts on the same data", broker.start(),
                     (tmp / "mosquitto.log").read_text(errors="replace")):
            return
        again = _sub_one(port, ["-u", agent[0], "-P", agent[1], "-t", "telemetry/#"])
        check("retained reading survives the restart (persistence)", again.stdout == message + "\n",
              f"rc={again.returncode} out={again.stdout!r} err={again.stderr!r}")
    finally:
        if broker:
            broker.stop()
        shutil.rmtree(tmp, ignore_errors=True)
