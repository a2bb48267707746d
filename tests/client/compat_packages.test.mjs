// Package bindings through the openwhisk npm client as OpenWhisk answers them: GET of a
// binding shows the bound package's parameters merged under the binding's own (the
// binding wins) and the bound package's actions, as Packages.scala mergePackageWithBinding.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useAgent, uniqueName, kv, rejectsWith } from './helpers.mjs';

const ctx = useAgent();

test('GET of a binding merges the bound package parameters under the binding ones', async () => {
  await ctx.ready;
  const pkg = uniqueName('lib');
  const bind = uniqueName('mylib');
  await ctx.ow.packages.create({ name: pkg, package: { parameters: [{ key: 'url', value: 'pkg' }, { key: 'qos', value: 0 }] } });
  await ctx.ow.actions.create({ name: `${pkg}/send`, action: 'function main(p){ return p }' });
  await ctx.ow.packages.create({ name: bind, package: { binding: { namespace: '_', name: pkg }, parameters: [{ key: 'qos', value: 1 }] } });
  const got = await ctx.ow.packages.get({ name: bind });
  assert.deepEqual(got.binding, { namespace: 'guest', name: pkg });
  assert.deepEqual(kv(got.parameters), { url: 'pkg', qos: 1 });
  assert.deepEqual(got.actions.map((a) => a.name), ['send']);
  assert.equal(got.actions[0].parameters, undefined);
  const out = await ctx.ow.actions.invoke({ name: `${bind}/send`, blocking: true, result: true });
  assert.deepEqual(out, { url: 'pkg', qos: 1 }, 'invocation sees the same merge');
  await ctx.ow.packages.delete({ name: pkg, force: true }).catch(() => {});
});

test('a binding to a shared system package shows its actions; the bound package gone, GET is 404', async () => {
  await ctx.ready;
  const bind = uniqueName('u');
  await ctx.ow.packages.create({ name: bind, package: { binding: { namespace: 'whisk.system', name: 'utils' } } });
  const got = await ctx.ow.packages.get({ name: bind });
  assert.ok(got.actions.some((a) => a.name === 'echo'), JSON.stringify(got.actions));
  const pkg = uniqueName('gone');
  const b2 = uniqueName('dangling');
  await ctx.ow.packages.create({ name: pkg });
  await ctx.ow.packages.create({ name: b2, package: { binding: { namespace: 'guest', name: pkg } } });
  await ctx.ow.packages.delete({ name: pkg });
  await rejectsWith(ctx.ow.packages.get({ name: b2 }), 404);
});
