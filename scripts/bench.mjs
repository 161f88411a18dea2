// npm run bench: synth wall time and peak memory of the reference platform (compiled JavaScript,
// deep imports), beside a plain cdktf baseline of the same shape (barrel import, as the cdktf
// template writes it), both measured in this run. Not part of the tests: timings live here only.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const RUNS = Number(process.env.BENCH_RUNS ?? 5);

function measure(args, cwd, env = {}) {
  const samples = [];
  for (let i = 0; i < RUNS; i++) {
    const rssFile = join(mkdtempSync(join(tmpdir(), 'mlops-bench-')), 'rss');
    const start = process.hrtime.bigint();
    const r = spawnSync(process.execPath, ['--require', join(root, 'scripts', 'bench-rss.cjs'), ...args], {
      cwd, env: { ...process.env, ...env, MLOPS_BENCH_RSS_FILE: rssFile }, encoding: 'utf8',
    });
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    if (r.status !== 0) throw new Error(`${args.join(' ')} failed:\n${r.stderr}`);
    samples.push({ ms, mb: Number(readFileSync(rssFile, 'utf8')) / 1024 });
  }
  const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  return { ms: median(samples.map((s) => s.ms)), mb: median(samples.map((s) => s.mb)) };
}

const rows = [];
/** Measures one app of ours, then the plain-cdktf baseline of its AWS stack (same resources, barrel import). */
function scenario(label, script, args, awsStack) {
  const work = mkdtempSync(join(tmpdir(), 'mlops-bench-'));
  const ours = measure([script, ...args], work, { CDKTF_OUTDIR: join(work, 'cdktf.out') });
  const json = join(work, 'cdktf.out', 'stacks', awsStack, 'cdk.tf.json');
  const resources = Object.values(JSON.parse(readFileSync(json, 'utf8')).resource ?? {}).reduce((n, r) => n + Object.keys(r).length, 0);
  const manifests = countManifests(join(work, 'k8s.out'));
  rows.push([`${label}: ${resources} AWS resources, ${manifests} manifests`, ours, null]);
  const base = measure([join(root, 'scripts', 'bench-baseline.cjs'), json, join(work, 'baseline.out')], root);
  rows.push([`  plain cdktf baseline, same ${resources} resources`, base, ours]);
}

function countManifests(dir) {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory()) n += countManifests(join(dir, e.name));
    else n += readFileSync(join(dir, e.name), 'utf8').split(/^---$/m).length;
  }
  return n;
}

scenario('reference platform', join(root, 'lib', 'stacks', 'main.js'), [], 'platform');
for (const n of [1, 10, 100]) scenario(`${n} serving endpoint${n > 1 ? 's' : ''}`, join(root, 'scripts', 'bench-endpoints.cjs'), [String(n)], 'serving');
const ours = rows[0][1];

const pad = (s, n) => String(s).padEnd(n);
console.log(`\nsynth benchmark: median of ${RUNS} runs, node ${process.version}\n`);
console.log(`${pad('scenario', 62)}${pad('wall ms', 10)}${pad('peak MB', 10)}baseline/ours`);
for (const [name, m, ref] of rows) {
  const ratio = ref ? `time ${(m.ms / ref.ms).toFixed(1)}x, memory ${(m.mb / ref.mb).toFixed(1)}x` : '';
  console.log(`${pad(name, 62)}${pad(m.ms.toFixed(0), 10)}${pad(m.mb.toFixed(0), 10)}${ratio}`);
}
console.log(`\ntargets: the whole reference platform under 1000 ms and 250 MB -> ${ours.ms < 1000 && ours.mb < 250 ? 'met' : 'NOT met'}`);
