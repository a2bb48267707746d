// 429 throttling, each limit configured small in its own agent through
// FOGWHISK_EDGE_LIMITS__*: invocations per minute, concurrent invocations, fires per minute.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startAgent, uniqueName, assertError, waitFor } from './helpers.mjs';

async function withAgent(env, fn) {
  const agent = await startAgent({ env });
  try {
    await fn(agent);
  } finally {
    await agent.stop();
  }
}

test('429 after the invocations-per-minute limit', async () => {
  await withAgent({ FOGWHISK_EDGE_LIMITS__INVOCATIONS_PER_MINUTE: '3' }, async (agent) => {
    const ow = agent.client();
    const limits = await agent.request('GET', '/api/v1/namespaces/_/limits');
    assert.equal(limits.body.invocationsPerMinute, 3);
    const name = uniqueName('rate');
    await ow.actions.create({ name, action: 'function main() { return { ok: true }; }' });
    for (let i = 0; i < 3; i += 1) {
      const res = await agent.request('POST', `/api/v1/namespaces/_/actions/${name}?blocking=true`, { body: {} });
      assert.equal(res.status, 200, `invocation ${i + 1} of 3 is allowed: ${res.text}`);
    }
    const res = await agent.request('POST', `/api/v1/namespaces/_/actions/${name}?blocking=true`, { body: {} });
    assertError(res, 429, /^Too many requests in the last minute \(count: \d+, allowed: 3\)\.$/);
    // non-invoke requests are not throttled
    const get = await agent.request('GET', `/api/v1/namespaces/_/actions/${name}`);
    assert.equal(get.status, 200);
  });
});

test('429 above the concurrent-invocations limit', async () => {
  await withAgent({ FOGWHISK_EDGE_LIMITS__CONCURRENT_INVOCATIONS: '1' }, async (agent) => {
    const ow = agent.client();
    const name = uniqueName('conc');
    await ow.actions.create({ name, action: 'function main() { return new Promise((r) => setTimeout(() => r({ done: true }), 4000)); }' });
    const first = await agent.request('POST', `/api/v1/namespaces/_/actions/${name}`, { body: {} });
    assert.equal(first.status, 202);
    const second = await agent.request('POST', `/api/v1/namespaces/_/actions/${name}?blocking=true`, { body: {} });
    assertError(second, 429, /^Too many concurrent requests in flight \(count: \d+, allowed: 1\)\.$/);
    // once the first activation finished, invocations are accepted again
    await waitFor(() => ow.activations.get({ name: first.body.activationId }), { timeout: 30000, message: 'first activation' });
    const third = await waitFor(async () => {
      const r = await agent.request('POST', `/api/v1/namespaces/_/actions/${name}`, { body: {} });
      return r.status === 202 ? r : null;
    }, { timeout: 15000, message: 'an invocation to be accepted again' });
    assert.match(third.body.activationId, /^[0-9a-f]{32}$/);
  });
});

test('429 after the fires-per-minute limit', async () => {
  await withAgent({ FOGWHISK_EDGE_LIMITS__FIRES_PER_MINUTE: '2' }, async (agent) => {
    const ow = agent.client();
    const trigger = uniqueName('firerate');
    const action = uniqueName('fireact');
    await ow.triggers.create({ name: trigger });
    await ow.actions.create({ name: action, action: 'function main(p) { return p; }' });
    await ow.rules.create({ name: uniqueName('firerule'), trigger, action });
    for (let i = 0; i < 2; i += 1) {
      const res = await agent.request('POST', `/api/v1/namespaces/_/triggers/${trigger}`, { body: { i } });
      assert.equal(res.status, 202, `fire ${i + 1} of 2 is allowed: ${res.text}`);
    }
    const res = await agent.request('POST', `/api/v1/namespaces/_/triggers/${trigger}`, { body: {} });
    assertError(res, 429, /^Too many requests in the last minute \(count: \d+, allowed: 2\)\.$/);
  });
});
