import { execFile } from 'child_process';
import * as fs from 'fs';
import * as http from 'http';
import * as os from 'os';
import * as path from 'path';
import { promisify } from 'util';
import { FeatureStore, FeatureView, ImageLock, ImageRecipe, imagesCheck, ModelRegistry, OnlineStore, PlatformImageBuilds, PlatformModel, PlatformTesting } from '../src';
import { resourcesOf, TEST_CLUSTER, testPlatform } from './harness/fixtures';
import { checkWithTerraform, expectTerraformOk, plannedResources, terraformTool } from './harness/terraform';
import { describeWithTool } from './harness/tools';

const REPOSITORY = '123456789012.dkr.ecr.eu-west-1.amazonaws.com/acme-dev/images';
const digest = (c: string) => `sha256:${c.repeat(64)}`;

function platform(lock: ImageLock = ImageLock.of({})) {
  const { app, stack } = testPlatform();
  const images = new PlatformImageBuilds(stack, 'images', { recipes: [ImageRecipe.mlflow(), ImageRecipe.feastFeatureServer()], lock });
  const registry = new ModelRegistry(stack, 'registry', { cluster: TEST_CLUSTER, server: { image: images.image('mlflow') } });
  new FeatureStore(stack, 'features', {
    cluster: TEST_CLUSTER, onlineStore: OnlineStore.dynamodb(), server: { image: images.image('feast-feature-server') },
    features: [FeatureView.of({ name: 'stats', entity: { name: 'merchant', joinKey: 'merchant_id' }, source: 'stats/', features: [{ name: 'risk', type: 'Float32' }] })],
  });
  return { app, stack, images, registry };
}

describe('ImageRecipe', () => {
  it('builds MLflow\'s official image with psycopg2 and boto3, and Feast from the official Python image, as a non-root user', () => {
    const mlflow = ImageRecipe.mlflow();
    expect(mlflow.dockerfile.split('\n')).toEqual([
      '# syntax=docker/dockerfile:1',
      '# ImageRecipe \'mlflow\' (mlops-platform-constructs), built by platform-images build (scripts/images.mjs).',
      'ARG BASE_IMAGE=ghcr.io/mlflow/mlflow:v3.14.0',
      'FROM ${BASE_IMAGE}',
      'USER root',
      'RUN python -m pip install --no-cache-dir --disable-pip-version-check \'psycopg2-binary==2.9.10\' \'boto3==1.43.67\'',
      'USER 10001:10001',
      '',
    ]);
    expect(ImageRecipe.feastFeatureServer().dockerfile).toContain('ARG BASE_IMAGE=python:3.11-slim');
    expect(ImageRecipe.feastFeatureServer().dockerfile).toContain('\'feast[aws,redis]==0.50.0\'');
  });

  it('tags by version and the hash of the Dockerfile: another package is another tag, never a re-pushed one', () => {
    expect(ImageRecipe.mlflow().tag).toMatch(/^3\.14\.0-[0-9a-f]{12}$/);
    expect(ImageRecipe.mlflow().tag).toBe(ImageRecipe.mlflow().tag);
    const other = ImageRecipe.custom({ ...ImageRecipe.mlflow().props, pipPackages: ['psycopg2-binary==2.9.10', 'boto3==1.43.68'] });
    expect(other.tag).not.toBe(ImageRecipe.mlflow().tag);
    expect(other.tag.startsWith('3.14.0-')).toBe(true);
  });

  it.each([
    [{ pipPackages: ['boto3>=1.40'] }, "PlatformImageBuilds 'aws/images': recipes[0].pipPackages[0] ('boto3>=1.40') must pin one version with '=='"],
    [{ base: 'python:latest' }, "PlatformImageBuilds 'aws/images': recipes[0].base ('python:latest') must be an image by tag (not 'latest')"],
    [{ base: 'python' }, "PlatformImageBuilds 'aws/images': recipes[0].base ('python') must be an image by tag"],
    [{ uid: 0 }, "PlatformImageBuilds 'aws/images': recipes[0].uid (0) must be a non-root user id from 1000 to 65535"],
    [{ name: 'ML_flow' }, "PlatformImageBuilds 'aws/images': recipes[0].name ('ML_flow')"],
  ])('refuses %j', (change, message) => {
    const { stack } = testPlatform();
    expect(() => new PlatformImageBuilds(stack, 'images', { recipes: [ImageRecipe.custom({ ...ImageRecipe.mlflow().props, ...change })] })).toThrow(message);
  });
});

describe('PlatformImageBuilds', () => {
  it('creates an immutable, scanned, KMS-encrypted ECR repository per image, kept on destroy', () => {
    const out = PlatformTesting.synth(platform().app);
    const repos = Object.values(resourcesOf(out.terraform.aws, 'aws_ecr_repository')) as any[];
    expect(repos.map((r) => r.name).sort()).toEqual(['acme-dev/images/feast-feature-server', 'acme-dev/images/mlflow']);
    for (const r of repos) {
      expect(r).toMatchObject({
        image_tag_mutability: 'IMMUTABLE', image_scanning_configuration: { scan_on_push: true },
        encryption_configuration: [{ encryption_type: 'KMS', kms_key: expect.stringMatching(/^\$\{aws_kms_key\.images_key_[0-9A-F]+\.arn\}$/) }],
        force_delete: false, lifecycle: { prevent_destroy: true },
      });
    }
    // The addresses are pinned: a renamed construct id would replace a repository the running pods pull from.
    expect(Object.keys(resourcesOf(out.terraform.aws, 'aws_ecr_repository')).sort()).toEqual(['images_repository-feast-feature-server_23ECCAF3', 'images_repository-mlflow_6F7BDF62'].sort());
  });

  it('runs the catalog defaults until the lock has the image, and lists what is not built', () => {
    const { app, images } = platform();
    expect(images.image('mlflow')).toBeUndefined();
    const out = PlatformTesting.synth(app);
    expect(PlatformImageBuilds.unbuilt(app)).toEqual([`${REPOSITORY}/mlflow:${ImageRecipe.mlflow().tag}`, `${REPOSITORY}/feast-feature-server:${ImageRecipe.feastFeatureServer().tag}`]);
    const pods = new PlatformModel({ terraform: {}, manifests: out.manifests }).podTemplates().flatMap((t) => [...(t.spec.initContainers ?? []), ...t.spec.containers].map((c: any) => c.image));
    expect(pods).toContain('burakince/mlflow:3.14.0@sha256:d66a486309adb1fd84fd4d1d6b11c1ecc90632e04372205b92bbc15d2196f418');
    expect(pods.some((i) => i.includes('/images/'))).toBe(false);
  });

  it('runs the built images, pinned by the digest in the lock, wherever the registry\'s and the feature store\'s images run', () => {
    const lock = ImageLock.of({
      [`${REPOSITORY}/mlflow:${ImageRecipe.mlflow().tag}`]: { digest: digest('a'), base: `ghcr.io/mlflow/mlflow:v3.14.0@${digest('b')}` },
      [`${REPOSITORY}/feast-feature-server:${ImageRecipe.feastFeatureServer().tag}`]: { digest: digest('c'), base: `python:3.11-slim@${digest('d')}` },
    });
    const { app, images } = platform(lock);
    const mlflow = `${REPOSITORY}/mlflow:${ImageRecipe.mlflow().tag}@${digest('a')}`;
    expect(images.image('mlflow')).toBe(mlflow);
    const out = PlatformTesting.synth(app);
    expect(PlatformImageBuilds.unbuilt(app)).toEqual([]);
    const model = new PlatformModel({ terraform: {}, manifests: out.manifests });
    const running = model.podTemplates().flatMap((t) => [...(t.spec.initContainers ?? []), ...t.spec.containers].map((c: any) => c.image));
    expect(running).toContain(mlflow);
    expect(running).toContain(`${REPOSITORY}/feast-feature-server:${ImageRecipe.feastFeatureServer().tag}@${digest('c')}`);
    expect(running.some((i) => i.startsWith('burakince/') || i.startsWith('quay.io/feastdev/'))).toBe(false);
    // every image pinned: the images check finds nothing, with no exception
    expect(imagesCheck.check(model)).toEqual([]);
  });

  it('the images check refuses an image from a repository of the platform\'s namespace that the platform does not create', () => {
    const lock = ImageLock.of({ [`${REPOSITORY}/mlflow:${ImageRecipe.mlflow().tag}`]: { digest: digest('a'), base: 'x' } });
    const out = PlatformTesting.synth(platform(lock).app);
    const model = (manifests: Record<string, any[]>) => new PlatformModel({ terraform: out.terraform, manifests });
    expect(imagesCheck.check(model(out.manifests)).filter((f) => f.problem.includes('does not create'))).toEqual([]);
    // the same manifests, the repository renamed (a recipe renamed without its pods following)
    const renamed = JSON.parse(JSON.stringify(out.manifests).split(`${REPOSITORY}/mlflow:`).join(`${REPOSITORY}/mlflow-server:`));
    const problems = imagesCheck.check(model(renamed)).map((f) => f.problem);
    expect(problems.length).toBeGreaterThan(0);
    expect(problems[0]).toMatch(/runs image '123456789012\.dkr\.ecr\.eu-west-1\.amazonaws\.com\/acme-dev\/images\/mlflow-server:[^']+' from ECR repository 'acme-dev\/images\/mlflow-server', which the platform does not create \(it creates 'acme-dev\/images\/feast-feature-server', 'acme-dev\/images\/mlflow'\): the pull fails \(ImagePullBackOff\)$/);
    // another account's or another namespace's repository is not the platform's to judge
    const elsewhere = JSON.parse(JSON.stringify(out.manifests).split(`${REPOSITORY}/mlflow:`).join('123456789012.dkr.ecr.eu-west-1.amazonaws.com/shared/mlflow:'));
    expect(imagesCheck.check(model(elsewhere)).filter((f) => f.problem.includes('does not create'))).toEqual([]);
  });

  it('ignores a lock entry of another recipe (a changed recipe is a new tag to build) and refuses a malformed digest', () => {
    const stale = ImageLock.of({ [`${REPOSITORY}/mlflow:3.14.0-000000000000`]: { digest: digest('a'), base: 'x' } });
    expect(platform(stale).images.image('mlflow')).toBeUndefined();
    const bad = ImageLock.of({ [`${REPOSITORY}/mlflow:${ImageRecipe.mlflow().tag}`]: { digest: 'sha256:abc', base: 'x' } });
    expect(() => platform(bad)).toThrow(`PlatformImageBuilds 'aws/images': lock 'ImageLock.of' ${REPOSITORY}/mlflow:${ImageRecipe.mlflow().tag}.digest ('sha256:abc') must be 'sha256:<64 lower-case hex digits>'.`);
    expect(() => platform().images.image('triton')).toThrow("PlatformImageBuilds 'aws/images': image(name) ('triton') is not one of this construct's recipes ('mlflow', 'feast-feature-server').");
  });

  it('writes a build context per image and the list the build reads, and nothing stale', () => {
    const { app } = platform();
    fs.mkdirSync(path.join(app.outdir, 'images', 'old'), { recursive: true });
    PlatformTesting.synth(app);
    const dir = path.join(app.outdir, 'images');
    expect(fs.readdirSync(dir).sort()).toEqual(['feast-feature-server', 'images.json', 'mlflow']);
    expect(fs.readFileSync(path.join(dir, 'mlflow', 'Dockerfile'), 'utf8')).toBe(ImageRecipe.mlflow().dockerfile);
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'images.json'), 'utf8')).images[0]).toEqual({
      name: 'mlflow', repository: `${REPOSITORY}/mlflow`, tag: ImageRecipe.mlflow().tag, base: 'ghcr.io/mlflow/mlflow:v3.14.0', context: 'mlflow',
    });
  });
});

describe('building the images (scripts/images.mjs build)', () => {
  // Stand-ins for docker and aws on PATH record what they are asked; a local registry answers for the bases
  // (OCI distribution spec, HEAD manifests/<tag> → Docker-Content-Digest; Docker Hub's library/ prefix).
  const bases: Record<string, string> = { '/v2/mlflow/mlflow/manifests/v3.14.0': digest('b'), '/v2/library/python/manifests/3.11-slim': digest('d') };
  let base = '';
  const server = http.createServer((req, res) => {
    const found = bases[req.url ?? ''];
    res.writeHead(found ? 200 : 404, found ? { 'Docker-Content-Digest': found } : {});
    res.end();
  });
  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(() => server.close());

  function fakeTools(dir: string): string {
    const bin = path.join(dir, 'bin');
    fs.mkdirSync(bin);
    const log = path.join(dir, 'calls.log');
    fs.writeFileSync(path.join(bin, 'aws'), `#!/bin/sh\necho "aws $*" >> ${log}\necho ecr-password\n`, { mode: 0o755 });
    // docker buildx writes the pushed image's digest into --metadata-file, as buildx does (containerimage.digest)
    fs.writeFileSync(path.join(bin, 'docker'), `#!/bin/sh
echo "docker $*" >> ${log}
if [ "$1" = login ]; then read pw; echo "password $pw" >> ${log}; exit 0; fi
while [ $# -gt 0 ]; do
  if [ "$1" = --metadata-file ]; then printf '{"containerimage.digest":"sha256:%s"}' "$(printf 'e%.0s' $(seq 64))" > "$2"; fi
  shift
done
`, { mode: 0o755 });
    return bin;
  }

  it('builds each image from its base pinned by digest, pushes it to its repository and records the digest in the lock; a second run builds nothing', async () => {
    const { app } = platform();
    PlatformTesting.synth(app);
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'mlops-build-'));
    const bin = fakeTools(work);
    const list = path.join(app.outdir, 'images', 'images.json');
    const lockFile = path.join(work, 'images.lock.json');
    const listed = JSON.parse(fs.readFileSync(list, 'utf8'));
    fs.writeFileSync(list, JSON.stringify({ ...listed, lock: lockFile }));
    const run = () => promisify(execFile)(process.execPath, [path.join(__dirname, '..', 'scripts', 'images.mjs'), 'build', list,
      '--registry', `ghcr.io=${base}`, '--registry', `docker.io=${base}`], { env: { ...process.env, PATH: `${bin}:${process.env.PATH}` } });
    const first = await run();
    const mlflow = `${REPOSITORY}/mlflow:${ImageRecipe.mlflow().tag}`;
    expect(first.stdout).toContain(`PUSHED   ${mlflow}@${digest('e')} (from ghcr.io/mlflow/mlflow:v3.14.0@${digest('b')})`);
    const calls = fs.readFileSync(path.join(work, 'calls.log'), 'utf8').trim().split('\n');
    expect(calls.slice(0, 4)).toEqual([
      'aws ecr get-login-password --region eu-west-1',
      'docker login --username AWS --password-stdin 123456789012.dkr.ecr.eu-west-1.amazonaws.com',
      'password ecr-password',
      `docker buildx build --platform linux/amd64 --build-arg BASE_IMAGE=ghcr.io/mlflow/mlflow:v3.14.0@${digest('b')} --tag ${mlflow} --push --metadata-file ${calls[3].split('--metadata-file ')[1].split(' ')[0]} ${path.join(app.outdir, 'images', 'mlflow')}`,
    ]);
    // logged in once per registry
    expect(calls.filter((c) => c.startsWith('aws '))).toHaveLength(1);
    expect(calls[4]).toContain(`--build-arg BASE_IMAGE=python:3.11-slim@${digest('d')}`);
    const lock = JSON.parse(fs.readFileSync(lockFile, 'utf8'));
    expect(lock.images[mlflow]).toEqual({ digest: digest('e'), base: `ghcr.io/mlflow/mlflow:v3.14.0@${digest('b')}` });
    // the next synth runs what was pushed, by digest
    expect(platform(ImageLock.fromFile(lockFile)).images.image('mlflow')).toBe(`${mlflow}@${digest('e')}`);
    const second = await run();
    expect(second.stdout).toBe(`BUILT    ${mlflow}@${digest('e')}\nBUILT    ${REPOSITORY}/feast-feature-server:${ImageRecipe.feastFeatureServer().tag}@${digest('e')}\n`);
    expect(fs.readFileSync(path.join(work, 'calls.log'), 'utf8').trim().split('\n')).toHaveLength(calls.length);
  });

  it('fails without pushing when a base is not in its registry', async () => {
    const { stack, app } = testPlatform();
    new PlatformImageBuilds(stack, 'images', { recipes: [ImageRecipe.custom({ name: 'tool', base: 'ghcr.io/acme/gone:1.0', version: '1.0' })], lock: ImageLock.of({}) });
    PlatformTesting.synth(app);
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'mlops-build-'));
    const bin = fakeTools(work);
    const list = path.join(app.outdir, 'images', 'images.json');
    fs.writeFileSync(list, JSON.stringify({ ...JSON.parse(fs.readFileSync(list, 'utf8')), lock: path.join(work, 'images.lock.json') }));
    const r = await promisify(execFile)(process.execPath, [path.join(__dirname, '..', 'scripts', 'images.mjs'), 'build', list, '--registry', `ghcr.io=${base}`],
      { env: { ...process.env, PATH: `${bin}:${process.env.PATH}` } }).catch((e) => e);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^ERROR    123456789012\.dkr\.ecr\.eu-west-1\.amazonaws\.com\/acme-dev\/images\/tool:1\.0-[0-9a-f]{12}: the base ghcr\.io\/acme\/gone:1\.0 is not in its registry\n$/);
    expect(fs.existsSync(path.join(work, 'calls.log'))).toBe(false);
    expect(fs.existsSync(path.join(work, 'images.lock.json'))).toBe(false);
  });
});

describeWithTool(terraformTool, 'PlatformImageBuilds checked by terraform', () => {
  it('plans the repositories and their key offline', () => {
    const { stack, app } = testPlatform();
    new PlatformImageBuilds(stack, 'images', { recipes: [ImageRecipe.mlflow(), ImageRecipe.feastFeatureServer()], lock: ImageLock.of({}) });
    const plan = expectTerraformOk(checkWithTerraform(PlatformTesting.synth(app).terraform.aws));
    expect(plannedResources(plan, 'aws_ecr_repository').map((r) => [r.values.name, r.values.image_tag_mutability, r.values.encryption_configuration[0].encryption_type]).sort()).toEqual([
      ['acme-dev/images/feast-feature-server', 'IMMUTABLE', 'KMS'], ['acme-dev/images/mlflow', 'IMMUTABLE', 'KMS'],
    ]);
    expect(plannedResources(plan, 'aws_kms_key').map((k) => k.values.enable_key_rotation)).toEqual([true]);
    expect(plannedResources(plan, 'aws_ecr_lifecycle_policy')).toHaveLength(2);
  });
});
