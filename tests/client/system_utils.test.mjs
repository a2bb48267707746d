// The built-in /whisk.system/utils package: installed and published at first start,
// its actions invokable from guest (activations recorded for guest), read-only to guest.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useAgent, rejectsWith, annotation, waitFor } from './helpers.mjs';

const ctx = useAgent();
const invoke = (name, params) => ctx.ow.actions.invoke({ name: `/whisk.system/utils/${name}`, params, blocking: true, result: true });

test('the utils package is published in whisk.system with its six actions', async () => {
  const pkg = await ctx.ow.packages.get({ name: '/whisk.system/utils' });
  assert.equal(pkg.namespace, 'whisk.system');
  assert.equal(pkg.name, 'utils');
  assert.equal(pkg.publish, true);
  assert.deepEqual(pkg.actions.map((a) => a.name).sort(), ['cat', 'date', 'echo', 'head', 'sort', 'split']);
  const sys = await ctx.agent.systemClient().packages.list();
  assert.ok(sys.some((p) => p.name === 'utils' && p.publish === true));
  const echo = await ctx.ow.actions.get({ name: '/whisk.system/utils/echo' });
  assert.match(echo.exec.kind, /^nodejs:/);
  assert.equal(echo.namespace, 'whisk.system/utils');
});

test('echo returns its parameters', async () => {
  assert.deepEqual(await invoke('echo', { a: 1, b: ['x'] }), { a: 1, b: ['x'] });
});

test('cat joins lines', async () => {
  assert.deepEqual(await invoke('cat', { lines: ['one', 'two'] }), { lines: ['one', 'two'], payload: 'one\ntwo' });
});

test('sort sorts lines and counts them', async () => {
  assert.deepEqual(await invoke('sort', { lines: ['b', 'c', 'a'] }), { length: 3, lines: ['a', 'b', 'c'] });
});

test('head keeps num lines, one by default', async () => {
  assert.deepEqual(await invoke('head', { lines: ['1', '2', '3'] }), { lines: ['1'] });
  assert.deepEqual(await invoke('head', { lines: ['1', '2', '3'], num: 2 }), { lines: ['1', '2'] });
});

test('split splits the payload, on newlines by default', async () => {
  assert.deepEqual(await invoke('split', { payload: 'a\nb' }), { lines: ['a', 'b'] });
  assert.deepEqual(await invoke('split', { payload: 'a;b;c', separator: ';' }), { lines: ['a', 'b', 'c'] });
});

test('date returns an ISO timestamp', async () => {
  const out = await invoke('date', {});
  assert.match(out.date, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/);
  assert.ok(Math.abs(Date.parse(out.date) - Date.now()) < 24 * 3600 * 1000, 'a plausible current date');
});

test('validation errors are application errors (502)', async () => {
  const body = await rejectsWith(ctx.ow.actions.invoke({ name: '/whisk.system/utils/sort', params: { lines: 'not an array' }, blocking: true }),
    502, { standardBody: false });
  assert.equal(body.response.status, 'application error');
  assert.equal(typeof body.response.result.error, 'string');
  const split = await rejectsWith(ctx.ow.actions.invoke({ name: '/whisk.system/utils/split', params: {}, blocking: true }),
    502, { standardBody: false });
  assert.equal(typeof split.response.result.error, 'string');
});

test('the activation belongs to the caller and names the system path', async () => {
  const act = await ctx.ow.actions.invoke({ name: '/whisk.system/utils/echo', params: { who: 'guest' }, blocking: true });
  assert.equal(act.namespace, 'guest');
  assert.equal(annotation(act, 'path'), 'whisk.system/utils/echo');
  await waitFor(async () => (await ctx.ow.activations.list({ name: 'utils/echo', limit: 5 }))
    .some((a) => a.activationId === act.activationId), { message: 'listed in guest activations by pkg/action' });
});

test('guest cannot change or delete system entities', async () => {
  await rejectsWith(ctx.ow.actions.update({ name: '/whisk.system/utils/echo', action: 'function main(){return {hacked:true}}' }), 403);
  await rejectsWith(ctx.ow.actions.delete({ name: '/whisk.system/utils/echo' }), 403);
  await rejectsWith(ctx.ow.packages.delete({ name: '/whisk.system/utils' }), 403);
  assert.deepEqual(await invoke('echo', { still: 'intact' }), { still: 'intact' });
});
