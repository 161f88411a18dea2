import * as fs from 'fs';
import * as path from 'path';
import { readmeBlocks, ROOT } from './harness/readme';
import { describeWithTool, onPath, run, tempDir } from './harness/tools';

/**
 * The library as a platform team gets it: `npm pack`, the tarball installed into a fresh project
 * (its own package.json pinning the peers, tsconfig.json and cdktf.json from the README), the app
 * of the README's "Use it in your project" section compiled and synthesized. The peers come from
 * this checkout's node_modules (linked, at the versions the project pins) and npm installs the
 * tarball with `--prefer-offline`, so the test needs no network when the npm cache is warm.
 */
const npm = { available: onPath('npm'), reason: 'npm is not on PATH' };
const PEERS = ['cdktf', 'constructs', 'cdk8s', '@cdktf/provider-aws', '@cdktf/provider-helm', '@cdktf/provider-kubernetes'];
/** What the README has the consumer install for development (and the compiler itself, run from this checkout). */
const DEV = ['@types/node', 'undici-types'];

/** How a project depends on an installed package: its version, or `npm:<name>@<version>` when it is an alias (cdktf → CDK Terrain). */
function spec(name: string): string {
  const p = JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules', name, 'package.json'), 'utf8'));
  return p.name === name ? p.version : `npm:${p.name}@${p.version}`;
}

describeWithTool(npm, 'the packed library in a consumer project', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  const work = tempDir('mlops-package-');
  let tarball = '';
  let files: string[] = [];
  afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

  beforeAll(() => {
    // npm pack runs `prepare` (the build) first, as a git install does.
    const packed = run('npm', ['pack', '--pack-destination', work, '--silent'], { cwd: ROOT, env: { ...process.env, npm_config_update_notifier: 'false' } });
    if (packed.status !== 0) throw new Error(`npm pack failed:\n${packed.stdout}\n${packed.stderr}`);
    tarball = path.join(work, packed.stdout.trim().split('\n').pop()!);
    files = run('tar', ['tzf', tarball]).stdout.trim().split('\n').sort();
  });

  it('holds the built library and its types only, and the image build command', () => {
    expect(files.filter((f) => !/^package\/lib\/src\/.+\.(js|d\.ts)$/.test(f))).toEqual(['package/README.md', 'package/package.json', 'package/scripts/images.mjs']);
    expect(files).toEqual(expect.arrayContaining(['package/lib/src/index.js', 'package/lib/src/index.d.ts', 'package/lib/src/review/cli.js']));
    expect(files.filter((f) => /\.test\.|__snapshots__|\.tsbuildinfo/.test(f))).toEqual([]);
  });

  it('declares the engine and providers as peers, in a range that holds the tested version, and keeps them for development', () => {
    const cmp = (a: number[], b: number[]) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
    const semverOk = (range: string, version: string) => {
      const [maj, min, pat] = version.split('.').map(Number);
      // >=a.b.c <x.y.z: the engine's range, which holds cdktf 0.21 and CDK Terrain 0.24 (aliased as cdktf)
      const span = /^>=(\d+)\.(\d+)\.(\d+) <(\d+)\.(\d+)\.(\d+)$/.exec(range);
      if (span) {
        const n = span.slice(1).map(Number);
        return cmp([maj, min, pat], n.slice(0, 3)) >= 0 && cmp([maj, min, pat], n.slice(3)) < 0;
      }
      // ~x.y.z and ^x.y.z as npm reads them: same major (same minor for 0.x and ~), not below.
      const m = /^([~^])(\d+)\.(\d+)\.(\d+)$/.exec(range);
      if (!m) return false;
      const [lo, a, b, c] = [m[1], Number(m[2]), Number(m[3]), Number(m[4])];
      const notBelow = maj > a || (maj === a && (min > b || (min === b && pat >= c)));
      const sameLine = lo === '~' || a === 0 ? maj === a && min === b : maj === a;
      return notBelow && sameLine;
    };
    for (const peer of PEERS) {
      const installed = JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules', peer, 'package.json'), 'utf8')).version;
      expect({ peer, inRange: semverOk(pkg.peerDependencies[peer], installed), dev: pkg.devDependencies[peer] }).toEqual({ peer, inRange: true, dev: spec(peer) });
      expect(pkg.dependencies[peer]).toBeUndefined();
    }
  });

  it('compiles and synthesizes the README\'s "Use it in your project" app from the tarball, with the consumer\'s own pinned peers', () => {
    // GIVEN a fresh project with the README's files, its peers pinned to versions in the peer ranges
    const blocks = readmeBlocks().filter((b) => b.section === 'Use it in your project');
    const tsconfig = blocks.find((b) => b.lang === 'json' && b.code.includes('compilerOptions'))!;
    const cdktfJson = blocks.find((b) => b.lang === 'json' && b.code.includes('"app"'))!;
    const main = blocks.find((b) => b.lang === 'ts' && b.marker === 'compiled')!;
    expect([tsconfig, cdktfJson, main].every(Boolean)).toBe(true);
    const project = path.join(work, 'consumer');
    fs.mkdirSync(path.join(project, 'node_modules', '@cdktf'), { recursive: true });
    fs.mkdirSync(path.join(project, 'node_modules', '@types'), { recursive: true });
    const pin = (names: string[]) => Object.fromEntries(names.map((name) => {
      const target = fs.realpathSync(path.join(ROOT, 'node_modules', name));
      fs.symlinkSync(target, path.join(project, 'node_modules', name), 'dir');
      return [name, spec(name)];
    }));
    // On CDK Terrain the consumer does what the README's engine section says: the alias, and overrides
    // so that the provider bindings' own cdktf peer is the alias too.
    const overrides = spec('cdktf').startsWith('npm:') ? { overrides: { cdktf: '$cdktf', constructs: '$constructs' } } : {};
    const consumer = { name: 'consumer', version: '1.0.0', private: true, dependencies: pin(PEERS), devDependencies: pin(DEV), ...overrides };
    fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify(consumer, null, 2));
    fs.writeFileSync(path.join(project, 'tsconfig.json'), tsconfig.code);
    fs.writeFileSync(path.join(project, 'cdktf.json'), cdktfJson.code);
    fs.writeFileSync(path.join(project, 'main.ts'), main.code);

    // WHEN the tarball is installed (without touching the linked peers), the app compiled and run
    const install = run('npm', ['install', '--no-save', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', tarball], { cwd: project });
    expect({ status: install.status, stderr: install.status === 0 ? '' : install.stderr }).toEqual({ status: 0, stderr: '' });
    for (const peer of [...PEERS, ...DEV]) expect(fs.lstatSync(path.join(project, 'node_modules', peer)).isSymbolicLink()).toBe(true);
    const tsc = run(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], { cwd: project });
    expect(tsc.stdout + tsc.stderr).toBe('');
    const app = JSON.parse(cdktfJson.code).app.split(' ');
    const synth = run(app[0], app.slice(1), { cwd: project, env: { ...process.env, CHECKPOINT_DISABLE: '1' } });

    // THEN it writes both stacks and the registry's manifests, and says nothing
    expect({ status: synth.status, stderr: synth.stderr }).toEqual({ status: 0, stderr: '' });
    expect(fs.readdirSync(path.join(project, 'cdktf.out', 'stacks')).sort()).toEqual(['kubernetes', 'platform']);
    const stack = JSON.parse(fs.readFileSync(path.join(project, 'cdktf.out', 'stacks', 'platform', 'cdk.tf.json'), 'utf8'));
    expect(Object.keys(stack.resource.aws_s3_bucket).length).toBeGreaterThanOrEqual(2);
    expect(fs.readdirSync(path.join(project, 'k8s.out', 'platform'))).toEqual(['registry.k8s.yaml']);
    // the library resolved from the tarball, the engine from the consumer's own copy
    const resolved = run(process.execPath, ['-p', "[require.resolve('mlops-platform-constructs'), require.resolve('cdktf')].join('\\n')"], { cwd: project }).stdout.trim().split('\n');
    expect(resolved[0]).toBe(path.join(fs.realpathSync(project), 'node_modules', 'mlops-platform-constructs', 'lib', 'src', 'index.js'));
    expect(resolved[1]).toBe(path.join(fs.realpathSync(path.join(ROOT, 'node_modules', 'cdktf')), 'lib', 'index.js'));
    // the image command is installed with it (bin platform-images), and runs
    const images = run(path.join(project, 'node_modules', '.bin', 'platform-images'), [], { cwd: project });
    expect({ status: images.status, stderr: images.stderr }).toEqual({ status: 2, stderr: expect.stringMatching(/^usage: node scripts\/images\.mjs verify \[folder\] \| resolve <image reference>\.\.\. \| build \[images\.json\]/) });
  });
});
