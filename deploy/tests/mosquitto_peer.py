"""Runs the edge chart's rendered Mosquitto setup in a real Mosquitto on loopback.

The rendered mosquitto.conf, ACL, password Secrets and the pod's own `prepare-passwd.sh` (run with
`sh`, as the init container does) are used as rendered; only the paths and the listeners are moved to a
temporary folder and loopback ports. Sensor identity: every device has its own user, and a device
publishing on another device's topic is refused by the broker (the agent never sees it). With TLS, the
TLS listener serves the certificate the caller generated.
"""

from __future__ import annotations

import os
import pwd
import queue
import shlex
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

Check = Callable[[str, bool, str], bool]

PATH_REWRITES = {
    "persistence_location /mosquitto/data/": "persistence_location {data}/",
    "password_file /mosquitto/auth/passwd": "password_file {auth}",
    "acl_file /mosquitto/config/acl": "acl_file {acl}",
    "log_dest stdout": "log_dest stderr",
}


@dataclass
class Device:
    user: str
    datacenter: int
    fingerprint: str
    password: str

    @property
    def topic(self) -> str:
        return f"telemetry/{self.datacenter}/{self.fingerprint}"


@dataclass
class Rendered:
    """What the chart rendered for the broker pod."""
    conf: str
    acl: str
    script: str
    users_passwd: str  # the users Secret's `passwd`
    devices_passwd: str  # the devices Secret's `passwd` (passwordHash entries)
    device_secrets: dict[str, str] = field(default_factory=dict)  # file name (user) -> plain password
    tls: dict[str, Path] | None = None  # certfile, keyfile: what the TLS Secret holds


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


class Subscriber:
    """A background `mosquitto_sub -v`; lines are collected as they arrive."""

    def __init__(self, port: int, user: str, password: str, topic: str) -> None:
        self.proc = subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-q", "1", "-v",
                                      "-u", user, "-P", password, "-t", topic],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def until(self, wanted: str, timeout_s: float = 10.0) -> bool:
        """Collects lines until `wanted` arrives (True) or the time runs out (False)."""
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            try:
                line = self.lines.get(timeout=0.1)
            except queue.Empty:
                continue
            self.seen.append(line)
            if line == wanted:
                return True
        return False

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def _pub(port: int, args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), *args],
                          capture_output=True, text=True, timeout=30)


def _sub_one(port: int, args: list[str], wait_s: int = 3) -> subprocess.CompletedProcess:
    return subprocess.run(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-C", "1", "-W", str(wait_s), *args],
                          capture_output=True, text=True, timeout=30)


def _cred(d: Device) -> list[str]:
    return ["-u", d.user, "-P", d.password]


def prepare(check: Check, r: Rendered, tmp: Path, tls_port: int | None) -> tuple[Path, int] | None:
    """Writes the rendered files to `tmp`, runs prepare-passwd.sh, returns (conf path, plaintext port)."""
    (tmp / "data").mkdir()
    auth, acl = tmp / "passwd", tmp / "acl"
    port = _free_port()
    conf = r.conf
    for old, new in PATH_REWRITES.items():
        check(f"mosquitto.conf: '{old}' present once", conf.count(old) == 1, conf)
        conf = conf.replace(old, new.format(data=tmp / "data", auth=auth, acl=acl))
    listeners = [line for line in conf.splitlines() if line.startswith("listener ")]
    check(f"mosquitto.conf: {1 + (tls_port is not None)} listener(s)", len(listeners) == 1 + (tls_port is not None),
          str(listeners))
    conf = conf.replace(listeners[0], f"listener {port} 127.0.0.1")
    if tls_port is not None and r.tls:
        conf = conf.replace(listeners[1], f"listener {tls_port} 127.0.0.1")
        for key in ("certfile", "keyfile"):
            line = f"{key} /mosquitto/tls/tls.{'crt' if key == 'certfile' else 'key'}"
            check(f"mosquitto.conf: '{line}'", conf.count(line) == 1, conf)
            conf = conf.replace(line, f"{key} {r.tls[key]}")
    (tmp / "mosquitto.conf").write_text(conf)
    acl.write_text(r.acl)

    # The init container's script, on the files the pod mounts.
    (tmp / "users").write_text(r.users_passwd)
    (tmp / "devices").write_text(r.devices_passwd)
    secrets = tmp / "device-secrets"
    secrets.mkdir()
    for name, pw in r.device_secrets.items():
        (secrets / name).write_text(pw)
    (tmp / "prepare-passwd.sh").write_text(r.script)
    env = {**os.environ, "FW_USERS": str(tmp / "users"), "FW_DEVICE_HASHES": str(tmp / "devices"),
           "FW_DEVICE_SECRETS": str(secrets), "FW_PASSWD": str(auth)}
    ran = subprocess.run(["sh", str(tmp / "prepare-passwd.sh")], env=env, capture_output=True, text=True)
    if not check("init step: the rendered prepare-passwd.sh builds the password file", ran.returncode == 0,
                 ran.stdout + ran.stderr):
        return None
    if os.geteuid() == 0:  # mosquitto drops to its own user when started as root
        ids = pwd.getpwnam("mosquitto")
        for p in [tmp, *tmp.rglob("*")]:
            os.chown(p, ids.pw_uid, ids.pw_gid)
    for p in (auth, acl):
        p.chmod(0o600 if os.geteuid() != 0 else 0o640)
    return tmp / "mosquitto.conf", port


def check_password_file(check: Check, auth: Path, users: dict[str, str], devices: list[Device],
                        devices_passwd: str) -> None:
    lines = [line for line in auth.read_text().splitlines() if line]
    names = [line.split(":", 1)[0] for line in lines]
    expected = sorted([*users, *(d.user for d in devices)])
    check("password file: one entry per user and device", sorted(names) == expected, f"{names} vs {expected}")
    check("password file: every entry hashed with PBKDF2-SHA512 ($7$, as Mosquitto 2 writes it)",
          all(line.split(":", 1)[1].startswith("$7$") for line in lines), auth.read_text())
    given = [line for line in devices_passwd.splitlines() if line]
    check("password file: the devices' passwordHash entries are kept as given", all(g in lines for g in given),
          f"{given} not all in the file")


def run(check: Check, r: Rendered, users: dict[str, str], agent_user: str, devices: list[Device],
        message: str) -> None:
    """Checks the rendered broker setup; `users` maps user names to their plain passwords; `devices` are
    the sensors of the values (at least two, in one datacenter or more)."""
    for tool in ("mosquitto", "mosquitto_pub", "mosquitto_sub", "mosquitto_passwd"):
        if not check(f"mosquitto peer: {tool} installed", shutil.which(tool) is not None,
                     "install the Debian packages mosquitto and mosquitto-clients"):
            return
    for directive in ("persistence true", "allow_anonymous false", "password_file /mosquitto/auth/passwd",
                      "acl_file /mosquitto/config/acl"):
        check(f"mosquitto.conf has '{directive}'", directive in r.conf.splitlines(), r.conf)

    tmp = Path(tempfile.mkdtemp(prefix="fogwhisk-mosquitto-"))
    broker: Broker | None = None
    watcher: Subscriber | None = None
    try:
        prepared = prepare(check, r, tmp, None)
        if prepared is None:
            return
        conf, port = prepared
        check_password_file(check, tmp / "passwd", users, devices, r.devices_passwd)
        broker = Broker(conf, port, tmp / "mosquitto.log")
        if not check("mosquitto starts on the rendered configuration", broker.start(),
                     (tmp / "mosquitto.log").read_text(errors="replace")):
            return
        agent = ["-u", agent_user, "-P", users[agent_user]]
        a, b = devices[0], devices[1]

        anon = _pub(port, ["-t", a.topic, "-m", message])
        check("anonymous client is refused", anon.returncode != 0, anon.stdout + anon.stderr)
        wrong = _pub(port, ["-u", a.user, "-P", a.password + "x", "-t", a.topic, "-m", message])
        check("wrong password is refused", wrong.returncode != 0, wrong.stdout + wrong.stderr)
        swapped = _pub(port, ["-u", a.user, "-P", b.password, "-t", a.topic, "-m", message])
        check("a device's password does not log in another device", swapped.returncode != 0,
              swapped.stdout + swapped.stderr)

        # The agent watches telemetry/#; a probe on the device's own topic says it is subscribed.
        watcher = Subscriber(port, agent_user, users[agent_user], "telemetry/#")
        ready = False
        for i in range(100):
            _pub(port, [*_cred(a), "-q", "1", "-t", a.topic, "-m", f"probe-{i}"])
            if watcher.until(f"{a.topic} probe-{i}", timeout_s=0.2):
                ready = True
                break
        if not check("the agent's user subscribes telemetry/# and sees a device's own topic", ready,
                     str(watcher.seen)):
            return
        # Another device's topic, its own fingerprint in another datacenter, a subtopic, another's status.
        forged_topics = [b.topic, f"telemetry/{a.datacenter + 1}/{a.fingerprint}", f"{a.topic}/x",
                         f"status/{b.datacenter}/{b.fingerprint}"]
        refusals = []
        for t in forged_topics:
            p = _pub(port, [*_cred(a), "-V", "mqttv5", "-q", "1", "-t", t, "-m", "forged"])
            refusals.append((t, "Not authorized" in p.stderr, p.stderr.strip()))
        check("ACL: the broker refuses a device publishing on another device's or datacenter's topic "
              "(PUBACK 'Not authorized')", all(ok for _, ok, _ in refusals), str(refusals))
        # Same connection order: once the marker arrives, a delivered forgery would have arrived first.
        _pub(port, [*_cred(a), "-q", "1", "-t", a.topic, "-m", "after-forgery"])
        arrived = watcher.until(f"{a.topic} after-forgery")
        check("ACL: the subscriber never sees the forged messages, only the device's own",
              arrived and not any("forged" in line for line in watcher.seen), str(watcher.seen))

        sent = _pub(port, [*_cred(b), "-q", "1", "-t", b.topic, "-m", message])
        check("the other device (its own credentials) publishes on its own topic", sent.returncode == 0, sent.stderr)
        check("agent receives that reading byte for byte", watcher.until(f"{b.topic} {message}"), str(watcher.seen[-5:]))

        spy = _sub_one(port, [*_cred(a), "-t", "telemetry/#"], wait_s=2)
        spy_own = _sub_one(port, [*_cred(a), "-t", b.topic], wait_s=1)
        _pub(port, [*_cred(b), "-q", "1", "-r", "-t", b.topic, "-m", "retained-for-spy"])
        check("ACL: a device cannot read telemetry (not even another device's topic)",
              spy.stdout == "" and spy_own.stdout == "", f"{spy.stdout!r} {spy_own.stdout!r}")
        agent_pub = _pub(port, [*agent, "-V", "mqttv5", "-q", "1", "-t", a.topic, "-m", "from-agent"])
        _pub(port, [*_cred(a), "-q", "1", "-t", a.topic, "-m", "after-agent"])
        check("ACL: the agent's user publishes nowhere", "Not authorized" in agent_pub.stderr
              and watcher.until(f"{a.topic} after-agent") and not any("from-agent" in x for x in watcher.seen),
              agent_pub.stderr + str(watcher.seen[-3:]))
        watcher.stop()
        watcher = None

        retained = _pub(port, [*_cred(a), "-q", "1", "-r", "-t", a.topic, "-m", message])
        check("a device publishes a retained reading (QoS 1)", retained.returncode == 0, retained.stderr)
        broker.stop()
        check("broker saved its persistence file on shutdown", (tmp / "data" / "mosquitto.db").exists(),
              str(list((tmp / "data").iterdir())))
        if not check("mosquitto restarts on the same data", broker.start(),
                     (tmp / "mosquitto.log").read_text(errors="replace")):
            return
        again = _sub_one(port, [*agent, "-t", a.topic])
        check("retained reading survives the restart (persistence)", again.stdout == message + "\n",
              f"rc={again.returncode} out={again.stdout!r} err={again.stderr!r}")
    finally:
        if watcher:
            watcher.stop()
        if broker:
            broker.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def hash_entry(user: str, password: str) -> str:
    """The documented way to make a device's passwordHash: mosquitto_passwd writing to /dev/stdout."""
    out = subprocess.run(f"mosquitto_passwd -c -b /dev/stdout {shlex.quote(user)} {shlex.quote(password)} | cut -d: -f2-",
                         shell=True, capture_output=True, text=True, check=True)
    return out.stdout.strip()


def run_tls(check: Check, r: Rendered, users: dict[str, str], agent_user: str, device: Device,
            make_certs: Callable[[Path], dict[str, Path]]) -> None:
    """The rendered TLS listener with a certificate Secret's files (made by `make_certs`): a device connects
    with ca.crt and its reading reaches the agent on the plaintext listener; with another CA, or without
    TLS on the TLS port, it cannot connect."""
    tmp = Path(tempfile.mkdtemp(prefix="fogwhisk-mosquitto-tls-"))
    broker: Broker | None = None
    try:
        (tmp / "tls").mkdir()
        files = make_certs(tmp / "tls")
        tls_port = _free_port()
        r.tls = {"certfile": files["tls.crt"], "keyfile": files["tls.key"]}
        prepared = prepare(check, r, tmp, tls_port)
        if prepared is None:
            return
        conf, port = prepared
        broker = Broker(conf, tls_port, tmp / "mosquitto.log")
        if not check("mosquitto starts with the rendered TLS listener and the Secret's tls.crt/tls.key", broker.start(),
                     (tmp / "mosquitto.log").read_text(errors="replace")):
            return
        watcher = Subscriber(port, agent_user, users[agent_user], "telemetry/#")
        try:
            tls = ["-p", str(tls_port), "--cafile", str(files["ca.crt"])]
            ready = False
            for i in range(100):
                sent = subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", *tls, *_cred(device), "-q", "1",
                                       "-t", device.topic, "-m", f"tls-{i}"], capture_output=True, text=True, timeout=30)
                if sent.returncode == 0 and watcher.until(f"{device.topic} tls-{i}", timeout_s=0.2):
                    ready = True
                    break
            check("TLS: a device with the Secret's ca.crt publishes on port 8883's listener and the agent gets it",
                  ready, f"{sent.stderr} {watcher.seen}")
        finally:
            watcher.stop()
        wrong = subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(tls_port), "--cafile",
                                str(files["wrong-ca.crt"]), *_cred(device), "-t", device.topic, "-m", "x"],
                               capture_output=True, text=True, timeout=30)
        check("TLS: a device trusting another CA cannot connect (certificate verify failed)",
              wrong.returncode != 0, wrong.stdout + wrong.stderr)
        plain = _pub(tls_port, [*_cred(device), "-t", device.topic, "-m", "x"])
        check("TLS: plaintext MQTT on the TLS port is refused", plain.returncode != 0, plain.stdout + plain.stderr)
    finally:
        if broker:
            broker.stop()
        shutil.rmtree(tmp, ignore_errors=True)
