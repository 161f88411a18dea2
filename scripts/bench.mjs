// npm run bench: synth wall time and peak memory of the reference platform (compiled JavaScript,
// deep imports), beside a plain cdktf baseline of the same shape (barrel import, as the cdktf
// template writes it), both measured in this run; then the edit-to-manifests loop (`npm run synth`:
// incremental tsc, then the compiled app) beside `cdktf synth`, in a copy of the project.
// `npm run bench -- --loop` measures the loop only. Not part of the tests: timings live here only.
import { spawnSync } from 'node:child_process';
import { appendFileSync, cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
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

const pad = (s, n) => String(s).padEnd(n);
if (!process.argv.includes('--loop')) {
  scenario('reference platform', join(root, 'lib', 'stacks', 'main.js'), [], 'platform');
  for (const n of [1, 10, 100]) scenario(`${n} serving endpoint${n > 1 ? 's' : ''}`, join(root, 'scripts', 'bench-endpoints.cjs'), [String(n)], 'serving');
  const ours = rows[0][1];

  console.log(`\nsynth benchmark: median of ${RUNS} runs, node ${process.version}\n`);
  console.log(`${pad('scenario', 62)}${pad('wall ms', 10)}${pad('peak MB', 10)}baseline/ours`);
  for (const [name, m, ref] of rows) {
    const ratio = ref ? `time ${(m.ms / ref.ms).toFixed(1)}x, memory ${(m.mb / ref.mb).toFixed(1)}x` : '';
    console.log(`${pad(name, 62)}${pad(m.ms.toFixed(0), 10)}${pad(m.mb.toFixed(0), 10)}${ratio}`);
  }
  console.log(`\ntargets (developers' guide): the whole reference platform under 500 ms and 200 MB -> time ${ours.ms < 500 ? 'met' : 'NOT met'}, memory ${ours.mb < 200 ? 'met' : 'NOT met'}`);
}

// The inner loop, in a copy of the project (its own lib/ and tsbuildinfo; node_modules linked).
const copy = mkdtempSync(join(tmpdir(), 'mlops-bench-loop-'));
for (const entry of ['src', 'stacks', 'examples', 'tsconfig.json', 'tsconfig.build.json', 'package.json', 'cdktf.json']) cpSync(join(root, entry), join(copy, entry), { recursive: true });
symlinkSync(join(root, 'node_modules'), join(copy, 'node_modules'), 'dir');
const tsc = [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-b', 'tsconfig.build.json'];
const env = { ...process.env, CHECKPOINT_DISABLE: '1' };
/** Runs the steps in one shell; returns the wall time and the CPU time (user + system) of the whole process tree, in ms. */
function timed(steps) {
  const quote = (a) => `'${String(a).split("'").join("'\\''")}'`;
  const script = `${steps.map(([cmd, args]) => [cmd, ...args].map(quote).join(' ')).join(' && ')} >/dev/null && times`;
  const start = process.hrtime.bigint();
  const r = spawnSync('bash', ['-c', script], { cwd: copy, env, encoding: 'utf8' });
  const wall = Number(process.hrtime.bigint() - start) / 1e6;
  if (r.status !== 0) throw new Error(`${script} failed:\n${r.stdout}\n${r.stderr}`);
  // `times` prints the shell's own user/system time, then its children's: "0m1.234s 0m0.056s".
  const children = r.stdout.trim().split('\n').pop().match(/(\d+)m([\d.]+)s/g).map((t) => { const [, m, sec] = /(\d+)m([\d.]+)s/.exec(t); return Number(m) * 60000 + Number(sec) * 1000; });
  return { wall, cpu: children[0] + children[1] };
}
const synthSteps = [[process.execPath, tsc], [process.execPath, ['lib/stacks/main.js']]];
const loop = [];
const medianOf = (label, prepare, steps) => {
  const samples = [];
  for (let i = 0; i < RUNS; i++) { prepare?.(i); samples.push(timed(steps)); }
  const mid = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  loop.push([label, { wall: mid(samples.map((x) => x.wall)), cpu: mid(samples.map((x) => x.cpu)) }]);
};
loop.push(['npm run synth, first build (no lib/ yet)', timed(synthSteps)]);
medianOf('npm run synth, nothing changed', undefined, synthSteps);
medianOf('npm run synth after an edit of stacks/platform.ts', (i) => appendFileSync(join(copy, 'stacks', 'platform.ts'), `\n// edit ${i}\n`), synthSteps);
medianOf('npm run synth after an edit of src/core/tags.ts (imported everywhere)', (i) => appendFileSync(join(copy, 'src', 'core', 'tags.ts'), `\n// edit ${i}\n`), synthSteps);
medianOf('cdktf synth (cdktf.json: the compiled app), after the same build', undefined, [[process.execPath, tsc], [join(root, 'node_modules', '.bin', 'cdktf'), ['synth']]]);
rmSync(copy, { recursive: true, force: true });
console.log(`\nedit-to-manifests loop: median of ${RUNS} runs (the first build once); CPU is user + system of the whole process tree\n`);
console.log(`${pad('step', 76)}${pad('wall ms', 10)}CPU ms`);
for (const [label, m] of loop) console.log(`${pad(label, 76)}${pad(m.wall.toFixed(0), 10)}${m.cpu.toFixed(0)}`);
