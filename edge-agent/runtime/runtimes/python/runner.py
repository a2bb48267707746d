"""Fogwhisk Python action runtime: serves /init and /run on the listening Unix socket the agent hands over
(descriptor FOGWHISK_LISTEN_FD), to requests that carry the process's secret (FOGWHISK_SECRET); announces
itself as the first stdout line. FOGWHISK_PROTOCOL picks the wire: `framed` (Fogwhisk's frames, see
src/process/frame.rs: length u32 BE, type u8, id u32 BE, payload; the secret in a HELLO frame opening each
connection) or `http` (the OpenWhisk action-runtime protocol, POST /init and POST /run).
Written for Fogwhisk from the protocol description; standard library only."""

import base64
import hmac
import socket
import struct
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
PROTOCOL = "framed" if os.environ.pop("FOGWHISK_PROTOCOL", "") == "framed" else "http"
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


def encode(body):
    return json.dumps(body).encode("utf-8")


def handle_init(body):
    """`/init`: (status, reply bytes)."""
    value = body.get("value") if isinstance(body, dict) else None
    with LOCK:
        if STATE["init_started"]:
            return 403, encode({"error": "Cannot initialize the action more than once."})
        if not isinstance(value, dict) or not isinstance(value.get("code"), str) or not value["code"]:
            return 403, encode({"error": "Missing main/no code to execute."})
        STATE["init_started"] = True
    try:
        STATE["handler"] = do_init(value)
    except BaseException as ex:  # noqa: B902 - any failure of user code is reported
        traceback.print_exc()
        write_sentinels()
        message = "".join(traceback.format_exception_only(type(ex), ex)).strip()
        return 502, encode({"error": "Initialization has failed due to: " + message})
    return 200, encode({"ok": True})


def handle_run(body):
    """`/run`: (status, reply bytes), the sentinels written once the action is done."""
    fn = STATE["handler"]
    if fn is None:
        return 403, encode({"error": "System not initialized."})
    value = body.get("value") if isinstance(body, dict) else None
    if not isinstance(value, dict):
        return 403, encode({"error": "Internal system error: the argument must be a dictionary."})
    with LOCK:
        if STATE["running"] > 0 and os.environ.get("__OW_ALLOW_CONCURRENT") != "true":
            return 403, encode({"error": "System is busy: another activation is running."})
        STATE["running"] += 1
    try:
        for key in CONTEXT_KEYS:
            val = body.get(key)
            if isinstance(val, str):
                os.environ["__OW_" + key.upper()] = val
        status, out = invoke(fn, value)
    finally:
        with LOCK:
            STATE["running"] -= 1
    write_sentinels()
    return status, out


def invoke(fn, value):
    try:
        result = fn(value)
    except BaseException as ex:  # noqa: B902 - any failure of user code is reported
        traceback.print_exc()
        return 502, encode({"error": str(ex)})
    if not isinstance(result, (dict, list)):
        return 502, encode({"error": "The action did not return a dictionary or array."})
    try:
        return 200, encode(result)
    except (TypeError, ValueError) as ex:
        return 502, encode({"error": "The action did not return a serializable result: " + str(ex)})


ROUTES = {"/init": handle_init, "/run": handle_run}


# ---- the HTTP wire ----

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # a Unix socket: no Nagle to disable (setting TCP_NODELAY on it would fail)
    disable_nagle_algorithm = False

    def log_message(self, format, *args):  # keep the action's stderr free of access logs
        pass

    def send(self, status, text):
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
                return self.send(413, encode({"error": "Request too large."}))
            raw = self.rfile.read(length) if length > 0 else b"null"
            body = json.loads(raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            return self.send(500, encode({"error": "Bad request."}))
        route = ROUTES.get(self.path)
        if route is None:
            return self.send(500, encode({"error": "Bad request."}))
        return self.send(*route(body))


class UnixHTTPServer(ThreadingHTTPServer):
    address_family = socket.AF_UNIX

    def server_bind(self):  # the socket comes bound and listening from the agent
        self.server_name, self.server_port = "runtime", 0

    def server_activate(self):
        pass

    def get_request(self):
        conn, _ = self.socket.accept()
        return conn, ("runtime", 0)


# ---- the framed wire ----

F_HELLO, F_INIT, F_RUN, F_REPLY = 1, 2, 3, 0x81
HEADER = struct.Struct(">IBI")  # length (of what follows), type, id
REPLY_HEAD = struct.Struct(">IBIH")  # ... and the status


def serve_framed_connection(conn):
    """One connection: a HELLO with the secret first (else it ends unanswered), then requests one at a time."""
    reader = conn.makefile("rb")
    try:
        authed = False
        while True:
            head = reader.read(HEADER.size)
            if len(head) < HEADER.size:
                return
            length, kind, ident = HEADER.unpack(head)
            if length < 5 or length > MAX_BODY + 5 or (not authed and length > 5 + 1024):
                return
            payload = reader.read(length - 5)
            if len(payload) < length - 5:
                return
            if not authed:
                if kind != F_HELLO or not SECRET or not hmac.compare_digest(payload, SECRET):
                    return
                authed = True
                continue
            route = {F_INIT: handle_init, F_RUN: handle_run}.get(kind)
            try:
                body = json.loads(payload.decode("utf-8") or "null")
            except (ValueError, UnicodeDecodeError):
                route = None
            status, out = route(body) if route else (500, encode({"error": "Bad request."}))
            conn.sendall(REPLY_HEAD.pack(len(out) + 7, F_REPLY, ident, status) + out)
    except OSError:  # the agent closed it (an abandoned exchange): nothing to answer
        pass
    finally:
        reader.close()
        conn.close()


def serve_framed(listener):
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=serve_framed_connection, args=(conn,), daemon=True).start()


def main():
    if PROTOCOL == "framed":
        listener = socket.socket(fileno=LISTEN_FD)
        sys.stdout.write("FOGWHISK_RUNTIME_LISTENING 0\n")
        sys.stdout.flush()
        serve_framed(listener)
        return
    server = UnixHTTPServer("", Handler, bind_and_activate=False)
    server.socket.close()
    server.socket = socket.socket(fileno=LISTEN_FD)
    server.daemon_threads = True
    sys.stdout.write("FOGWHISK_RUNTIME_LISTENING 0\n")
    sys.stdout.flush()
    server.serve_forever()


if __name__ == "__main__":
    main()
