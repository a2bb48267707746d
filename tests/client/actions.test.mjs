// Action entity CRUD through the official client: create/get/update/delete, versions,
// defaults added by the server, `code=false`, list paging/count, packaged actions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useAgent, uniqueName, rejectsWith, annotation, kv } from './helpers.mjs';

const ctx = useAgent();
const CODE = 'function main(params) { return { hello: params.name || "world" }; }';

test('create returns the full action document with server defaults', async () => {
  const name = uniqueName('act');
  const a = await ctx.ow.actions.create({ name, action: CODE });
  assert.equal(a.namespace, 'guest', '_ must resolve to guest');
  assert.equal(a.name, name);
  assert.equal(a.version, '0.0.1');
  assert.equal(a.publish, false);
  assert.match(a.exec.kind, /^nodejs:\d+$/, 'nodejs:default resolves to a concrete kind');
  assert.equal(a.exec.code, CODE);
  assert.equal(a.exec.binary, false);
  assert.deepEqual(a.parameters, []);
  assert.deepEqual({ timeout: a.limits.timeout, memory: a.limits.memory, logs: a.limits.logs, concurrency: a.limits.concurrency },
    { timeout: 60000, memory: 256, logs: 10, concurrency: 1 });
  assert.equal(annotation(a, 'exec'), a.exec.kind);
  assert.equal(annotation(a, 'provide-api-key'), false);
  assert.equal(typeof a.updated, 'number');
});

test('get returns the code unless code=false', async () => {
  const name = uniqueName('act');
  await ctx.ow.actions.create({ name, action: CODE, kind: 'nodejs:20' });
  const full = await ctx.ow.actions.get({ name });
  assert.equal(full.exec.kind, 'nodejs:20');
  assert.equal(full.exec.code, CODE);
  assert.equal(full.namespace, 'guest');
  const noCode = await ctx.ow.actions.get({ name, code: false });
  assert.equal(noCode.exec.code, undefined);
  assert.equal(noCode.exec.kind, 'nodejs:20');
});

test('create without overwrite on an existing action is 409', async () => {
  const name = uniqueName('act');
  await ctx.ow.actions.create({ name, action: CODE });
  await rejectsWith(ctx.ow.actions.create({ name, action: CODE }), 409, { message: 'resource already exists' });
});

test('update bumps the version, replaces parameters, merges annotations, keeps limits', async () => {
  const name = uniqueName('act');
  await ctx.ow.actions.create({
    name, action: CODE, params: { a: 1, b: 2 }, annotations: { first: 'x' },
    limits: { timeout: 5000, memory: 128 },
  });
  const updated = await ctx.ow.actions.update({ name, action: CODE, params: { c: 3 }, annotations: { second: 'y' } });
  assert.equal(updated.version, '0.0.2');
  assert.deepEqual(kv(updated.parameters), { c: 3 });
  assert.equal(annotation(updated, 'first'), 'x');
  assert.equal(annotation(updated, 'second'), 'y');
  assert.equal(annotation(updated, 'exec'), updated.exec.kind);
  assert.equal(updated.limits.timeout, 5000);
  assert.equal(updated.limits.memory, 128);
  const again = await ctx.ow.actions.update({ name, action: 'function main(){return {v:3}}' });
  assert.equal(again.version, '0.0.3');
  assert.equal(again.exec.code, 'function main(){return {v:3}}');
  const got = await ctx.ow.actions.get({ name });
  assert.equal(got.version, '0.0.3');
});

test('provide-api-key set by the caller is kept', async () => {
  const name = uniqueName('act');
  const a = await ctx.ow.actions.create({ name, action: CODE, annotations: { 'provide-api-key': true } });
  assert.equal(annotation(a, 'provide-api-key'), true);
});

test('delete returns the deleted document, then get is 404', async () => {
  const name = uniqueName('act');
  await ctx.ow.actions.create({ name, action: CODE });
  const deleted = await ctx.ow.actions.delete({ name });
  assert.equal(deleted.name, name);
  assert.equal(deleted.namespace, 'guest');
  await rejectsWith(ctx.ow.actions.get({ name }), 404, { message: 'The requested resource does not exist.' });
  await rejectsWith(ctx.ow.actions.delete({ name }), 404);
});

test('list returns summaries newest first, with limit, skip and count', async () => {
  const names = [];
  for (let i = 0; i < 3; i += 1) {
    const name = uniqueName(`lst${i}`);
    names.push(name);
    await ctx.ow.actions.create({ name, action: CODE });
  }
  const all = await ctx.ow.actions.list({ limit: 200 });
  const listed = all.map((a) => a.name);
  for (const n of names) assert.ok(listed.includes(n), `${n} listed`);
  // newest first
  assert.ok(listed.indexOf(names[2]) < listed.indexOf(names[1]));
  assert.ok(listed.indexOf(names[1]) < listed.indexOf(names[0]));
  const row = all.find((a) => a.name === names[0]);
  assert.equal(row.namespace, 'guest');
  assert.equal(row.version, '0.0.1');
  assert.equal(row.exec.binary, false);
  assert.equal(row.exec.code, undefined, 'list rows carry no code');
  assert.ok(Array.isArray(row.annotations));

  const two = await ctx.ow.actions.list({ limit: 2 });
  assert.equal(two.length, 2);
  assert.deepEqual(two.map((a) => a.name), listed.slice(0, 2));
  const skipped = await ctx.ow.actions.list({ limit: 2, skip: 1 });
  assert.deepEqual(skipped.map((a) => a.name), listed.slice(1, 3));
  const count = await ctx.ow.actions.list({ count: true });
  assert.deepEqual(count, { actions: all.length });
  const zero = await ctx.ow.actions.list({ limit: 0 });
  assert.equal(zero.length, Math.min(all.length, 200), 'limit=0 means the maximum');
});

test('list limit above 200 is rejected with 400', async () => {
  const res = await ctx.agent.request('GET', '/api/v1/namespaces/_/actions?limit=201');
  assert.equal(res.status, 400);
  assert.equal(res.body.error, "The value '201' is not in the range of 0 to 200 for actions.");
});

test('packaged actions: create, get, list per package, invoke, delete', async () => {
  const pkg = uniqueName('pkg');
  await ctx.ow.packages.create({ name: pkg });
  const a = await ctx.ow.actions.create({ name: `${pkg}/inner`, action: CODE });
  assert.equal(a.namespace, `guest/${pkg}`);
  assert.equal(a.name, 'inner');
  const got = await ctx.ow.actions.get({ name: `${pkg}/inner` });
  assert.equal(got.namespace, `guest/${pkg}`);

  const all = await ctx.ow.actions.list({ limit: 200 });
  assert.ok(all.some((r) => r.name === 'inner' && r.namespace === `guest/${pkg}`), 'namespace-wide list includes packaged actions');

  const inPkg = await ctx.agent.request('GET', `/api/v1/namespaces/_/actions/${pkg}/`);
  assert.equal(inPkg.status, 200);
  assert.deepEqual(inPkg.body.map((r) => `${r.namespace}/${r.name}`), [`guest/${pkg}/inner`]);

  const p = await ctx.ow.packages.get({ name: pkg });
  assert.deepEqual(p.actions.map((x) => x.name), ['inner']);

  const result = await ctx.ow.actions.invoke({ name: `${pkg}/inner`, params: { name: 'pkg' }, blocking: true, result: true });
  assert.deepEqual(result, { hello: 'pkg' });
  const viaFqn = await ctx.ow.actions.invoke({ name: `/guest/${pkg}/inner`, blocking: true, result: true });
  assert.deepEqual(viaFqn, { hello: 'world' });

  await ctx.ow.actions.delete({ name: `${pkg}/inner` });
  await rejectsWith(ctx.ow.actions.get({ name: `${pkg}/inner` }), 404);
});

test('fully qualified names with the real namespace work like _', async () => {
  const name = uniqueName('act');
  await ctx.ow.actions.create({ name: `/guest/${name}`, action: CODE });
  const got = await ctx.ow.actions.get({ name });
  assert.equal(got.name, name);
  const raw = await ctx.agent.request('GET', `/api/v1/namespaces/guest/actions/${name}`);
  assert.equal(raw.status, 200);
  assert.equal(raw.body.namespace, 'guest');
});

test('action names with allowed punctuation and spaces round-trip', async () => {
  const name = `${uniqueName('odd')}.v1@x&y z`;
  const a = await ctx.ow.actions.create({ name, action: CODE });
  assert.equal(a.name, name);
  const got = await ctx.ow.actions.get({ name });
  assert.equal(got.name, name);
});

test('delAnnotations removes annotations on update', async () => {
  const name = uniqueName('act');
  await ctx.ow.actions.create({ name, action: CODE, annotations: { drop: 1, keep: 2 } });
  const res = await ctx.agent.request('PUT', `/api/v1/namespaces/_/actions/${name}?overwrite=true`,
    { body: { delAnnotations: ['drop'], annotations: [{ key: 'added', value: 3 }] } });
  assert.equal(res.status, 200, res.text);
  assert.equal(annotation(res.body, 'drop'), undefined);
  assert.equal(annotation(res.body, 'keep'), 2);
  assert.equal(annotation(res.body, 'added'), 3);
  assert.equal(res.body.exec.code, CODE, 'exec is kept when not given');
});

test('binary is computed by the server, not taken from the client', async () => {
  const plain = await ctx.agent.request('PUT', `/api/v1/namespaces/_/actions/${uniqueName('bin')}`,
    { body: { exec: { kind: 'nodejs:20', code: CODE, binary: true } } });
  assert.equal(plain.status, 200, plain.text);
  assert.equal(plain.body.exec.binary, false);
  const b64 = Buffer.from('PK\u0003\u0004 pretend archive bytes').toString('base64');
  const coded = await ctx.agent.request('PUT', `/api/v1/namespaces/_/actions/${uniqueName('bin')}`,
    { body: { exec: { kind: 'nodejs:20', code: b64, binary: false } } });
  assert.equal(coded.status, 200, coded.text);
  assert.equal(coded.body.exec.binary, true);
});

test('an explicit version on update is used as given', async () => {
  const name = uniqueName('ver');
  await ctx.ow.actions.create({ name, action: CODE });
  const u = await ctx.ow.actions.update({ name, action: CODE, version: '1.2.3' });
  assert.equal(u.version, '1.2.3');
  const next = await ctx.ow.actions.update({ name, action: CODE });
  assert.equal(next.version, '1.2.4');
});
