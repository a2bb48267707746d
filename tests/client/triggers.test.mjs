// Triggers and rules: CRUD, firing (204 without active rules, 202 + trigger activation
// with one log line per rule), parameter merging, enable/disable, rule delete unlinks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useAgent, uniqueName, rejectsWith, assertError, waitFor, kv, assertListedActivationsReadable } from './helpers.mjs';

const ctx = useAgent();
const ECHO = 'function main(params) { return params; }';

async function fire(name, body = {}, headers = {}) {
  return ctx.agent.request('POST', `/api/v1/namespaces/_/triggers/${encodeURIComponent(name)}`, { body, headers });
}

/** Creates trigger + action + rule; returns their names. */
async function linked({ triggerParams } = {}) {
  const trigger = uniqueName('trg');
  const action = uniqueName('act');
  const rule = uniqueName('rule');
  await ctx.ow.triggers.create({ name: trigger, trigger: triggerParams ? { parameters: triggerParams } : undefined });
  await ctx.ow.actions.create({ name: action, action: ECHO });
  await ctx.ow.rules.create({ name: rule, trigger, action });
  return { trigger, action, rule };
}

test('trigger CRUD with versions, defaults and list count', async () => {
  const name = uniqueName('trg');
  const t = await ctx.ow.triggers.create({ name });
  assert.equal(t.namespace, 'guest');
  assert.equal(t.name, name);
  assert.equal(t.version, '0.0.1');
  assert.equal(t.publish, false);
  assert.deepEqual(t.annotations, []);
  assert.deepEqual(t.parameters, []);
  assert.deepEqual(t.limits, {});
  await rejectsWith(ctx.ow.triggers.create({ name }), 409, { message: 'resource already exists' });
  const u = await ctx.ow.triggers.update({ name, trigger: { parameters: [{ key: 'k', value: 'v' }] } });
  assert.equal(u.version, '0.0.2');
  assert.deepEqual(kv(u.parameters), { k: 'v' });
  const got = await ctx.ow.triggers.get({ name });
  assert.equal(got.version, '0.0.2');
  const list = await ctx.ow.triggers.list({ limit: 200 });
  assert.ok(list.some((r) => r.name === name && r.namespace === 'guest'));
  assert.deepEqual(await ctx.ow.triggers.list({ count: true }), { triggers: list.length });
  assert.equal((await ctx.ow.triggers.list({ limit: 1 })).length, 1);
  const del = await ctx.ow.triggers.delete({ name });
  assert.equal(del.name, name);
  await rejectsWith(ctx.ow.triggers.get({ name }), 404);
});

test('firing a trigger without rules answers 204 and records nothing', async () => {
  const name = uniqueName('trg');
  await ctx.ow.triggers.create({ name });
  const res = await fire(name, { a: 1 });
  assert.equal(res.status, 204);
  assert.equal(res.text, '');
  const acts = await ctx.ow.activations.list({ name, limit: 200 });
  assert.deepEqual(acts, []);
  const missing = await fire(uniqueName('nothere'));
  assertError(missing, 404);
});

test('rule create links the trigger; firing answers 202 and runs the action', async () => {
  const { trigger, action, rule } = await linked({ triggerParams: [{ key: 'from', value: 'trigger' }, { key: 'over', value: 'trigger' }] });
  const r = await ctx.ow.rules.get({ name: rule });
  assert.equal(r.namespace, 'guest');
  assert.equal(r.version, '0.0.1');
  assert.equal(r.status, 'active');
  assert.deepEqual(r.trigger, { path: 'guest', name: trigger });
  assert.deepEqual(r.action, { path: 'guest', name: action });

  const t = await ctx.ow.triggers.get({ name: trigger });
  assert.deepEqual(t.rules[`guest/${rule}`], { action: { path: 'guest', name: action }, status: 'active' });

  const res = await fire(trigger, { over: 'fire', extra: 42 }, { 'x-fire-test': 'yes' });
  assert.equal(res.status, 202);
  assert.match(res.body.activationId, /^[0-9a-f]{32}$/);
  assert.equal(res.headers.get('x-openwhisk-activation-id'), res.body.activationId);

  const tact = await waitFor(() => ctx.ow.activations.get({ name: res.body.activationId }), { message: 'trigger activation' });
  assert.equal(tact.name, trigger);
  assert.equal(tact.namespace, 'guest');
  assert.equal(tact.end, undefined, 'trigger activations have no end');
  assert.equal(tact.duration, undefined);
  assert.equal(tact.response.success, true);
  assert.deepEqual(tact.response.result, { over: 'fire', extra: 42 });
  assert.equal(tact.logs.length, 1);
  const log = JSON.parse(tact.logs[0]);
  assert.equal(log.statusCode, 0);
  assert.equal(log.success, true);
  assert.equal(log.rule, `guest/${rule}`);
  assert.equal(log.action, `guest/${action}`);
  assert.match(log.activationId, /^[0-9a-f]{32}$/);

  const aact = await waitFor(() => ctx.ow.activations.get({ name: log.activationId }).then((a) => a.response && a),
    { message: 'rule action activation' });
  assert.equal(aact.name, action);
  assert.equal(aact.cause, undefined, 'rule-fired activations have no cause');
  const result = aact.response.result;
  assert.equal(result.from, 'trigger');
  assert.equal(result.over, 'fire');
  assert.equal(result.extra, 42);
  assert.equal(typeof result.__ow_headers, 'object');
  assert.equal(result.__ow_headers['x-fire-test'], 'yes');

  // the trigger activation is served by /logs and /result too
  const logs = await ctx.ow.activations.logs({ name: res.body.activationId });
  assert.deepEqual(logs.logs, tact.logs);
  const resultDoc = await ctx.ow.activations.result({ name: res.body.activationId });
  assert.equal(resultDoc.success, true);
  assert.deepEqual(resultDoc.result, { over: 'fire', extra: 42 });
});

test('the client triggers.invoke fires and returns the activation id', async () => {
  const { trigger } = await linked();
  const out = await ctx.ow.triggers.invoke({ name: trigger, params: { via: 'client' } });
  assert.match(out.activationId, /^[0-9a-f]{32}$/);
});

test('disable and enable a rule', async () => {
  const { trigger, rule } = await linked();
  const off = await ctx.agent.request('POST', `/api/v1/namespaces/_/rules/${rule}`, { body: { status: 'inactive' } });
  assert.equal(off.status, 200);
  await ctx.ow.rules.disable({ name: rule }); // already inactive: still 200
  assert.equal((await ctx.ow.rules.get({ name: rule })).status, 'inactive');
  assert.equal((await ctx.ow.triggers.get({ name: trigger })).rules[`guest/${rule}`].status, 'inactive');
  assert.equal((await fire(trigger)).status, 204, 'no active rule left');

  await ctx.ow.rules.enable({ name: rule });
  assert.equal((await ctx.ow.rules.get({ name: rule })).status, 'active');
  assert.equal((await fire(trigger)).status, 202);

  const bad = await ctx.agent.request('POST', `/api/v1/namespaces/_/rules/${rule}`, { body: { status: 'paused' } });
  assertError(bad, 400);
});

test('an inactive rule adds an error log line when another rule fires', async () => {
  const { trigger, action, rule } = await linked();
  const second = uniqueName('rule2');
  await ctx.ow.rules.create({ name: second, trigger, action });
  await ctx.ow.rules.disable({ name: second });
  const res = await fire(trigger, { n: 1 });
  assert.equal(res.status, 202);
  const tact = await waitFor(() => ctx.ow.activations.get({ name: res.body.activationId }), { message: 'trigger activation' });
  assert.equal(tact.logs.length, 2);
  const lines = tact.logs.map((l) => JSON.parse(l));
  const ok = lines.find((l) => l.rule === `guest/${rule}`);
  const off = lines.find((l) => l.rule === `guest/${second}`);
  assert.equal(ok.statusCode, 0);
  assert.equal(off.statusCode, 1);
  assert.equal(off.success, false);
  assert.equal(off.error, `Rule 'guest/${second}' is inactive, action 'guest/${action}' was not activated.`);
  assert.equal(off.activationId, undefined);
});

test('rule update bumps the version and keeps the status', async () => {
  const { trigger, rule } = await linked();
  await ctx.ow.rules.disable({ name: rule });
  const other = uniqueName('act2');
  await ctx.ow.actions.create({ name: other, action: ECHO });
  const res = await ctx.agent.request('PUT', `/api/v1/namespaces/_/rules/${rule}?overwrite=true`,
    { body: { trigger: `/_/${trigger}`, action: `/_/${other}` } });
  assert.equal(res.status, 200);
  assert.equal(res.body.version, '0.0.2');
  assert.deepEqual(res.body.action, { path: 'guest', name: other });
  assert.equal((await ctx.ow.rules.get({ name: rule })).status, 'inactive');
});

test('deleting a rule unlinks it from its trigger', async () => {
  const { trigger, rule } = await linked();
  const del = await ctx.ow.rules.delete({ name: rule });
  assert.equal(del.name, rule);
  const t = await ctx.ow.triggers.get({ name: trigger });
  assert.equal((t.rules || {})[`guest/${rule}`], undefined);
  assert.equal((await fire(trigger)).status, 204);
  await rejectsWith(ctx.ow.rules.get({ name: rule }), 404);
});

test('rule list, count and 409 on duplicate', async () => {
  const { trigger, action, rule } = await linked();
  await rejectsWith(ctx.ow.rules.create({ name: rule, trigger, action }), 409);
  const list = await ctx.ow.rules.list({ limit: 200 });
  const row = list.find((r) => r.name === rule);
  assert.equal(row.namespace, 'guest');
  assert.deepEqual(row.trigger, { path: 'guest', name: trigger });
  assert.deepEqual(row.action, { path: 'guest', name: action });
  assert.deepEqual(await ctx.ow.rules.list({ count: true }), { rules: list.length });
});

test('rule validation: missing or unknown trigger/action is 400', async () => {
  const { trigger, action } = await linked();
  const noAction = await ctx.agent.request('PUT', `/api/v1/namespaces/_/rules/${uniqueName('r')}`, { body: { trigger: `/_/${trigger}` } });
  assertError(noAction, 400, 'rule requires a valid trigger and a valid action');
  const ghostTrigger = await ctx.agent.request('PUT', `/api/v1/namespaces/_/rules/${uniqueName('r')}`,
    { body: { trigger: `/_/${uniqueName('ghost')}`, action: `/_/${action}` } });
  assertError(ghostTrigger, 400);
  const ghostAction = await ctx.agent.request('PUT', `/api/v1/namespaces/_/rules/${uniqueName('r')}`,
    { body: { trigger: `/_/${trigger}`, action: `/_/${uniqueName('ghost')}` } });
  assertError(ghostAction, 400);
});

test('enabling a rule whose trigger is gone is 404', async () => {
  const { trigger, rule } = await linked();
  await ctx.ow.rules.disable({ name: rule });
  await ctx.ow.triggers.delete({ name: trigger });
  const res = await ctx.agent.request('POST', `/api/v1/namespaces/_/rules/${rule}`, { body: { status: 'active' } });
  assertError(res, 404, 'Only rules with existing triggers can be activated');
});

test('a rule may point at a packaged action', async () => {
  const pkg = uniqueName('rpkg');
  const trigger = uniqueName('trg');
  const rule = uniqueName('rule');
  await ctx.ow.packages.create({ name: pkg, package: { parameters: [{ key: 'pkgParam', value: 'yes' }] } });
  await ctx.ow.actions.create({ name: `${pkg}/inner`, action: ECHO });
  await ctx.ow.triggers.create({ name: trigger });
  const r = await ctx.ow.rules.create({ name: rule, trigger, action: `${pkg}/inner` });
  assert.deepEqual(r.action, { path: `guest/${pkg}`, name: 'inner' });
  const res = await fire(trigger, { k: 'v' });
  assert.equal(res.status, 202);
  const tact = await waitFor(() => ctx.ow.activations.get({ name: res.body.activationId }), { message: 'trigger activation' });
  const line = JSON.parse(tact.logs[0]);
  assert.equal(line.action, `guest/${pkg}/inner`);
  const aact = await waitFor(() => ctx.ow.activations.get({ name: line.activationId }), { message: 'action activation' });
  assert.equal(aact.response.result.pkgParam, 'yes');
  assert.equal(aact.response.result.k, 'v');
});

test('updating a trigger keeps its rules', async () => {
  const { trigger, rule } = await linked();
  const u = await ctx.ow.triggers.update({ name: trigger, trigger: { parameters: [{ key: 'added', value: 1 }] } });
  assert.equal(u.version, '0.0.2');
  assert.equal(u.rules[`guest/${rule}`].status, 'active');
  assert.equal((await fire(trigger)).status, 202);
});

test('lists default to 30 entries', async () => {
  for (let i = 0; i < 31; i += 1) await ctx.ow.triggers.create({ name: uniqueName(`many${i}`) });
  const total = (await ctx.ow.triggers.list({ count: true })).triggers;
  assert.ok(total > 30, `have ${total} triggers`);
  assert.equal((await ctx.ow.triggers.list()).length, 30);
});

test('trigger activation summaries have no end and no statusCode', async () => {
  const { trigger } = await linked();
  const res = await fire(trigger, {});
  assert.equal(res.status, 202);
  const row = await waitFor(async () => (await ctx.ow.activations.list({ name: trigger })).find((a) => a.activationId === res.body.activationId),
    { message: 'trigger activation listed' });
  assert.equal(row.name, trigger);
  assert.equal(row.end, undefined);
  assert.equal(row.statusCode, undefined);
});

test('a rule may fire a published system action', async () => {
  const trigger = uniqueName('systrg');
  await ctx.ow.triggers.create({ name: trigger });
  await ctx.ow.rules.create({ name: uniqueName('sysrule'), trigger: `/guest/${trigger}`, action: '/whisk.system/utils/echo' });
  const res = await ctx.ow.triggers.invoke({ name: trigger, params: { via: 'rule' } });
  const tact = await waitFor(() => ctx.ow.activations.get({ name: res.activationId }), { message: 'trigger activation' });
  const line = JSON.parse(tact.logs[0]);
  assert.equal(line.action, 'whisk.system/utils/echo');
  const aact = await waitFor(() => ctx.ow.activations.get({ name: line.activationId }), { message: 'echo activation' });
  assert.equal(aact.namespace, 'guest');
  assert.equal(aact.response.result.via, 'rule');
});

test('every listed activation can be read with get, logs and result', async () => {
  await assertListedActivationsReadable(ctx.ow);
});
