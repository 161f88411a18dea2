import * as fs from 'fs';
import * as path from 'path';
import { S3Bucket } from '../src/providers/aws';
import {
  Addon, Addons, ClusterValue, ClusterValues, CostAttribution, Environment, KubernetesStack, NameRules, PlatformApp, PlatformChart,
  PlatformNamespaces, PlatformStack, PlatformTesting, StateBackend,
} from '../src';
import { Construct, k8s } from '../src/engine';
import { onlyResource, resourcesOf } from './harness/fixtures';

describe('platform context', () => {
  const bad = (platform: any) => () => PlatformTesting.app({ platform: { ...PlatformTesting.context, ...platform } });

  it.each([
    [{ name: 'Acme' }, /PlatformApp '': context\.name \('Acme'\) must be a DNS-1123 label/],
    [{ name: 'a-very-long-platform-name' }, /context\.name \('a-very-long-platform-name'\) must be at most 20 characters/],
    [{ region: 'europe' }, /context\.region \('europe'\) is not a region of the AWS partition this library writes ARNs for; use one of /],
    [{ accountId: '1234' }, /context\.accountId \('1234'\) must be a 12-digit AWS account id/],
    [{ team: 'ML Team' }, /context\.team \('ML Team'\) must be a DNS-1123 label/],
    [{ costTags: { 'cost center': 'x' } }, /context\.costTags \('cost center'\) keys must be valid Kubernetes label keys/],
    [{ costTags: { center: 'a b' } }, /context\.costTags\.center \('a b'\) must be a Kubernetes label value/],
  ])('rejects %j', (platform, message) => {
    expect(bad(platform)).toThrow(message);
  });

  it('names resources <platform>-<environment>-<parts>', () => {
    const app = PlatformTesting.app({ platform: { ...PlatformTesting.context, environment: Environment.staging() } });
    expect(app.context.physicalName('registry', 'logs')).toBe('acme-staging-registry-logs');
    expect(app.context.environment.isProduction).toBe(false);
    expect(Environment.production().isProduction).toBe(true);
  });

  it('refuses constructs outside a PlatformApp', () => {
    expect(() => new PlatformStack(new Construct(undefined as any, ''), 'x')).toThrow(/is not inside a PlatformApp/);
  });
});

describe('name rules', () => {
  const scope = PlatformTesting.app();
  it('accepts valid names and rejects invalid ones with the rule', () => {
    expect(NameRules.bucketName(scope, 'bucketName', 'acme-models-1')).toBe('acme-models-1');
    expect(() => NameRules.bucketName(scope, 'bucketName', 'ab')).toThrow(/bucketName \('ab'\) must be an S3 bucket name: 3 to 63/);
    expect(() => NameRules.bucketName(scope, 'bucketName', 'xn--acme')).toThrow(/the prefixes 'xn--'/);
    expect(() => NameRules.dnsLabel(scope, 'namespace', 'a'.repeat(64))).toThrow(/at most 63 characters/);
    expect(NameRules.dnsSubdomain(scope, 'host', 'mlflow.acme.example')).toBe('mlflow.acme.example');
    expect(() => NameRules.iamName(scope, 'roleName', 'a'.repeat(65))).toThrow(/roleName \('a{65}'\) must be an IAM name: 1 to 64/);
    expect(() => NameRules.labelValue(scope, 'model', '-fraud')).toThrow(/model \('-fraud'\) must be a Kubernetes label value/);
  });

  it('skips values known only at deploy time', () => {
    const app = PlatformTesting.app();
    const stack = new PlatformStack(app, 's');
    const bucket = new S3Bucket(stack, 'b', { bucket: 'acme-x' });
    const deployTime = bucket.id;
    expect(NameRules.bucketName(stack, 'bucketName', deployTime)).toBe(deployTime);
  });
});

describe('cost attribution', () => {
  const app = PlatformTesting.app();
  const stack = new PlatformStack(app, 'aws');
  const scoped = new Construct(stack, 'fraud');
  CostAttribution.model(scoped, 'fraud-detector', '7');
  CostAttribution.team(scoped, 'risk');
  new S3Bucket(scoped, 'bucket', { bucket: 'acme-fraud' });
  new S3Bucket(stack, 'own-tags', { bucket: 'acme-other', tags: { 'mlops.io/team': 'data' } });
  PlatformNamespaces.use(scoped, 'serving');
  const chart = new PlatformChart(scoped, { namespace: 'serving' });
  new k8s.KubeConfigMap(chart, 'config', { metadata: { name: 'fraud' } });
  const out = PlatformTesting.synth(app);

  it('tags every taggable AWS resource with platform, environment, team and model', () => {
    const buckets = resourcesOf(out.terraform.aws, 'aws_s3_bucket');
    const fraud = Object.values(buckets).find((b: any) => b.bucket === 'acme-fraud') as any;
    expect(fraud.tags).toEqual({
      'mlops.io/platform': 'acme', 'mlops.io/environment': 'dev', 'mlops.io/team': 'risk',
      'mlops.io/model': 'fraud-detector', 'mlops.io/model-version': '7',
    });
    const other = Object.values(buckets).find((b: any) => b.bucket === 'acme-other') as any;
    expect(other.tags['mlops.io/team']).toBe('data'); // a resource's own tags win
  });

  it('puts the same keys on Kubernetes objects as labels', () => {
    const [doc] = out.manifests['aws/fraud.k8s.yaml'];
    expect(doc.metadata.labels).toMatchObject({ 'mlops.io/team': 'risk', 'mlops.io/model': 'fraud-detector', 'mlops.io/platform': 'acme' });
    expect(doc.metadata.namespace).toBe('serving');
  });
});

describe('the Terraform ↔ Kubernetes bridge', () => {
  function platform() {
    const app = PlatformTesting.app();
    const stack = new PlatformStack(app, 'aws');
    const owner = new Construct(stack, 'thing');
    return { app, stack, owner };
  }

  it('writes one YAML file per chart under a folder per stack, and removes stale ones', () => {
    const { app, owner } = platform();
    const chart = new PlatformChart(owner, { namespace: 'team-a' });
    new k8s.KubeServiceAccount(chart, 'sa', { metadata: { name: 'runner' } });
    new k8s.KubeNamespace(chart, 'ns', { metadata: { name: 'team-a', labels: { 'pod-security.kubernetes.io/enforce': 'restricted' } } });
    fs.mkdirSync(path.join(app.manifestsOutdir, 'old'), { recursive: true });
    fs.writeFileSync(path.join(app.manifestsOutdir, 'old', 'gone.k8s.yaml'), 'kind: ConfigMap');
    app.synth();
    const text = fs.readFileSync(path.join(app.manifestsOutdir, 'aws', 'thing.k8s.yaml'), 'utf8');
    // the namespace comes first, whatever the order of creation
    expect(text.indexOf('kind: Namespace')).toBeLessThan(text.indexOf('kind: ServiceAccount'));
    expect(fs.existsSync(path.join(app.manifestsOutdir, 'old'))).toBe(false);
    expect(path.dirname(app.manifestsOutdir)).toBe(path.dirname(path.resolve(app.outdir)));
  });

  it('fails at synth when a construct needs the cluster and there is no KubernetesStack', () => {
    const { app, owner } = platform();
    ClusterValues.configMap(owner, { namespace: 'team-a', name: 'endpoints', data: { db: ClusterValue.of('db.internal') } });
    Addons.require(owner, Addon.argoRollouts());
    expect(() => app.synth()).toThrow(/no KubernetesStack to write into its cluster: 'aws\/thing' needs ConfigMap 'team-a\/endpoints'; 'aws\/thing' needs add-on 'argo-rollouts'/);
  });

  it('installs each add-on once, pinned, however many constructs need it', () => {
    const { app, stack, owner } = platform();
    new KubernetesStack(app, 'kubernetes', { clusterName: 'acme-dev' });
    Addons.require(owner, Addon.argoRollouts());
    Addons.require(new Construct(stack, 'other'), Addon.argoRollouts());
    Addons.require(owner, Addon.keda());
    const k = PlatformTesting.synth(app).terraform.kubernetes;
    const releases = Object.values(resourcesOf(k, 'helm_release')) as any[];
    expect(releases.map((r) => [r.name, r.version])).toEqual([['argo-rollouts', '2.40.1'], ['keda', '2.17.2']]);
    expect(releases.every((r) => r.atomic === true && /^\d+\.\d+\.\d+$/.test(r.version))).toBe(true);
  });

  it('merges a chart value one construct sets into the add-on others require plainly, and refuses a second value for it', () => {
    const { app, stack, owner } = platform();
    new KubernetesStack(app, 'kubernetes', { clusterName: 'acme-dev' });
    Addons.require(new Construct(stack, 'plain'), Addon.keda());
    Addons.setValue(owner, Addon.keda(), 'operator.replicaCount', 2, 'thing needs two');
    Addons.setValue(new Construct(stack, 'same'), Addon.keda(), 'operator.replicaCount', 2, 'same value');
    expect(() => Addons.setValue(new Construct(stack, 'b'), Addon.keda(), 'operator.replicaCount', 3, 'wants three'))
      .toThrow("'aws/b' sets chart value 'operator.replicaCount' of add-on 'keda' to 3, but 'aws/thing' sets it to 2 (thing needs two); a cluster runs one release of each add-on, so only one of them can.");
    // a value the add-on itself sets is not overridden
    expect(() => Addons.setValue(owner, Addon.fsxCsiDriver(), 'node.tolerateAllTaints', false, 'no'))
      .toThrow("'aws/thing' sets chart value 'node.tolerateAllTaints' of add-on 'aws-fsx-csi-driver' to false, but the add-on sets it to true; use an Addon without that value.");
    const release = (Object.values(resourcesOf(PlatformTesting.synth(app).terraform.kubernetes, 'helm_release')) as any[]).find((r) => r.name === 'keda');
    expect(JSON.parse(release.values[0])).toEqual({ operator: { replicaCount: 2 } });
  });

  it('refuses two versions of one add-on and a second KubernetesStack', () => {
    const { app, stack, owner } = platform();
    Addons.require(owner, Addon.keda());
    const other = Addon.custom({ ...Addon.keda().props, version: '2.10.0' });
    expect(() => Addons.require(new Construct(stack, 'b'), other)).toThrow(/'aws\/b' needs add-on 'keda' keda@2\.10\.0, but 'aws\/thing' needs keda@2\.17\.2/);
    new KubernetesStack(app, 'kubernetes', { clusterName: 'x' });
    expect(() => new KubernetesStack(app, 'kubernetes2', { clusterName: 'x' })).toThrow(/already has a KubernetesStack \('kubernetes'\)/);
  });

  it('writes Secrets through Terraform from values of other stacks, and can apply manifests', () => {
    const { app, stack, owner } = platform();
    const bucket = new S3Bucket(stack, 'bucket', { bucket: 'acme-data' });
    ClusterValues.configMap(owner, { namespace: 'team-a', name: 'buckets', data: { data: ClusterValue.of(bucket.bucket) } });
    const chart = new PlatformChart(owner, { namespace: 'team-a' });
    new k8s.KubeServiceAccount(chart, 'sa', { metadata: { name: 'runner' } });
    new KubernetesStack(app, 'kubernetes', { clusterName: 'acme-dev', applyManifests: true });
    const k = PlatformTesting.synth(app).terraform.kubernetes;
    expect(onlyResource(k, 'kubernetes_config_map_v1').data.data).toMatch(/terraform_remote_state\.cross-stack-reference-input-aws\.outputs/);
    expect(onlyResource(k, 'kubernetes_manifest').manifest).toMatchObject({ kind: 'ServiceAccount', metadata: { name: 'runner', namespace: 'team-a' } });
    // the manifest waits for the namespace Terraform creates (it writes the ConfigMap there)
    expect(onlyResource(k, 'kubernetes_manifest').depends_on).toEqual(['kubernetes_namespace_v1.namespace-team-a']);
    expect(k.provider.kubernetes[0].exec[0].args).toEqual(['eks', 'get-token', '--cluster-name', 'acme-dev', '--region', 'eu-west-1']);
  });

  it('keeps state paths relative (local) or in S3 with locking', () => {
    const app = PlatformTesting.app();
    new PlatformStack(app, 'local');
    new PlatformStack(app, 'remote', { backend: StateBackend.s3({ bucket: 'acme-tfstate', keyPrefix: 'ml' }) });
    const out = PlatformTesting.synth(app);
    expect(out.terraform.local.terraform.backend.local.path).toBe('../../../terraform-state/local.tfstate');
    expect(out.terraform.remote.terraform.backend.s3).toMatchObject({ bucket: 'acme-tfstate', key: 'ml/remote.tfstate', encrypt: true, use_lockfile: true });
  });
});

describe('the library package', () => {
  const root = path.join(__dirname, '..');
  const files = (dir: string, ext: string): string[] => fs.readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? files(path.join(dir, e.name), ext) : e.name.endsWith(ext) ? [path.join(dir, e.name)] : []));
  const barrel = /['"]@cdktf\/provider-(aws|kubernetes|helm)['"]/;

  it('emits declaration files that reference no provider barrel (npm test builds lib/ first)', () => {
    const dts = files(path.join(root, 'lib', 'src'), '.d.ts');
    expect(dts.length).toBeGreaterThan(10);
    expect(dts.filter((f) => barrel.test(fs.readFileSync(f, 'utf8'))).map((f) => path.relative(root, f))).toEqual([]);
  });

  it('imports the engine packages only in src/engine.ts', () => {
    const sources = ['src', 'stacks', 'examples', 'test'].flatMap((d) => files(path.join(root, d), '.ts'));
    // Any engine package, whatever its version or fork (cdktf, cdktn, cdk8s, cdk8s-plus-<minor>), by import or require.
    const engineImport = /(from|require\()\s*['"](cdktf|cdktn|cdk8s|cdk8s-plus-\d+|cdktf-cdk8s)(\/[^'"]*)?['"]/;
    // test/engine.test.ts holds such imports as strings, the probes it feeds to lint.
    const offenders = sources.filter((f) => engineImport.test(fs.readFileSync(f, 'utf8'))).map((f) => path.relative(root, f));
    expect(offenders.filter((f) => f !== path.join('test', 'engine.test.ts'))).toEqual(['src/engine.ts']);
  });

  it('loads fast: the library entry point pulls in no provider barrel', () => {
    const before = new Set(Object.keys(require.cache));
    jest.isolateModules(() => require('../lib/src'));
    const loaded = Object.keys(require.cache).filter((k) => !before.has(k));
    expect(loaded.filter((k) => /@cdktf[\\/]provider-aws[\\/]lib[\\/]index\.js$/.test(k))).toEqual([]);
  });
});

describe('PlatformApp', () => {
  it('is what the constructs find their context in', () => {
    const app = PlatformTesting.app();
    expect(PlatformApp.of(new PlatformStack(app, 'x'))).toBe(app);
  });
});
