// daily-aggregates: asks the agent's telemetry API for the statistics of every complete local day
// not yet reported (at most max_days, oldest first, so a missed alarm heals itself) and returns
// them as {records}, the input of /whisk.system/federation/push, the next step of the sequence.
'use strict';

const DEFAULT_MAX_DAYS = 7;

function apiBase() {
  const host = process.env.__OW_API_HOST;
  if (!host) throw new Error('__OW_API_HOST is not set');
  return (/^https?:\/\//.test(host) ? host : `https://${host}`).replace(/\/+$/, '');
}

function authHeader() {
  const key = process.env.__OW_API_KEY;
  if (!key) throw new Error('__OW_API_KEY is not set: the action needs the annotation provide-api-key: true');
  return `Basic ${Buffer.from(key).toString('base64')}`;
}

async function main(params) {
  const p = params || {};
  const tz = p.tz;
  if (typeof tz !== 'string' || tz.length === 0) {
    return { error: 'parameter tz (the site\'s IANA time zone, e.g. Europe/Rome) is required' };
  }
  const maxDays = p.max_days === undefined ? DEFAULT_MAX_DAYS : Number(p.max_days);
  if (!Number.isInteger(maxDays) || maxDays < 1 || maxDays > 366) {
    return { error: `parameter max_days must be an integer from 1 to 366, got ${JSON.stringify(p.max_days)}` };
  }
  const path = `/api/v1/namespaces/_/telemetry/daily?tz=${encodeURIComponent(tz)}&pending=true&max_days=${maxDays}`;
  let url;
  let authorization;
  try {
    url = `${apiBase()}${path}`;
    authorization = authHeader();
  } catch (e) {
    return { error: e.message };
  }
  let resp;
  try {
    resp = await fetch(url, { headers: { authorization, accept: 'application/json' } });
  } catch (e) {
    return { error: `telemetry API unreachable: ${e.cause ? e.cause.message : e.message}` };
  }
  const text = await resp.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch (_) {
    return { error: `telemetry API answered ${resp.status} with a body that is not JSON` };
  }
  if (!resp.ok) {
    return { error: `telemetry API answered ${resp.status}: ${json && json.error ? json.error : text.slice(0, 200)}` };
  }
  if (!json || !Array.isArray(json.records)) {
    return { error: 'telemetry API answer has no records array' };
  }
  return { records: json.records };
}

module.exports = { main };
