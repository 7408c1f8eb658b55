// Drives GitHub's own cache client, @actions/cache, against a cache service:
//   node actions_cache_client.mjs save KEY PATH...
//   node actions_cache_client.mjs restore KEY RESTORE_PREFIX PATH...
// prints one JSON line {"result": ...}: the cache id saved (-1 when the
// client gave up) or the key restored (null on a miss).  The client never
// throws on service errors -- it warns -- so the caller judges the result.
// Service URLs and the token come from the environment, as in a workflow;
// NODE_MODULES names the folder holding the pinned install (npm_peers.py).
import { webcrypto } from 'node:crypto';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

// Node 18 (Debian 12) has Web Crypto only as node:crypto's webcrypto; the
// Azure SDK inside @actions/cache expects the global that node 20 has.
if (!globalThis.crypto) globalThis.crypto = webcrypto;

const cache = await import(
  pathToFileURL(join(process.env.NODE_MODULES, '@actions', 'cache', 'lib', 'cache.js')).href);

const [op, key, ...rest] = process.argv.slice(2);
let result;
if (op === 'save') {
  result = await cache.saveCache(rest, key);
} else if (op === 'restore') {
  const [prefix, ...paths] = rest;
  result = await cache.restoreCache(paths, key, prefix ? [prefix] : []);
  if (result === undefined) result = null;
} else {
  console.error('usage: save KEY PATH... | restore KEY PREFIX PATH...');
  process.exit(2);
}
console.log(JSON.stringify({ result }));
