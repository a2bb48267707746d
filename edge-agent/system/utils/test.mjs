// Unit tests for the /whisk.system/utils action sources: each file is loaded the way the
// Node.js runtime loads plain action code (a script that defines a global `main`), run
// in a fresh V8 context, and its JSON-serialized output is checked.
// Run: node --test edge-agent/system/utils/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';

const here = dirname(fileURLToPath(import.meta.url));

/** Loads `<name>.js`, returns a function that calls its `main` and JSON round-trips the result. */
function load(name) {
  const source = readFileSync(join(here, `${name}.js`), 'utf8');
  const context = vm.createContext({});
  vm.runInContext(source, context, { filename: `${name}.js` });
  assert.equal(typeof context.main, 'function', `${name}.js must define a global function main`);
  // The runtime serializes results to JSON; doing the same here also removes the
  // foreign-realm prototypes that would defeat deepStrictEqual.
  return (params) => JSON.parse(JSON.stringify(context.main(JSON.parse(JSON.stringify(params)))));
}

test('echo returns its parameters unchanged', () => {
  const echo = load('echo');
  const params = { a: 1, nested: { b: [1, 2, 'x'] }, s: 'text', n: null };
  assert.deepEqual(echo(params), params);
  assert.deepEqual(echo({}), {});
});

test('cat joins lines with newlines and returns them', () => {
  const cat = load('cat');
  assert.deepEqual(cat({ lines: ['a', 'b', 'c'] }), { lines: ['a', 'b', 'c'], payload: 'a\nb\nc' });
  assert.deepEqual(cat({ lines: [] }), { lines: [], payload: '' });
  assert.deepEqual(cat({}), { lines: [], payload: '' });
  assert.equal(typeof cat({ lines: 'abc' }).error, 'string');
});

test('sort orders lines ascending and reports the count', () => {
  const sort = load('sort');
  assert.deepEqual(sort({ lines: ['pear', 'apple', 'fig'] }), { length: 3, lines: ['apple', 'fig', 'pear'] });
  assert.deepEqual(sort({ lines: ['b', 'B', 'a'] }), { length: 3, lines: ['B', 'a', 'b'] });
  assert.deepEqual(sort({}), { length: 0, lines: [] });
  assert.equal(typeof sort({ lines: { not: 'an array' } }).error, 'string');
});

test('head keeps the first num lines, 1 by default', () => {
  const head = load('head');
  const lines = ['one', 'two', 'three'];
  assert.deepEqual(head({ lines }), { lines: ['one'] });
  assert.deepEqual(head({ lines, num: 2 }), { lines: ['one', 'two'] });
  assert.deepEqual(head({ lines, num: 10 }), { lines });
  assert.deepEqual(head({ lines, num: 0 }), { lines: [] });
  assert.equal(typeof head({ lines, num: -1 }).error, 'string');
  assert.equal(typeof head({ lines, num: 'two' }).error, 'string');
  assert.equal(typeof head({ lines, num: 1.5 }).error, 'string');
  assert.equal(typeof head({ lines: 'x' }).error, 'string');
});

test('split cuts the payload at the separator, newline by default', () => {
  const split = load('split');
  assert.deepEqual(split({ payload: 'a\nb\nc' }), { lines: ['a', 'b', 'c'] });
  assert.deepEqual(split({ payload: 'a,b', separator: ',' }), { lines: ['a', 'b'] });
  assert.deepEqual(split({ payload: '' }), { lines: [''] });
  assert.equal(typeof split({}).error, 'string');
  assert.equal(typeof split({ payload: 42 }).error, 'string');
  assert.equal(typeof split({ payload: 'a', separator: 1 }).error, 'string');
});

test('date returns the current time as an ISO 8601 UTC string', () => {
  const date = load('date');
  const before = Date.now();
  const out = date({});
  const after = Date.now();
  assert.deepEqual(Object.keys(out), ['date']);
  assert.match(out.date, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
  const t = Date.parse(out.date);
  assert.ok(t >= before - 1 && t <= after + 1, `${out.date} not between ${before} and ${after}`);
});

test('cat, split, sort and head compose like a sequence', () => {
  const [cat, split, sort, head] = ['cat', 'split', 'sort', 'head'].map(load);
  const joined = cat({ lines: ['zeta', 'alpha', 'mu'] });
  const sorted = sort(split(joined));
  assert.deepEqual(sorted, { length: 3, lines: ['alpha', 'mu', 'zeta'] });
  assert.deepEqual(head({ ...sorted, num: 2 }), { lines: ['alpha', 'mu'] });
});
