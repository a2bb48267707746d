// Sequences: creation (components resolved), result chaining, component activations with
// `cause`, the sequence record (logs = component ids, annotations), error short-circuit,
// system actions as components, and validation errors.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { useAgent, uniqueName, rejectsWith, assertError, annotation, assertListedActivationsReadable } from './helpers.mjs';

const ctx = useAgent();
let inc;
let dbl;
let keys;
let fail;

before(async () => {
  await ctx.ready;
  inc = uniqueName('inc');
  dbl = uniqueName('dbl');
  keys = uniqueName('keys');
  fail = uniqueName('fail');
  await ctx.ow.actions.create({ name: inc, action: 'function main(p) { return { x: p.x + 1 }; }' });
  await ctx.ow.actions.create({ name: dbl, action: 'function main(p) { return { x: p.x * 2, seen: Object.keys(p).sort() }; }',
    params: { dflt: 'component default' } });
  await ctx.ow.actions.create({ name: keys, action: 'function main(p) { return { keys: Object.keys(p).sort() }; }' });
  await ctx.ow.actions.create({ name: fail, action: 'function main(p) { return { error: "stop here" }; }' });
});

test('create resolves components to fully qualified names', async () => {
  const name = uniqueName('seq');
  const s = await ctx.ow.actions.create({ name, sequence: [`/_/${inc}`, `/guest/${dbl}`] });
  assert.equal(s.exec.kind, 'sequence');
  assert.deepEqual(s.exec.components, [`/guest/${inc}`, `/guest/${dbl}`]);
  assert.equal(s.namespace, 'guest');
  assert.equal(annotation(s, 'exec'), 'sequence');
  const got = await ctx.ow.actions.get({ name });
  assert.deepEqual(got.exec.components, [`/guest/${inc}`, `/guest/${dbl}`]);
});

test('results chain through the components; only the first sees the request', async () => {
  const name = uniqueName('seq');
  await ctx.ow.actions.create({ name, sequence: [`/_/${inc}`, `/_/${dbl}`] });
  const act = await ctx.ow.actions.invoke({ name, params: { x: 1, extra: 'only-first' }, blocking: true });
  assert.equal(act.response.success, true);
  assert.deepEqual(act.response.result, { x: 4, seen: ['dflt', 'x'] });

  assert.equal(act.name, name);
  assert.equal(annotation(act, 'kind'), 'sequence');
  assert.equal(annotation(act, 'topmost'), true);
  assert.equal(annotation(act, 'path'), `guest/${name}`);
  assert.equal(typeof annotation(act, 'waitTime'), 'number');
  assert.equal(typeof annotation(act, 'limits'), 'object');
  assert.equal(act.logs.length, 2);
  for (const id of act.logs) assert.match(id, /^[0-9a-f]{32}$/);

  const [first, second] = await Promise.all(act.logs.map((id) => ctx.ow.activations.get({ name: id })));
  assert.equal(first.name, inc);
  assert.equal(second.name, dbl);
  assert.deepEqual(first.response.result, { x: 2 });
  assert.deepEqual(second.response.result, { x: 4, seen: ['dflt', 'x'] });
  for (const c of [first, second]) {
    assert.equal(c.cause, act.activationId, 'component activations point at the sequence');
    assert.equal(annotation(c, 'causedBy'), 'sequence');
  }
  assert.equal(act.duration, first.duration + second.duration, 'sequence duration is the sum of its components');
  assert.deepEqual(await ctx.ow.actions.invoke({ name, params: { x: 10 }, blocking: true, result: true }), { x: 22, seen: ['dflt', 'x'] });
});

test('a component error stops the sequence and becomes its result (502)', async () => {
  const name = uniqueName('seqfail');
  await ctx.ow.actions.create({ name, sequence: [`/_/${inc}`, `/_/${fail}`, `/_/${dbl}`] });
  const body = await rejectsWith(ctx.ow.actions.invoke({ name, params: { x: 1 }, blocking: true }), 502, { standardBody: false });
  assert.equal(body.response.success, false);
  assert.deepEqual(body.response.result, { error: 'stop here' });
  assert.equal(body.logs.length, 2, 'the third component never ran');
});

test('non-blocking sequence invoke answers 202', async () => {
  const name = uniqueName('seqnb');
  await ctx.ow.actions.create({ name, sequence: [`/_/${keys}`] });
  const res = await ctx.agent.request('POST', `/api/v1/namespaces/_/actions/${name}`, { body: { a: 1 } });
  assert.equal(res.status, 202);
  assert.match(res.body.activationId, /^[0-9a-f]{32}$/);
});

test('system utils and packaged actions work as components', async () => {
  const pkg = uniqueName('seqpkg');
  await ctx.ow.packages.create({ name: pkg });
  await ctx.ow.actions.create({ name: `${pkg}/count`, action: 'function main(p) { return { n: p.lines.length, lines: p.lines }; }' });
  const name = uniqueName('seqsys');
  await ctx.ow.actions.create({ name, sequence: ['/whisk.system/utils/split', '/whisk.system/utils/sort', `/_/${pkg}/count`] });
  const out = await ctx.ow.actions.invoke({ name, params: { payload: 'pear\napple\nfig' }, blocking: true, result: true });
  assert.deepEqual(out, { n: 3, lines: ['apple', 'fig', 'pear'] });
});

test('a sequence may contain a sequence', async () => {
  const innerSeq = uniqueName('inner');
  const outerSeq = uniqueName('outer');
  await ctx.ow.actions.create({ name: innerSeq, sequence: [`/_/${inc}`, `/_/${inc}`] });
  await ctx.ow.actions.create({ name: outerSeq, sequence: [`/_/${innerSeq}`, `/_/${dbl}`] });
  const act = await ctx.ow.actions.invoke({ name: outerSeq, params: { x: 0 }, blocking: true });
  assert.equal(act.response.result.x, 4);
  const inner = await ctx.ow.activations.get({ name: act.logs[0] });
  assert.equal(inner.name, innerSeq);
  assert.equal(inner.cause, act.activationId);
  assert.equal(inner.logs.length, 2);
});

test('sequence validation errors are 400', async () => {
  const put = (name, body) => ctx.agent.request('PUT', `/api/v1/namespaces/_/actions/${name}?overwrite=true`, { body });
  assertError(await put(uniqueName('s'), { exec: { kind: 'sequence', components: [] } }), 400,
    'No component specified for the sequence.');
  assertError(await put(uniqueName('s'), { exec: { kind: 'sequence', components: [`/_/${uniqueName('ghost')}`] } }), 400,
    'Sequence component does not exist.');
  const self = uniqueName('self');
  await ctx.ow.actions.create({ name: self, sequence: [`/_/${inc}`] });
  assertError(await put(self, { exec: { kind: 'sequence', components: [`/_/${self}`] } }), 400,
    'Sequence may not refer to itself.');
  const a = uniqueName('cyca');
  const b = uniqueName('cycb');
  await ctx.ow.actions.create({ name: a, sequence: [`/_/${inc}`] });
  await ctx.ow.actions.create({ name: b, sequence: [`/_/${a}`] });
  assertError(await put(a, { exec: { kind: 'sequence', components: [`/_/${b}`] } }), 400,
    'Sequence may not refer to itself.');
  const tooMany = Array.from({ length: 51 }, () => `/_/${inc}`);
  assertError(await put(uniqueName('s'), { exec: { kind: 'sequence', components: tooMany } }), 400,
    'Too many actions in the sequence.');
  const fifty = Array.from({ length: 50 }, () => `/_/${inc}`);
  const ok = await put(uniqueName('s50'), { exec: { kind: 'sequence', components: fifty } });
  assert.equal(ok.status, 200, ok.text);
});

test('a conductor action drives its components and returns the final params', async () => {
  const name = uniqueName('conductor');
  await ctx.ow.actions.create({ name, annotations: { conductor: true }, action: `function main(p) {
    if (p.$step === undefined) return { action: '/guest/${inc}', params: { x: p.x }, state: { $step: 1 } };
    if (p.$step === 1) return { action: '/guest/${dbl}', params: { x: p.x }, state: { $step: 2 } };
    return { params: { final: p.x } };
  }` });
  const act = await ctx.ow.actions.invoke({ name, params: { x: 5 }, blocking: true });
  assert.equal(act.response.success, true, JSON.stringify(act.response));
  assert.deepEqual(act.response.result, { final: 12 });
  assert.equal(annotation(act, 'conductor'), true);
  assert.equal(annotation(act, 'kind'), 'sequence');
  // conductor, inc, conductor, dbl, conductor
  assert.equal(act.logs.length, 5);
  const derived = await Promise.all(act.logs.map((id) => ctx.ow.activations.get({ name: id })));
  assert.deepEqual(derived.map((d) => d.name), [name, inc, name, dbl, name]);
  for (const d of derived) assert.equal(d.cause, act.activationId);
});

test('a conductor returning an error ends with that error', async () => {
  const name = uniqueName('condfail');
  await ctx.ow.actions.create({ name, annotations: { conductor: true },
    action: 'function main(p) { return { error: "conductor says no" }; }' });
  const body = await rejectsWith(ctx.ow.actions.invoke({ name, blocking: true }), 502, { standardBody: false });
  assert.equal(body.response.success, false);
  assert.deepEqual(body.response.result, { error: 'conductor says no' });
});

test('every listed activation can be read with get, logs and result', async () => {
  await assertListedActivationsReadable(ctx.ow);
});
