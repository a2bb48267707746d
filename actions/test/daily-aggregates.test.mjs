// daily-aggregates: asks the telemetry API for pending complete days and returns {records}.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { startApi, useApi, KEY } from './helpers.mjs';

const require = createRequire(import.meta.url);
const { main } = require('../daily-aggregates.js');

const record = {
  datacenter_id: 7, metric: 'temperature', day: '2026-11-23', tz: 'Europe/Rome',
  count: 96, min: 18.5, max: 23, mean: 21.2, median: 21,
};
let api;
let answer = [200, { records: [record] }];

before(async () => {
  api = await startApi(() => answer);
  useApi(api.url);
});
after(() => api.close());

test('returns the pending records of the site zone, bounded by max_days', async () => {
  const out = await main({ tz: 'Europe/Rome', max_days: 3 });
  assert.deepEqual(out, { records: [record] });
  const req = api.requests.at(-1);
  assert.equal(req.method, 'GET');
  assert.equal(req.url.pathname, '/api/v1/namespaces/_/telemetry/daily');
  assert.deepEqual(Object.fromEntries(req.url.searchParams), { tz: 'Europe/Rome', pending: 'true', max_days: '3' });
  assert.equal(req.headers.authorization, `Basic ${Buffer.from(KEY).toString('base64')}`);
});

test('max_days defaults to 7 and an empty answer is an empty list', async () => {
  answer = [200, { records: [] }];
  assert.deepEqual(await main({ tz: 'America/New_York' }), { records: [] });
  const q = api.requests.at(-1).url.searchParams;
  assert.equal(q.get('max_days'), '7');
  assert.equal(q.get('tz'), 'America/New_York');
});

test('bad parameters are application errors and call nothing', async () => {
  const n = api.requests.length;
  assert.match((await main({})).error, /parameter tz .* is required/);
  assert.match((await main({ tz: 'Europe/Rome', max_days: 0 })).error, /max_days must be an integer from 1 to 366/);
  assert.match((await main({ tz: 'Europe/Rome', max_days: 'lots' })).error, /max_days must be an integer/);
  assert.equal(api.requests.length, n);
});

test('API errors are reported', async () => {
  answer = [400, { error: 'unknown time zone "Mars/Olympus"', code: 'invalid_tz' }];
  assert.match((await main({ tz: 'Mars/Olympus' })).error, /answered 400: unknown time zone "Mars\/Olympus"/);
  answer = [200, { nope: true }];
  assert.match((await main({ tz: 'Europe/Rome' })).error, /no records array/);
  answer = [200, { records: [record] }];
});
