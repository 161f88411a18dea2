#!/usr/bin/env node
// Checks the images the platform runs against their registries (Docker Registry HTTP API v2, the OCI
// distribution spec), where a registry is reachable: CI with network, a maintainer's laptop.
//
//   node scripts/images.mjs verify [folder]   every image in the manifests under folder (default k8s.out):
//                                             a digest must exist in its repository (HEAD .../manifests/<digest>),
//                                             and the tag beside it should still name it; an image without a
//                                             digest is resolved, and printed pinned.
//   node scripts/images.mjs resolve <ref>...  prints each reference as repository:tag@sha256:...
//   node scripts/images.mjs build [images.json] builds and pushes the platform's own images (PlatformImageBuilds;
//                                             default cdktf.out/images/images.json, written at synth) that the
//                                             lock does not have yet: resolves each base to its digest, logs in
//                                             to ECR (aws ecr get-login-password), runs docker buildx build --push
//                                             with that base, and records the pushed digest and the base in the
//                                             lock (images.lock.json unless images.json names another); commit it.
//
// --registry <host>=<base URL> sends a registry's requests elsewhere (a pull-through mirror; the tests'
// local registry). Anonymous pulls only: a registry asking for a bearer token gets one from the realm
// its WWW-Authenticate header names, without credentials, as `docker pull` of a public image does.
// Exit status: 0 all verified, 1 a digest missing or a reference unresolvable, 2 usage.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import * as os from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

const ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

/** `[registry/]repository[:tag][@digest]` → its parts, with Docker Hub's defaults. */
export function parseReference(ref) {
  const m = /^(?<name>[^@\s]+?)(?::(?<tag>[\w][\w.-]{0,127}))?(?:@(?<digest>sha256:[0-9a-f]{64}))?$/.exec(ref);
  if (!m) throw new Error(`'${ref}' is not an image reference ([registry/]repository[:tag][@sha256:<64 hex>])`);
  const { name, tag, digest } = m.groups;
  const first = name.split('/')[0];
  const hasRegistry = name.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
  const registry = hasRegistry ? first : 'docker.io';
  let repository = hasRegistry ? name.slice(first.length + 1) : name;
  if (registry === 'docker.io' && !repository.includes('/')) repository = `library/${repository}`;
  return { ref, registry, repository, tag: tag ?? (digest ? undefined : 'latest'), digest };
}

function baseUrl(registry, mirrors) {
  if (mirrors[registry]) return mirrors[registry].replace(/\/$/, '');
  return `https://${registry === 'docker.io' ? 'registry-1.docker.io' : registry}`;
}

const tokens = new Map();

/** fetch, with the address and the network error's code in its failure (fetch itself says only 'fetch failed'). */
async function request(url, options) {
  try {
    return await fetch(url, options);
  } catch (e) {
    throw new Error(`${new URL(url).origin} unreachable (${e.cause?.code ?? e.cause?.message ?? e.message})`);
  }
}

async function bearerToken(challenge, repository) {
  const params = Object.fromEntries([...challenge.matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
  if (!params.realm) throw new Error(`unsupported authentication challenge '${challenge}'`);
  const url = new URL(params.realm);
  if (params.service) url.searchParams.set('service', params.service);
  url.searchParams.set('scope', params.scope ?? `repository:${repository}:pull`);
  const key = url.toString();
  if (!tokens.has(key)) {
    const r = await request(url.toString());
    if (!r.ok) throw new Error(`token request to ${url.origin}${url.pathname} answered ${r.status}`);
    const body = await r.json();
    tokens.set(key, body.token ?? body.access_token);
  }
  return tokens.get(key);
}

/** HEAD of a manifest by tag or digest: its digest, or undefined when the registry has none. */
export async function manifestDigest(image, reference, mirrors = {}) {
  const url = `${baseUrl(image.registry, mirrors)}/v2/${image.repository}/manifests/${reference}`;
  let r = await request(url, { method: 'HEAD', headers: { Accept: ACCEPT } });
  if (r.status === 401 && r.headers.get('www-authenticate')?.startsWith('Bearer ')) {
    const token = await bearerToken(r.headers.get('www-authenticate').slice('Bearer '.length), image.repository);
    r = await request(url, { method: 'HEAD', headers: { Accept: ACCEPT, Authorization: `Bearer ${token}` } });
  }
  if (r.status === 404) return undefined;
  if (!r.ok) throw new Error(`${url} answered ${r.status}`);
  const digest = r.headers.get('docker-content-digest');
  if (!digest) throw new Error(`${url} gave no Docker-Content-Digest header`);
  return digest;
}

/** Every container image of every pod template in the YAML files under `dir`, with where it is. */
export function imagesIn(dir) {
  const found = new Map();
  const visit = (node, where) => {
    if (Array.isArray(node)) { node.forEach((n) => visit(n, where)); return; }
    if (!node || typeof node !== 'object') return;
    for (const key of ['initContainers', 'containers', 'ephemeralContainers']) {
      for (const c of Array.isArray(node[key]) ? node[key] : []) {
        if (typeof c?.image !== 'string') continue;
        if (!found.has(c.image)) found.set(c.image, []);
        found.get(c.image).push(where);
      }
    }
    for (const v of Object.values(node)) visit(v, where);
  };
  const files = fs.readdirSync(dir, { recursive: true }).map(String).filter((f) => /\.ya?ml$/.test(f)).sort();
  for (const f of files) {
    for (const doc of parseAllDocuments(fs.readFileSync(path.join(dir, f), 'utf8'))) {
      const o = doc.toJS();
      if (o?.kind) visit(o, `${f}: ${o.kind} ${o.metadata?.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata?.name}`);
    }
  }
  return found;
}

async function verify(dir, mirrors) {
  if (!fs.existsSync(dir)) throw new Error(`${dir} does not exist: synthesize first (npm run synth)`);
  let failed = 0;
  for (const [ref, where] of imagesIn(dir)) {
    const image = parseReference(ref);
    const at = `(${where[0]}${where.length > 1 ? ` and ${where.length - 1} more` : ''})`;
    try {
      if (!image.digest) {
        const digest = await manifestDigest(image, image.tag, mirrors);
        failed++;
        console.log(digest ? `UNPINNED ${ref} ${at}: pin it as ${ref}@${digest}` : `MISSING  ${ref} ${at}: the registry has no tag ${image.tag}`);
        continue;
      }
      if (!(await manifestDigest(image, image.digest, mirrors))) {
        failed++;
        console.log(`MISSING  ${ref} ${at}: ${image.registry}/${image.repository} has no manifest ${image.digest}`);
        continue;
      }
      const current = image.tag ? await manifestDigest(image, image.tag, mirrors) : image.digest;
      console.log(current === image.digest ? `OK       ${ref}` : `OK       ${ref} (the tag now names ${current ?? 'nothing'}; the pinned digest still runs)`);
    } catch (e) {
      failed++;
      console.log(`ERROR    ${ref} ${at}: ${e.message}`);
    }
  }
  return failed === 0 ? 0 : 1;
}

async function resolve(refs, mirrors) {
  let failed = 0;
  for (const ref of refs) {
    const image = parseReference(ref);
    const digest = await manifestDigest(image, image.tag ?? image.digest, mirrors);
    if (!digest) { failed++; console.log(`MISSING  ${ref}`); continue; }
    console.log(`${ref.replace(/@sha256:[0-9a-f]{64}$/, '')}@${digest}`);
  }
  return failed === 0 ? 0 : 1;
}

function runTool(command, args, input) {
  const r = spawnSync(command, args, { encoding: 'utf8', input, stdio: [input === undefined ? 'inherit' : 'pipe', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw new Error(`${command} could not run: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${command} ${args.slice(0, 2).join(' ')} failed (${r.status}): ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' ')}`);
  return r.stdout;
}

function readLock(file) {
  return fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : { images: {} };
}

function writeLock(file, lock) {
  const images = Object.fromEntries(Object.entries(lock.images ?? {}).sort(([a], [b]) => a.localeCompare(b)));
  fs.writeFileSync(file, `${JSON.stringify({ images }, null, 2)}\n`);
}

async function build(listFile, mirrors) {
  if (!fs.existsSync(listFile)) throw new Error(`${listFile} does not exist: synthesize first (npm run synth)`);
  const list = JSON.parse(fs.readFileSync(listFile, 'utf8'));
  const lockFile = list.lock ?? 'images.lock.json';
  const lock = readLock(lockFile);
  const loggedIn = new Set();
  let failed = 0;
  for (const image of list.images) {
    const target = `${image.repository}:${image.tag}`;
    if (lock.images?.[target]) { console.log(`BUILT    ${target}@${lock.images[target].digest}`); continue; }
    try {
      const base = parseReference(image.base);
      const baseDigest = base.digest ?? await manifestDigest(base, base.tag, mirrors);
      if (!baseDigest) throw new Error(`the base ${image.base} is not in its registry`);
      const pinnedBase = `${image.base.replace(/@sha256:[0-9a-f]{64}$/, '')}@${baseDigest}`;
      const host = image.repository.split('/')[0];
      const ecr = /^\d{12}\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com$/.exec(host);
      if (ecr && !loggedIn.has(host)) {
        const password = runTool('aws', ['ecr', 'get-login-password', '--region', ecr[1]]);
        runTool('docker', ['login', '--username', 'AWS', '--password-stdin', host], password);
        loggedIn.add(host);
      }
      const metadata = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'mlops-images-')), 'metadata.json');
      runTool('docker', ['buildx', 'build', '--platform', 'linux/amd64', '--build-arg', `BASE_IMAGE=${pinnedBase}`, '--tag', target, '--push',
        '--metadata-file', metadata, path.join(path.dirname(listFile), image.context)]);
      const digest = JSON.parse(fs.readFileSync(metadata, 'utf8'))['containerimage.digest'];
      if (!/^sha256:[0-9a-f]{64}$/.test(digest ?? '')) throw new Error(`docker buildx gave no image digest (${metadata})`);
      lock.images = { ...lock.images, [target]: { digest, base: pinnedBase } };
      writeLock(lockFile, lock);
      console.log(`PUSHED   ${target}@${digest} (from ${pinnedBase})`);
    } catch (e) {
      failed++;
      console.log(`ERROR    ${target}: ${e.message}`);
    }
  }
  return failed === 0 ? 0 : 1;
}

async function main(argv) {
  const mirrors = {};
  const rest = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--registry') {
      const [host, url] = (argv[++i] ?? '').split(/=(.*)/s);
      if (!host || !url) throw new Error('--registry takes <host>=<base URL>');
      mirrors[host] = url;
    } else rest.push(argv[i]);
  }
  const [command, ...args] = rest;
  if (command === 'verify') return verify(args[0] ?? 'k8s.out', mirrors);
  if (command === 'resolve' && args.length > 0) return resolve(args, mirrors);
  if (command === 'build') return build(args[0] ?? path.join('cdktf.out', 'images', 'images.json'), mirrors);
  console.error('usage: node scripts/images.mjs verify [folder] | resolve <image reference>... | build [images.json] [--registry <host>=<url>]');
  return 2;
}

// Run as a command (also through the package's bin link, whose path is not the module's own).
if (process.argv[1] && fs.realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then((code) => process.exit(code), (e) => { console.error(`images: ${e.message}`); process.exit(2); });
}
