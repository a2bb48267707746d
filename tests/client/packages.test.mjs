// Packages: CRUD, actions/feeds in GET, bindings and parameter merging, shared (publish)
// packages across namespaces, force delete, 409 when not empty, reserved name `default`.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { useAgent, uniqueName, rejectsWith, assertError, annotation, kv, waitFor } from './helpers.mjs';

const ctx = useAgent();
const ECHO = 'function main(params) { return params; }';
let otherKey;
let other;

before(async () => {
  await ctx.ready;
  otherKey = await ctx.agent.createNamespace('other');
  other = ctx.agent.client(otherKey);
});

test('create, get, update, list and delete a package', async () => {
  const name = uniqueName('pkg');
  const p = await ctx.ow.packages.create({ name, package: { parameters: [{ key: 'color', value: 'red' }] } });
  assert.equal(p.namespace, 'guest');
  assert.equal(p.name, name);
  assert.equal(p.version, '0.0.1');
  assert.equal(p.publish, false);
  assert.deepEqual(p.annotations, []);
  assert.deepEqual(p.binding, {});
  assert.deepEqual(kv(p.parameters), { color: 'red' });

  const got = await ctx.ow.packages.get({ name });
  assert.deepEqual(got.actions, []);
  assert.deepEqual(got.feeds, []);

  const up = await ctx.ow.packages.update({ name, package: { publish: true } });
  assert.equal(up.version, '0.0.2');
  assert.equal(up.publish, true);

  const list = await ctx.ow.packages.list({ limit: 200 });
  const row = list.find((r) => r.name === name);
  assert.ok(row, 'package listed');
  assert.equal(row.binding, false);
  assert.equal(row.namespace, 'guest');
  assert.deepEqual(await ctx.ow.packages.list({ count: true }), { packages: list.length });

  const deleted = await ctx.ow.packages.delete({ name });
  assert.equal(deleted.name, name);
  await rejectsWith(ctx.ow.packages.get({ name }), 404);
});

test('GET package separates feed actions from plain actions', async () => {
  const name = uniqueName('pkg');
  await ctx.ow.packages.create({ name });
  await ctx.ow.actions.create({ name: `${name}/plain`, action: ECHO });
  await ctx.ow.actions.create({ name: `${name}/changes`, action: ECHO, annotations: { feed: true } });
  const got = await ctx.ow.packages.get({ name });
  assert.deepEqual(got.actions.map((a) => a.name), ['plain']);
  assert.deepEqual(got.feeds.map((a) => a.name), ['changes']);
  const action = got.actions[0];
  assert.equal(action.version, '0.0.1');
  assert.ok(Array.isArray(action.annotations));
});

test('the name default is reserved', async () => {
  const res = await ctx.agent.request('PUT', '/api/v1/namespaces/_/packages/default', { body: {} });
  assertError(res, 400, "Package name 'default' is reserved.");
});

test('deleting a non-empty package is 409 unless force=true', async () => {
  const name = uniqueName('pkg');
  await ctx.ow.packages.create({ name });
  await ctx.ow.actions.create({ name: `${name}/a1`, action: ECHO });
  await ctx.ow.actions.create({ name: `${name}/a2`, action: ECHO });
  const res = await ctx.agent.request('DELETE', `/api/v1/namespaces/_/packages/${name}`);
  assertError(res, 409, 'Package not empty (contains 2 entities). Set force param or delete package contents.');
  const forced = await ctx.agent.request('DELETE', `/api/v1/namespaces/_/packages/${name}?force=true`);
  assert.equal(forced.status, 200);
  assert.equal(forced.body.name, name);
  await rejectsWith(ctx.ow.actions.get({ name: `${name}/a1` }), 404);
  await rejectsWith(ctx.ow.packages.get({ name }), 404);
});

test('a binding merges package, binding, action and request parameters in that order', async () => {
  const pkg = uniqueName('base');
  const bind = uniqueName('bind');
  await ctx.ow.packages.create({ name: pkg, package: { parameters: [
    { key: 'p', value: 'pkg' }, { key: 'b', value: 'pkg' }, { key: 'a', value: 'pkg' }, { key: 'r', value: 'pkg' },
  ] } });
  await ctx.ow.actions.create({ name: `${pkg}/show`, action: ECHO, params: { a: 'action', r: 'action' } });
  const b = await ctx.ow.packages.create({ name: bind, package: {
    binding: { namespace: '_', name: pkg }, parameters: [{ key: 'b', value: 'binding' }, { key: 'a', value: 'binding' }],
  } });
  assert.deepEqual(b.binding, { namespace: 'guest', name: pkg });
  assert.deepEqual(annotation(b, 'binding'), { namespace: 'guest', name: pkg });

  const list = await ctx.ow.packages.list({ limit: 200 });
  assert.deepEqual(list.find((r) => r.name === bind).binding, { namespace: 'guest', name: pkg });

  const act = await ctx.ow.actions.invoke({ name: `${bind}/show`, params: { r: 'request' }, blocking: true });
  assert.deepEqual(act.response.result, { p: 'pkg', b: 'binding', a: 'action', r: 'request' });
  assert.equal(act.namespace, 'guest');
  assert.ok(annotation(act, 'binding'), 'activation through a binding carries the binding annotation');
  assert.equal(annotation(act, 'path'), `guest/${pkg}/show`);
});

test('bindings cannot be bound again and take no actions', async () => {
  const pkg = uniqueName('base');
  const bind = uniqueName('bind');
  await ctx.ow.packages.create({ name: pkg });
  await ctx.ow.packages.create({ name: bind, package: { binding: { namespace: 'guest', name: pkg } } });
  const res = await ctx.agent.request('PUT', `/api/v1/namespaces/_/packages/${uniqueName('b2')}`,
    { body: { binding: { namespace: 'guest', name: bind } } });
  assertError(res, 400, 'Cannot bind to another package binding.');
  const put = await ctx.agent.request('PUT', `/api/v1/namespaces/_/actions/${bind}/x`,
    { body: { exec: { kind: 'nodejs:20', code: ECHO } } });
  assertError(put, 400, 'Operation not permitted on package binding.');
  const missing = await ctx.agent.request('PUT', `/api/v1/namespaces/_/packages/${uniqueName('b3')}`,
    { body: { binding: { namespace: 'guest', name: uniqueName('nothere') } } });
  assertError(missing, 400, 'Binding references a package that does not exist');
});

test('a published package of another namespace can be read, bound and invoked', async () => {
  const shared = uniqueName('shared');
  await other.packages.create({ name: shared, package: { publish: true, parameters: [{ key: 'owner', value: 'other' }] } });
  await other.actions.create({ name: `${shared}/hello`, action: ECHO });

  const got = await ctx.ow.packages.get({ name: `/other/${shared}` });
  assert.equal(got.namespace, 'other');
  assert.equal(got.publish, true);

  const act = await ctx.ow.actions.invoke({ name: `/other/${shared}/hello`, params: { x: 1 }, blocking: true });
  assert.deepEqual(act.response.result, { owner: 'other', x: 1 });
  assert.equal(act.namespace, 'guest', 'the activation belongs to the caller');
  const mine = await waitFor(() => ctx.ow.activations.get({ name: act.activationId }), { message: 'activation record' });
  assert.equal(mine.activationId, act.activationId);
  await rejectsWith(other.activations.get({ name: act.activationId }), 404);

  const bind = uniqueName('bindother');
  await ctx.ow.packages.create({ name: bind, package: { binding: { namespace: 'other', name: shared } } });
  const viaBinding = await ctx.ow.actions.invoke({ name: `${bind}/hello`, blocking: true, result: true });
  assert.deepEqual(viaBinding, { owner: 'other' });

  // listing another namespace's packages shows only its published ones
  const priv = uniqueName('unlisted');
  await other.packages.create({ name: priv });
  const publicList = await ctx.agent.request('GET', '/api/v1/namespaces/other/packages?public=true');
  assert.equal(publicList.status, 200);
  assert.ok(publicList.body.some((r) => r.name === shared), 'list of other shows the shared package');
  assert.ok(!publicList.body.some((r) => r.name === priv), 'list of other hides unpublished packages');
});

test('a private package of another namespace is forbidden', async () => {
  const priv = uniqueName('private');
  await other.packages.create({ name: priv });
  await other.actions.create({ name: `${priv}/secret`, action: ECHO });
  await rejectsWith(ctx.ow.packages.get({ name: `/other/${priv}` }), 403);
  await rejectsWith(ctx.ow.actions.invoke({ name: `/other/${priv}/secret`, blocking: true }), 403);
  const res = await ctx.agent.request('PUT', `/api/v1/namespaces/_/packages/${uniqueName('bad')}`,
    { body: { binding: { namespace: 'other', name: priv } } });
  assertError(res, 403);
  await rejectsWith(ctx.ow.packages.update({ name: `/other/${priv}`, package: { publish: true } }), 403);
  await rejectsWith(ctx.ow.actions.delete({ name: `/other/${priv}/secret` }), 403);
});

test('guest can bind the published /whisk.system/utils package', async () => {
  const bind = uniqueName('myutils');
  const b = await ctx.ow.packages.create({ name: bind, package: { binding: { namespace: 'whisk.system', name: 'utils' } } });
  assert.deepEqual(b.binding, { namespace: 'whisk.system', name: 'utils' });
  const out = await ctx.ow.actions.invoke({ name: `${bind}/echo`, params: { via: 'binding' }, blocking: true, result: true });
  assert.deepEqual(out, { via: 'binding' });
});
