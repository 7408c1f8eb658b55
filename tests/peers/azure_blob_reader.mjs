// Azure's own Blob SDK (@azure/storage-blob) as the second reader of what
// cachectl wrote to a container, and as the bare tool the azblob benchmark
// compares cachectl with:
//   node azure_blob_reader.mjs read CONTAINER OUT_DIR
//       lists every blob (the SDK's flat listing, all pages), downloads each
//       to OUT_DIR/<blob name>; prints {"blobs": {name: size}}
//   node azure_blob_reader.mjs upload CONTAINER DIR
//       creates the container if needed and uploads every file under DIR as
//       the blob named by its relative path; prints {"blobs": {name: size}}
// Four transfers at a time (what cachectl's upload_parallelism defaults to).
// The connection string comes from AZURE_STORAGE_CONNECTION_STRING (the SDK
// parses it itself); NODE_MODULES names the pinned install (npm_peers.py).
import { webcrypto } from 'node:crypto';
import { mkdirSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';

if (!globalThis.crypto) globalThis.crypto = webcrypto; // node 18

const sdk = await import(
  pathToFileURL(join(process.env.NODE_MODULES, '@azure', 'storage-blob', 'dist', 'commonjs', 'index.js')).href);
const { BlobServiceClient } = sdk.default ?? sdk;

const [op, container, dir] = process.argv.slice(2);
const service = BlobServiceClient.fromConnectionString(process.env.AZURE_STORAGE_CONNECTION_STRING);
const client = service.getContainerClient(container);
const CONCURRENCY = 4;

async function pool(items, fn) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
}

function walk(root) {
  const out = [];
  for (const e of readdirSync(root, { withFileTypes: true })) {
    const p = join(root, e.name);
    if (e.isDirectory()) out.push(...walk(p));
    else out.push(p);
  }
  return out;
}

const blobs = {};
if (op === 'read') {
  const items = [];
  for await (const item of client.listBlobsFlat()) {
    blobs[item.name] = item.properties.contentLength;
    items.push(item.name);
  }
  await pool(items, async (name) => {
    const dest = join(dir, name);
    mkdirSync(dirname(dest), { recursive: true });
    await client.getBlobClient(name).downloadToFile(dest);
  });
} else if (op === 'upload') {
  await client.createIfNotExists();
  await pool(walk(dir), async (path) => {
    const name = relative(dir, path);
    blobs[name] = statSync(path).size;
    await client.getBlockBlobClient(name).uploadFile(path);
  });
} else {
  throw new Error(`unknown operation ${op}`);
}
console.log(JSON.stringify({ blobs }));
