import { PlatformTesting } from '../src';
import { buildReferencePlatform, REFERENCE_CONTEXT } from '../stacks/platform';
import { policyStatements, resourcesOf } from './harness/fixtures';

/**
 * Which prefixes of the registry bucket each workload of the reference platform may read and write:
 * directly, with the IAM role its service account gets (EKS Pod Identity associations × role policies
 * of the synthesized Terraform), and through the in-cluster services it may reach (the registry's
 * NetworkPolicy × what the registry serves with its own role). Each must be exactly its own: a
 * workload that can write another model's prefix can replace that model's champion (the next object
 * version becomes current, also under Object Lock), which for a pickled model is code execution.
 */
describe('S3 prefixes each workload of the reference platform reaches', () => {
  const app = PlatformTesting.app({ platform: REFERENCE_CONTEXT });
  buildReferencePlatform(app);
  const out = PlatformTesting.synth(app);
  const aws = out.terraform.platform;
  const docs = Object.values(out.manifests).flat() as any[];
  const bucket = Object.keys(resourcesOf(aws, 'aws_s3_bucket')).find((k) => k.startsWith('registry_artifacts_bucket'))!;
  const bucketArn = `\${aws_s3_bucket.${bucket}.arn}/`;

  type Access = { read: string[]; write: string[] };
  const none = (): Access => ({ read: [], write: [] });
  const merge = (a: Access, b: Access): Access => ({
    read: [...new Set([...a.read, ...b.read])].sort(), write: [...new Set([...a.write, ...b.write])].sort(),
  });

  // role → the registry-bucket prefixes its policies allow (GetObject: read; PutObject: write)
  const byRole = new Map<string, Access>();
  for (const policy of Object.values(resourcesOf(aws, 'aws_iam_role_policy')) as any[]) {
    const role = /^\$\{aws_iam_role\.([^.]+)\.name\}$/.exec(policy.role)![1];
    const access = byRole.get(role) ?? none();
    for (const s of policyStatements(policy.policy)) {
      const actions = [s.Action].flat() as string[];
      const prefixes = ([s.Resource].flat() as string[]).filter((r) => r.startsWith(bucketArn)).map((r) => r.slice(bucketArn.length).replace(/\*$/, ''));
      if (actions.includes('s3:GetObject')) access.read.push(...prefixes);
      if (actions.includes('s3:PutObject')) access.write.push(...prefixes);
      expect({ role, wildcard: actions.filter((a) => a === 's3:*' || a === '*') }).toEqual({ role, wildcard: [] });
    }
    byRole.set(role, merge(access, none()));
  }
  // namespace/service account → role (EKS Pod Identity; the platform uses no IRSA roles here)
  const direct = new Map<string, Access>();
  for (const a of Object.values(resourcesOf(aws, 'aws_eks_pod_identity_association')) as any[]) {
    const role = /^\$\{aws_iam_role\.([^.]+)\.arn\}$/.exec(a.role_arn)![1];
    direct.set(`${a.namespace}/${a.service_account}`, byRole.get(role) ?? none());
  }
  expect(Object.keys(resourcesOf(aws, 'aws_iam_openid_connect_provider'))).toEqual([]);

  // What the registry serves with its own role, to whom: its NetworkPolicy's namespaces on the API port.
  const registryDeployment = docs.find((d) => d.kind === 'Deployment' && d.metadata.name === 'mlflow');
  const containers = registryDeployment.spec.template.spec.containers;
  const server = containers.find((c: any) => c.args?.some((a: string) => a.startsWith('--backend-store-uri')));
  const gate = containers.find((c: any) => c.env?.some((e: any) => e.name === 'ARTIFACTS'));
  // `mlflow server --serve-artifacts` relays artifact reads and writes with the server's credentials
  // (mlflow/mlflow mlflow/server/handlers.py, the mlflow-artifacts routes); with --no-serve-artifacts
  // the server still reads artifacts for get-artifact / model-versions/get-artifact / artifacts/list,
  // which the registry gate refuses to every workload when ARTIFACTS=direct (test/governance.test.ts,
  // live with nginx + the gate).
  const proxies = !server.args.includes('--no-serve-artifacts');
  const gateRefusesArtifactCalls = gate?.env.find((e: any) => e.name === 'ARTIFACTS').value === 'direct';
  const serverAccess = direct.get('mlflow/mlflow')!;
  const throughServer: Access = {
    read: gateRefusesArtifactCalls ? [] : serverAccess.read,
    write: proxies && !gateRefusesArtifactCalls ? serverAccess.write : [],
  };
  const policy = docs.find((d) => d.kind === 'NetworkPolicy' && d.metadata.name === 'mlflow' && d.metadata.namespace === 'mlflow');
  const reachesRegistry = new Set<string>(policy.spec.ingress
    .filter((rule: any) => rule.ports.some((p: any) => p.port === 5000))
    .flatMap((rule: any) => rule.from.map((f: any) => f.namespaceSelector.matchLabels['kubernetes.io/metadata.name'])));

  // Every pod template's service account, with what it reaches.
  const templates = docs.flatMap((d) => {
    const spec = d.spec?.template?.spec ?? d.spec?.jobTemplate?.spec?.template?.spec;
    if (spec) return [{ namespace: d.metadata.namespace, sa: spec.serviceAccountName ?? 'default' }];
    if (d.kind === 'WorkflowTemplate') return [{ namespace: d.metadata.namespace, sa: d.spec.serviceAccountName ?? 'default' }];
    return [];
  });
  const reach = new Map<string, Access>();
  for (const { namespace, sa } of templates) {
    const key = `${namespace}/${sa}`;
    const own = direct.get(key) ?? none();
    reach.set(key, reachesRegistry.has(namespace) && key !== 'mlflow/mlflow' ? merge(own, throughServer) : own);
  }
  const touching = Object.fromEntries([...reach].filter(([, a]) => a.read.length || a.write.length).sort(([a], [b]) => a.localeCompare(b)));

  it('is, for every workload, exactly its own model (and its team\'s data), directly or through the registry', () => {
    expect(touching).toEqual({
      'batch-scoring/churn-batch': { read: ['models/churn/'], write: [] },
      'fraud/fraud-retrain': { read: ['data/fraud/transactions/', 'models/fraud-detector/'], write: ['models/fraud-detector/'] },
      'fraud/fraud-train': { read: ['data/fraud/', 'models/fraud-detector/'], write: ['models/fraud-detector/'] },
      'mlflow/mlflow': { read: ['models/'], write: [] },
      'recsys-serving/recsys': { read: ['models/recommender/'], write: [] },
      'serving/fraud': { read: ['models/fraud-detector/'], write: [] },
    });
  });

  it('gives the MLflow server no write at all, and no data/ read: it serves no artifacts', () => {
    expect(serverAccess.write).toEqual([]);
    expect(serverAccess.read.filter((p) => p.startsWith('data/'))).toEqual([]);
    expect(proxies).toBe(false);
    expect(gateRefusesArtifactCalls).toBe(true);
  });

  it('lets no workload write under data/ unless it asked to, and never another team\'s', () => {
    expect(Object.entries(touching).filter(([, a]) => a.write.some((p) => p.startsWith('data/')))).toEqual([]);
  });

  it('counts every pod template of the platform (the computation sees the workloads)', () => {
    expect(reach.size).toBeGreaterThan(10);
    for (const key of direct.keys()) expect({ key, templated: reach.has(key) || !/^(fraud|serving|recsys-serving|batch-scoring|mlflow)\//.test(key) }).toEqual({ key, templated: true });
  });
});
