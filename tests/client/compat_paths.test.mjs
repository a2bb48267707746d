// Namespace path forms as third-party CLIs built on the openwhisk npm client send them:
// a namespace with its leading slash (`/whisk.system`), and the recursive package delete
// that puts each listed action's `namespace` field (`guest/tools`) back into the path.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useAgent, uniqueName, rejectsWith } from './helpers.mjs';

const ctx = useAgent();

test('packages of /whisk.system, written with the leading slash', async () => {
  await ctx.ready;
  const plain = (await ctx.ow.packages.list({ namespace: 'whisk.system' })).map((p) => p.name).sort();
  const slashed = (await ctx.ow.packages.list({ namespace: '/whisk.system' })).map((p) => p.name).sort();
  assert.ok(plain.includes('utils') && plain.includes('alarms'), JSON.stringify(plain));
  assert.deepEqual(slashed, plain);
  const utils = await ctx.ow.packages.get({ name: 'utils', namespace: '/whisk.system' });
  assert.equal(utils.namespace, 'whisk.system');
  assert.ok(utils.actions.some((a) => a.name === 'echo'));
  const echo = await ctx.ow.actions.invoke({ name: 'echo', namespace: '/whisk.system/utils', params: { x: 1 }, blocking: true, result: true });
  assert.equal(echo.x, 1, 'the package carried by the namespace option is resolved');
});

test('recursive package delete through each listed action\'s namespace field', async () => {
  await ctx.ready;
  const pkg = uniqueName('tools');
  await ctx.ow.packages.create({ name: pkg });
  for (const n of ['a', 'b', 'c']) {
    await ctx.ow.actions.create({ name: `${pkg}/${n}`, action: 'function main(){ return {} }' });
  }
  await rejectsWith(ctx.ow.packages.delete({ name: pkg }), 409, { message: 'Package not empty' });
  const got = await ctx.ow.packages.get({ name: pkg });
  const listed = await ctx.ow.actions.list({ namespace: `guest/${pkg}` });
  assert.deepEqual(listed.map((a) => a.name).sort(), ['a', 'b', 'c']);
  assert.deepEqual(got.actions.map((a) => a.name).sort(), ['a', 'b', 'c']);
  for (const a of listed) {
    assert.equal(a.namespace, `guest/${pkg}`);
    const gone = await ctx.ow.actions.delete({ name: a.name, namespace: a.namespace });
    assert.equal(gone.name, a.name);
  }
  assert.equal((await ctx.ow.packages.delete({ name: pkg })).name, pkg);
  await rejectsWith(ctx.ow.packages.get({ name: pkg }), 404);
});

test('another namespace\'s package through the namespace field cannot be written', async () => {
  await ctx.ready;
  await rejectsWith(ctx.ow.actions.delete({ name: 'echo', namespace: 'whisk.system/utils' }), 403);
  await rejectsWith(ctx.ow.actions.get({ name: 'tools%2Fhello' }), 400);
});
