// Runs s3rver (a local S3 emulator) for coffer's tests, with the checks s3rver 3.x leaves out:
// it accepts any SigV4 signature ("Signature version 4 calculation is unimplemented" in its
// authentication middleware) and ignores Content-MD5. Without these checks the tests would pass
// with a broken signer, so every request is verified here first, as AWS would:
// - the Authorization header's SigV4 signature, recomputed from the canonical request;
// - x-amz-content-sha256 and Content-MD5 against the body actually received.
// It also replaces s3rver's putObject, which answers a PUT before the object's file is fully
// written and rewrites the file in place: a GET right after a PUT (or during an overwrite) could
// read a short or mixed object. Here an object is written to a temp file, then renamed into
// place, before the PUT is answered, which is what S3 guarantees.
// And it keeps S3 Object Lock retention, which s3rver ignores: a PUT's
// x-amz-object-lock-retain-until-date is remembered (for the server's lifetime), returned on
// HEAD and GET, and a DELETE before that date is refused with 403 AccessDenied, as a bucket in
// compliance mode does. Versioning is not emulated: a PUT over a retained object replaces it
// (a real bucket keeps the old version, still retained).
// Usage: node s3rver-sigv4.js <data dir> <ready file>
// Listens on 127.0.0.1 at a free port and writes the port to <ready file> once it answers.
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const { PassThrough } = require('stream');
const S3rver = require('s3rver');
const S3Error = require('s3rver/lib/models/error');
const FilesystemStore = require('s3rver/lib/stores/filesystem');
const path = require('path');

const [dataDir, readyFile] = process.argv.slice(2);
const secrets = { S3RVER: 'S3RVER' };  // s3rver's built-in account

const hmac = (key, data) => crypto.createHmac('sha256', key).update(data).digest();
const sha256hex = data => crypto.createHash('sha256').update(data).digest('hex');
const encode = s =>
  encodeURIComponent(s).replace(/[!'()*]/g, c => '%' + c.charCodeAt(0).toString(16).toUpperCase());
const decode = s => {
  try { return decodeURIComponent(s); } catch (e) { return s; }
};

function canonicalQuery(raw) {
  if (!raw) return '';
  return raw.split('&').filter(p => p.length).map(p => {
    const eq = p.indexOf('=');
    const k = eq < 0 ? p : p.slice(0, eq);
    const v = eq < 0 ? '' : p.slice(eq + 1);
    return [encode(decode(k)), encode(decode(v))];
  }).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
    .map(([k, v]) => k + '=' + v).join('&');
}

function denied(code, message) {
  return new S3Error(code, message);
}

async function readBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return Buffer.concat(chunks);
}

async function verify(ctx, next) {
  const req = ctx.req;
  const auth = req.headers['authorization'];
  if (!auth || !auth.startsWith('AWS4-HMAC-SHA256 '))
    throw denied('AccessDenied', 'this test server accepts only SigV4-signed requests');
  const fields = {};
  for (const part of auth.slice(17).split(',')) {
    const [k, ...v] = part.trim().split('=');
    fields[k] = v.join('=');
  }
  const [keyId, date, region, service, terminator] = (fields.Credential || '').split('/');
  if (!secrets[keyId])
    throw denied('InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.');
  if (service !== 's3' || terminator !== 'aws4_request')
    throw denied('AuthorizationHeaderMalformed', 'bad credential scope ' + fields.Credential);
  const payloadHash = req.headers['x-amz-content-sha256'];
  if (!payloadHash)
    throw denied('InvalidRequest', 'Missing required header for this request: x-amz-content-sha256');
  const signed = (fields.SignedHeaders || '').split(';');
  for (const h of ['host', 'x-amz-date', 'x-amz-content-sha256'])
    if (!signed.includes(h)) throw denied('AccessDenied', `header ${h} is not signed`);
  for (const h of Object.keys(req.headers))
    if (h.startsWith('x-amz-') && !signed.includes(h))
      throw denied('AccessDenied', `There were headers present in the request which were not signed: ${h}`);
  const [rawPath, rawQuery] = req.url.split(/\?(.*)/s);
  const path = rawPath.split('/').map(s => encode(decode(s))).join('/');
  const headers = signed.map(h => h + ':' + String(req.headers[h] || '').trim().replace(/\s+/g, ' ') + '\n').join('');
  const canonical = [req.method, path, canonicalQuery(rawQuery), headers, signed.join(';'), payloadHash].join('\n');
  const amzDate = req.headers['x-amz-date'] || '';
  const toSign = ['AWS4-HMAC-SHA256', amzDate, [date, region, service, terminator].join('/'), sha256hex(canonical)].join('\n');
  let key = hmac('AWS4' + secrets[keyId], date);
  for (const part of [region, service, terminator]) key = hmac(key, part);
  const expected = hmac(key, toSign).toString('hex');
  if (!amzDate.startsWith(date) ||
      !crypto.timingSafeEqual(Buffer.from(expected), Buffer.from(String(fields.Signature).padEnd(64).slice(0, 64))))
    throw denied('SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided. Canonical request: ' + JSON.stringify(canonical));

  if (req.method === 'PUT' || req.method === 'POST') {
    const body = await readBody(req);
    if (/^[0-9a-f]{64}$/.test(payloadHash) && sha256hex(body) !== payloadHash)
      throw denied('XAmzContentSHA256Mismatch', "The provided 'x-amz-content-sha256' header does not match what was computed.");
    const md5 = req.headers['content-md5'];
    if (md5 !== undefined && crypto.createHash('md5').update(body).digest('base64') !== md5)
      throw denied('BadDigest', 'The Content-MD5 you specified did not match what we received.');
    // s3rver streams the upload from ctx.req: hand it the bytes already read.
    const replay = new PassThrough();
    replay.headers = req.headers;
    replay.end(body);
    ctx.req = replay;
  }
  return next();
}

// "bucket/key" -> { mode, until (ms) }
const retention = new Map();

function objectOf(req) {
  const [rawPath] = req.url.split('?');
  const parts = rawPath.split('/').slice(1).map(decode);
  if (parts.length < 2 || parts[1] === '') return null;
  return parts[0] + '/' + parts.slice(1).join('/');
}

async function objectLock(ctx, next) {
  const req = ctx.req;
  const name = objectOf(req);
  const query = req.url.includes('?') ? req.url.slice(req.url.indexOf('?') + 1) : '';
  if (!name || query.includes('delete')) return next();
  const held = retention.get(name);
  const now = Date.now();
  if (req.method === 'DELETE' && held && held.until > now)
    throw denied('AccessDenied', 'Access Denied because object protected by object lock.');
  await next();
  if (req.method === 'PUT' && ctx.status === 200) {
    const mode = req.headers['x-amz-object-lock-mode'];
    const until = Date.parse(req.headers['x-amz-object-lock-retain-until-date'] || '');
    if (mode && !Number.isNaN(until)) retention.set(name, { mode, until });
  } else if (req.method === 'DELETE' && ctx.status < 300) {
    retention.delete(name);
  } else if ((req.method === 'HEAD' || req.method === 'GET') && held && ctx.status < 300) {
    ctx.set('x-amz-object-lock-mode', held.mode);
    ctx.set('x-amz-object-lock-retain-until-date', new Date(held.until).toISOString());
  }
}

const tmpDir = path.join(path.dirname(path.resolve(dataDir)), 'tmp');

FilesystemStore.prototype.putObject = async function putObject(object) {
  const objectPath = this.getResourcePath(object.bucket, object.key, 'object');
  let body = object.content;
  if (!Buffer.isBuffer(body)) body = await readBody(body);
  const md5 = crypto.createHash('md5').update(body).digest('hex');
  await fs.promises.mkdir(path.dirname(objectPath), { recursive: true });
  await fs.promises.mkdir(tmpDir, { recursive: true });
  const tmp = path.join(tmpDir, crypto.randomBytes(12).toString('hex'));
  await fs.promises.writeFile(tmp, body);
  await fs.promises.rename(tmp, objectPath);
  await this.putMetadata(object.bucket, object.key, object.metadata, md5);
  return { size: body.length, md5 };
};

async function main() {
  const server = new S3rver({ address: '127.0.0.1', port: 0, directory: dataDir, silent: process.env.S3RVER_VERBOSE !== '1' });
  // Before s3rver's own middleware and routes; objectLock first, as verify replaces ctx.req.
  server.middleware.unshift(objectLock, verify);
  const { port } = await server.run();
  fs.writeFileSync(readyFile + '.tmp', String(port));
  fs.renameSync(readyFile + '.tmp', readyFile);
}

main().catch(err => {
  console.error('s3rver-sigv4:', err);
  process.exit(1);
});
