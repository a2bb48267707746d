// Secrets never reach action code: the agent's environment (FOGWHISK_* and a planted
// FOGWHISK_EDGE_TEST_SECRET), API keys (only with provide-api-key: true), the data
// folder's key files, inherited file descriptors, ancestor process environments, logs.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { useAgent, uniqueName, AGENT_TEST_SECRET } from './helpers.mjs';

const ctx = useAgent();

// Probes everything it can reach. Needles arrive reversed so that the secrets never
// travel as plain parameters; the action reports only whether it found them.
const PROBE = `
const fs = require('fs');
function main(p) {
  const needles = p.needles.map((n) => n.split('').reverse().join(''));
  const has = (buf) => needles.some((n) => buf.includes(n));
  const out = { env: { ...process.env }, files: [], fds: [], ancestors: [] };
  for (const f of p.files) {
    try { out.files.push({ path: f, readable: true, hasSecret: has(fs.readFileSync(f)) }); }
    catch (e) { out.files.push({ path: f, readable: false, code: e.code }); }
  }
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    let target = null;
    try { target = fs.readlinkSync('/proc/self/fd/' + fd); } catch (e) { continue; }
    let hasSecret = false;
    try { if (fs.statSync(target).isFile()) hasSecret = has(fs.readFileSync(target)); } catch (e) { /* unreadable */ }
    out.fds.push({ fd, target, hasSecret });
  }
  let pid = process.pid;
  for (let depth = 0; depth < 20 && pid > 1; depth += 1) {
    let ppid;
    try { ppid = Number(fs.readFileSync('/proc/' + pid + '/stat', 'utf8').split(')').pop().trim().split(' ')[1]); }
    catch (e) { break; }
    if (!(ppid > 0)) break;
    let entry = { pid: ppid, readable: false, hasSecret: false };
    try { const env = fs.readFileSync('/proc/' + ppid + '/environ'); entry = { pid: ppid, readable: true, hasSecret: has(env) }; }
    catch (e) { entry.code = e.code; }
    out.ancestors.push(entry);
    pid = ppid;
  }
  return out;
}`;

let keyFiles;
let allFiles;
let needles;
let plainNeedles;

function walk(dir) {
  const out = [];
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    const st = statSync(path);
    if (st.isDirectory()) out.push(...walk(path));
    else if (st.isFile()) out.push(path);
  }
  return out;
}

before(async () => {
  await ctx.ready;
  const guestSecret = ctx.agent.auth.split(':')[1];
  const systemSecret = ctx.agent.systemAuth.split(':')[1];
  plainNeedles = [guestSecret, systemSecret, AGENT_TEST_SECRET];
  needles = plainNeedles.map((n) => n.split('').reverse().join(''));
  allFiles = walk(ctx.agent.dataDir);
  // the files that hold a key, as seen by the test process (which may read everything)
  keyFiles = allFiles.filter((f) => {
    const content = readFileSync(f);
    return content.includes(guestSecret) || content.includes(systemSecret);
  });
});

async function probe(extra = {}) {
  const name = uniqueName('probe');
  await ctx.ow.actions.create({ name, action: PROBE, kind: 'nodejs:20', ...extra });
  const act = await ctx.ow.actions.invoke({ name, blocking: true,
    params: { needles, dataDir: ctx.agent.dataDir, files: allFiles } });
  assert.equal(act.response.success, true, JSON.stringify(act.response).slice(0, 500));
  return act;
}

function assertNoLeak(text, allowed = []) {
  for (const n of plainNeedles.filter((x) => !allowed.includes(x))) {
    assert.ok(!text.includes(n), `a secret (${n.slice(0, 3)}…) leaked`);
  }
}

test('the data folder holds the key files (wskprops at least)', () => {
  assert.ok(keyFiles.includes(join(ctx.agent.dataDir, 'wskprops')), `key files: ${keyFiles}`);
});

test('action environment has no agent variables and no API key by default', async () => {
  const act = await probe();
  const { env } = act.response.result;
  const agentVars = Object.keys(env).filter((k) => k.toUpperCase().startsWith('FOGWHISK'));
  assert.deepEqual(agentVars, []);
  assert.equal(env.__OW_API_KEY, undefined);
  assert.equal(env.__OW_NAMESPACE, 'guest');
  assert.match(env.__OW_ACTIVATION_ID, /^[0-9a-f]{32}$/);
  assert.equal(env.__OW_ACTION_NAME, `/guest/${act.name}`);
  assert.ok(!JSON.stringify(env).includes(AGENT_TEST_SECRET), 'the agent env secret is not in the action env');
  assertNoLeak(JSON.stringify(act));
});

test('the API key is provided only with provide-api-key: true', async () => {
  const act = await probe({ annotations: { 'provide-api-key': true } });
  assert.equal(act.response.result.env.__OW_API_KEY, ctx.agent.auth);
  assertNoLeak(JSON.stringify(act), [ctx.agent.auth.split(':')[1]]);
});

test('actions cannot read the key files in the data folder', async () => {
  const act = await probe();
  const { files } = act.response.result;
  for (const kf of keyFiles) {
    const seen = files.find((f) => f.path === kf);
    assert.ok(seen, `probed ${kf}`);
    assert.equal(seen.readable, false, `action could read key file ${kf}`);
  }
  for (const f of files) assert.equal(f.hasSecret ?? false, false, `secret readable in ${f.path}`);
});

test('actions inherit no descriptor into the data folder and no secret through one', async () => {
  const act = await probe();
  const dataReal = realpathSync(ctx.agent.dataDir);
  for (const fd of act.response.result.fds) {
    assert.ok(!fd.target.startsWith(dataReal) && !fd.target.startsWith(ctx.agent.dataDir),
      `fd ${fd.fd} points into the data folder: ${fd.target}`);
    assert.equal(fd.hasSecret, false, `fd ${fd.fd} (${fd.target}) exposes a secret`);
  }
});

test('actions cannot read the agent environment through ancestor processes', async () => {
  const act = await probe();
  const { ancestors } = act.response.result;
  assert.ok(ancestors.length >= 1, 'the probe saw its parent');
  for (const a of ancestors) assert.equal(a.hasSecret, false, `secret readable in /proc/${a.pid}/environ`);
});

test('python actions see no agent variables and no API key', async () => {
  const name = uniqueName('pyprobe');
  await ctx.ow.actions.create({ name, kind: 'python:3.11',
    action: 'import os\n\ndef main(args):\n    return {"env": dict(os.environ)}\n' });
  const act = await ctx.ow.actions.invoke({ name, blocking: true });
  const { env } = act.response.result;
  assert.deepEqual(Object.keys(env).filter((k) => k.toUpperCase().startsWith('FOGWHISK')), []);
  assert.equal(env.__OW_API_KEY, undefined);
  assertNoLeak(JSON.stringify(act));
});

test('the agent log does not contain keys or the planted secret', () => {
  assertNoLeak(ctx.agent.output);
});
