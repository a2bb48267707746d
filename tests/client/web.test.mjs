// Web actions (/api/v1/web/{ns}/{pkg|default}/{action}.{ext}): web-export, extensions
// .json/.http/.html, no auth, __ow_method/__ow_headers/__ow_path, body and query merging,
// raw-http, require-whisk-auth, 404 when not exported, CORS on OPTIONS.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { useAgent, uniqueName, assertError, waitFor } from './helpers.mjs';

const ctx = useAgent();
const SHOW = `function main(p) {
  return { method: p.__ow_method, headers: p.__ow_headers, path: p.__ow_path, user: p.__ow_user,
           body: p.__ow_body, query: p.__ow_query,
           params: Object.fromEntries(Object.entries(p).filter(([k]) => !k.startsWith('__ow_'))) };
}`;
const names = {};

/** Unauthenticated request to a web action URL path under /api/v1/web. */
async function web(method, path, opts = {}) {
  return ctx.agent.request(method, `/api/v1/web/${path}`, { auth: false, ...opts });
}

before(async () => {
  await ctx.ready;
  names.show = uniqueName('webshow');
  names.hidden = uniqueName('webhidden');
  names.http = uniqueName('webhttp');
  names.raw = uniqueName('webraw');
  names.secure = uniqueName('websecure');
  names.pkg = uniqueName('webpkg');
  names.authed = uniqueName('webauthed');
  names.final = uniqueName('webfinal');
  await ctx.ow.actions.create({ name: names.show, action: SHOW, params: { fixed: 'action' },
    annotations: { 'web-export': true } });
  await ctx.ow.actions.create({ name: names.hidden, action: SHOW });
  await ctx.ow.actions.create({ name: names.http, annotations: { 'web-export': true }, action: `function main(p) {
    if (p.mode === 'text') return { statusCode: 201, headers: { 'x-from-action': 'yes' }, body: '<p>hi</p>' };
    if (p.mode === 'json') return { body: { a: 1 } };
    if (p.mode === 'html') return { body: '<h1>page</h1>' };
    if (p.mode === 'empty') return {};
    if (p.mode === 'plain') return { headers: { 'content-type': 'text/plain' }, body: 'plain words' };
    return { statusCode: 'x-not-a-status' };
  }` });
  await ctx.ow.actions.create({ name: names.raw, action: SHOW, annotations: { 'web-export': true, 'raw-http': true } });
  await ctx.ow.actions.create({ name: names.secure, action: SHOW,
    annotations: { 'web-export': true, 'require-whisk-auth': 'letmein' } });
  await ctx.ow.actions.create({ name: names.authed, action: SHOW,
    annotations: { 'web-export': true, 'require-whisk-auth': true } });
  await ctx.ow.actions.create({ name: names.final, action: SHOW, params: { locked: 'action' },
    annotations: { 'web-export': true, final: true } });
  await ctx.ow.packages.create({ name: names.pkg });
  await ctx.ow.actions.create({ name: `${names.pkg}/inside`, action: SHOW, annotations: { 'web-export': true } });
});

test('.json returns the result as JSON with request details, no auth needed', async () => {
  const res = await web('GET', `guest/default/${names.show}.json?q=1&fixed=query`, { headers: { 'X-Custom-Thing': 'Value' } });
  assert.equal(res.status, 200, res.text);
  assert.match(res.headers.get('content-type'), /^application\/json/);
  assert.equal(res.body.method, 'get');
  assert.equal(res.body.headers['x-custom-thing'], 'Value');
  assert.equal(res.body.path, '');
  assert.equal(res.body.user, undefined, '__ow_user only when authenticated');
  assert.deepEqual(res.body.params, { fixed: 'query', q: '1' });
});

test('POST JSON and form bodies are merged into the parameters', async () => {
  const json = await web('POST', `guest/default/${names.show}.json?q=query`, { body: { a: 1, q: 'body' } });
  assert.equal(json.status, 200, json.text);
  assert.equal(json.body.method, 'post');
  assert.deepEqual(json.body.params, { fixed: 'action', a: 1, q: 'body' });
  const form = await web('PUT', `guest/default/${names.show}.json`,
    { body: 'x=1&y=two', contentType: 'application/x-www-form-urlencoded' });
  assert.equal(form.status, 200, form.text);
  assert.equal(form.body.method, 'put');
  assert.deepEqual(form.body.params, { fixed: 'action', x: '1', y: 'two' });
});

test('__ow_path carries the rest of the URL after the extension', async () => {
  const res = await web('GET', `guest/default/${names.show}.json/some/sub/path`);
  assert.equal(res.status, 200, res.text);
  assert.equal(res.body.path, '/some/sub/path');
});

test('clients may not override __ow_ parameters', async () => {
  const res = await web('GET', `guest/default/${names.show}.json?__ow_method=delete`);
  assertError(res, 400);
});

test('.http uses statusCode, headers and body from the result', async () => {
  const text = await web('GET', `guest/default/${names.http}.http?mode=text`);
  assert.equal(text.status, 201);
  assert.equal(text.headers.get('x-from-action'), 'yes');
  assert.match(text.headers.get('content-type'), /^text\/html/);
  assert.equal(text.text, '<p>hi</p>');
  const json = await web('GET', `guest/default/${names.http}.http?mode=json`);
  assert.equal(json.status, 200);
  assert.match(json.headers.get('content-type'), /^application\/json/);
  assert.deepEqual(json.body, { a: 1 });
  const plain = await web('GET', `guest/default/${names.http}.http?mode=plain`);
  assert.equal(plain.status, 200);
  assert.match(plain.headers.get('content-type'), /^text\/plain/);
  assert.equal(plain.text, 'plain words');
  const empty = await web('GET', `guest/default/${names.http}.http?mode=empty`);
  assert.equal(empty.status, 204);
  const bad = await web('GET', `guest/default/${names.http}.http?mode=bad`);
  assertError(bad, 400);
});

test('no extension means .http', async () => {
  const res = await web('GET', `guest/default/${names.http}?mode=text`);
  assert.equal(res.status, 201);
  assert.equal(res.text, '<p>hi</p>');
});

test('.html renders result.body as text/html', async () => {
  const res = await web('GET', `guest/default/${names.http}.html?mode=html`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^text\/html/);
  assert.equal(res.text, '<h1>page</h1>');
});

test('.text renders result.body as plain text', async () => {
  const res = await web('GET', `guest/default/${names.http}.text?mode=plain`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^text\/plain/);
  assert.equal(res.text, 'plain words');
});

test('.html refuses a body that is not a string', async () => {
  const res = await web('GET', `guest/default/${names.http}.html?mode=json`);
  assertError(res, 400);
});

test('packaged web actions are addressed by package name', async () => {
  const res = await web('GET', `guest/${names.pkg}/inside.json?k=v`);
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(res.body.params, { k: 'v' });
});

test('raw-http passes the body and query string unparsed', async () => {
  const res = await web('POST', `guest/default/${names.raw}.json?a=1&b=2`, { body: 'just text', contentType: 'text/plain' });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.body.query, 'a=1&b=2');
  assert.equal(res.body.body, 'just text');
  assert.deepEqual(res.body.params, {});
});

test('require-whisk-auth with a string needs the X-Require-Whisk-Auth header', async () => {
  assertError(await web('GET', `guest/default/${names.secure}.json`), 401);
  assertError(await web('GET', `guest/default/${names.secure}.json`, { headers: { 'X-Require-Whisk-Auth': 'wrong' } }), 401);
  const ok = await web('GET', `guest/default/${names.secure}.json`, { headers: { 'X-Require-Whisk-Auth': 'letmein' } });
  assert.equal(ok.status, 200, ok.text);
});

test('require-whisk-auth: true needs valid credentials and sets __ow_user', async () => {
  assertError(await web('GET', `guest/default/${names.authed}.json`), 401);
  const ok = await ctx.agent.request('GET', `/api/v1/web/guest/default/${names.authed}.json`);
  assert.equal(ok.status, 200, ok.text);
  assert.equal(ok.body.user, 'guest');
});

test('final parameters cannot be overridden by the request', async () => {
  assertError(await web('GET', `guest/default/${names.final}.json?locked=request`), 400);
  const ok = await web('GET', `guest/default/${names.final}.json?other=1`);
  assert.equal(ok.status, 200, ok.text);
  assert.deepEqual(ok.body.params, { locked: 'action', other: '1' });
});

test('actions without web-export and missing actions are 404', async () => {
  assertError(await web('GET', `guest/default/${names.hidden}.json`), 404);
  assertError(await web('GET', `guest/default/${uniqueName('ghost')}.json`), 404);
  assertError(await web('GET', `guest/${uniqueName('nopkg')}/${names.show}.json`), 404);
  assertError(await web('GET', `nobody/default/${names.show}.json`), 404);
});

test('an unknown extension is part of the action name, so the action is not found', async () => {
  // Upstream WebActions.scala: enforceExtension = false, so "name.xyz" names an action
  // "name.xyz" with the default .http extension (WebActionsApiTests expects 404 then).
  assertError(await web('GET', `guest/default/${names.show}.xyz`), 404);
});

test('OPTIONS on a web action answers CORS headers', async () => {
  const res = await web('OPTIONS', `guest/default/${names.show}.json`,
    { headers: { 'Access-Control-Request-Headers': 'x-custom-thing' } });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('access-control-allow-origin'), '*');
  const methods = res.headers.get('access-control-allow-methods').split(',').map((s) => s.trim());
  for (const m of ['OPTIONS', 'GET', 'DELETE', 'POST', 'PUT', 'HEAD', 'PATCH']) assert.ok(methods.includes(m), m);
  assert.equal(res.headers.get('access-control-allow-headers'), 'x-custom-thing');
});

test('the web activation is recorded in the owner namespace', async () => {
  const marker = uniqueName('marker');
  const res = await web('GET', `guest/default/${names.show}.json?marker=${marker}`);
  assert.equal(res.status, 200, res.text);
  // the record may be stored just after the response
  const found = await waitFor(async () => {
    const list = await ctx.ow.activations.list({ name: names.show, docs: true, limit: 5 });
    return list.find((a) => a.response && a.response.result.params && a.response.result.params.marker === marker);
  }, { message: 'the web activation record' });
  assert.equal(found.namespace, 'guest');
  assert.equal(found.name, names.show);
});
