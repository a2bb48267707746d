// API gateway routes through the openwhisk npm client's `routes` (web/whisk.system/apimgmt/*),
// served by the agent itself: create with base path, relative path, verb and response type,
// list with filters, get, delete, the swagger form, each route answering at its gwApiUrl by
// running its web action (verb checked), and routes surviving a restart of the agent.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { useAgent, startAgent, rejectsWith, uniqueName } from './helpers.mjs';

const ctx = useAgent();
const HELLO = 'function main(p) { return { greeting: "hello " + (p.name || "you"), method: p.__ow_method } }';
const BOOK = 'function main(p) { return { statusCode: 201, headers: { "x-book": p.__ow_path }, body: { path: p.__ow_path, q: p.q } } }';

before(async () => {
  await ctx.ready;
  await ctx.ow.actions.create({ name: 'hello', action: HELLO, annotations: { 'web-export': true } });
  await ctx.ow.packages.create({ name: 'lib' });
  await ctx.ow.actions.create({ name: 'lib/book', action: BOOK, annotations: { 'web-export': true } });
  await ctx.ow.actions.create({ name: 'private', action: HELLO });
});

function route(api, relpath, verb) {
  return api.apidoc.paths[relpath][verb];
}

test('create a route and call it at its gwApiUrl; the verb is checked', async () => {
  const api = await ctx.ow.routes.create({ basepath: '/hello', relpath: '/world', operation: 'GET', action: 'hello' });
  assert.equal(api.gwApiActivated, true);
  assert.match(api.gwApiUrl, new RegExp(`^${ctx.agent.apihost}/api/[0-9a-f-]{36}/hello$`));
  assert.equal(api.gwApiUrl.split('/')[4], ctx.agent.auth.split(':')[0], 'the tenant is the namespace uuid, as OpenWhisk');
  assert.equal(api.apidoc.basePath, '/hello');
  const op = route(api, '/world', 'get');
  assert.equal(op.operationId, 'getWorld');
  assert.deepEqual(op['x-openwhisk'], { url: `${ctx.agent.apihost}/api/v1/web/guest/default/hello.json`, namespace: 'guest', package: '', action: 'hello' });

  const res = await fetch(`${api.gwApiUrl}/world?name=gw`);
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { greeting: 'hello gw', method: 'get' });
  const post = await fetch(`${api.gwApiUrl}/world`, { method: 'POST' });
  assert.equal(post.status, 404, 'no POST operation on this route');
  assert.equal(typeof (await post.json()).error, 'string');
  assert.equal((await fetch(`${api.gwApiUrl}/nowhere`)).status, 404);
  const pre = await fetch(`${api.gwApiUrl}/world`, { method: 'OPTIONS', headers: { 'access-control-request-headers': 'x-custom' } });
  assert.equal(pre.status, 200, 'CORS preflight answered by the gateway');
  assert.equal(pre.headers.get('access-control-allow-origin'), '*');
  assert.equal(pre.headers.get('access-control-allow-headers'), 'x-custom');
});

test('response type http, path parameters and a packaged action', async () => {
  const api = await ctx.ow.routes.create({ basepath: '/library', relpath: '/books/{id}', operation: 'PUT', action: 'lib/book', responsetype: 'http' });
  const op = route(api, '/books/{id}', 'put');
  assert.deepEqual(op.parameters.map((p) => [p.name, p.in]), [['id', 'path']]);
  assert.equal(op['x-openwhisk'].package, 'lib');
  const res = await fetch(`${api.gwApiUrl}/books/42?q=x`, { method: 'PUT' });
  assert.equal(res.status, 201);
  assert.equal(res.headers.get('x-book'), '/library/books/42');
  assert.deepEqual(await res.json(), { path: '/library/books/42', q: 'x' });
  await rejectsWith(ctx.ow.routes.create({ basepath: '/library', relpath: '/shelf/{n}', operation: 'GET', action: 'lib/book' }),
    502, { message: "response type of '.http'", standardBody: false });
});

test('list with filters, get, and delete one operation then the API', async () => {
  await ctx.ow.routes.create({ basepath: '/multi', relpath: '/a', operation: 'GET', action: 'hello', name: 'Multi API' });
  await ctx.ow.routes.create({ basepath: '/multi', relpath: '/a', operation: 'POST', action: 'hello' });
  await ctx.ow.routes.create({ basepath: '/multi', relpath: '/b', operation: 'GET', action: 'hello' });
  const all = await ctx.ow.routes.list();
  const bases = all.apis.map((a) => a.value.apidoc.basePath);
  assert.ok(['/hello', '/library', '/multi'].every((b) => bases.includes(b)), JSON.stringify(bases));
  const one = await ctx.ow.routes.get({ basepath: '/multi' });
  assert.equal(one.apis.length, 1);
  assert.equal(one.apis[0].value.apidoc.info.title, 'Multi API');
  assert.deepEqual(Object.keys(one.apis[0].value.apidoc.paths).sort(), ['/a', '/b']);
  assert.equal((await ctx.ow.routes.get({ name: 'Multi API' })).apis.length, 1, 'by API name');
  const filtered = await ctx.ow.routes.list({ basepath: '/multi', relpath: '/a', operation: 'post' });
  assert.deepEqual(Object.keys(filtered.apis[0].value.apidoc.paths), ['/a']);
  assert.deepEqual(Object.keys(filtered.apis[0].value.apidoc.paths['/a']), ['post']);

  const url = one.apis[0].value.gwApiUrl;
  assert.deepEqual(await ctx.ow.routes.delete({ basepath: '/multi', relpath: '/a', operation: 'POST' }), {});
  assert.equal((await fetch(`${url}/a`, { method: 'POST' })).status, 404);
  assert.equal((await fetch(`${url}/a`)).status, 200, 'GET /a is still there');
  await ctx.ow.routes.delete({ basepath: '/multi' });
  assert.equal((await ctx.ow.routes.get({ basepath: '/multi' })).apis.length, 0);
  assert.equal((await fetch(`${url}/b`)).status, 404);
  await rejectsWith(ctx.ow.routes.delete({ basepath: '/multi' }), 502, { message: "API '/multi' does not exist.", standardBody: false });
});

test('the swagger form replaces an API wholesale', async () => {
  const swagger = {
    swagger: '2.0', basePath: '/sw', info: { title: 'From swagger', version: '1.0.0' },
    paths: { '/hi': { post: { operationId: 'postHi', responses: { default: { description: 'ok' } },
      'x-openwhisk': { namespace: '_', package: '', action: 'hello', url: `${ctx.agent.apihost}/api/v1/web/_/default/hello.json` } } } },
  };
  const api = await ctx.ow.routes.create({ swagger: JSON.stringify(swagger) });
  assert.equal(api.apidoc.info.title, 'From swagger');
  const res = await fetch(`${api.gwApiUrl}/hi`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name":"sw"}' });
  assert.equal(res.status, 200);
  assert.equal((await res.json()).greeting, 'hello sw');
  await rejectsWith(ctx.ow.routes.create({ swagger: '{"basePath": "/x"}' }), 502, { message: 'swagger is missing the paths field.', standardBody: false });
});

test('a route to an action that is not a web action answers 404; other namespaces see nothing', async () => {
  const api = await ctx.ow.routes.create({ basepath: '/priv', relpath: '/p', operation: 'GET', action: 'private' });
  assert.equal((await fetch(`${api.gwApiUrl}/p`)).status, 404);
  const other = ctx.agent.client(await ctx.agent.createNamespace(uniqueName('ns').slice(0, 30)));
  assert.deepEqual((await other.routes.list()).apis, []);
  await rejectsWith(other.routes.delete({ basepath: '/priv' }), 502, { standardBody: false });
  const anon = await ctx.agent.request('GET', '/api/v1/web/whisk.system/apimgmt/getApi', { auth: false });
  assert.equal(anon.status, 401);
});

test('routes survive a restart of the agent', async () => {
  const { agent } = ctx;
  const before = await ctx.ow.routes.get({ basepath: '/hello' });
  await agent.stop({ keepData: true });
  const again = await startAgent({ dataDir: agent.dataDir });
  ctx.agent = again; // stopped by the file's after hook
  const ow = again.client();
  const after = await ow.routes.get({ basepath: '/hello' });
  assert.equal(after.apis.length, 1);
  assert.deepEqual(after.apis[0].value.apidoc, before.apis[0].value.apidoc);
  const res = await fetch(`${after.apis[0].value.gwApiUrl}/world?name=again`);
  assert.equal(res.status, 200);
  assert.equal((await res.json()).greeting, 'hello again');
});
