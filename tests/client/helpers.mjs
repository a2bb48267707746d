// Test harness for the openwhisk-client compatibility suite: starts and stops a real
// fogwhisk-edge agent in a fresh data folder, reads its wskprops, builds official
// `openwhisk` clients and raw HTTP requests, and offers polling and naming helpers.
import { spawn, execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import openwhisk from 'openwhisk';

const execFileP = promisify(execFile);

/** Repository root (tests/client/../..). */
export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** How long an agent may take to write wskprops and answer GET /api/v1. */
const STARTUP_TIMEOUT_MS = 60_000;
/** The contract: SIGTERM must end the agent with status 0 within this time. */
const SHUTDOWN_TIMEOUT_MS = 10_000;

/** Limits high enough that ordinary test files never hit 429 by accident. */
export const RELAXED_LIMITS = {
  FOGWHISK_EDGE_LIMITS__INVOCATIONS_PER_MINUTE: '10000',
  FOGWHISK_EDGE_LIMITS__CONCURRENT_INVOCATIONS: '1000',
  FOGWHISK_EDGE_LIMITS__FIRES_PER_MINUTE: '10000',
};

/**
 * A value placed in the agent's environment (as AGENT_TEST_SECRET_VAR) that must never
 * reach action code. The variable is not FOGWHISK_EDGE_-prefixed because the agent
 * rejects unknown FOGWHISK_EDGE_* configuration keys at startup.
 */
export const AGENT_TEST_SECRET = 's3cr3t';
export const AGENT_TEST_SECRET_VAR = 'FOGWHISK_TEST_SECRET';

export function agentBinary() {
  return process.env.FOGWHISK_EDGE_BIN || join(REPO, 'target', 'debug', 'fogwhisk-edge');
}

/** Every agent started by this process, so a crashing test run never leaves one behind. */
const running = new Set();
process.on('exit', () => {
  for (const child of running) {
    try { child.kill('SIGKILL'); } catch { /* already gone */ }
  }
});

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Parses a wskprops file (KEY=VALUE lines). */
export function parseWskprops(text) {
  const props = {};
  for (const line of text.split(/\r?\n/)) {
    const m = /^\s*([A-Z_]+)\s*=\s*(.*?)\s*$/.exec(line);
    if (m) props[m[1]] = m[2];
  }
  return props;
}

function readProps(file) {
  if (!existsSync(file)) return null;
  const props = parseWskprops(readFileSync(file, 'utf8'));
  return props.APIHOST && props.AUTH && props.NAMESPACE ? props : null;
}

/**
 * Polls `fn` until it returns a truthy value (which is returned) or `timeout` ms pass.
 * Exceptions thrown by `fn` count as "not yet"; the last one is reported on timeout.
 */
export async function waitFor(fn, { timeout = 30_000, interval = 100, message = 'condition' } = {}) {
  const deadline = Date.now() + timeout;
  let lastError;
  for (;;) {
    try {
      const value = await fn();
      if (value) return value;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() > deadline) {
      const detail = lastError ? ` (last error: ${lastError.message})` : '';
      throw new Error(`timed out after ${timeout} ms waiting for ${message}${detail}`);
    }
    await sleep(interval);
  }
}

let nameCounter = 0;
/** A name unique within this run that is a valid OpenWhisk entity name. */
export function uniqueName(prefix = 't') {
  nameCounter += 1;
  return `${prefix}-${process.pid.toString(36)}${Date.now().toString(36)}-${nameCounter}`;
}

/** A running agent. Create with `startAgent()`, always `await agent.stop()`. */
export class Agent {
  constructor({ bin, dataDir, child, env }) {
    this.bin = bin;
    this.dataDir = dataDir;
    this.child = child;
    this.env = env;
    this.output = '';
    this.exit = null; // {code, signal} once the process ended
    this.exited = new Promise((res) => {
      child.on('exit', (code, signal) => {
        this.exit = { code, signal };
        running.delete(child);
        res(this.exit);
      });
    });
    const keep = (chunk) => {
      this.output += chunk.toString();
      if (this.output.length > 200_000) this.output = this.output.slice(-100_000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
  }

  /** Last lines of the agent's stdout+stderr, for failure messages. */
  tail(lines = 30) {
    return this.output.split('\n').slice(-lines).join('\n');
  }

  async waitReady() {
    const propsFile = join(this.dataDir, 'wskprops');
    const deadline = Date.now() + STARTUP_TIMEOUT_MS;
    while (!this.props) {
      if (this.exit) {
        throw new Error(`agent exited during startup (${JSON.stringify(this.exit)}):\n${this.tail()}`);
      }
      if (Date.now() > deadline) {
        throw new Error(`agent did not write ${propsFile} within ${STARTUP_TIMEOUT_MS} ms:\n${this.tail()}`);
      }
      this.props = readProps(propsFile);
      if (!this.props) await sleep(50);
    }
    this.apihost = this.props.APIHOST;
    this.auth = this.props.AUTH;
    this.namespace = this.props.NAMESPACE;
    assert.match(this.apihost, /^http:\/\/127\.0\.0\.1:\d+$/, 'APIHOST must be http://127.0.0.1:<port>');
    assert.match(this.auth, /^[0-9a-f-]{36}:[A-Za-z0-9]+$/, 'AUTH must be <uuid>:<key>');
    assert.equal(this.namespace, 'guest');
    const systemProps = await waitFor(() => readProps(join(this.dataDir, 'wskprops-whisk.system')), {
      timeout: Math.max(1, deadline - Date.now()),
      message: 'wskprops-whisk.system',
    });
    assert.equal(systemProps.NAMESPACE, 'whisk.system');
    assert.equal(systemProps.APIHOST, this.apihost);
    this.systemAuth = systemProps.AUTH;
    await waitFor(async () => {
      if (this.exit) throw new Error(`agent exited: ${JSON.stringify(this.exit)}`);
      const res = await fetch(`${this.apihost}/api/v1`);
      return res.status === 200;
    }, { timeout: Math.max(1, deadline - Date.now()), message: `GET ${this.apihost}/api/v1 to answer 200` });
    return this;
  }

  /** An official openwhisk client for the guest namespace (or for another `uuid:key`). */
  client(apiKey = this.auth, extra = {}) {
    return openwhisk({ apihost: this.apihost, api_key: apiKey, ...extra });
  }

  /** An official openwhisk client authenticated as whisk.system. */
  systemClient() {
    return this.client(this.systemAuth);
  }

  /**
   * Raw HTTP request against the agent. `path` is relative to the host (e.g. '/api/v1/namespaces/_/actions').
   * `auth`: a 'uuid:key' string, false for no Authorization header (default: guest key).
   * `body`: an object (sent as JSON) or a string/Buffer (sent as is, with `contentType`).
   * Returns {status, headers, text, body} where body is parsed JSON when possible.
   */
  async request(method, path, { auth = this.auth, body, contentType, headers = {} } = {}) {
    const h = { ...headers };
    if (auth) h.authorization = `Basic ${Buffer.from(auth).toString('base64')}`;
    let payload;
    if (body !== undefined) {
      if (typeof body === 'string' || Buffer.isBuffer(body)) {
        payload = body;
        h['content-type'] = contentType || 'application/json';
      } else {
        payload = JSON.stringify(body);
        h['content-type'] = contentType || 'application/json';
      }
    }
    const res = await fetch(`${this.apihost}${path}`, { method, headers: h, body: payload });
    const text = await res.text();
    let parsed;
    try { parsed = text.length ? JSON.parse(text) : undefined; } catch { parsed = undefined; }
    return { status: res.status, headers: res.headers, text, body: parsed };
  }

  /** `<bin> namespaces create <name> --data <dir>`; returns the new namespace's `uuid:key`. */
  async createNamespace(name) {
    const { stdout } = await execFileP(this.bin, ['namespaces', 'create', name, '--data', this.dataDir], {
      env: this.env,
      timeout: 30_000,
    });
    const last = stdout.trim().split('\n').pop().trim();
    assert.match(last, /^[0-9a-f-]{36}:[A-Za-z0-9]+$/, `namespaces create must print uuid:key last, got: ${stdout}`);
    return last;
  }

  /**
   * Sends SIGTERM and asserts the agent exits with status 0 within 10 s (killing it if
   * not), then removes the data folder unless `keepData`.
   */
  async stop({ keepData = false } = {}) {
    try {
      if (this.exit) {
        throw new Error(`agent had already exited before stop(): ${JSON.stringify(this.exit)}\n${this.tail()}`);
      }
      this.child.kill('SIGTERM');
      const timer = sleep(SHUTDOWN_TIMEOUT_MS).then(() => 'timeout');
      const outcome = await Promise.race([this.exited, timer]);
      if (outcome === 'timeout') {
        this.child.kill('SIGKILL');
        await this.exited;
        throw new Error(`agent did not exit within ${SHUTDOWN_TIMEOUT_MS} ms of SIGTERM\n${this.tail()}`);
      }
      if (outcome.code !== 0) {
        throw new Error(`agent exited with ${JSON.stringify(outcome)} after SIGTERM (expected code 0)\n${this.tail()}`);
      }
    } finally {
      if (!keepData) rmSync(this.dataDir, { recursive: true, force: true });
    }
  }
}

/**
 * Starts `<bin> serve --listen 127.0.0.1:0 --data <fresh temp dir>` and waits until it
 * serves. `env` adds environment variables (relaxed limits are applied unless overridden);
 * `dataDir` reuses the data folder of an agent stopped with `keepData`.
 */
export async function startAgent({ env = {}, dataDir: reuse } = {}) {
  const bin = agentBinary();
  if (!existsSync(bin)) {
    throw new Error(
      `agent binary not found: ${bin} (run \`cargo build -p fogwhisk-edge\` or set FOGWHISK_EDGE_BIN)`);
  }
  const dataDir = reuse || mkdtempSync(join(tmpdir(), 'fogwhisk-edge-test-'));
  if (reuse) {
    // the agent rewrites these on every start (with a new port); wait for the new ones
    rmSync(join(dataDir, 'wskprops'), { force: true });
    rmSync(join(dataDir, 'wskprops-whisk.system'), { force: true });
  }
  const fullEnv = { ...process.env, ...RELAXED_LIMITS, [AGENT_TEST_SECRET_VAR]: AGENT_TEST_SECRET, ...env };
  const child = spawn(bin, ['serve', '--listen', '127.0.0.1:0', '--data', dataDir], {
    env: fullEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  const agent = new Agent({ bin, dataDir, child, env: fullEnv });
  const spawnError = new Promise((_, rej) => child.once('error', (e) => rej(new Error(`cannot start ${bin}: ${e.message}`))));
  try {
    await Promise.race([agent.waitReady(), spawnError]);
  } catch (e) {
    child.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
    throw e;
  }
  return agent;
}

/** Asserts the OpenWhisk error body shape: {error: string, code: <transaction id>}. */
export function assertErrorBody(body, context = '') {
  assert.equal(typeof body, 'object', `error body must be a JSON object ${context}`);
  assert.ok(body !== null, `error body must not be null ${context}`);
  assert.equal(typeof body.error, 'string', `error body needs a string 'error' ${context}: ${JSON.stringify(body)}`);
  assert.ok(body.error.length > 0, `error message must not be empty ${context}`);
  assert.ok(body.code !== undefined && body.code !== null && String(body.code).length > 0,
    `error body needs a 'code' ${context}: ${JSON.stringify(body)}`);
}

/**
 * Asserts a raw response is an error with `status` and the standard body, and (if given)
 * that the message contains `message` (string) or matches it (RegExp).
 */
export function assertError(res, status, message) {
  const ctx = `(HTTP ${res.status}: ${res.text.slice(0, 300)})`;
  assert.equal(res.status, status, `expected HTTP ${status} ${ctx}`);
  assertErrorBody(res.body, ctx);
  if (typeof message === 'string') assert.ok(res.body.error.includes(message), `expected message containing "${message}" ${ctx}`);
  if (message instanceof RegExp) assert.match(res.body.error, message);
  return res.body;
}

/**
 * Asserts that a promise from the openwhisk client rejects with HTTP `status`.
 * Returns the error's body (`err.error`) for further checks. With `standardBody`
 * (default) the body must be the controller's {error, code} shape.
 */
export async function rejectsWith(promise, status, { message, standardBody = true } = {}) {
  let caught;
  try {
    const value = await promise;
    assert.fail(`expected HTTP ${status}, but the call succeeded with ${JSON.stringify(value).slice(0, 300)}`);
  } catch (e) {
    if (e instanceof assert.AssertionError) throw e;
    caught = e;
  }
  assert.equal(caught.statusCode, status, `expected HTTP ${status}, got ${caught.statusCode}: ${caught.message}`);
  if (standardBody) assertErrorBody(caught.error, `(${caught.message})`);
  if (message) assert.ok(String(caught.error?.error).includes(message), `expected "${message}" in ${caught.message}`);
  return caught.error;
}

/** Finds an annotation value by key in an OpenWhisk `[{key, value}]` list. */
export function annotation(entity, key) {
  const found = (entity.annotations || []).find((a) => a.key === key);
  return found ? found.value : undefined;
}

/** Converts an OpenWhisk `[{key, value}]` list into a plain object. */
export function kv(list) {
  return Object.fromEntries((list || []).map((p) => [p.key, p.value]));
}

/** The shape of one stored log line: `<RFC3339 UTC>Z` (padded) `stdout|stderr: text`. */
export const LOG_LINE = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z)\s+(stdout|stderr): (.*)$/s;

/**
 * Builds a zip archive (deflated) from `{path: content}` using Python's zipfile module
 * and returns it as a Buffer.
 */
export async function makeZip(files) {
  const script = [
    'import io, json, sys, zipfile',
    'files = json.load(sys.stdin)',
    'buf = io.BytesIO()',
    'with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:',
    '    for name, content in files.items():',
    '        z.writestr(name, content)',
    'sys.stdout.buffer.write(buf.getvalue())',
  ].join('\n');
  return new Promise((res, rej) => {
    const child = spawn('python3', ['-c', script], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out = [];
    let err = '';
    child.stdout.on('data', (c) => out.push(c));
    child.stderr.on('data', (c) => { err += c; });
    child.on('error', rej);
    child.on('exit', (code) => (code === 0 ? res(Buffer.concat(out)) : rej(new Error(`zip build failed: ${err}`))));
    child.stdin.end(JSON.stringify(files));
  });
}

/**
 * Standard per-file setup: starts one agent before the file's tests and stops it
 * (asserting a clean SIGTERM exit) after them. Returns a holder whose `.agent` and
 * `.ow` (guest client) are filled in by the `before` hook. Node 20 runs root-level
 * `before` hooks concurrently, so a file's own `before` must `await holder.ready`.
 */
export function useAgent(options) {
  let resolveReady;
  let rejectReady;
  const holder = { agent: null, ow: null };
  holder.ready = new Promise((res, rej) => { resolveReady = res; rejectReady = rej; });
  holder.ready.catch(() => {}); // reported by the hook itself
  before(async () => {
    try {
      holder.agent = await startAgent(options);
      holder.ow = holder.agent.client();
      resolveReady(holder);
    } catch (e) {
      rejectReady(e);
      throw e;
    }
  });
  after(async () => {
    if (holder.agent) await holder.agent.stop();
  });
  return holder;
}

/** Every activation the namespace lists (up to 200) can be read with get, logs and result. */
export async function assertListedActivationsReadable(ow) {
  const list = await ow.activations.list({ limit: 200 });
  assert.ok(list.length > 0);
  for (const row of list) {
    const id = row.activationId;
    assert.equal((await ow.activations.get({ activation: id })).activationId, id);
    assert.ok(Array.isArray((await ow.activations.logs({ activation: id })).logs), `logs of ${id}`);
    assert.equal(typeof (await ow.activations.result({ activation: id })).success, 'boolean', `result of ${id}`);
  }
}
