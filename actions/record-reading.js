// record-reading: validates one sensor message (the firmware format in ARCHITECTURE.md) fired by
// the MQTT feed and writes its readings to the site's telemetry store through the agent's API.
//
// Trigger payloads: {type: "message", topic, body: "<JSON text>"} and {type: "status", body}.
// A bad message returns {error: "<what is wrong>"}, so its activation is an application error.
'use strict';

/** Largest message accepted, in bytes of UTF-8. */
const MAX_BODY_BYTES = 16 * 1024;
/** Most metric fields in one message. */
const MAX_METRICS = 64;
/** Latest accepted `ts`: the end of year 9999, in epoch seconds. */
const MAX_TS_SECONDS = 253402300799;
/** Latest accepted reading time ahead of the site's clock (sensor clocks drift; NTP is not exact). */
const MAX_FUTURE_MS = 5 * 60 * 1000;
/** Oldest accepted reading, in days before now: the agent's `telemetry.retention_days` default. */
const DEFAULT_RETENTION_DAYS = 90;
/** Topic of a sensor: `telemetry/<datacenter_id>/<device_fingerprint>` (its broker ACL binds it to the device). */
const TOPIC = /^telemetry\/([0-9]+)\/([^/+#]+)$/;
/** Metric names the hub accepts. */
const METRIC_NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/;
/** Fields of a message that are not metrics. */
const RESERVED = new Set(['device_fingerprint', 'datacenter_id', 'ts']);

class MessageError extends Error {}

function kindOf(v) {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

/**
 * Parses a sensor message into readings `{datacenter_id, device, metric, value, ts}` (ts in ms).
 * Throws MessageError with a clear message when the message is not acceptable.
 *
 * With `opts.topic`, the datacenter and device come from the topic (`telemetry/<dc>/<device>`) and a
 * body naming others is refused: one device's MQTT credentials only publish on its own topic, so the
 * topic, not the body, says who is speaking. `ts` must lie between `opts.retentionDays` (default 90)
 * before `nowMs` and five minutes after it.
 */
function parseMessage(body, nowMs, opts = {}) {
  if (typeof body !== 'string') {
    throw new MessageError(`message body must be text, got ${kindOf(body)}`);
  }
  const bytes = Buffer.byteLength(body, 'utf8');
  if (bytes > MAX_BODY_BYTES) {
    throw new MessageError(`message is ${bytes} bytes, larger than the ${MAX_BODY_BYTES}-byte limit`);
  }
  if (body.includes('\uFFFD')) {
    throw new MessageError('message is not valid UTF-8 (it contains replacement characters)');
  }
  let msg;
  try {
    msg = JSON.parse(body);
  } catch (e) {
    if (/(^|[^A-Za-z"])(-?Infinity|NaN)([^A-Za-z"]|$)/.test(body)) {
      throw new MessageError('message contains NaN or Infinity, which are not numbers in JSON');
    }
    throw new MessageError(`message is not JSON: ${e.message}`);
  }
  if (kindOf(msg) !== 'object') {
    throw new MessageError(`message must be a JSON object, got ${kindOf(msg)}`);
  }
  const device = msg.device_fingerprint;
  if (device === undefined) throw new MessageError('missing field device_fingerprint');
  if (typeof device !== 'string') {
    throw new MessageError(`device_fingerprint must be a string, got ${kindOf(device)}`);
  }
  if (device.length === 0 || Buffer.byteLength(device, 'utf8') > 256 || /[\u0000-\u001f\u007f]/.test(device)) {
    throw new MessageError('device_fingerprint must be 1 to 256 bytes without control characters');
  }
  const dc = msg.datacenter_id;
  if (dc === undefined) throw new MessageError('missing field datacenter_id');
  if (typeof dc !== 'number') {
    throw new MessageError(`datacenter_id must be a number, got ${kindOf(dc)} ${JSON.stringify(dc)}`);
  }
  if (!Number.isInteger(dc) || dc < 0 || dc > 4294967295) {
    throw new MessageError(`datacenter_id must be an integer from 0 to 4294967295, got ${dc}`);
  }
  if (opts.topic !== undefined) {
    const m = typeof opts.topic === 'string' ? TOPIC.exec(opts.topic) : null;
    if (!m) {
      throw new MessageError(`topic ${JSON.stringify(opts.topic)} is not telemetry/<datacenter_id>/<device_fingerprint>`);
    }
    if (String(dc) !== m[1].replace(/^0+(?=\d)/, '')) {
      throw new MessageError(`datacenter_id ${dc} disagrees with the topic's datacenter ${m[1]}`);
    }
    if (device !== m[2]) {
      throw new MessageError(`device_fingerprint ${JSON.stringify(device)} disagrees with the topic's device ${JSON.stringify(m[2])}`);
    }
  }
  let ts = nowMs;
  if (msg.ts !== undefined) {
    if (typeof msg.ts !== 'number') {
      throw new MessageError(`ts must be a number of epoch seconds, got ${kindOf(msg.ts)} ${JSON.stringify(msg.ts)}`);
    }
    if (!Number.isFinite(msg.ts) || msg.ts < 0 || msg.ts > MAX_TS_SECONDS) {
      throw new MessageError(`ts must be epoch seconds from 0 to ${MAX_TS_SECONDS}, got ${msg.ts}`);
    }
    ts = Math.round(msg.ts * 1000);
    const retentionDays = Number.isFinite(opts.retentionDays) && opts.retentionDays > 0 ? opts.retentionDays : DEFAULT_RETENTION_DAYS;
    if (ts > nowMs + MAX_FUTURE_MS) {
      throw new MessageError(`ts ${msg.ts} is ${Math.round((ts - nowMs) / 1000)} s ahead of the site's clock (at most ${MAX_FUTURE_MS / 1000} s)`);
    }
    if (ts < nowMs - retentionDays * 86400000) {
      throw new MessageError(`ts ${msg.ts} is older than the telemetry retention (${retentionDays} days)`);
    }
  }
  const readings = [];
  for (const [metric, value] of Object.entries(msg)) {
    if (RESERVED.has(metric)) continue;
    if (typeof value !== 'number') {
      throw new MessageError(`metric ${JSON.stringify(metric)} must be a number, got ${kindOf(value)} ${JSON.stringify(value)}`);
    }
    if (!Number.isFinite(value)) {
      throw new MessageError(`metric ${JSON.stringify(metric)} must be a finite number, got ${value}`);
    }
    if (!METRIC_NAME.test(metric)) {
      throw new MessageError(`metric name ${JSON.stringify(metric)} is invalid: use 1-64 letters, digits, '_', '-' or '.', starting with a letter or '_'`);
    }
    readings.push({ datacenter_id: dc, device, metric, value, ts });
  }
  if (readings.length === 0) throw new MessageError('message has no metric fields (numeric fields besides device_fingerprint, datacenter_id and ts)');
  if (readings.length > MAX_METRICS) {
    throw new MessageError(`message has ${readings.length} metric fields, at most ${MAX_METRICS} allowed`);
  }
  return { device, datacenter_id: dc, readings };
}

/** Base URL of the agent's API from the activation's environment. */
function apiBase() {
  const host = process.env.__OW_API_HOST;
  if (!host) throw new Error('__OW_API_HOST is not set');
  return (/^https?:\/\//.test(host) ? host : `https://${host}`).replace(/\/+$/, '');
}

/** Authorization header from the activation's own key (annotation provide-api-key: true). */
function authHeader() {
  const key = process.env.__OW_API_KEY;
  if (!key) throw new Error('__OW_API_KEY is not set: the action needs the annotation provide-api-key: true');
  return `Basic ${Buffer.from(key).toString('base64')}`;
}

// One keep-alive agent per scheme for the life of the runtime process: node's http client costs far less
// CPU per request than fetch, which matters when every sensor message is an activation.
const agents = {};

function request(url, method, headers, payload) {
  const mod = url.protocol === 'https:' ? require('https') : require('http');
  agents[url.protocol] = agents[url.protocol] || new mod.Agent({ keepAlive: true });
  return new Promise((resolve, reject) => {
    const req = mod.request(url, { method, headers, agent: agents[url.protocol] }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

/** The activation's API host and authorization, read from its environment. */
function connection() {
  return { base: apiBase(), auth: authHeader() };
}

/** Calls the agent's API; returns the parsed JSON body or throws with the API's own error text. */
async function callApi(method, path, body, conn = connection()) {
  const url = new URL(`${conn.base}${path}`);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const headers = { authorization: conn.auth, accept: 'application/json' };
  if (payload !== undefined) {
    headers['content-type'] = 'application/json';
    headers['content-length'] = Buffer.byteLength(payload);
  }
  let resp;
  try {
    resp = await request(url, method, headers, payload);
  } catch (e) {
    throw new Error(`telemetry API unreachable: ${e.cause ? e.cause.message : e.message}`);
  }
  const { status, text } = resp;
  let json;
  try {
    json = text ? JSON.parse(text) : {};
  } catch (_) {
    json = undefined;
  }
  if (status < 200 || status > 299) {
    const detail = json && typeof json.error === 'string' ? json.error : text.slice(0, 200);
    throw new Error(`telemetry API answered ${status} to ${method} ${path}: ${detail}`);
  }
  if (json === undefined) throw new Error(`telemetry API answered ${method} ${path} with a body that is not JSON`);
  return json;
}

const READINGS_PATH = '/api/v1/namespaces/_/telemetry/readings';

// Activations running at once in this process (limits.concurrency) share one write: their readings go
// in one request, sent on the next turn of the event loop, and each activation gets its own outcome
// back from the duplicate positions the API reports. Only activations with the same API host and key
// share a request. If the shared request fails, each activation writes its own readings alone, so one
// bad batch-mate cannot fail the others.
const batches = new Map();

function writeReadings(readings) {
  const conn = connection();
  const key = `${conn.base} ${conn.auth}`;
  let batch = batches.get(key);
  if (!batch) {
    batch = [];
    batches.set(key, batch);
    setImmediate(() => {
      batches.delete(key);
      flush(batch, conn);
    });
  }
  return new Promise((resolve, reject) => batch.push({ readings, resolve, reject }));
}

async function writeAlone(item, conn) {
  try {
    const out = await callApi('POST', READINGS_PATH, { readings: item.readings }, conn);
    item.resolve({ written: out.written, duplicates: out.duplicates });
  } catch (e) {
    item.reject(e);
  }
}

async function flush(batch, conn) {
  if (batch.length === 1) return writeAlone(batch[0], conn);
  let out;
  try {
    out = await callApi('POST', READINGS_PATH, { readings: batch.flatMap((i) => i.readings) }, conn);
  } catch (_) {
    return Promise.all(batch.map((item) => writeAlone(item, conn)));
  }
  const dup = new Set(Array.isArray(out.duplicate_indexes) ? out.duplicate_indexes : []);
  let at = 0;
  for (const item of batch) {
    let duplicates = 0;
    for (let i = 0; i < item.readings.length; i++) if (dup.has(at + i)) duplicates++;
    at += item.readings.length;
    item.resolve({ written: item.readings.length - duplicates, duplicates });
  }
}

async function main(params) {
  const p = params || {};
  if (p.type === 'status') return { ok: true, ignored: 'status' };
  if (p.type !== 'message') {
    return { error: `unexpected trigger payload: type must be "message" or "status", got ${JSON.stringify(p.type)}` };
  }
  let parsed;
  try {
    parsed = parseMessage(p.body, Date.now(), { topic: p.topic === undefined ? null : p.topic, retentionDays: Number(p.retention_days) });
  } catch (e) {
    if (e instanceof MessageError) {
      const where = typeof p.topic === 'string' ? ` (topic ${p.topic})` : '';
      return { error: `bad sensor message${where}: ${e.message}` };
    }
    throw e;
  }
  try {
    const out = await writeReadings(parsed.readings);
    return { written: out.written, duplicates: out.duplicates, device: parsed.device, datacenter_id: parsed.datacenter_id };
  } catch (e) {
    return { error: e.message };
  }
}

module.exports = { main, parseMessage, callApi, writeReadings, MessageError, MAX_BODY_BYTES, MAX_FUTURE_MS };
