// Invoking Node.js actions: blocking and non-blocking, `result`, activation record shape
// and annotations (cold start initTime), logs, parameter merging, blocking timeout → 202,
// application and developer errors → 502, action time limit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useAgent, uniqueName, rejectsWith, assertError, waitFor, annotation, LOG_LINE } from './helpers.mjs';

const ctx = useAgent();

async function action(code, extra = {}) {
  const name = uniqueName('inv');
  await ctx.ow.actions.create({ name, action: code, kind: 'nodejs:20', ...extra });
  return name;
}

test('blocking invoke returns the full activation record', async () => {
  const name = await action('function main(p) { console.log("hello " + p.who); console.error("oops"); return { greeting: "hi " + p.who }; }');
  const act = await ctx.ow.actions.invoke({ name, params: { who: 'ann' }, blocking: true });
  assert.match(act.activationId, /^[0-9a-f]{32}$/);
  assert.equal(act.namespace, 'guest');
  assert.equal(act.name, name);
  assert.equal(act.version, '0.0.1');
  assert.equal(act.publish, false);
  assert.equal(typeof act.subject, 'string');
  assert.equal(typeof act.start, 'number');
  assert.equal(typeof act.end, 'number');
  assert.ok(act.end >= act.start);
  assert.ok(Math.abs(act.duration - (act.end - act.start)) <= 1, 'duration spans start..end (ms rounding aside)');
  assert.equal(act.response.status, 'success');
  assert.equal(act.response.success, true);
  assert.deepEqual(act.response.result, { greeting: 'hi ann' });
  assert.equal(act.response.statusCode, undefined, 'extended JSON drops the numeric statusCode');
  assert.equal(act.logs.length, 2, JSON.stringify(act.logs));
  const parsed = act.logs.map((l) => LOG_LINE.exec(l));
  assert.ok(parsed.every(Boolean), `log lines must look like "<ts>Z stdout: text": ${JSON.stringify(act.logs)}`);
  // stdout and stderr are separate pipes: their relative order is not guaranteed
  assert.deepEqual(parsed.map((m) => [m[2], m[3]]).sort(), [['stderr', 'oops'], ['stdout', 'hello ann']]);
  assert.ok(!Number.isNaN(Date.parse(parsed[0][1])));
});

test('activation annotations: kind, path, limits, waitTime, timeout; initTime only when cold', async () => {
  const name = await action('function main() { return { ok: true }; }', { limits: { timeout: 10000, memory: 128 } });
  const cold = await ctx.ow.actions.invoke({ name, blocking: true });
  assert.equal(annotation(cold, 'kind'), 'nodejs:20');
  assert.equal(annotation(cold, 'path'), `guest/${name}`);
  const limits = annotation(cold, 'limits');
  assert.equal(limits.timeout, 10000);
  assert.equal(limits.memory, 128);
  assert.equal(limits.logs, 10);
  assert.equal(limits.concurrency, 1);
  assert.equal(typeof annotation(cold, 'waitTime'), 'number');
  assert.equal(annotation(cold, 'timeout'), false);
  assert.equal(typeof annotation(cold, 'initTime'), 'number', 'first invocation is a cold start');
  const warm = await ctx.ow.actions.invoke({ name, blocking: true });
  assert.equal(annotation(warm, 'initTime'), undefined, 'second sequential invocation reuses the warm runtime');
  assert.equal(typeof annotation(warm, 'waitTime'), 'number');
});

test('result=true returns only the result (client and raw API)', async () => {
  const name = await action('function main(p) { return { sum: p.a + p.b }; }');
  assert.deepEqual(await ctx.ow.actions.invoke({ name, params: { a: 1, b: 2 }, blocking: true, result: true }), { sum: 3 });
  const raw = await ctx.agent.request('POST', `/api/v1/namespaces/_/actions/${name}?blocking=true&result=true`, { body: { a: 2, b: 5 } });
  assert.equal(raw.status, 200);
  assert.deepEqual(raw.body, { sum: 7 });
  assert.match(raw.headers.get('x-openwhisk-activation-id'), /^[0-9a-f]{32}$/);
});

test('an empty body with a JSON content type counts as {}', async () => {
  const name = await action('function main(p) { return { keys: Object.keys(p) }; }');
  const raw = await ctx.agent.request('POST', `/api/v1/namespaces/_/actions/${name}?blocking=true&result=true`, { body: '' });
  assert.equal(raw.status, 200);
  assert.deepEqual(raw.body, { keys: [] });
});

test('async actions may return a promise', async () => {
  const name = await action('function main(p) { return new Promise((r) => setTimeout(() => r({ later: p.v }), 50)); }');
  assert.deepEqual(await ctx.ow.actions.invoke({ name, params: { v: 9 }, blocking: true, result: true }), { later: 9 });
});

test('non-blocking invoke answers 202 with an activation id that resolves later', async () => {
  const name = await action('function main(p) { return { echoed: p.x }; }');
  const raw = await ctx.agent.request('POST', `/api/v1/namespaces/_/actions/${name}`, { body: { x: 'nb' } });
  assert.equal(raw.status, 202);
  assert.deepEqual(Object.keys(raw.body), ['activationId']);
  assert.equal(raw.headers.get('x-openwhisk-activation-id'), raw.body.activationId);
  const viaClient = await ctx.ow.actions.invoke({ name, params: { x: 'client' } });
  assert.match(viaClient.activationId, /^[0-9a-f]{32}$/);
  const done = await waitFor(() => ctx.ow.activations.get({ name: raw.body.activationId }), { message: 'activation record' });
  assert.deepEqual(done.response.result, { echoed: 'nb' });
});

test('parallel invocations each get their own parameters and result', async () => {
  const name = await action('function main(p) { return new Promise((r) => setTimeout(() => r({ id: p.id }), 200)); }');
  const ids = [0, 1, 2, 3, 4, 5];
  const results = await Promise.all(ids.map((id) => ctx.ow.actions.invoke({ name, params: { id }, blocking: true })));
  assert.deepEqual(results.map((a) => a.response.result.id), ids);
  assert.equal(new Set(results.map((a) => a.activationId)).size, ids.length, 'distinct activation ids');
});

test('action parameters are defaults that the request overrides', async () => {
  const name = await action('function main(p) { return p; }', { params: { a: 'default', b: 'default' } });
  const out = await ctx.ow.actions.invoke({ name, params: { b: 'request', c: 'new' }, blocking: true, result: true });
  assert.deepEqual(out, { a: 'default', b: 'request', c: 'new' });
});

test('init parameters reach the environment, not the arguments', async () => {
  const name = uniqueName('initp');
  const res = await ctx.agent.request('PUT', `/api/v1/namespaces/_/actions/${name}`, { body: {
    exec: { kind: 'nodejs:20', code: 'function main(p) { return { env: process.env.MY_INIT, keys: Object.keys(p).sort() }; }' },
    parameters: [{ key: 'MY_INIT', value: 'abc', init: true }, { key: 'normal', value: 1 }],
  } });
  assert.equal(res.status, 200, res.text);
  const init = res.body.parameters.find((p) => p.key === 'MY_INIT');
  assert.equal(init.init, true);
  assert.deepEqual(await ctx.ow.actions.invoke({ name, blocking: true, result: true }), { env: 'abc', keys: ['normal'] });
});

test('final: true rejects requests that redefine bound parameters', async () => {
  const name = await action('function main(p) { return p; }', { params: { fixed: 1 }, annotations: { final: true } });
  const res = await ctx.agent.request('POST', `/api/v1/namespaces/_/actions/${name}?blocking=true`, { body: { fixed: 2 } });
  assertError(res, 400, 'Request defines parameters that are not allowed (e.g., reserved properties).');
  const ok = await ctx.ow.actions.invoke({ name, params: { other: 2 }, blocking: true, result: true });
  assert.deepEqual(ok, { fixed: 1, other: 2 });
});

test('a blocking invoke that outlasts ?timeout answers 202 and the activation completes', async () => {
  const name = await action('function main() { return new Promise((r) => setTimeout(() => r({ slow: true }), 3000)); }');
  const res = await ctx.agent.request('POST', `/api/v1/namespaces/_/actions/${name}?blocking=true&timeout=300`, { body: {} });
  assert.equal(res.status, 202, res.text);
  assert.match(res.body.activationId, /^[0-9a-f]{32}$/);
  assert.equal(res.headers.get('x-openwhisk-activation-id'), res.body.activationId);
  const done = await waitFor(() => ctx.ow.activations.get({ name: res.body.activationId }), { timeout: 30000, message: 'slow activation' });
  assert.deepEqual(done.response.result, { slow: true });
});

test('invalid ?timeout values are 400', async () => {
  const name = await action('function main() { return {}; }');
  for (const t of ['0', '60001', 'abc', '-5']) {
    const res = await ctx.agent.request('POST', `/api/v1/namespaces/_/actions/${name}?blocking=true&timeout=${t}`, { body: {} });
    assertError(res, 400, 'Timeout must be number of milliseconds up to 60000.');
  }
});

test('an application error (result has error) is 502 with the activation record', async () => {
  const name = await action('function main() { return { error: "bad input" }; }');
  const body = await rejectsWith(ctx.ow.actions.invoke({ name, blocking: true }), 502, { standardBody: false });
  assert.equal(body.response.status, 'application error');
  assert.equal(body.response.success, false);
  assert.deepEqual(body.response.result, { error: 'bad input' });
  const raw = await ctx.agent.request('POST', `/api/v1/namespaces/_/actions/${name}?blocking=true&result=true`, { body: {} });
  assert.equal(raw.status, 502);
  assert.deepEqual(raw.body, { error: 'bad input' });
  const stored = await ctx.ow.activations.get({ name: body.activationId });
  assert.equal(stored.response.status, 'application error');
});

test('a rejected promise is an application error', async () => {
  const name = await action('function main() { return Promise.reject({ message: "nope" }); }');
  const body = await rejectsWith(ctx.ow.actions.invoke({ name, blocking: true }), 502, { standardBody: false });
  assert.equal(body.response.status, 'application error');
  assert.deepEqual(body.response.result, { error: { message: 'nope' } });
});

test('a thrown exception is an action developer error (502)', async () => {
  const name = await action('function main() { throw new Error("kaboom"); }');
  const body = await rejectsWith(ctx.ow.actions.invoke({ name, blocking: true }), 502, { standardBody: false });
  assert.equal(body.response.status, 'action developer error');
  assert.equal(body.response.success, false);
  assert.equal(typeof body.response.result.error, 'string');
  assert.ok(body.response.result.error.includes('kaboom'), body.response.result.error);
  // the next invocation still works (a fresh runtime replaces the failed one)
  const again = await rejectsWith(ctx.ow.actions.invoke({ name, blocking: true }), 502, { standardBody: false });
  assert.equal(again.response.status, 'action developer error');
});

test('a non-object result is a developer error; a syntax error fails initialization', async () => {
  const scalar = await action('function main() { return 42; }');
  const b1 = await rejectsWith(ctx.ow.actions.invoke({ name: scalar, blocking: true }), 502, { standardBody: false });
  assert.equal(b1.response.status, 'action developer error');
  const broken = await action('function main( { return {}; }');
  const b2 = await rejectsWith(ctx.ow.actions.invoke({ name: broken, blocking: true }), 502, { standardBody: false });
  assert.equal(b2.response.status, 'action developer error');
  assert.equal(typeof b2.response.result.error, 'string');
});

test('exceeding the action time limit is a developer error naming the limit', async () => {
  const name = await action('function main() { return new Promise((r) => setTimeout(() => r({ late: true }), 5000)); }',
    { limits: { timeout: 500 } });
  const body = await rejectsWith(ctx.ow.actions.invoke({ name, blocking: true }), 502, { standardBody: false });
  assert.equal(body.response.status, 'action developer error');
  assert.equal(body.response.result.error, 'The action exceeded its time limits of 500 milliseconds.');
  assert.equal(annotation(body, 'timeout'), true);
});

test('invoking a missing action is 404', async () => {
  await rejectsWith(ctx.ow.actions.invoke({ name: uniqueName('ghost'), blocking: true }), 404);
});

test('a result larger than 1 MB fails with the truncation message', async () => {
  const name = await action('function main() { return { big: "x".repeat(1100 * 1024) }; }');
  const body = await rejectsWith(ctx.ow.actions.invoke({ name, blocking: true }), 502, { standardBody: false });
  assert.equal(body.response.success, false);
  assert.equal(body.response.status, 'application error');
  assert.match(String(body.response.result.error),
    /^The action produced a response that exceeded the allowed length: \d+ > 1048576 bytes\./);
});

test('logs beyond the action log limit are truncated with a warning line', async () => {
  const name = await action('function main() { const l = "y".repeat(1000); for (let i = 0; i < 1500; i += 1) console.log(l); return { done: true }; }',
    { limits: { logs: 1 } });
  const act = await ctx.ow.actions.invoke({ name, blocking: true });
  assert.equal(act.response.success, true);
  assert.ok(act.logs.length < 1500, `logs kept: ${act.logs.length}`);
  const last = act.logs[act.logs.length - 1];
  assert.ok(last.includes('Logs were truncated because the total bytes size exceeds the limit of 1048576 bytes.'), last.slice(0, 200));
});
