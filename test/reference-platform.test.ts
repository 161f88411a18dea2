import * as fs from 'fs';
import * as path from 'path';
import { PlatformTesting } from '../src';
import { buildReferencePlatform, REFERENCE_CONTEXT } from '../stacks/platform';
import { manifestErrors } from './harness/kubernetes';
import { checkWithTerraform, expectTerraformOk, terraformTool } from './harness/terraform';
import { describeWithTool, run, tempDir } from './harness/tools';

function synthReference() {
  const app = PlatformTesting.app({ platform: REFERENCE_CONTEXT });
  buildReferencePlatform(app);
  return PlatformTesting.synth(app);
}

/**
 * Terraform addresses of the stateful resources. A renamed construct id changes an address, and
 * Terraform then destroys the old resource and creates a new one: for these, data loss. Changing
 * this list needs a `moved` block (or `terraform state mv`) in the same change.
 */
const STATEFUL_ADDRESSES = [
  'aws_kms_key.registry_key_CFCE5361',
  'aws_s3_bucket.registry_artifacts_bucket_DEAE7B2C',
  'aws_s3_bucket.registry_access-logs_bucket_9C989FB6',
  'aws_s3_bucket.registry_audit-trail_bucket_0B94E4D4',
  'aws_db_instance.registry_database_instance_B1D07D13',
  'aws_kms_key.training_key_0499DA22',
  'aws_s3_bucket.training_shared-storage_datasets_bucket_8CB99A5C',
  'aws_fsx_lustre_file_system.training_shared-storage_lustre_723FA832',
  'aws_ecr_repository.training_repository-training_EA279186',
  'aws_ecr_repository.training_repository-serving_0DBDE6E0',
  'aws_eks_cluster.training_cluster_341BB387',
  'aws_kms_key.monitoring_key_08DE86CB',
  'aws_kms_key.features_key_25BBC4BF',
  'aws_kms_key.images_key_105A9433',
  'aws_ecr_repository.images_repository-mlflow_6F7BDF62',
  'aws_ecr_repository.images_repository-feast-feature-server_23ECCAF3',
  'aws_s3_bucket.features_offline_bucket_1BB9D3ED',
  'aws_dynamodb_table.features_online-card-activity_3028343D',
  'aws_dynamodb_table.features_online-merchant-stats_124EB6F3',
];

describe('reference platform', () => {
  const out = synthReference();

  it('synthesizes an AWS stack, a Kubernetes stack and a manifest file per construct', () => {
    expect(Object.keys(out.terraform)).toEqual(['kubernetes', 'platform']);
    expect(Object.keys(out.manifests)).toEqual([
      '00-cluster.k8s.yaml',
      'platform/churn-batch.k8s.yaml', 'platform/features.k8s.yaml', 'platform/fraud-release.k8s.yaml', 'platform/fraud-retrain.k8s.yaml', 'platform/fraud-train.k8s.yaml', 'platform/fraud.k8s.yaml',
      'platform/model-cards.k8s.yaml', 'platform/monitoring.k8s.yaml', 'platform/recsys-shadow.k8s.yaml', 'platform/recsys.k8s.yaml', 'platform/registry.k8s.yaml', 'platform/training.k8s.yaml',
    ]);
  });

  it('creates every namespace once with its Pod Security level: Terraform where it writes, else the cluster manifest, read first', () => {
    const inManifest = out.manifests['00-cluster.k8s.yaml'].filter((d) => d.kind === 'Namespace');
    const byTerraform = Object.values(out.terraform.kubernetes.resource.kubernetes_namespace_v1) as any[];
    const level = (labels: Record<string, string>) => labels['pod-security.kubernetes.io/enforce'];
    expect(Object.fromEntries(inManifest.map((d) => [d.metadata.name, level(d.metadata.labels)]))).toEqual({
      // storefront calls the recommender through the Istio mesh: the platform labels it for sidecar injection
      'nvidia-system': 'privileged', 'recsys': 'restricted', 'storefront': 'restricted',
    });
    // Terraform writes the registry credentials of the workloads in batch-scoring, fraud and serving: it creates those.
    expect(Object.fromEntries(byTerraform.map((r) => [r.metadata.name, level(r.metadata.labels)]))).toEqual({
      'argo': 'restricted', 'argo-rollouts': 'restricted', 'batch-scoring': 'restricted', 'feast': 'restricted', 'fraud': 'restricted', 'istio-system': 'restricted',
      'keda': 'restricted', 'mlflow': 'restricted', 'monitoring': 'privileged', 'recsys-serving': 'restricted', 'serving': 'restricted',
    });
    expect(out.manifests['00-cluster.k8s.yaml'].filter((d) => d.kind === 'PriorityClass').map((d) => d.metadata.name)).toEqual(['mlops-serving', 'mlops-training']);
    expect(PlatformTesting.findings((() => { const app = PlatformTesting.app({ platform: REFERENCE_CONTEXT }); buildReferencePlatform(app); return app; })())).toEqual([]);
  });

  it('keeps its state in S3, encrypted with a KMS key and locked, never in a local plain-text file', () => {
    // The state holds secrets (generated registry credentials, the database endpoint): both stacks use S3 with
    // server-side encryption under a customer key and S3-native locking (Terraform 1.10+ use_lockfile).
    for (const stack of ['platform', 'kubernetes']) {
      const backend = out.terraform[stack].terraform.backend;
      expect(Object.keys(backend)).toEqual(['s3']);
      expect(backend.s3).toMatchObject({ encrypt: true, use_lockfile: true, kms_key_id: expect.stringMatching(/^arn:aws:kms:eu-west-1:111122223333:/), key: `acme-ml/prod/${stack}.tfstate` });
    }
  });

  it('protects every stateful resource in the AWS stack from destroy, not only the pinned ones', () => {
    // statefulAddresses lists every resource of STATEFUL_TYPES: none may appear without being pinned here
    expect(PlatformTesting.statefulAddresses(out)).toEqual(STATEFUL_ADDRESSES.map((a) => `platform/${a}`).sort());
  });

  it('keeps the stateful resources at their pinned addresses, protected from destroy', () => {
    const resources = out.terraform.platform.resource;
    for (const address of STATEFUL_ADDRESSES) {
      const [type, name] = address.split('.');
      expect({ address, lifecycle: resources[type]?.[name]?.lifecycle }).toEqual({ address, lifecycle: { prevent_destroy: true } });
    }
  });

  it('uses only the aws provider in the AWS stack, so it can be planned offline', () => {
    expect(Object.keys(out.terraform.platform.provider)).toEqual(['aws']);
    expect(Object.keys(out.terraform.kubernetes.provider).sort()).toEqual(['aws', 'helm', 'kubernetes']);
  });

  it('writes no path of this machine, timestamp or random suffix', () => {
    // GIVEN two syntheses in two different temporary folders
    const app = PlatformTesting.app({ platform: REFERENCE_CONTEXT });
    buildReferencePlatform(app);
    const again = PlatformTesting.synth(app);
    // THEN neither holds its output folder nor the working folder, and they are the same
    const text = JSON.stringify(again);
    expect(text).not.toContain(path.dirname(path.resolve(app.outdir)));
    expect(text).not.toContain(process.cwd());
    expect(text).not.toMatch(/"\/(root|home|work)\//);
    expect(text).not.toMatch(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/);
    expect(JSON.stringify(again)).toBe(JSON.stringify(out));
  });

  it('passes the Kubernetes schema check', () => {
    expect(manifestErrors(out.manifests)).toEqual([]);
  });

  it('wires the parts together: drift alerts retrain, canaries scale the Rollout, endpoints read the registry', () => {
    const monitoring = out.manifests['platform/monitoring.k8s.yaml'].find((d) => d.kind === 'AlertmanagerConfig');
    expect(monitoring.spec.receivers.find((r: any) => r.name === 'retraining').webhookConfigs[0].url).toBe('http://fraud-retrain-trigger.fraud.svc.cluster.local:12000/retrain');
    expect(out.manifests['platform/fraud.k8s.yaml'].find((d) => d.kind === 'ScaledObject').spec.scaleTargetRef).toEqual({ apiVersion: 'argoproj.io/v1alpha1', kind: 'Rollout', name: 'fraud-release' });
    const registryPolicy = out.manifests['platform/registry.k8s.yaml'].find((d) => d.kind === 'NetworkPolicy');
    expect(registryPolicy.spec.ingress[0].from.map((f: any) => f.namespaceSelector.matchLabels['kubernetes.io/metadata.name']))
      .toEqual(['batch-scoring', 'fraud', 'mlflow', 'pipelines', 'recsys', 'recsys-serving', 'serving']);
    const releases = (Object.values(out.terraform.kubernetes.resource.helm_release) as any[]).map((r) => r.name).sort();
    expect(releases).toEqual(['argo-rollouts', 'argo-workflows', 'aws-fsx-csi-driver', 'aws-load-balancer-controller', 'cluster-autoscaler', 'istio-base', 'istio-cni', 'istiod', 'keda',
      'kube-prometheus-stack', 'metrics-server']);
  });

  it('matches the reviewed snapshot', () => {
    expect({ terraform: out.terraform, manifests: out.manifests }).toMatchSnapshot();
  });
});

describeWithTool(terraformTool, 'reference platform checked by terraform', () => {
  it('validates and plans the AWS stack offline, creating the stateful resources at their pinned addresses', () => {
    const plan = expectTerraformOk(checkWithTerraform(synthReference().terraform.platform));
    const created = plan.resource_changes.filter((c) => c.change.actions.join() === 'create').map((c) => c.address);
    expect(created).toEqual(expect.arrayContaining(STATEFUL_ADDRESSES));
  });
});

describe('the synth command', () => {
  it('runs the compiled app (as cdktf synth does) and writes cdktf.out and k8s.out side by side', () => {
    const dir = tempDir('mlops-synth-cmd-');
    const main = path.join(__dirname, '..', 'lib', 'stacks', 'main.js');
    const r = run(process.execPath, [main], { cwd: dir, env: { ...process.env, CDKTF_OUTDIR: path.join(dir, 'cdktf.out') } });
    // Nothing but the notice that the platform's own images are not built yet (no images.lock.json here).
    expect(r.stderr).toMatch(/^images: not built yet, so the catalog's defaults run in their place: 111122223333\.dkr\.ecr\.eu-west-1\.amazonaws\.com\/acme-ml-prod\/images\/mlflow:3\.14\.0-[0-9a-f]{12}, \S+\/feast-feature-server:0\.50\.0-[0-9a-f]{12}; build them with 'npm run images:build' once the repositories exist \(README, Images\)\.\n$/);
    expect(r.status).toBe(0);
    expect(fs.existsSync(path.join(dir, 'cdktf.out', 'stacks', 'platform', 'cdk.tf.json'))).toBe(true);
    expect(fs.readFileSync(path.join(dir, 'cdktf.out', 'images', 'mlflow', 'Dockerfile'), 'utf8')).toMatch(/^FROM \$\{BASE_IMAGE\}$/m);
    expect(fs.readFileSync(path.join(dir, 'k8s.out', 'platform', 'registry.k8s.yaml'), 'utf8')).toMatch(/kind: Deployment/);
  });
});
