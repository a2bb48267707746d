// Runtimes other than plain Node.js code: Python (python:3.11 and python:default) and a
// zipped Node.js action (package.json `main` + modules), built in the test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useAgent, uniqueName, rejectsWith, annotation, makeZip, LOG_LINE } from './helpers.mjs';

const ctx = useAgent();

const PY = `
import sys

def main(args):
    print("python says", args.get("name"))
    return {"greeting": "hello " + args.get("name", "nobody"),
            "version": [sys.version_info[0], sys.version_info[1]]}
`;

test('python:3.11 action runs on Python 3.11 and captures stdout', async () => {
  const name = uniqueName('py');
  const a = await ctx.ow.actions.create({ name, action: PY, kind: 'python:3.11' });
  assert.equal(a.exec.kind, 'python:3.11');
  const act = await ctx.ow.actions.invoke({ name, params: { name: 'ada' }, blocking: true });
  assert.equal(act.response.success, true, JSON.stringify(act.response));
  assert.deepEqual(act.response.result, { greeting: 'hello ada', version: [3, 11] });
  assert.equal(annotation(act, 'kind'), 'python:3.11');
  const lines = act.logs.map((l) => LOG_LINE.exec(l)).filter(Boolean);
  assert.ok(lines.some((m) => m[2] === 'stdout' && m[3] === 'python says ada'), JSON.stringify(act.logs));
});

test('python:default resolves to a concrete Python 3 kind', async () => {
  const name = uniqueName('pydef');
  const a = await ctx.ow.actions.create({ name, action: PY, kind: 'python:default' });
  assert.match(a.exec.kind, /^python:3\.\d+$/);
  const out = await ctx.ow.actions.invoke({ name, params: { name: 'def' }, blocking: true, result: true });
  assert.equal(out.greeting, 'hello def');
  assert.equal(out.version[0], 3);
});

test('python main can be renamed with exec.main', async () => {
  const name = uniqueName('pymain');
  await ctx.ow.actions.create({ name, kind: 'python:3.11',
    action: { exec: { kind: 'python:3.11', code: 'def handler(args):\n    return {"via": "handler"}\n', main: 'handler' } } });
  assert.deepEqual(await ctx.ow.actions.invoke({ name, blocking: true, result: true }), { via: 'handler' });
});

test('a python exception fails the activation with 502 and the message', async () => {
  const name = uniqueName('pyerr');
  await ctx.ow.actions.create({ name, action: 'def main(args):\n    raise ValueError("bad value here")\n', kind: 'python:3.11' });
  const body = await rejectsWith(ctx.ow.actions.invoke({ name, blocking: true }), 502, { standardBody: false });
  assert.equal(body.response.success, false);
  assert.ok(String(body.response.result.error).includes('bad value here'), JSON.stringify(body.response));
});

test('a python action returning a non-dict is a developer error', async () => {
  const name = uniqueName('pyscalar');
  await ctx.ow.actions.create({ name, action: 'def main(args):\n    return 7\n', kind: 'python:3.11' });
  const body = await rejectsWith(ctx.ow.actions.invoke({ name, blocking: true }), 502, { standardBody: false });
  assert.equal(body.response.status, 'action developer error');
});

test('a zipped Node.js action with package.json main and a local module', async () => {
  const zip = await makeZip({
    'package.json': JSON.stringify({ name: 'zipped', version: '1.0.0', main: 'lib/entry.js' }),
    'lib/entry.js': 'const { shout } = require("./util");\nexports.main = (p) => ({ loud: shout(p.word || "zip") });\n',
    'lib/util.js': 'exports.shout = (s) => s.toUpperCase() + "!";\n',
  });
  assert.equal(zip.subarray(0, 4).toString('hex'), '504b0304', 'a real zip archive');
  const name = uniqueName('zip');
  const a = await ctx.ow.actions.create({ name, action: zip, kind: 'nodejs:20' });
  assert.equal(a.exec.binary, true);
  assert.equal(a.exec.code, zip.toString('base64'));
  const listed = (await ctx.ow.actions.list({ limit: 200 })).find((r) => r.name === name);
  assert.equal(listed.exec.binary, true);
  const out = await ctx.ow.actions.invoke({ name, params: { word: 'hey' }, blocking: true, result: true });
  assert.deepEqual(out, { loud: 'HEY!' });
});

test('a zipped action created without a kind uses nodejs:default', async () => {
  const zip = await makeZip({
    'package.json': JSON.stringify({ main: 'index.js' }),
    'index.js': 'function main(params) { return params; }\nexports.main = main;\n',
  });
  const name = uniqueName('zipdef');
  const a = await ctx.ow.actions.create({ name, action: zip });
  assert.match(a.exec.kind, /^nodejs:\d+$/);
  const act = await ctx.ow.actions.invoke({ name, params: { hello: 'world' }, blocking: true });
  assert.equal(act.response.success, true);
  assert.deepEqual(act.response.result, { hello: 'world' });
});

test('a zipped action with index.js and a custom main name', async () => {
  const zip = await makeZip({
    'index.js': 'exports.run = (p) => ({ ran: true, n: p.n * 2 });\n',
  });
  const name = uniqueName('zipmain');
  await ctx.ow.actions.create({ name, action: { exec: { kind: 'nodejs:20', code: zip.toString('base64'), main: 'run' } } });
  const got = await ctx.ow.actions.get({ name });
  assert.equal(got.exec.binary, true);
  assert.equal(got.exec.main, 'run');
  assert.deepEqual(await ctx.ow.actions.invoke({ name, params: { n: 21 }, blocking: true, result: true }), { ran: true, n: 42 });
});

test('a zipped Python action with __main__.py', async () => {
  const zip = await makeZip({
    '__main__.py': 'from helper import twice\n\ndef main(args):\n    return {"twice": twice(args.get("n", 1))}\n',
    'helper.py': 'def twice(n):\n    return n * 2\n',
  });
  const name = uniqueName('pyzip');
  await ctx.ow.actions.create({ name, action: zip, kind: 'python:3.11' });
  assert.deepEqual(await ctx.ow.actions.invoke({ name, params: { n: 5 }, blocking: true, result: true }), { twice: 10 });
});

test('a zip that is not a valid action fails at initialization', async () => {
  const zip = await makeZip({ 'README.txt': 'no code here' });
  const name = uniqueName('zipbad');
  await ctx.ow.actions.create({ name, action: zip, kind: 'nodejs:20' });
  const body = await rejectsWith(ctx.ow.actions.invoke({ name, blocking: true }), 502, { standardBody: false });
  assert.equal(body.response.status, 'action developer error');
});
