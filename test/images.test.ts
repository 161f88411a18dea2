import { checkPolicies, ClusterNetwork, GpuTrainingCluster, imageReference, InstanceType, IMAGES, imagesCheck, ImagePinning, isDigestPinned, ModelRegistry, ModelServer, PlatformApp, PlatformCheckError, PlatformChecks, PlatformModel, PlatformTesting, ServingEndpoint, TrainingJob, unpinnedCatalogImages } from '../src';
import * as registryWithObjectLock from '../examples/registry-with-object-lock';
import * as serveReleaseMonitor from '../examples/serve-release-monitor';
import * as spotTraining from '../examples/spot-training';
import { buildReferencePlatform, REFERENCE_CONTEXT } from '../stacks/platform';
import { ApiObject } from '../src/engine';
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as http from 'http';
import * as os from 'os';
import * as path from 'path';
import { promisify } from 'util';
import { TEST_CLUSTER, testPlatform } from './harness/fixtures';

// Why digests: the OCI distribution spec (opencontainers/distribution-spec spec.md, "Pulling
// manifests") fetches a manifest by tag or by digest, and a tag may be pushed again to point at
// other content; only a digest names immutable content. Kubernetes docs (concepts/containers/images,
// "Image names") recommend pinning by digest for the same reason.

const FAKE_DIGEST = 'sha256:0d5f3c8e9a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d';

/** The images a synthesis runs, with the kind of object that runs them. */
function imagesOf(manifests: Record<string, any[]>): Array<{ kind: string; container: string; image: string; init: boolean }> {
  const model = new PlatformModel({ terraform: {}, manifests });
  return model.podTemplates().flatMap((t) => [
    ...(t.spec.initContainers ?? []).map((c: any) => ({ kind: t.source.object.kind, container: c.name, image: c.image, init: true })),
    ...(t.spec.containers ?? []).map((c: any) => ({ kind: t.source.object.kind, container: c.name, image: c.image, init: false })),
  ]);
}

function synth(build: (app: PlatformApp) => unknown, platform: ConstructorParameters<typeof PlatformApp>[0]['platform']) {
  const app = PlatformTesting.app({ platform });
  build(app);
  return PlatformTesting.synth(app);
}

describe('the image catalog', () => {
  it('pins every default by digest with its public source, or says why it cannot yet', () => {
    for (const [name, image] of Object.entries(IMAGES) as Array<[string, { digest?: string; source: string; unpinnedReason?: string }]>) {
      expect({ name, source: image.source.length > 20 }).toEqual({ name, source: true });
      if (image.digest) expect(image.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
      else expect({ name, reason: image.unpinnedReason }).toEqual({ name, reason: expect.stringMatching(/no public source shows the digest/) });
    }
    // The exceptions, each a documented gap (pinned by the user's own props until a digest is verified).
    expect([...unpinnedCatalogImages().keys()].sort()).toEqual([
      'pytorch/torchserve:0.12.0-cpu',
      'pytorch/torchserve:0.12.0-gpu',
      'quay.io/feastdev/feature-server:0.50.0',
    ]);
  });

  it('keeps Triton on a release with the 2025 HTTP and Python-backend CVEs fixed (25.07 or later)', () => {
    // NVIDIA security bulletin (CVE-2025-23310, 23311, 23319, 23320, 23334): fixed in Triton 25.07.
    const [year, month] = IMAGES.triton.tag.split('-')[0].split('.').map(Number);
    expect(year * 100 + month).toBeGreaterThanOrEqual(2507);
    expect(ModelServer.triton().props.image).toBe(imageReference(IMAGES.triton));
    expect(ModelServer.triton().props.image).toMatch(/^nvcr\.io\/nvidia\/tritonserver:26\.01-py3@sha256:[0-9a-f]{64}$/);
  });
});

describe.each([
  ['the reference platform', () => synth(buildReferencePlatform, REFERENCE_CONTEXT)],
  ['example registry-with-object-lock', () => synth(registryWithObjectLock.build, registryWithObjectLock.context)],
  ['example serve-release-monitor', () => synth(serveReleaseMonitor.build, serveReleaseMonitor.context)],
  ['example spot-training', () => synth(spotTraining.build, spotTraining.context)],
])('%s', (_name, make) => {
  const out = make();
  const images = imagesOf(out.manifests);

  it('runs every image by digest, but for the catalog\'s documented exceptions', () => {
    expect(images.length).toBeGreaterThan(0);
    const exceptions = unpinnedCatalogImages();
    const bad = images.filter((i) => !isDigestPinned(i.image) && !exceptions.has(i.image));
    expect(bad).toEqual([]);
    // No image of a single person's account runs by tag only (the server, the steps, the init containers).
    expect(images.filter((i) => i.image.startsWith('burakince/mlflow') && !isDigestPinned(i.image))).toEqual([]);
  });
});

describe('the reference platform\'s images', () => {
  const out = synth(buildReferencePlatform, REFERENCE_CONTEXT);
  const images = imagesOf(out.manifests);

  it('are read from every kind of pod template, init containers included', () => {
    // GIVEN every pod template: Deployments, DaemonSets, Jobs, CronJobs and Argo Workflows templates
    // (the Rollout refers to its Deployment with workloadRef; a Rollout template is checked below)
    expect([...new Set(images.map((i) => i.kind))].sort()).toEqual(['CronJob', 'DaemonSet', 'Deployment', 'Job', 'WorkflowTemplate']);
    expect(images.some((i) => i.init)).toBe(true);
    // THEN the only tag-only image is the documented catalog exception (the Feast feature server)
    expect([...new Set(images.filter((i) => !isDigestPinned(i.image)).map((i) => i.image))].sort()).toEqual([
      'quay.io/feastdev/feature-server:0.50.0',
    ]);
  });

  it('pass the images platform check and its twin policy rule, with no suppression', () => {
    const app = PlatformTesting.app({ platform: REFERENCE_CONTEXT });
    buildReferencePlatform(app);
    expect(PlatformChecks.suppressionsOf(app).filter((x) => x.check === 'images')).toEqual([]);
    expect(ImagePinning.exceptionsOf(app)).toEqual([]);
    expect(imagesCheck.check(new PlatformModel({ terraform: out.terraform, manifests: out.manifests }))).toEqual([]);
    expect(checkPolicies(out).filter((f) => f.rule === 'MLOPS-K8S4')).toEqual([]);
  });
});

describe('a tag-only image given by a user', () => {
  const job = (image: string, before?: (app: PlatformApp, stack: any) => void) => () => {
    const { app, stack } = testPlatform();
    before?.(app, stack);
    const cluster = new GpuTrainingCluster(stack, 'training', {
      network: ClusterNetwork.create({ availabilityZones: ['eu-west-1a', 'eu-west-1b'] }),
      gpuPools: [{ name: 'g5', instanceTypes: [InstanceType.g5('12xlarge')], maxSize: 4 }],
      teams: [{ name: 'fraud', gpus: 8 }],
    });
    new TrainingJob(stack, 'job', { cluster, team: 'fraud', pool: 'g5', image, command: ['train.py'] });
    return { app, out: PlatformTesting.synth(app) };
  };

  it('fails synth with the construct path, the prop, the value and what is allowed', () => {
    expect(job('acme/train:1.4.2')).toThrow("TrainingJob 'aws/job': image ('acme/train:1.4.2') must be referenced by digest ('<repository>:<tag>@sha256:<64 hex digits>') so that what runs can be reproduced and a re-pushed tag cannot change it; pin the digest, or opt out for this image with ImagePinning.allowTag(scope, image, reason).");
    expect(job('acme/train:latest')).toThrow(/image \('acme\/train:latest'\) must be pinned by digest: '<repository>:<tag>@sha256:<64 hex digits>'/);
  });

  it('fails for every construct that takes an image, the library\'s presets at another version included', () => {
    expect(() => new ModelRegistry(testPlatform().stack, 'registry', { cluster: TEST_CLUSTER, server: { image: 'burakince/mlflow:3.14.0' } }))
      .toThrow(/ModelRegistry 'aws\/registry': server\.image \('burakince\/mlflow:3\.14\.0'\) must be referenced by digest/);
    expect(() => new ModelRegistry(testPlatform().stack, 'registry', { cluster: TEST_CLUSTER, governance: { proxyImage: 'nginxinc/nginx-unprivileged:1.27.5-alpine' } }))
      .toThrow(/governance\.proxyImage \('nginxinc\/nginx-unprivileged:1\.27\.5-alpine'\) must be referenced by digest/);
    const { stack } = testPlatform();
    const registry = new ModelRegistry(stack, 'registry', { cluster: TEST_CLUSTER });
    expect(() => new ServingEndpoint(stack, 'fraud', { cluster: TEST_CLUSTER, namespace: 'serving', model: registry.model('m').version('1'), server: ModelServer.triton({ version: '25.07' }) }))
      .toThrow(/ServingEndpoint 'aws\/fraud': server\.image \('nvcr\.io\/nvidia\/tritonserver:25\.07-py3'\) must be referenced by digest/);
  });

  it('points the GPU node agents at the user\'s own copies by digest, and refuses them by tag', () => {
    const cluster = (images: object) => () => {
      const { app, stack } = testPlatform();
      new GpuTrainingCluster(stack, 'training', {
        network: ClusterNetwork.create({ availabilityZones: ['eu-west-1a', 'eu-west-1b'] }),
        gpuPools: [{ name: 'g5', instanceTypes: [InstanceType.g5('12xlarge')], maxSize: 4 }], images,
      });
      return PlatformTesting.synth(app);
    };
    const dcgm = `111122223333.dkr.ecr.eu-west-1.amazonaws.com/mirror/dcgm-exporter:4.5.3-4.8.2-distroless@${FAKE_DIGEST}`;
    const images = imagesOf(cluster({ dcgmExporter: dcgm })().manifests);
    expect(images.filter((i) => i.kind === 'DaemonSet').map((i) => i.image)).toEqual([imageReference(IMAGES.devicePlugin), dcgm]);
    expect(cluster({ devicePlugin: 'nvcr.io/nvidia/k8s-device-plugin:v0.17.2' }))
      .toThrow(/GpuTrainingCluster 'aws\/training': images\.devicePlugin \('nvcr\.io\/nvidia\/k8s-device-plugin:v0\.17\.2'\) must be referenced by digest/);
  });

  it('accepts an opted-out registry image wherever the registry\'s clients run it (init containers of an endpoint)', () => {
    // GIVEN the registry's image accepted by tag for the whole stack
    const { app, stack } = testPlatform();
    ImagePinning.allowTag(stack, 'acme/mlflow:3.14.0', 'our own build, rebuilt and scanned nightly');
    const registry = new ModelRegistry(stack, 'registry', { cluster: TEST_CLUSTER, server: { image: 'acme/mlflow:3.14.0' } });
    new ServingEndpoint(stack, 'fraud', { cluster: TEST_CLUSTER, namespace: 'serving', model: registry.model('m').version('1'), server: ModelServer.mlflow() });
    // WHEN synthesized, THEN the images check accepts it in the registry and in the endpoint's init container
    const out = PlatformTesting.synth(app);
    expect(imagesOf({ f: out.manifests['aws/fraud.k8s.yaml'] }).filter((i) => i.init).map((i) => i.image)).toContain('acme/mlflow:3.14.0');
    expect(PlatformTesting.findings(app)).toEqual([]);
  });

  it('passes with the explicit opt-out, which is reported with its reason', () => {
    // GIVEN an opt-out for exactly this image, with a reason
    const { app, out } = job('acme/train:1.4.2', (_app, stack) => ImagePinning.allowTag(stack, 'acme/train:1.4.2', 'the nightly image, promoted by digest in CI'))();
    // THEN synth passes, the job runs the tag, and the opt-out is listed with its reason
    const jobDoc = out.manifests['aws/job.k8s.yaml'].find((d) => d.kind === 'Job' || d.kind === 'PyTorchJob' || d.kind === 'JobSet');
    expect(JSON.stringify(jobDoc)).toContain('"acme/train:1.4.2"');
    expect(ImagePinning.exceptionsOf(app)).toEqual([{ path: 'aws', image: 'acme/train:1.4.2', reason: 'the nightly image, promoted by digest in CI' }]);
    expect(PlatformChecks.suppressionsOf(app)).toEqual([]);
    // AND another tag is still refused, and an opt-out without a reason is refused
    expect(job('acme/train:1.4.3', (_app, stack) => ImagePinning.allowTag(stack, 'acme/train:1.4.2', 'the nightly image, promoted by digest in CI')))
      .toThrow(/image \('acme\/train:1\.4\.3'\) must be referenced by digest/);
    const { stack } = testPlatform();
    expect(() => ImagePinning.allowTag(stack, 'acme/train:1.4.2', 'because'))
      .toThrow(/PlatformStack 'aws': reason \('because'\) must say, in at least 10 characters, why 'acme\/train:1\.4\.2' may run by tag only/);
  });
});

describe('the images platform check', () => {
  const workload = (kind: string, spec: object) => ({ apiVersion: kind === 'Rollout' ? 'argoproj.io/v1alpha1' : 'apps/v1', kind, metadata: { name: kind.toLowerCase(), namespace: 'n' }, spec });
  const pinned = `acme/app:1@${FAKE_DIGEST}`;
  const manifests = (image: string) => ({
    'f.k8s.yaml': [
      workload('Rollout', { template: { spec: { initContainers: [{ name: 'fetch', image }], containers: [{ name: 'app', image: pinned }] } } }),
      { apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name: 'c', namespace: 'n' }, spec: { jobTemplate: { spec: { template: { spec: { containers: [{ name: 'job', image }] } } } } } },
      { apiVersion: 'argoproj.io/v1alpha1', kind: 'WorkflowTemplate', metadata: { name: 'w', namespace: 'n' }, spec: { templates: [{ name: 'step', script: { image, source: 'print(1)' }, sidecars: [{ name: 'side', image: pinned }] }] } },
    ],
  });

  it('finds every tag-only container, init container and Argo script, naming the object and the fix', () => {
    const findings = imagesCheck.check(new PlatformModel({ terraform: {}, manifests: manifests('acme/app:1') }));
    expect(findings.map((f) => `${f.object}: ${f.problem.split(',')[0]}`)).toEqual([
      "Rollout n/rollout (f.k8s.yaml): container 'fetch' runs image 'acme/app:1'",
      "CronJob n/c (f.k8s.yaml): container 'job' runs image 'acme/app:1'",
      "WorkflowTemplate n/w (f.k8s.yaml): template 'step'",
    ]);
    expect(findings[2].problem).toMatch(/container 'main' runs image 'acme\/app:1', which is not pinned by digest/);
    expect(findings[0].fix).toMatch(/'<repository>:<tag>@sha256:<64 hex digits>'; e\.g\. nginxinc\/nginx-unprivileged:1\.27\.5-alpine@sha256:65e3e85d/);
    expect(imagesCheck.check(new PlatformModel({ terraform: {}, manifests: manifests(pinned) }))).toEqual([]);
  });

  it('fails synth for an object a construct wrote by hand, unless suppressed with a reason', () => {
    // GIVEN a user's own chart object with a tag-only image (no construct validated it)
    const { app, stack } = testPlatform();
    const registry = new ModelRegistry(stack, 'registry', { cluster: TEST_CLUSTER });
    new ApiObject(registry.chart, 'debug', { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'debug', namespace: 'mlflow' }, spec: { template: { spec: { containers: [{ name: 'debug', image: 'busybox:1.36' }] } } } });
    // WHEN synthesized, THEN the images check stops synth
    expect(() => app.synth()).toThrow(PlatformCheckError);
    expect(PlatformTesting.findings(app).filter((f) => f.check === 'images').map((f) => f.problem)).toEqual([
      expect.stringMatching(/^container 'debug' runs image 'busybox:1\.36', which is not pinned by digest/),
    ]);
    // AND a suppression with a reason accepts it
    PlatformChecks.suppress(registry, 'images', 'a debugging pod, removed before production');
    expect(PlatformTesting.findings(app).filter((f) => f.check === 'images')).toEqual([]);
  });
});

describe('checking the images against their registries (scripts/images.mjs)', () => {
  // A registry as the OCI distribution spec describes it (spec.md "Pulling manifests": HEAD
  // /v2/<name>/manifests/<reference> answers with Docker-Content-Digest, 404 for an unknown reference),
  // asking for a bearer token as ghcr.io, quay.io and Docker Hub do for anonymous pulls (the token
  // authentication spec of the distribution project: 401 with WWW-Authenticate: Bearer realm, service, scope).
  const digest = (c: string) => `sha256:${c.repeat(64)}`;
  const manifests: Record<string, Record<string, string>> = {
    'feastdev/feature-server': { '0.50.0': digest('f'), [digest('f')]: digest('f') },
    'mlflow/mlflow': { 'v3.14.0': digest('b'), [digest('a')]: digest('a'), [digest('b')]: digest('b') },
  };
  const requests: string[] = [];
  let base = '';
  const server = http.createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    const url = new URL(req.url!, base);
    if (url.pathname === '/token') {
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify({ token: `t-${url.searchParams.get('scope')}` }));
      return;
    }
    const m = /^\/v2\/(.+)\/manifests\/(.+)$/.exec(url.pathname);
    const repository = m?.[1] ?? '';
    if (req.headers.authorization !== `Bearer t-repository:${repository}:pull`) {
      res.writeHead(401, { 'WWW-Authenticate': `Bearer realm="${base}/token",service="registry.test",scope="repository:${repository}:pull"` });
      res.end();
      return;
    }
    const found = manifests[repository]?.[decodeURIComponent(m![2])];
    res.writeHead(found ? 200 : 404, found ? { 'Docker-Content-Digest': found, 'Content-Type': 'application/vnd.oci.image.index.v1+json' } : {});
    res.end();
  });
  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(() => server.close());

  async function images(...args: string[]): Promise<{ code: number; out: string }> {
    const script = path.join(__dirname, '..', 'scripts', 'images.mjs');
    const mirrors = ['quay.io', 'ghcr.io'].flatMap((h) => ['--registry', `${h}=${base}`]);
    try {
      const r = await promisify(execFile)(process.execPath, [script, ...args, ...mirrors]);
      return { code: 0, out: r.stdout };
    } catch (e: any) {
      return { code: e.code, out: `${e.stdout}${e.stderr}` };
    }
  }

  function manifestsDir(images: string[]): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlops-images-'));
    fs.mkdirSync(path.join(dir, 'platform'));
    const deployment = {
      apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'api', namespace: 'serving' },
      spec: { template: { spec: { initContainers: [{ name: 'init', image: images[0] }], containers: images.slice(1).map((image, i) => ({ name: `c${i}`, image })) } } },
    };
    fs.writeFileSync(path.join(dir, 'platform', 'api.k8s.yaml'), JSON.stringify(deployment));
    return dir;
  }

  it('verifies that each pinned digest exists in its repository, and resolves a tag-only image to the reference to pin', async () => {
    const dir = manifestsDir(['ghcr.io/mlflow/mlflow:v3.14.0@' + digest('b'), 'quay.io/feastdev/feature-server:0.50.0']);
    const r = await images('verify', dir);
    expect(r.out.trim().split('\n')).toEqual([
      `OK       ghcr.io/mlflow/mlflow:v3.14.0@${digest('b')}`,
      `UNPINNED quay.io/feastdev/feature-server:0.50.0 (platform/api.k8s.yaml: Deployment serving/api): pin it as quay.io/feastdev/feature-server:0.50.0@${digest('f')}`,
    ]);
    expect(r.code).toBe(1);
    // anonymous token first, then the manifest by digest and by tag
    expect(requests).toEqual(expect.arrayContaining([`GET /token?service=registry.test&scope=repository%3Amlflow%2Fmlflow%3Apull`, `HEAD /v2/mlflow/mlflow/manifests/${digest('b')}`]));
  });

  it('fails on a digest its repository does not have, and says when the tag has moved on from a pinned digest', async () => {
    const r = await images('verify', manifestsDir([`ghcr.io/mlflow/mlflow:v3.14.0@${digest('a')}`, `ghcr.io/mlflow/mlflow:v3.14.0@${digest('c')}`]));
    expect(r.out.trim().split('\n')).toEqual([
      `OK       ghcr.io/mlflow/mlflow:v3.14.0@${digest('a')} (the tag now names ${digest('b')}; the pinned digest still runs)`,
      `MISSING  ghcr.io/mlflow/mlflow:v3.14.0@${digest('c')} (platform/api.k8s.yaml: Deployment serving/api): ghcr.io/mlflow/mlflow has no manifest ${digest('c')}`,
    ]);
    expect(r.code).toBe(1);
    expect(await images('verify', manifestsDir([`ghcr.io/mlflow/mlflow:v3.14.0@${digest('b')}`]))).toEqual({ code: 0, out: `OK       ghcr.io/mlflow/mlflow:v3.14.0@${digest('b')}\n` });
  });

  it('resolves references given on the command line, and refuses a malformed one', async () => {
    expect(await images('resolve', 'quay.io/feastdev/feature-server:0.50.0')).toEqual({ code: 0, out: `quay.io/feastdev/feature-server:0.50.0@${digest('f')}\n` });
    expect(await images('resolve', 'quay.io/feastdev/feature-server:0.99.0')).toEqual({ code: 1, out: 'MISSING  quay.io/feastdev/feature-server:0.99.0\n' });
    const bad = await images('resolve', 'Quay.io/Feast Server');
    expect(bad).toEqual({ code: 2, out: expect.stringContaining("images: 'Quay.io/Feast Server' is not an image reference") });
  });
});
