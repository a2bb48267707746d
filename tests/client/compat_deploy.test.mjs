// A wskdeploy-style deployer built on the openwhisk npm client, as third-party CLIs ship one:
// a manifest with a package, an action, feed triggers (alarms) and rules is deployed and
// undeployed. Its trigger bodies carry fields OpenWhisk does not know (`feed`, the manifest's
// own keys); the controller ignores them, and so must the agent, or the deploy stops halfway.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useAgent, uniqueName, rejectsWith, annotation } from './helpers.mjs';

const ctx = useAgent();

function manifest() {
  const pkg = uniqueName('site');
  return {
    package: pkg,
    actions: { report: { code: 'function main(p) { return { reported: true, p } }', inputs: { unit: 'C' } } },
    triggers: {
      every: { feed: '/whisk.system/alarms/interval', inputs: { minutes: 60 } },
      nightly: { feed: '/whisk.system/alarms/alarm', inputs: { cron: '5 0 * * *', timezone: 'Europe/Rome' } },
    },
    rules: { everyRule: { trigger: 'every', action: 'report' }, nightlyRule: { trigger: 'nightly', action: 'report' } },
  };
}

const params = (o) => Object.entries(o).map(([key, value]) => ({ key, value }));

async function deploy(ow, m) {
  await ow.packages.create({ name: m.package, package: { parameters: [], manifestVersion: '1.0' } });
  for (const [name, a] of Object.entries(m.actions)) {
    await ow.actions.create({ name: `${m.package}/${name}`, action: a.code, params: a.inputs });
  }
  for (const [name, t] of Object.entries(m.triggers)) {
    // The deployer's trigger body: the feed as a field of its own, next to the annotation OpenWhisk reads.
    await ow.triggers.create({ name, trigger: { feed: t.feed, inputs: t.inputs, annotations: [{ key: 'feed', value: t.feed }] } });
    await ow.feeds.create({ feedName: t.feed, trigger: name, params: t.inputs });
  }
  for (const [name, r] of Object.entries(m.rules)) {
    await ow.rules.create({ name, trigger: r.trigger, action: `${m.package}/${r.action}` });
  }
}

async function undeploy(ow, m) {
  for (const name of Object.keys(m.rules)) await ow.rules.delete({ name });
  for (const [name, t] of Object.entries(m.triggers)) {
    await ow.feeds.delete({ feedName: t.feed, trigger: name });
    await ow.triggers.delete({ name });
  }
  for (const name of Object.keys(m.actions)) await ow.actions.delete({ name: `${m.package}/${name}` });
  await ow.packages.delete({ name: m.package });
}

test('a manifest with feed triggers deploys and undeploys completely', async () => {
  await ctx.ready;
  const { ow } = ctx;
  const m = manifest();
  await deploy(ow, m);
  for (const [name, t] of Object.entries(m.triggers)) {
    const got = await ow.triggers.get({ name });
    assert.equal(annotation(got, 'feed'), t.feed);
    assert.equal(got.feed, undefined, 'the unknown field is not stored');
    const read = await ow.feeds.get({ feedName: t.feed, trigger: name });
    assert.equal(read.response.success, true, JSON.stringify(read.response));
  }
  for (const name of Object.keys(m.rules)) {
    const r = await ow.rules.get({ name });
    assert.equal(r.status, 'active');
    assert.equal(r.action.name, 'report');
  }
  await undeploy(ow, m);
  for (const name of Object.keys(m.triggers)) await rejectsWith(ow.triggers.get({ name }), 404);
  for (const name of Object.keys(m.rules)) await rejectsWith(ow.rules.get({ name }), 404);
  await rejectsWith(ow.packages.get({ name: m.package }), 404);
  // Deploying again after the undeploy works: nothing was left behind.
  await deploy(ow, m);
  await undeploy(ow, m);
});
