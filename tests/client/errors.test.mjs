// Error statuses, each reached by a real request, and the error body shape {error, code}:
// 400 (bad JSON, types, names, kinds, exec, limits), 401, 403, 404, 409, 413. Ends by
// checking that the agent survived all of it.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { useAgent, uniqueName, rejectsWith, assertError } from './helpers.mjs';

const ctx = useAgent();
const CODE = 'function main(p) { return p; }';
const put = (coll, name, body, q = '') =>
  ctx.agent.request('PUT', `/api/v1/namespaces/_/${coll}/${encodeURIComponent(name)}${q}`, { body });
const exec = { kind: 'nodejs:20', code: CODE };

test('400: malformed JSON bodies', async () => {
  for (const [coll, body] of [['actions', '{"exec": {'], ['triggers', 'not json'], ['packages', '[1,'], ['rules', '{']]) {
    assertError(await put(coll, uniqueName('badjson'), body), 400);
  }
  const name = uniqueName('inv');
  await ctx.ow.actions.create({ name, action: CODE });
  assertError(await ctx.agent.request('POST', `/api/v1/namespaces/_/actions/${name}?blocking=true`, { body: '{oops' }), 400);
  assertError(await ctx.agent.request('POST', `/api/v1/namespaces/_/actions/${name}?blocking=true`, { body: '[1,2]' }), 400);
});

test('400: wrong field types', async () => {
  assertError(await put('actions', uniqueName('t'), { exec: 'nodejs' }), 400);
  assertError(await put('actions', uniqueName('t'), { exec, parameters: { a: 1 } }), 400);
  assertError(await put('actions', uniqueName('t'), { exec, annotations: 'x' }), 400);
  assertError(await put('actions', uniqueName('t'), { exec, publish: 'yes' }), 400);
  assertError(await put('actions', uniqueName('t'), { exec, limits: { timeout: 'long' } }), 400);
  assertError(await put('actions', uniqueName('t'), { exec: { kind: 'nodejs:20', code: 42 } }), 400);
  assertError(await put('triggers', uniqueName('t'), { parameters: 'p' }), 400);
  assertError(await put('packages', uniqueName('t'), { binding: 42 }), 400);
});

test('400: bad entity names', async () => {
  for (const bad of ['-leading-dash', 'has!bang', 'trailing ', 'semi;colon', 'x'.repeat(257)]) {
    assertError(await put('actions', bad, { exec }), 400);
    assertError(await ctx.agent.request('GET', `/api/v1/namespaces/_/triggers/${encodeURIComponent(bad)}`), 400);
  }
  const ok = await put('actions', 'x'.repeat(256), { exec });
  assert.equal(ok.status, 200, 'a 256-character name is allowed');
});

test('400: unknown kind and missing exec', async () => {
  const res = await put('actions', uniqueName('k'), { exec: { kind: 'cobol:1', code: CODE } });
  assertError(res, 400, "The specified runtime 'cobol:1' is not supported by this platform.");
  assertError(await put('actions', uniqueName('k'), {}), 400, 'exec undefined');
  assertError(await put('actions', uniqueName('k'), { exec: { kind: 'nodejs:20' } }), 400);
  assertError(await put('actions', uniqueName('k'), { exec: { kind: 'sequence' } }), 400);
});

test('400: limits outside their ranges', async () => {
  for (const limits of [{ timeout: 99 }, { timeout: 300001 }, { memory: 127 }, { memory: 513 }, { logs: 11 }, { logs: -1 }, { concurrency: 0 }]) {
    assertError(await put('actions', uniqueName('lim'), { exec, limits }), 400);
  }
  const ok = await put('actions', uniqueName('lim'), { exec, limits: { timeout: 100, memory: 512, logs: 0 } });
  assert.equal(ok.status, 200, ok.text);
  assert.deepEqual([ok.body.limits.timeout, ok.body.limits.memory, ok.body.limits.logs], [100, 512, 0]);
});

test('400: bad list parameters', async () => {
  assertError(await ctx.agent.request('GET', '/api/v1/namespaces/_/triggers?limit=-1'), 400);
  assertError(await ctx.agent.request('GET', '/api/v1/namespaces/_/rules?skip=-1'), 400);
  assertError(await ctx.agent.request('GET', '/api/v1/namespaces/_/packages?limit=abc'), 400);
});

test('401: missing or wrong credentials', async () => {
  assertError(await ctx.agent.request('GET', '/api/v1/namespaces/_/actions', { auth: false }), 401);
  const [uuid] = ctx.agent.auth.split(':');
  assertError(await ctx.agent.request('GET', '/api/v1/namespaces/_/actions', { auth: `${uuid}:wrongkey` }), 401);
  assertError(await ctx.agent.request('GET', '/api/v1/namespaces/_/actions',
    { auth: '00000000-0000-0000-0000-000000000000:abc' }), 401);
  assertError(await ctx.agent.request('GET', '/api/v1/namespaces', { auth: false, headers: { authorization: 'Bearer xyz' } }), 401);
  assertError(await ctx.agent.request('GET', '/api/v1/namespaces', { auth: false, headers: { authorization: 'Basic !!!' } }), 401);
  await rejectsWith(ctx.agent.client(`${uuid}:wrongkey`).actions.list(), 401);
});

test('403: another namespace entities are off limits', async () => {
  const key = await ctx.agent.createNamespace('stranger');
  const stranger = ctx.agent.client(key);
  const name = uniqueName('theirs');
  const trig = uniqueName('theirtrg');
  await stranger.actions.create({ name, action: CODE });
  await stranger.triggers.create({ name: trig });
  await rejectsWith(ctx.ow.actions.get({ name: `/stranger/${name}` }), 403,
    { message: 'The supplied authentication is not authorized to access this resource.' });
  await rejectsWith(ctx.ow.actions.invoke({ name: `/stranger/${name}`, blocking: true }), 403);
  await rejectsWith(ctx.ow.actions.delete({ name: `/stranger/${name}` }), 403);
  await rejectsWith(ctx.ow.triggers.invoke({ name: `/stranger/${trig}` }), 403);
  assertError(await ctx.agent.request('GET', '/api/v1/namespaces/stranger/actions'), 403);
  assertError(await ctx.agent.request('PUT', `/api/v1/namespaces/stranger/actions/${uniqueName('x')}`, { body: { exec } }), 403);
  // and the other way round
  await rejectsWith(stranger.actions.list({ namespace: 'guest' }), 403);
});

test('404: missing entities and unknown routes', async () => {
  const ghost = uniqueName('ghost');
  for (const coll of ['actions', 'triggers', 'rules', 'packages']) {
    assertError(await ctx.agent.request('GET', `/api/v1/namespaces/_/${coll}/${ghost}`), 404,
      'The requested resource does not exist.');
    assertError(await ctx.agent.request('DELETE', `/api/v1/namespaces/_/${coll}/${ghost}`), 404);
  }
  assertError(await ctx.agent.request('GET', `/api/v1/namespaces/_/actions/${ghost}/inner`), 404);
  assertError(await ctx.agent.request('GET', '/api/v1/namespaces/_/nonsense'), 404);
  assertError(await ctx.agent.request('GET', '/api/v1/nothing/here'), 404);
});

test('409: exists without overwrite, and kind mismatch', async () => {
  const name = uniqueName('dup');
  assert.equal((await put('triggers', name, {})).status, 200);
  assertError(await put('triggers', name, {}), 409, 'resource already exists');
  assertError(await put('actions', name, { exec }, '?overwrite=true'), 409,
    'Resource by this name exists but is not in this collection.');
  assertError(await put('packages', name, {}, '?overwrite=true'), 409);
  const pkg = uniqueName('dpkg');
  assert.equal((await put('packages', pkg, {})).status, 200);
  assertError(await put('packages', pkg, { binding: { namespace: 'whisk.system', name: 'utils' } }, '?overwrite=true'), 409,
    'Resource is a package and cannot be converted into a binding.');
});

test('413: oversized invoke payloads, parameters and code', async () => {
  const name = uniqueName('big');
  await ctx.ow.actions.create({ name, action: CODE });
  const big = { blob: 'x'.repeat(1024 * 1024 + 10) };
  assertError(await ctx.agent.request('POST', `/api/v1/namespaces/_/actions/${name}?blocking=true`, { body: big }), 413);
  const trig = uniqueName('bigtrg');
  await ctx.ow.triggers.create({ name: trig });
  assertError(await ctx.agent.request('POST', `/api/v1/namespaces/_/triggers/${trig}`, { body: big }), 413);
  assertError(await put('actions', uniqueName('bigp'), { exec, parameters: [{ key: 'blob', value: big.blob }] }), 413);
  // code may be large (up to 48 MB), larger is refused
  const bigCode = `${CODE}\n//${'c'.repeat(3 * 1024 * 1024)}`;
  const okRes = await put('actions', uniqueName('bigcode'), { exec: { kind: 'nodejs:20', code: bigCode } });
  assert.equal(okRes.status, 200, `3 MB of code is within the 48 MB limit: ${okRes.text.slice(0, 200)}`);
  const hugeCode = `${CODE}\n//${'c'.repeat(49 * 1024 * 1024)}`;
  assertError(await put('actions', uniqueName('hugecode'), { exec: { kind: 'nodejs:20', code: hugeCode } }), 413);
});

test('the agent survived all bad input', async () => {
  const res = await ctx.agent.request('GET', '/api/v1', { auth: false });
  assert.equal(res.status, 200);
  const name = uniqueName('alive');
  await ctx.ow.actions.create({ name, action: CODE });
  assert.deepEqual(await ctx.ow.actions.invoke({ name, params: { ok: 1 }, blocking: true, result: true }), { ok: 1 });
});
