// Feeds the way `wsk trigger create --feed` and the JS client's `feeds.*` drive them:
// a trigger annotated with `feed`, then a blocking invoke of a user-defined feed action
// with lifecycleEvent/triggerName/authKey; feed failures; invalid feed annotations.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { useAgent, uniqueName, rejectsWith, assertError, annotation } from './helpers.mjs';

const ctx = useAgent();

// A hook-style feed: it records what it was told and, on CREATE, calls the API back with
// the authKey it received (like the alarms feed does) to check that the trigger exists.
const FEED = `
async function main(params) {
  const out = { lifecycleEvent: params.lifecycleEvent, triggerName: params.triggerName,
                authKey: params.authKey, extra: params.extra, packageParam: params.packageParam };
  if (params.lifecycleEvent === 'CREATE') {
    const name = params.triggerName.split('/').pop();
    const res = await fetch(process.env.__OW_API_HOST + '/api/v1/namespaces/_/triggers/' + encodeURIComponent(name), {
      headers: { authorization: 'Basic ' + Buffer.from(params.authKey).toString('base64') },
    });
    out.callbackStatus = res.status;
    out.callbackFeed = (await res.json()).annotations.find((a) => a.key === 'feed').value;
  }
  if (params.fail) return { error: 'feed refused: ' + params.fail };
  return out;
}`;

before(async () => {
  await ctx.ready;
  await ctx.ow.packages.create({ name: 'myfeeds', package: { parameters: [{ key: 'packageParam', value: 'p' }] } });
  await ctx.ow.actions.create({ name: 'myfeeds/feed', action: FEED, annotations: { feed: true } });
});

test('trigger create with a feed annotation, then the CREATE lifecycle via feeds.create', async () => {
  const trigger = uniqueName('feedtrg');
  const t = await ctx.ow.triggers.create({ name: trigger, annotations: { feed: '/guest/myfeeds/feed' } });
  assert.equal(annotation(t, 'feed'), '/guest/myfeeds/feed');
  assert.deepEqual(t.parameters, []);

  const act = await ctx.ow.feeds.create({ name: '/guest/myfeeds/feed', trigger, params: { extra: 'x' } });
  assert.equal(act.response.success, true, JSON.stringify(act.response));
  const r = act.response.result;
  assert.equal(r.lifecycleEvent, 'CREATE');
  assert.equal(r.triggerName, `/_/${trigger}`, 'the client qualifies the trigger with its namespace, _ by default');
  assert.equal(r.authKey, ctx.agent.auth);
  assert.equal(r.extra, 'x');
  assert.equal(r.packageParam, 'p', 'package parameters reach the feed');
  assert.equal(r.callbackStatus, 200, 'the feed can call the API with the authKey');
  assert.equal(r.callbackFeed, '/guest/myfeeds/feed');
});

test('READ, UPDATE and DELETE lifecycle events, then trigger delete', async () => {
  const trigger = uniqueName('feedtrg');
  await ctx.ow.triggers.create({ name: trigger, annotations: { feed: '/guest/myfeeds/feed' } });
  await ctx.ow.feeds.create({ name: 'myfeeds/feed', trigger });
  const read = await ctx.ow.feeds.get({ name: 'myfeeds/feed', trigger });
  assert.equal(read.response.result.lifecycleEvent, 'READ');
  const upd = await ctx.ow.feeds.update({ name: 'myfeeds/feed', trigger, params: { extra: 'changed' } });
  assert.equal(upd.response.result.lifecycleEvent, 'UPDATE');
  assert.equal(upd.response.result.extra, 'changed');
  const del = await ctx.ow.feeds.delete({ name: 'myfeeds/feed', trigger });
  assert.equal(del.response.result.lifecycleEvent, 'DELETE');
  assert.equal(del.response.result.triggerName, `/_/${trigger}`);
  await ctx.ow.triggers.delete({ name: trigger });
  await rejectsWith(ctx.ow.triggers.get({ name: trigger }), 404);
});

test('a fully qualified trigger name is passed through unchanged', async () => {
  const trigger = uniqueName('feedtrg');
  await ctx.ow.triggers.create({ name: trigger, annotations: { feed: '/guest/myfeeds/feed' } });
  const act = await ctx.ow.feeds.create({ name: 'myfeeds/feed', trigger: `/guest/${trigger}` });
  assert.equal(act.response.result.triggerName, `/guest/${trigger}`);
});

test('a feed returning an error makes feeds.create fail with 502', async () => {
  const trigger = uniqueName('feedtrg');
  await ctx.ow.triggers.create({ name: trigger, annotations: { feed: '/guest/myfeeds/feed' } });
  const body = await rejectsWith(ctx.ow.feeds.create({ name: 'myfeeds/feed', trigger, params: { fail: 'no broker' } }),
    502, { standardBody: false });
  assert.equal(body.response.success, false);
  assert.equal(body.response.status, 'application error');
  assert.deepEqual(body.response.result, { error: 'feed refused: no broker' });
  // what wsk does next: delete the trigger
  await ctx.ow.triggers.delete({ name: trigger });
});

test('feed annotations must name a valid entity', async () => {
  for (const value of ['/guest/myfeeds/fe$ed!', 42]) {
    const res = await ctx.agent.request('PUT', `/api/v1/namespaces/_/triggers/${uniqueName('badfeed')}`,
      { body: { annotations: [{ key: 'feed', value }] } });
    assertError(res, 400, 'Feed name is not valid');
  }
});

test('the feed action is listed under the package feeds', async () => {
  const pkg = await ctx.ow.packages.get({ name: 'myfeeds' });
  assert.deepEqual(pkg.feeds.map((f) => f.name), ['feed']);
  assert.deepEqual(pkg.actions, []);
});
