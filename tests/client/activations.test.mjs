// Activations API: list order and summaries, filters (name incl. pkg/action, since,
// upto, skip, limit, docs, count), get, /logs, /result, id validation.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { useAgent, uniqueName, rejectsWith, assertError, sleep, waitFor, LOG_LINE } from './helpers.mjs';

const ctx = useAgent();
const act = uniqueName('acta');
const pkg = uniqueName('actpkg');
const records = []; // blocking activations of `act`, oldest first
let packaged;

before(async () => {
  await ctx.ready;
  await ctx.ow.actions.create({ name: act, action: 'function main(p) { console.log("run " + p.i); return { i: p.i }; }' });
  await ctx.ow.packages.create({ name: pkg });
  await ctx.ow.actions.create({ name: `${pkg}/inner`, action: 'function main() { return { inner: true }; }' });
  for (let i = 0; i < 4; i += 1) {
    records.push(await ctx.ow.actions.invoke({ name: act, params: { i }, blocking: true }));
    await sleep(5); // distinct start times, so since/upto bounds fall strictly between records
  }
  packaged = await ctx.ow.actions.invoke({ name: `${pkg}/inner`, blocking: true });
  // records may be stored just after the blocking response; wait until all are listed
  await waitFor(async () => (await ctx.ow.activations.list({ count: true })).activations >= records.length + 1,
    { message: 'all activation records stored' });
});

test('list returns summaries, newest first', async () => {
  const list = await ctx.ow.activations.list({ limit: 200 });
  const ids = list.map((a) => a.activationId);
  const mine = records.map((r) => r.activationId).reverse();
  assert.deepEqual(ids.filter((id) => mine.includes(id)), mine);
  assert.equal(ids[0], packaged.activationId);
  for (let i = 1; i < list.length; i += 1) assert.ok(list[i - 1].start >= list[i].start, 'descending by start');
  const row = list.find((a) => a.activationId === records[0].activationId);
  assert.equal(row.name, act);
  assert.equal(row.namespace, 'guest');
  assert.equal(row.version, '0.0.1');
  assert.equal(typeof row.start, 'number');
  assert.equal(typeof row.end, 'number');
  assert.equal(typeof row.duration, 'number');
  assert.equal(row.statusCode, 0);
  assert.ok(Array.isArray(row.annotations));
  assert.equal(row.response, undefined, 'summaries carry no response');
  assert.equal(row.logs, undefined, 'summaries carry no logs');
});

test('name filter, including pkg/action', async () => {
  const byName = await ctx.ow.activations.list({ name: act, limit: 200 });
  assert.deepEqual(byName.map((a) => a.activationId), records.map((r) => r.activationId).reverse());
  const byPkg = await ctx.ow.activations.list({ name: `${pkg}/inner`, limit: 200 });
  assert.deepEqual(byPkg.map((a) => a.activationId), [packaged.activationId]);
  assert.deepEqual(await ctx.ow.activations.list({ name: uniqueName('none') }), []);
});

test('limit and skip page through the list', async () => {
  const ids = records.map((r) => r.activationId).reverse();
  const page1 = await ctx.ow.activations.list({ name: act, limit: 2 });
  assert.deepEqual(page1.map((a) => a.activationId), ids.slice(0, 2));
  const page2 = await ctx.ow.activations.list({ name: act, limit: 2, skip: 2 });
  assert.deepEqual(page2.map((a) => a.activationId), ids.slice(2, 4));
  const res = await ctx.agent.request('GET', '/api/v1/namespaces/_/activations?limit=201');
  assertError(res, 400, "The value '201' is not in the range of 0 to 200 for activations.");
});

test('since and upto bound the start time', async () => {
  const mid = (a, b) => Math.floor((a.start + b.start) / 2);
  assert.ok(records[2].start - records[1].start >= 2, 'records are apart');
  const since = mid(records[0], records[1]);
  const upto = mid(records[2], records[3]);
  const between = await ctx.ow.activations.list({ name: act, since, upto, limit: 200 });
  assert.deepEqual(between.map((a) => a.activationId), [records[2].activationId, records[1].activationId]);
  const after = await ctx.ow.activations.list({ name: act, since: mid(records[2], records[3]) });
  assert.deepEqual(after.map((a) => a.activationId), [records[3].activationId]);
});

test('docs=true returns full records', async () => {
  const docs = await ctx.ow.activations.list({ name: act, docs: true, limit: 1 });
  assert.equal(docs.length, 1);
  assert.equal(docs[0].activationId, records[3].activationId);
  assert.deepEqual(docs[0].response.result, { i: 3 });
  assert.equal(docs[0].response.success, true);
  assert.ok(Array.isArray(docs[0].logs));
});

test('count=true counts, and refuses docs', async () => {
  assert.deepEqual(await ctx.ow.activations.list({ name: act, count: true }), { activations: 4 });
  const all = await ctx.ow.activations.list({ limit: 200 });
  assert.deepEqual(await ctx.ow.activations.list({ count: true }), { activations: all.length });
  const res = await ctx.agent.request('GET', '/api/v1/namespaces/_/activations?count=true&docs=true');
  assertError(res, 400, "The parameter 'docs' is not permitted with 'count'.");
});

test('get, logs and result of one activation', async () => {
  const id = records[1].activationId;
  const full = await ctx.ow.activations.get({ name: id });
  assert.equal(full.activationId, id);
  assert.equal(full.name, act);
  assert.deepEqual(full.response, records[1].response);
  const logs = await ctx.ow.activations.logs({ activationId: id });
  assert.deepEqual(Object.keys(logs), ['logs']);
  assert.equal(logs.logs.length, 1);
  const m = LOG_LINE.exec(logs.logs[0]);
  assert.ok(m, `log line shape: ${logs.logs[0]}`);
  assert.equal(m[2], 'stdout');
  assert.equal(m[3], 'run 1');
  const result = await ctx.ow.activations.result({ activation: id });
  assert.equal(result.status, 'success');
  assert.equal(result.success, true);
  assert.deepEqual(result.result, { i: 1 });
});

test('activation ids are validated; unknown ids are 404', async () => {
  assertError(await ctx.agent.request('GET', '/api/v1/namespaces/_/activations/not-an-id'), 400);
  assertError(await ctx.agent.request('GET', '/api/v1/namespaces/_/activations/0123'), 400);
  await rejectsWith(ctx.ow.activations.get({ name: '0123456789abcdef0123456789abcdef' }), 404);
  await rejectsWith(ctx.ow.activations.logs({ name: '0123456789abcdef0123456789abcdef' }), 404);
  await rejectsWith(ctx.ow.activations.result({ name: '0123456789abcdef0123456789abcdef' }), 404);
});

test('failed activations appear with their status code', async () => {
  const bad = uniqueName('actbad');
  await ctx.ow.actions.create({ name: bad, action: 'function main() { return { error: "nope" }; }' });
  const body = await rejectsWith(ctx.ow.actions.invoke({ name: bad, blocking: true }), 502, { standardBody: false });
  const row = await waitFor(async () => (await ctx.ow.activations.list({ name: bad }))[0], { message: 'listed' });
  assert.equal(row.activationId, body.activationId);
  assert.equal(row.statusCode, 1);
  const result = await ctx.ow.activations.result({ name: body.activationId });
  assert.equal(result.status, 'application error');
  assert.equal(result.success, false);
  assert.deepEqual(result.result, { error: 'nope' });
});
