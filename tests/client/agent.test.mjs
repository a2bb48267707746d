// Agent lifecycle and API basics: startup contract (wskprops), GET /api/v1 and GET /,
// namespaces, limits, CORS, `namespaces create`, and the SIGTERM shutdown contract.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { startAgent, useAgent, agentBinary, waitFor } from './helpers.mjs';

const ctx = useAgent();

test('the harness fails clearly when the agent binary is missing', async () => {
  const saved = process.env.FOGWHISK_EDGE_BIN;
  process.env.FOGWHISK_EDGE_BIN = '/nonexistent/fogwhisk-edge';
  try {
    assert.equal(agentBinary(), '/nonexistent/fogwhisk-edge');
    await assert.rejects(startAgent(), /agent binary not found: \/nonexistent\/fogwhisk-edge/);
  } finally {
    if (saved === undefined) delete process.env.FOGWHISK_EDGE_BIN;
    else process.env.FOGWHISK_EDGE_BIN = saved;
  }
});

test('GET /api/v1 answers the API info object without authentication', async () => {
  const res = await ctx.agent.request('GET', '/api/v1', { auth: false });
  assert.equal(res.status, 200);
  assert.equal(res.body.description, 'OpenWhisk API');
  assert.equal(res.body.api_version_path, 'v1');
  assert.equal(typeof res.body.api_version, 'string');
});

test('GET / answers the platform info with limits and runtimes', async () => {
  const res = await ctx.agent.request('GET', '/', { auth: false });
  assert.equal(res.status, 200);
  assert.equal(res.body.description, 'OpenWhisk');
  assert.deepEqual(res.body.api_paths, ['/api/v1']);
  assert.equal(typeof res.body.limits, 'object');
  for (const key of ['actions_per_minute', 'triggers_per_minute', 'concurrent_actions', 'sequence_length']) {
    assert.equal(typeof res.body.limits[key], 'number', `limits.${key}`);
  }
  assert.equal(res.body.limits.sequence_length, 50);
  assert.ok(Array.isArray(res.body.runtimes.nodejs), 'runtimes.nodejs');
  assert.ok(Array.isArray(res.body.runtimes.python), 'runtimes.python');
  const kinds = Object.values(res.body.runtimes).flat().map((r) => r.kind);
  assert.ok(kinds.includes('python:3.11'), `python:3.11 in ${kinds}`);
});

test('namespaces.list returns the caller namespace only', async () => {
  assert.deepEqual(await ctx.ow.namespaces.list(), ['guest']);
  assert.deepEqual(await ctx.agent.systemClient().namespaces.list(), ['whisk.system']);
});

test('namespaces.get lists the four collections of _', async () => {
  const all = await ctx.ow.namespaces.get();
  for (const key of ['actions', 'packages', 'triggers', 'rules']) assert.ok(Array.isArray(all[key]), key);
});

test('GET /namespaces/_/limits reflects the configured limits', async () => {
  const res = await ctx.agent.request('GET', '/api/v1/namespaces/_/limits');
  assert.equal(res.status, 200);
  // useAgent() configures these through FOGWHISK_EDGE_LIMITS__* (see RELAXED_LIMITS)
  assert.equal(res.body.invocationsPerMinute, 10000);
  assert.equal(res.body.concurrentInvocations, 1000);
  assert.equal(res.body.firesPerMinute, 10000);
  assert.equal(res.body.maxActionTimeout, 300000);
  assert.equal(res.body.minActionTimeout, 100);
});

test('OPTIONS under /api/v1 answers CORS headers without authentication', async () => {
  for (const path of ['/api/v1/namespaces/_/actions', '/api/v1/namespaces/_/actions/anything', '/api/v1']) {
    const res = await ctx.agent.request('OPTIONS', path, { auth: false });
    assert.equal(res.status, 200, `OPTIONS ${path}`);
    assert.equal(res.headers.get('access-control-allow-origin'), '*');
    const methods = res.headers.get('access-control-allow-methods').split(',').map((s) => s.trim());
    for (const m of ['GET', 'DELETE', 'POST', 'PUT', 'HEAD']) assert.ok(methods.includes(m), `${m} in ${methods}`);
    const headers = res.headers.get('access-control-allow-headers').toLowerCase().split(',').map((s) => s.trim());
    for (const h of ['authorization', 'content-type']) assert.ok(headers.includes(h), `${h} in ${headers}`);
  }
});

test('namespaces create makes a namespace whose key works and is isolated', async () => {
  const key = await ctx.agent.createNamespace('tenant-a');
  const other = ctx.agent.client(key);
  assert.deepEqual(await other.namespaces.list(), ['tenant-a']);
  const created = await other.actions.create({ name: 'mine', action: 'function main(){return {}}' });
  assert.equal(created.namespace, 'tenant-a');
  const guestNames = (await ctx.ow.actions.list()).map((a) => a.name);
  assert.ok(!guestNames.includes('mine'), 'guest must not see tenant-a actions');
});

test('a second agent starts independently and stops with status 0 on SIGTERM', async () => {
  const second = await startAgent();
  assert.notEqual(second.apihost, ctx.agent.apihost);
  assert.deepEqual(await second.client().namespaces.list(), ['guest']);
  await second.stop();
  assert.equal(second.exit.code, 0);
});

test('entities, keys and activations survive a restart on the same data folder', async () => {
  const first = await startAgent();
  let second;
  try {
    const ow = first.client();
    await ow.actions.create({ name: 'durable', action: 'function main(p) { return { again: p.n }; }' });
    await ow.triggers.create({ name: 'durable-trigger' });
    const act = await ow.actions.invoke({ name: 'durable', params: { n: 1 }, blocking: true });
    await first.stop({ keepData: true });
    second = await startAgent({ dataDir: first.dataDir });
    assert.equal(second.auth, first.auth, 'the guest key is kept');
    assert.equal(second.systemAuth, first.systemAuth, 'the whisk.system key is kept');
    const ow2 = second.client();
    assert.equal((await ow2.actions.get({ name: 'durable' })).name, 'durable');
    assert.equal((await ow2.triggers.get({ name: 'durable-trigger' })).name, 'durable-trigger');
    const old = await ow2.activations.get({ name: act.activationId });
    assert.deepEqual(old.response.result, { again: 1 });
    assert.deepEqual(await ow2.actions.invoke({ name: 'durable', params: { n: 2 }, blocking: true, result: true }), { again: 2 });
    const utils = await ow2.packages.get({ name: '/whisk.system/utils' });
    assert.equal(utils.actions.length, 6, 'system packages are not duplicated on restart');
  } finally {
    if (second) await second.stop();
    else if (!first.exit) await first.stop();
  }
});

/** True while /proc/<pid> is a live (non-zombie) process. */
function alive(pid) {
  if (!existsSync(`/proc/${pid}`)) return false;
  try {
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

test('SIGTERM with an activation in flight still exits 0 in time and leaves no runtime behind', async () => {
  const agent = await startAgent();
  let stopped = false;
  try {
    const ow = agent.client();
    await ow.actions.create({ name: 'pid', action: 'function main() { return { pid: process.pid }; }' });
    await ow.actions.create({ name: 'slow', action: 'function main() { return new Promise((r) => setTimeout(() => r({}), 120000)); }' });
    const warmPid = (await ow.actions.invoke({ name: 'pid', blocking: true, result: true })).pid;
    assert.ok(alive(warmPid), 'the warm runtime process is alive while the agent runs');
    const slow = await agent.request('POST', '/api/v1/namespaces/_/actions/slow', { body: {} });
    assert.equal(slow.status, 202);
    // a blocking request is also left hanging; its connection simply ends at shutdown
    const hanging = agent.request('POST', '/api/v1/namespaces/_/actions/slow?blocking=true', { body: {} }).catch((e) => e);
    await waitFor(async () => (await ow.activations.list({ count: true })).activations >= 1, { message: 'first record' });
    stopped = true;
    await agent.stop(); // asserts exit code 0 within 10 s
    await hanging;
    await waitFor(() => !alive(warmPid), { timeout: 5000, message: `runtime process ${warmPid} to end with the agent` });
  } finally {
    if (!stopped) await agent.stop();
  }
});

test('rule status changes accept the wsk CLI body shape', async () => {
  const ow = ctx.ow;
  await ow.triggers.create({ name: 'cli-trg' });
  await ow.actions.create({ name: 'cli-act', action: 'function main(p) { return p; }' });
  await ow.rules.create({ name: 'cli-rule', trigger: 'cli-trg', action: 'cli-act' });
  const off = await ctx.agent.request('POST', '/api/v1/namespaces/_/rules/cli-rule',
    { body: { status: 'inactive', trigger: null, action: null } });
  assert.equal(off.status, 200, off.text);
  assert.equal((await ow.rules.get({ name: 'cli-rule' })).status, 'inactive');
  const created = await ctx.agent.request('PUT', '/api/v1/namespaces/_/triggers/cli-trg2?overwrite=false', { body: { name: 'cli-trg2' } });
  assert.equal(created.status, 200, created.text);
  const res = await ctx.agent.request('POST', '/api/v1/namespaces/_/actions/cli-act?blocking=true&result=false', { body: { k: 1 } });
  assert.equal(res.status, 200);
  assert.deepEqual(res.body.response.result, { k: 1 });
});
