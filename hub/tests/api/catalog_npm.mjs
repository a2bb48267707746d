// The real openwhisk npm client (tests/client/node_modules) against the hub's catalog: create, update,
// get, list and delete an action, and the 409/404 errors it surfaces. Run by catalog_npm.rs with
// HUB_URL, HUB_API_KEY (uuid:key) and CLIENT_DIR; prints one JSON line of what it saw.
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'

const require = createRequire(`${process.env.CLIENT_DIR}/package.json`)
const openwhisk = require('openwhisk')
const ow = openwhisk({ apihost: process.env.HUB_URL, api_key: process.env.HUB_API_KEY })

const name = 'npm-hello'
const created = await ow.actions.create({ name, action: 'function main(p) { return {hi: p.who} }', kind: 'nodejs:20' })
assert.equal(created.version, '0.0.1')
assert.equal(created.exec.kind, 'nodejs:20')

const dup = await ow.actions.create({ name, action: 'x' }).then(() => null, e => e)
assert.ok(dup, 'a second create without overwrite fails')
assert.equal(dup.statusCode, 409)

const updated = await ow.actions.update({ name, action: 'function main() { return {v: 2} }', params: { who: 'torino' } })
assert.equal(updated.version, '0.0.2')
assert.deepEqual(updated.parameters, [{ key: 'who', value: 'torino' }])

const got = await ow.actions.get({ name })
assert.equal(got.exec.code, 'function main() { return {v: 2} }')
assert.equal(got.namespace, 'catalog')

await ow.packages.create({ name: 'shared' })
const inner = await ow.actions.create({ name: 'shared/inside', action: 'function main() { return {} }' })
assert.equal(inner.namespace, 'catalog/shared')
const listed = await ow.actions.list()
assert.deepEqual(listed.map(a => a.name).sort(), ['inside', name])

const deleted = await ow.actions.delete({ name })
assert.equal(deleted.name, name)
const gone = await ow.actions.get({ name }).then(() => null, e => e)
assert.equal(gone.statusCode, 404)
assert.equal(gone.error.error, 'The requested resource does not exist.')

console.log(JSON.stringify({ created: created.version, updated: updated.version, deleted: deleted.name, inner: inner.namespace }))
