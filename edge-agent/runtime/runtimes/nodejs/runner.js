// Fogwhisk Node.js action runtime: serves /init and /run on the listening Unix socket the agent hands over
// (descriptor FOGWHISK_LISTEN_FD), to requests that carry the process's secret (FOGWHISK_SECRET); announces
// itself as the first stdout line. FOGWHISK_PROTOCOL picks the wire: `framed` (Fogwhisk's frames, see
// src/process/frame.rs: length u32 BE, type u8, id u32 BE, payload; the secret in a HELLO frame opening each
// connection) or `http` (the OpenWhisk action-runtime protocol, POST /init and POST /run).
// Written for Fogwhisk from the protocol description; no npm dependencies.
'use strict';

const http = require('http');
const net = require('net');
const fs = require('fs');
const path = require('path');
const zlib = require('zlib');
const Module = require('module');
const crypto = require('crypto');

const LISTEN_FD = Number(process.env.FOGWHISK_LISTEN_FD);
const SECRET = Buffer.from(process.env.FOGWHISK_SECRET || '', 'utf8');
const PROTOCOL = process.env.FOGWHISK_PROTOCOL === 'framed' ? 'framed' : 'http';
delete process.env.FOGWHISK_LISTEN_FD;
delete process.env.FOGWHISK_SECRET;
delete process.env.FOGWHISK_PROTOCOL;
// The context fields of the protocol, and the only /run keys that become __OW_* variables.
const CONTEXT_KEYS = ['api_host', 'api_key', 'namespace', 'action_name', 'action_version', 'activation_id', 'deadline', 'transaction_id'];
const CONTEXT_VARS = CONTEXT_KEYS.map((k) => '__OW_' + k.toUpperCase());

function secretMatches(given) {
  return SECRET.length > 0 && given.length === SECRET.length && crypto.timingSafeEqual(given, SECRET);
}

function authorized(req) {
  return secretMatches(Buffer.from(String(req.headers['x-fogwhisk-secret'] || ''), 'utf8'));
}

const SENTINEL = 'XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX';
const MAX_BODY = 48 * 1024 * 1024;

let handler = null; // the action's entry function once /init succeeded
let initStarted = false;
let running = 0;

function writeSentinels() {
  // stdout/stderr are pipes: writes are synchronous on Linux, so the action's own output is already out.
  process.stdout.write(SENTINEL + '\n');
  process.stderr.write(SENTINEL + '\n');
}

// `send(status, text)` answers one request on whichever wire it came.
function reply(send, status, body) {
  send(status, JSON.stringify(body));
}

function errorText(err) {
  if (err instanceof Error) return String(err.message);
  if (err === undefined) return 'undefined';
  try { return typeof err === 'string' ? err : JSON.stringify(err); } catch (_) { return String(err); }
}

// ---- zip extraction (central directory walk, stored and deflated entries) ----

function extractZip(buf, dest) {
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 22 - 65535); i--) {
    if (buf.readUInt32LE(i) === 0x06054b50) { eocd = i; break; }
  }
  if (eocd < 0) throw new Error('zip archive has no end of central directory record');
  const count = buf.readUInt16LE(eocd + 10);
  let p = buf.readUInt32LE(eocd + 16);
  if (p === 0xffffffff || count === 0xffff) throw new Error('zip64 archives are not supported');
  const root = path.resolve(dest);
  for (let n = 0; n < count; n++) {
    if (p + 46 > buf.length || buf.readUInt32LE(p) !== 0x02014b50) throw new Error('corrupt zip central directory');
    const method = buf.readUInt16LE(p + 10);
    const csize = buf.readUInt32LE(p + 20);
    const nameLen = buf.readUInt16LE(p + 28);
    const extraLen = buf.readUInt16LE(p + 30);
    const commentLen = buf.readUInt16LE(p + 32);
    const local = buf.readUInt32LE(p + 42);
    const name = buf.toString('utf8', p + 46, p + 46 + nameLen);
    p += 46 + nameLen + extraLen + commentLen;
    const target = path.resolve(root, name);
    if (target !== root && !target.startsWith(root + path.sep)) throw new Error('zip entry escapes the folder: ' + name);
    if (name.endsWith('/')) { fs.mkdirSync(target, { recursive: true }); continue; }
    if (buf.readUInt32LE(local) !== 0x04034b50) throw new Error('corrupt zip local header for ' + name);
    const start = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
    const data = buf.subarray(start, start + csize);
    let content;
    if (method === 0) content = data;
    else if (method === 8) content = zlib.inflateRawSync(data);
    else throw new Error('unsupported zip compression method ' + method + ' for ' + name);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, content);
  }
}

// ---- loading the action ----

function isIdentifier(s) { return /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(s); }

function loadPlain(code, main) {
  const file = path.join(process.cwd(), 'action.js');
  const mod = { exports: {} };
  const req = Module.createRequire(file);
  const tail = isIdentifier(main) ? `\n;return (typeof ${main} === 'function') ? ${main} : undefined;` : '\n;return undefined;';
  // eslint-disable-next-line no-new-func
  const wrapper = new Function('exports', 'require', 'module', '__filename', '__dirname', code + tail);
  const found = wrapper.call(mod.exports, mod.exports, req, mod, file, process.cwd());
  if (typeof found === 'function') return found;
  const exported = mod.exports && mod.exports[main];
  return exported;
}

function loadBinary(code, main) {
  const buf = Buffer.from(code, 'base64');
  if (buf.length < 4 || buf.readUInt32LE(0) !== 0x04034b50) throw new Error('The file type is unsupported');
  const dir = fs.mkdtempSync(path.join(process.cwd(), 'action-'));
  extractZip(buf, dir);
  process.chdir(dir);
  let modulePath = dir;
  let fn = main;
  const dot = main.lastIndexOf('.');
  if (dot > 0) { modulePath = path.join(dir, main.slice(0, dot)); fn = main.slice(dot + 1); }
  else if (!fs.existsSync(path.join(dir, 'package.json')) && !fs.existsSync(path.join(dir, 'index.js'))) {
    throw new Error('Zipped actions must contain either package.json or index.js at the root.');
  }
  const req = Module.createRequire(path.join(dir, 'action-loader.js'));
  const mod = req(modulePath);
  return mod ? mod[fn] : undefined;
}

function doInit(value) {
  if (!value || typeof value !== 'object') throw new Error('Missing main/no code to execute.');
  const env = value.env && typeof value.env === 'object' ? value.env : {};
  for (const [k, v] of Object.entries(env)) process.env[k] = typeof v === 'string' ? v : JSON.stringify(v);
  const main = typeof value.main === 'string' && value.main.length > 0 ? value.main : 'main';
  const fn = value.binary ? loadBinary(value.code, main) : loadPlain(value.code, main);
  if (typeof fn !== 'function') throw new Error(`Action entrypoint '${main}' is not a function.`);
  return fn;
}

// ---- routes ----

function onInit(send, body) {
  if (initStarted) return reply(send, 403, { error: 'Cannot initialize the action more than once.' });
  const value = body && body.value;
  if (!value || typeof value.code !== 'string' || value.code.length === 0) {
    return reply(send, 403, { error: 'Missing main/no code to execute.' });
  }
  initStarted = true;
  try {
    handler = doInit(value);
    reply(send, 200, { OK: true });
  } catch (err) {
    process.stderr.write((err && err.stack ? err.stack : String(err)) + '\n');
    writeSentinels();
    reply(send, 502, { error: 'Initialization has failed due to: ' + (err instanceof Error ? String(err) : errorText(err)) });
  }
}

function finishRun(send, status, body) {
  running--;
  writeSentinels();
  reply(send, status, body);
}

function onRun(send, body) {
  if (!handler) return reply(send, 403, { error: 'System not initialized.' });
  const value = body ? body.value : undefined;
  if (!value || typeof value !== 'object') return reply(send, 403, { error: 'Internal system error: the argument must be a dictionary.' });
  if (running > 0 && process.env.__OW_ALLOW_CONCURRENT !== 'true') {
    return reply(send, 403, { error: 'System is busy: another activation is running.' });
  }
  running++;
  for (let i = 0; i < CONTEXT_KEYS.length; i++) {
    const v = body[CONTEXT_KEYS[i]];
    // setting a variable costs more than reading it: only those that differ
    if (typeof v === 'string' && process.env[CONTEXT_VARS[i]] !== v) process.env[CONTEXT_VARS[i]] = v;
  }
  let result;
  try {
    result = handler(value);
  } catch (err) {
    process.stderr.write((err && err.stack ? err.stack : String(err)) + '\n');
    return finishRun(send, 502, { error: 'An error has occurred: ' + (err instanceof Error ? String(err) : errorText(err)) });
  }
  Promise.resolve(result).then((out) => {
    if (out === undefined) out = {};
    if (out === null || typeof out !== 'object') return finishRun(send, 502, { error: 'The action did not return a dictionary.' });
    let text;
    try { text = JSON.stringify(out); } catch (err) {
      return finishRun(send, 502, { error: 'An error has occurred: the result is not serializable: ' + errorText(err) });
    }
    running--;
    writeSentinels();
    send(200, text);
  }, (err) => {
    let e;
    if (err instanceof Error) e = err.message;
    else if (err === undefined || err === null) e = {};
    else e = err;
    finishRun(send, 200, { error: e });
  });
}

function dispatch(method, url, send, body) {
  if (method === 'POST' && url === '/init') return onInit(send, body);
  if (method === 'POST' && url === '/run') return onRun(send, body);
  return reply(send, 500, { error: 'Bad request.' });
}

function parse(text, send) {
  try { return { ok: true, body: JSON.parse(text || 'null') }; } catch (_) {
    reply(send, 500, { error: 'Bad request.' });
    return { ok: false };
  }
}

// ---- the HTTP wire ----

function serveHttp() {
  const server = http.createServer((req, res) => {
    if (!authorized(req)) { req.destroy(); return; }
    const send = (status, text) => {
      res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
      res.end(text);
    };
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > MAX_BODY) { reply(send, 413, { error: 'Request too large.' }); req.destroy(); return; }
      chunks.push(c);
    });
    req.on('end', () => {
      if (size > MAX_BODY) return;
      const p = parse(Buffer.concat(chunks).toString('utf8'), send);
      if (p.ok) dispatch(req.method, req.url, send, p.body);
    });
  });
  server.on('clientError', (_err, sock) => sock.destroy()); // not even a 400 to bytes that are not a request
  server.keepAliveTimeout = 10 * 60 * 1000;
  server.headersTimeout = 11 * 60 * 1000;
  server.requestTimeout = 0;
  return server;
}

// ---- the framed wire ----

const F_HELLO = 1, F_INIT = 2, F_RUN = 3, F_REPLY = 0x81;
const F_HEADER = 9; // length u32, type u8, id u32

function frameSender(sock, id) {
  return (status, text) => {
    const n = Buffer.byteLength(text);
    const out = Buffer.allocUnsafe(F_HEADER + 2 + n);
    out.writeUInt32BE(n + 7, 0);
    out[4] = F_REPLY;
    out.writeUInt32BE(id, 5);
    out.writeUInt16BE(status, 9);
    out.write(text, 11, 'utf8');
    if (!sock.destroyed) sock.write(out);
  };
}

function serveFramed() {
  return net.createServer((sock) => {
    sock.on('error', () => {}); // the agent closed it (an abandoned exchange): nothing to answer
    const head = Buffer.allocUnsafe(F_HEADER);
    let headFill = 0, frame = null, fill = 0, type = 0, id = 0, authed = false;
    const onFrame = (payload) => {
      if (!authed) {
        // the first frame must carry the secret, or the connection ends unanswered
        if (type !== F_HELLO || !secretMatches(payload)) { sock.destroy(); return false; }
        authed = true;
        return true;
      }
      const send = frameSender(sock, id);
      const p = parse(payload.toString('utf8'), send);
      if (!p.ok) return true;
      if (type === F_INIT) dispatch('POST', '/init', send, p.body);
      else if (type === F_RUN) dispatch('POST', '/run', send, p.body);
      else reply(send, 500, { error: 'Bad request.' });
      return true;
    };
    sock.on('data', (chunk) => {
      let off = 0;
      while (off < chunk.length) {
        if (frame === null) {
          const n = Math.min(F_HEADER - headFill, chunk.length - off);
          chunk.copy(head, headFill, off, off + n);
          headFill += n; off += n;
          if (headFill < F_HEADER) return;
          const len = head.readUInt32BE(0);
          if (len < 5 || len > MAX_BODY + 5 || (!authed && len > 5 + 1024)) { sock.destroy(); return; }
          type = head[4]; id = head.readUInt32BE(5);
          headFill = 0; fill = 0;
          if (off + len - 5 <= chunk.length) { // the whole payload is in this chunk: no copy
            frame = null;
            const payload = chunk.subarray(off, off + len - 5);
            off += len - 5;
            if (!onFrame(payload)) return;
            continue;
          }
          frame = Buffer.allocUnsafe(len - 5);
        }
        const n = Math.min(frame.length - fill, chunk.length - off);
        chunk.copy(frame, fill, off, off + n);
        fill += n; off += n;
        if (fill === frame.length) {
          const payload = frame;
          frame = null;
          if (!onFrame(payload)) return;
        }
      }
    });
  });
}

const server = PROTOCOL === 'framed' ? serveFramed() : serveHttp();
server.listen({ fd: LISTEN_FD }, () => {
  process.stdout.write('FOGWHISK_RUNTIME_LISTENING 0\n');
});
