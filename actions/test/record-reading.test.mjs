// record-reading: valid messages become readings written through the telemetry API; every class
// of bad message is an application error with a clear message and writes nothing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { startApi, useApi, KEY } from './helpers.mjs';

const require = createRequire(import.meta.url);
const { main, MAX_BODY_BYTES } = require('../record-reading.js');

let api;
const stored = new Set();
let nextAnswer = null;

before(async () => {
  api = await startApi((r) => {
    if (nextAnswer) {
      const a = nextAnswer;
      nextAnswer = null;
      return a;
    }
    let written = 0;
    let duplicates = 0;
    const duplicate_indexes = [];
    r.body.readings.forEach((x, i) => {
      const k = `${x.datacenter_id}/${x.device}/${x.metric}/${x.ts}`;
      if (stored.has(k)) { duplicates += 1; duplicate_indexes.push(i); } else { stored.add(k); written += 1; }
    });
    return [200, { written, duplicates, duplicate_indexes }];
  });
  useApi(api.url);
});
after(() => api.close());

// The topic a device publishes on; a message object goes to its own device's topic unless told otherwise.
const topicOf = (o) => (typeof o === 'object' && o.datacenter_id !== undefined && typeof o.device_fingerprint === 'string'
  ? `telemetry/${o.datacenter_id}/${o.device_fingerprint}` : 'telemetry/7/9A3F21');
const msg = (o, topic = topicOf(o)) => ({ type: 'message', topic, body: typeof o === 'string' ? o : JSON.stringify(o) });
// An hour ago, in whole epoch seconds: within the retention and not ahead of the clock.
const TS = Math.floor(Date.now() / 1000) - 3600;
const good = { device_fingerprint: '9A3F21', datacenter_id: 7, temperature: 21.4, humidity: 48.0, gas_perc: 12.5, ts: TS };

test('a valid message writes one reading per metric with ts in milliseconds', async () => {
  const n = api.requests.length;
  const out = await main(msg(good));
  assert.deepEqual(out, { written: 3, duplicates: 0, device: '9A3F21', datacenter_id: 7 });
  const req = api.requests[n];
  assert.equal(req.method, 'POST');
  assert.equal(req.url.pathname, '/api/v1/namespaces/_/telemetry/readings');
  assert.equal(req.headers.authorization, `Basic ${Buffer.from(KEY).toString('base64')}`);
  assert.deepEqual(req.body, {
    readings: [
      { datacenter_id: 7, device: '9A3F21', metric: 'temperature', value: 21.4, ts: TS * 1000 },
      { datacenter_id: 7, device: '9A3F21', metric: 'humidity', value: 48, ts: TS * 1000 },
      { datacenter_id: 7, device: '9A3F21', metric: 'gas_perc', value: 12.5, ts: TS * 1000 },
    ],
  });
  const again = await main(msg(good));
  assert.deepEqual(again, { written: 0, duplicates: 3, device: '9A3F21', datacenter_id: 7 });
});

test('without ts the receive time counts', async () => {
  const t0 = Date.now();
  const out = await main(msg({ device_fingerprint: 'AA', datacenter_id: 0, temperature: -3 }));
  const t1 = Date.now();
  assert.equal(out.written, 1);
  const ts = api.requests.at(-1).body.readings[0].ts;
  assert.ok(ts >= t0 && ts <= t1, `${ts} not in [${t0}, ${t1}]`);
});

test('status payloads are acknowledged without a write', async () => {
  const n = api.requests.length;
  assert.deepEqual(await main({ type: 'status', body: 'connected' }), { ok: true, ignored: 'status' });
  assert.deepEqual(await main({ type: 'status', body: 'disconnected' }), { ok: true, ignored: 'status' });
  assert.equal(api.requests.length, n);
});

const bad = [
  ['not JSON', msg('{"device_fingerprint": "9A3F21", datacenter_id'), /not JSON/],
  ['NaN literal', msg('{"device_fingerprint":"9A3F21","datacenter_id":7,"temperature":NaN}'), /NaN or Infinity/],
  ['Infinity literal', msg('{"device_fingerprint":"9A3F21","datacenter_id":7,"temperature":-Infinity}'), /NaN or Infinity/],
  ['string metric', msg({ ...good, temperature: '21.4' }), /metric "temperature" must be a number, got string "21.4"/],
  ['"NaN" string metric', msg({ ...good, humidity: 'NaN' }), /metric "humidity" must be a number, got string/],
  ['null metric', msg({ ...good, gas_perc: null }), /metric "gas_perc" must be a number, got null/],
  ['string datacenter', msg({ ...good, datacenter_id: '7' }), /datacenter_id must be a number, got string "7"/],
  ['negative datacenter', msg({ ...good, datacenter_id: -1 }), /datacenter_id must be an integer from 0/],
  ['fractional datacenter', msg({ ...good, datacenter_id: 1.5 }), /datacenter_id must be an integer/],
  ['missing device', msg({ datacenter_id: 7, temperature: 1 }), /missing field device_fingerprint/],
  ['numeric device', msg({ ...good, device_fingerprint: 42 }), /device_fingerprint must be a string, got number/],
  ['empty device', msg({ ...good, device_fingerprint: '' }), /device_fingerprint must be 1 to 256 bytes/],
  ['missing datacenter', msg({ device_fingerprint: 'A', temperature: 1 }), /missing field datacenter_id/],
  ['string ts', msg({ ...good, ts: '1732350000' }), /ts must be a number of epoch seconds, got string/],
  ['negative ts', msg({ ...good, ts: -1 }), /ts must be epoch seconds from 0/],
  ['no metrics', msg({ device_fingerprint: 'A', datacenter_id: 1 }), /no metric fields/],
  ['bad metric name', msg({ device_fingerprint: 'A', datacenter_id: 1, 'gas perc': 3 }), /metric name "gas perc" is invalid/],
  ['array body', msg('[1,2,3]'), /must be a JSON object, got array/],
  ['number body', msg('42'), /must be a JSON object, got number/],
  ['oversize', msg(JSON.stringify({ ...good, pad: 'x'.repeat(MAX_BODY_BYTES) })), /larger than the 16384-byte limit/],
  ['not UTF-8', msg('{"device_fingerprint":"\uFFFD\uFFFD","datacenter_id":7,"temperature":1}'), /not valid UTF-8/],
  ['missing body', { type: 'message', topic: 't' }, /message body must be text, got undefined/],
  ['unknown payload type', { type: 'weird', body: '{}' }, /type must be "message" or "status"/],
  ['no payload type', { body: JSON.stringify(good) }, /type must be "message" or "status"/],
  // One device's credentials publish only on its own topic: a body naming another device or datacenter is refused.
  ['other device than the topic', msg({ ...good, device_fingerprint: 'FFFFFF' }, 'telemetry/7/9A3F21'), /device_fingerprint "FFFFFF" disagrees with the topic's device "9A3F21"/],
  ['other datacenter than the topic', msg({ ...good, datacenter_id: 8 }, 'telemetry/7/9A3F21'), /datacenter_id 8 disagrees with the topic's datacenter 7/],
  ['topic not telemetry/<dc>/<device>', msg(good, 'telemetry/7'), /topic "telemetry\/7" is not telemetry\/<datacenter_id>\/<device_fingerprint>/],
  ['topic with a non-numeric datacenter', msg(good, 'telemetry/x/9A3F21'), /is not telemetry\/<datacenter_id>/],
  ['no topic', { type: 'message', body: JSON.stringify(good) }, /topic null is not telemetry/],
  // Reading times: not ahead of the site's clock by more than five minutes, not older than the retention.
  ['ts an hour ahead', msg({ ...good, ts: Math.floor(Date.now() / 1000) + 3600 }), /ahead of the site's clock/],
  ['ts in year 9999', msg({ ...good, ts: 253402300799 }), /ahead of the site's clock/],
  ['ts of 1970', msg({ ...good, ts: 0 }), /older than the telemetry retention \(90 days\)/],
  ['ts 91 days old', msg({ ...good, ts: Math.floor(Date.now() / 1000) - 91 * 86400 }), /older than the telemetry retention/],
  ['ts older than a bound retention', { ...msg({ ...good, ts: Math.floor(Date.now() / 1000) - 8 * 86400 }), retention_days: 7 }, /older than the telemetry retention \(7 days\)/],
];

for (const [name, params, pattern] of bad) {
  test(`bad message: ${name}`, async () => {
    const n = api.requests.length;
    const out = await main(params);
    assert.equal(typeof out.error, 'string', JSON.stringify(out));
    assert.match(out.error, pattern);
    assert.deepEqual(Object.keys(out), ['error']);
    assert.equal(api.requests.length, n, 'a bad message writes nothing');
  });
}

test('errors of the telemetry API are reported, not swallowed', async () => {
  nextAnswer = [400, { error: 'reading 0: invalid value: NaN is not a finite number', code: 'invalid_reading' }];
  const out = await main(msg({ ...good, ts: TS + 1 }));
  assert.match(out.error, /telemetry API answered 400 .*reading 0: invalid value/);
  nextAnswer = [503, 'not json at all'];
  assert.match((await main(msg({ ...good, ts: TS + 2 }))).error, /answered 503 .*not json at all/);
});

test('an unreachable API is an application error', async () => {
  const saved = process.env.__OW_API_HOST;
  process.env.__OW_API_HOST = 'http://127.0.0.1:1';
  try {
    const out = await main(msg(good));
    assert.match(out.error, /telemetry API unreachable/);
  } finally {
    process.env.__OW_API_HOST = saved;
  }
  delete process.env.__OW_API_KEY;
  try {
    assert.match((await main(msg(good))).error, /provide-api-key/);
  } finally {
    useApi(api.url);
  }
});

test('concurrent activations share one request and each gets its own outcome', async () => {
  const n = api.requests.length;
  const dev = (d, ts) => msg({ ...good, device_fingerprint: d, ts });
  await main(dev('C0FFEE', TS + 100)); // stored before: its three readings come back as duplicates
  const outs = await Promise.all([dev('C0FFEE', TS + 100), dev('BEEF01', TS + 100), dev('BEEF02', TS + 100)].map(main));
  assert.deepEqual(outs.map((o) => [o.device, o.written, o.duplicates]), [['C0FFEE', 0, 3], ['BEEF01', 3, 0], ['BEEF02', 3, 0]]);
  assert.equal(api.requests.length, n + 2, 'one request for the three concurrent activations');
  assert.equal(api.requests.at(-1).body.readings.length, 9);
});

test('a shared request that fails is retried one activation at a time', async () => {
  const n = api.requests.length;
  nextAnswer = [400, { error: 'reading 4 is invalid', code: 'x' }];
  const outs = await Promise.all(['F00D01', 'F00D02'].map((d) => main(msg({ ...good, device_fingerprint: d, ts: TS + 200 }))));
  assert.deepEqual(outs.map((o) => [o.device, o.written]), [['F00D01', 3], ['F00D02', 3]]);
  assert.equal(api.requests.length, n + 3, 'the shared request, then one per activation');
});
