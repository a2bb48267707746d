"""Fogwhisk Python action runtime: serves the OpenWhisk action-runtime protocol (POST /init, POST /run)
on the listening Unix socket the agent hands over (descriptor FOGWHISK_LISTEN_FD), to requests that carry
the process's secret (FOGWHISK_SECRET); announces itself as the first stdout line.
Written for Fogwhisk from the protocol description; standard library only."""

import base64
import hmac
import socket
import importlib.util
import io
import json
import os
import sys
import tempfile
import threading
import traceback
import types
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SENTINEL = "XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX"
MAX_BODY = 48 * 1024 * 1024

LISTEN_FD = int(os.environ.pop("FOGWHISK_LISTEN_FD", "-1"))
SECRET = os.environ.pop("FOGWHISK_SECRET", "").encode("utf-8")
# The context fields of the protocol, and the only /run keys that become __OW_* variables.
CONTEXT_KEYS = ("api_host", "api_key", "namespace", "action_name", "action_version", "activation_id",
                "deadline", "transaction_id")

STATE = {"handler": None, "init_started": False, "running": 0}
LOCK = threading.Lock()


def write_sentinels():
    sys.stdout.flush()
    sys.stderr.flush()
    sys.stdout.write(SENTINEL + "\n")
    sys.stdout.flush()
    sys.stderr.write(SENTINEL + "\n")
    sys.stderr.flush()


def load_module_from_source(code):
    module = types.ModuleType("__main__action__")
    module.__file__ = os.path.join(os.getcwd(), "__main__.py")
    compiled = compile(code, module.__file__, "exec")
    exec(compiled, module.__dict__)
    return module


def load_module_from_zip(code):
    data = base64.b64decode(code, validate=False)
    if data[:4] != b"PK\x03\x04":
        raise ValueError("The file type is unsupported")
    folder = tempfile.mkdtemp(prefix="action-", dir=os.getcwd())
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        root = os.path.realpath(folder)
        for name in archive.namelist():
            target = os.path.realpath(os.path.join(root, name))
            if target != root and not target.startswith(root + os.sep):
                raise ValueError("zip entry escapes the folder: " + name)
        archive.extractall(folder)
    entry = os.path.join(folder, "__main__.py")
    if not os.path.exists(entry):
        raise ValueError("Zipped actions must contain __main__.py at the root.")
    os.chdir(folder)
    sys.path.insert(0, folder)
    spec = importlib.util.spec_from_file_location("__main__action__", entry)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def do_init(value):
    env = value.get("env") or {}
    if isinstance(env, dict):
        for key, val in env.items():
            os.environ[str(key)] = val if isinstance(val, str) else json.dumps(val)
    main = value.get("main") or "main"
    if value.get("binary"):
        module = load_module_from_zip(value["code"])
    else:
        module = load_module_from_source(value["code"])
    fn = getattr(module, main, None)
    if not callable(fn):
        raise ValueError("Action entrypoint '%s' is not a function." % main)
    return fn


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # a Unix socket: no Nagle to disable (setting TCP_NODELAY on it would fail)
    disable_nagle_algorithm = False

    def log_message(self, format, *args):  # keep the action's stderr free of access logs
        pass

    def reply(self, status, body):
        text = json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(text)))
        self.end_headers()
        self.wfile.write(text)

    def authorized(self):
        given = (self.headers.get("x-fogwhisk-secret") or "").encode("utf-8")
        return bool(SECRET) and hmac.compare_digest(given, SECRET)

    def do_POST(self):
        if not self.authorized():
            self.close_connection = True
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                self.close_connection = True
                return self.reply(413, {"error": "Request too large."})
            raw = self.rfile.read(length) if length > 0 else b"null"
            body = json.loads(raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            return self.reply(500, {"error": "Bad request."})
        if self.path == "/init":
            return self.on_init(body)
        if self.path == "/run":
            return self.on_run(body)
        return self.reply(500, {"error": "Bad request."})

    def on_init(self, body):
        value = body.get("value") if isinstance(body, dict) else None
        with LOCK:
            if STATE["init_started"]:
                return self.reply(403, {"error": "Cannot initialize the action more than once."})
            if not isinstance(value, dict) or not isinstance(value.get("code"), str) or not value["code"]:
                return self.reply(403, {"error": "Missing main/no code to execute."})
            STATE["init_started"] = True
        try:
            STATE["handler"] = do_init(value)
        except BaseException as ex:  # noqa: B902 - any failure of user code is reported
            traceback.print_exc()
            write_sentinels()
            message = "".join(traceback.format_exception_only(type(ex), ex)).strip()
            return self.reply(502, {"error": "Initialization has failed due to: " + message})
        return self.reply(200, {"ok": True})

    def on_run(self, body):
        fn = STATE["handler"]
        if fn is None:
            return self.reply(403, {"error": "System not initialized."})
        value = body.get("value") if isinstance(body, dict) else None
        if not isinstance(value, dict):
            return self.reply(403, {"error": "Internal system error: the argument must be a dictionary."})
        with LOCK:
            if STATE["running"] > 0 and os.environ.get("__OW_ALLOW_CONCURRENT") != "true":
                return self.reply(403, {"error": "System is busy: another activation is running."})
            STATE["running"] += 1
        try:
            for key in CONTEXT_KEYS:
                val = body.get(key)
                if isinstance(val, str):
                    os.environ["__OW_" + key.upper()] = val
            status, out = self.invoke(fn, value)
        finally:
            with LOCK:
                STATE["running"] -= 1
        write_sentinels()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    @staticmethod
    def invoke(fn, value):
        try:
            result = fn(value)
        except BaseException as ex:  # noqa: B902 - any failure of user code is reported
            traceback.print_exc()
            return 502, json.dumps({"error": str(ex)}).encode("utf-8")
        if not isinstance(result, (dict, list)):
            return 502, json.dumps({"error": "The action did not return a dictionary or array."}).encode("utf-8")
        try:
            return 200, json.dumps(result).encode("utf-8")
        except (TypeError, ValueError) as ex:
            return 502, json.dumps({"error": "The action did not return a serializable result: " + str(ex)}).encode("utf-8")


class UnixHTTPServer(ThreadingHTTPServer):
    address_family = socket.AF_UNIX

    def server_bind(self):  # the socket comes bound and listening from the agent
        self.server_name, self.server_port = "runtime", 0

    def server_activate(self):
        pass

    def get_request(self):
        conn, _ = self.socket.accept()
        return conn, ("runtime", 0)


def main():
    server = UnixHTTPServer("", Handler, bind_and_activate=False)
    server.socket.close()
    server.socket = socket.socket(fileno=LISTEN_FD)
    server.daemon_threads = True
    sys.stdout.write("FOGWHISK_RUNTIME_LISTENING 0\n")
    sys.stdout.flush()
    server.serve_forever()


if __name__ == "__main__":
    main()
