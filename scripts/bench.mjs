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

const work = mkdtempSync(join(tmpdir(), 'mlops-bench-'));
const ours = measure([join(root, 'lib', 'stacks', 'main.js')], work, { CDKTF_OUTDIR: join(work, 'cdktf.out') });
const stacks = readdirSync(join(work, 'cdktf.out', 'stacks'));
const rows = [['reference platform (this library)', ours, null]];
for (const stack of stacks) {
  const json = join(work, 'cdktf.out', 'stacks', stack, 'cdk.tf.json');
  const resources = Object.values(JSON.parse(readFileSync(json, 'utf8')).resource ?? {}).reduce((n, r) => n + Object.keys(r).length, 0);
  if (!JSON.parse(readFileSync(json, 'utf8')).provider?.aws || stack === 'kubernetes') continue;
  const base = measure([join(root, 'scripts', 'bench-baseline.cjs'), json, join(work, 'baseline.out')], root);
  rows.push([`plain cdktf, barrel import: stack '${stack}' (${resources} resources)`, base, ours]);
}

const pad = (s, n) => String(s).padEnd(n);
console.log(`\nsynth benchmark: median of ${RUNS} runs, node ${process.version}\n`);
console.log(`${pad('scenario', 62)}${pad('wall ms', 10)}${pad('peak MB', 10)}ours/baseline`);
for (const [name, m, ref] of rows) {
  const ratio = ref ? `time ${(ref.ms / m.ms).toFixed(2)}x, memory ${(ref.mb / m.mb).toFixed(2)}x` : '';
  console.log(`${pad(name, 62)}${pad(m.ms.toFixed(0), 10)}${pad(m.mb.toFixed(0), 10)}${ratio}`);
}
console.log(`\ntargets: the whole reference platform under 1000 ms and 250 MB -> ${ours.ms < 1000 && ours.mb < 250 ? 'met' : 'NOT met'}`);
