// Azure's own Blob SDK (@azure/storage-blob) as the second reader of what
// cachectl wrote to a container:
//   node azure_blob_reader.mjs CONTAINER OUT_DIR
// lists every blob (the SDK's flat listing, all pages), downloads each to
// OUT_DIR/<blob name> and prints one JSON line {"blobs": {name: size}}.
// The connection string comes from AZURE_STORAGE_CONNECTION_STRING (the
// SDK parses it itself); NODE_MODULES names the pinned install
// (npm_peers.py).
import { webcrypto } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

if (!globalThis.crypto) globalThis.crypto = webcrypto; // node 18

const sdk = await import(
  pathToFileURL(join(process.env.NODE_MODULES, '@azure', 'storage-blob', 'dist', 'commonjs', 'index.js')).href);
const { BlobServiceClient } = sdk.default ?? sdk;

const [container, outDir] = process.argv.slice(2);
const service = BlobServiceClient.fromConnectionString(process.env.AZURE_STORAGE_CONNECTION_STRING);
const client = service.getContainerClient(container);
const blobs = {};
for await (const item of client.listBlobsFlat()) {
  blobs[item.name] = item.properties.contentLength;
  const dest = join(outDir, item.name);
  mkdirSync(dirname(dest), { recursive: true });
  await client.getBlobClient(item.name).downloadToFile(dest);
}
console.log(JSON.stringify({ blobs }));
