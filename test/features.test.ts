import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as http from 'http';
import * as path from 'path';
import { FEAST_IMAGE, featureGateConfig, imageReference, IMAGES, FeatureRegistryStore, FeatureStore, FeatureStoreProps, FeatureView, featureSetVersion, LINEAGE_TAGS, ModelCards, OnlineStore, PlatformTesting, receiversFor } from '../src';
import { buildReferencePlatform, REFERENCE_CONTEXT } from '../stacks/platform';
import { manifestErrors } from './harness/kubernetes';
import { checkWithTerraform, expectTerraformOk, plannedResources, terraformTool } from './harness/terraform';
import { describeWithTool, onPath, run, tempDir } from './harness/tools';
import { onlyResource, policyStatements, resourcesOf, TEST_CLUSTER, testPlatform } from './harness/fixtures';

const MERCHANT = FeatureView.of({
  name: 'merchant_stats', entity: { name: 'merchant', joinKey: 'merchant_id' }, source: 'merchant_stats/',
  features: [{ name: 'merchant_risk', type: 'Float32' }, { name: 'transactions_7d', type: 'Int64' }],
});
const CARD = FeatureView.of({
  name: 'card_activity', entity: { name: 'card', joinKey: 'card_id', keyType: 'INT64' }, source: 'card_activity.parquet', ttlSeconds: 3600, timestampField: 'ts',
  features: [{ name: 'amount_mean_24h', type: 'Float64' }],
});
const TOKEN_SECRET = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:feast-redis-AbCdEf';

function synthStore(props: Partial<FeatureStoreProps> = {}, options: { production?: boolean } = {}) {
  const { app, stack } = testPlatform(options);
  const store = new FeatureStore(stack, 'features', { cluster: TEST_CLUSTER, onlineStore: OnlineStore.dynamodb(), features: [MERCHANT], ...props });
  const out = PlatformTesting.synth(app);
  const docs = out.manifests['aws/features.k8s.yaml'];
  const of = (kind: string, name?: string) => docs.find((d) => d.kind === kind && (name === undefined || d.metadata.name === name));
  return { store, aws: out.terraform.aws, kubernetes: out.terraform.kubernetes, manifests: out.manifests, of };
}

function storeError(props: Partial<FeatureStoreProps>, options: { production?: boolean } = {}): string {
  const { stack } = testPlatform(options);
  try {
    new FeatureStore(stack, 'features', { cluster: TEST_CLUSTER, onlineStore: OnlineStore.dynamodb(), features: [MERCHANT], ...props });
  } catch (e) {
    return (e as Error).message;
  }
  return 'no error';
}

describe('FeatureStore defaults (DynamoDB)', () => {
  const { store, aws, kubernetes, manifests, of } = synthStore();

  it('keeps the offline store in a versioned, KMS-encrypted, private bucket that Terraform will not destroy', () => {
    const [id, bucket] = Object.entries(resourcesOf(aws, 'aws_s3_bucket'))[0] as [string, any];
    expect(bucket).toMatchObject({ bucket: 'acme-dev-features-offline-123456789012', lifecycle: { prevent_destroy: true } });
    const forBucket = (type: string) => Object.values(resourcesOf(aws, type)).find((r: any) => r.bucket === `\${aws_s3_bucket.${id}.id}`) as any;
    expect(forBucket('aws_s3_bucket_versioning').versioning_configuration.status).toBe('Enabled');
    expect(forBucket('aws_s3_bucket_server_side_encryption_configuration').rule[0].apply_server_side_encryption_by_default.sse_algorithm).toBe('aws:kms');
    expect(forBucket('aws_s3_bucket_public_access_block')).toMatchObject({ block_public_acls: true, block_public_policy: true, ignore_public_acls: true, restrict_public_buckets: true });
  });

  it('creates one online table per view, named as Feast names it, encrypted, with PITR and deletion protection', () => {
    const table = onlyResource(aws, 'aws_dynamodb_table');
    expect(table).toMatchObject({
      name: 'features.merchant_stats', billing_mode: 'PAY_PER_REQUEST', hash_key: 'entity_id', attribute: [{ name: 'entity_id', type: 'S' }],
      point_in_time_recovery: { enabled: true }, deletion_protection_enabled: true, lifecycle: { prevent_destroy: true },
    });
    expect(table.server_side_encryption).toMatchObject({ enabled: true });
    expect(table.server_side_encryption.kms_key_arn).toMatch(/^\$\{aws_kms_key\.features_key_.*\.arn\}$/);
  });

  it('renders feature_store.yaml and the feature repository into a ConfigMap', () => {
    const cm = of('ConfigMap', 'feast-repository');
    expect(cm.data['feature_store.yaml']).toBe(store.featureStoreYaml);
    expect(store.featureStoreYaml).toContain('path: s3://acme-dev-features-offline-123456789012/registry/registry.db');
    expect(store.featureStoreYaml).toMatch(/online_store:\n {2}type: dynamodb\n {2}region: eu-west-1\n {2}table_name_template: '\{project\}\.\{table_name\}'/);
    expect(store.featureStoreYaml).toContain('offline_store:\n  type: dask');
    expect(cm.data['features.py']).toContain('merchant = Entity(name="merchant", join_keys=["merchant_id"], value_type=ValueType.STRING)');
    expect(cm.data['features.py']).toContain('path="s3://acme-dev-features-offline-123456789012/data/merchant_stats/"');
    expect(cm.data['features.py']).toContain('Field(name="transactions_7d", dtype=Int64)');
    expect(cm.data['features.py']).toContain(`# Feature set ${store.featureSetVersion}`);
    // Feast's apply sets the tables' tags to these: the same tags Terraform gives them, so neither undoes the other.
    const table = onlyResource(aws, 'aws_dynamodb_table');
    expect(Object.keys(table.tags).length).toBeGreaterThan(0);
    for (const [k, v] of Object.entries(table.tags)) expect(store.featureStoreYaml).toContain(`    ${JSON.stringify(k)}: ${JSON.stringify(v)}\n`);
  });

  it('runs the feature server non-root, read-only, ready on /health, behind its read gate on 6566, with requests and limits, one replica outside production', () => {
    const d = of('Deployment', 'feature-server');
    expect(d.spec.replicas).toBe(1);
    const [c, gate] = d.spec.template.spec.containers;
    expect(c.image).toBe(FEAST_IMAGE);
    expect(c.command).toEqual(['feast', '--chdir', '/feast', 'serve', '--host', '0.0.0.0', '--port', '6567']);
    expect(c.securityContext).toMatchObject({ runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    // Feast's /health answers 503 until the registry is loaded (feast-dev/feast sdk/python/feast/feature_server.py):
    // it gates readiness; liveness and startup check the port, so a missing registry does not restart the pod.
    expect(c.readinessProbe.httpGet).toEqual({ path: '/health', port: 'feast' });
    for (const p of ['startupProbe', 'livenessProbe']) expect(c[p]).toMatchObject({ tcpSocket: { port: 'feast' } });
    expect(c.ports).toEqual([{ name: 'feast', containerPort: 6567, protocol: 'TCP' }]);
    expect(c.resources).toEqual({ requests: { cpu: '500m', memory: '1Gi' }, limits: { cpu: '1', memory: '2Gi' } });
    // consumers reach the gate: the Service's port, the only one the NetworkPolicy admits
    expect({ name: gate.name, image: gate.image, ports: gate.ports }).toEqual({ name: 'read-gate', image: imageReference(IMAGES.nginxUnprivileged), ports: [{ name: 'http', containerPort: 6566, protocol: 'TCP' }] });
    expect(gate.securityContext).toMatchObject({ runAsNonRoot: true, readOnlyRootFilesystem: true });
    expect(of('Service', 'feature-server').spec.ports).toEqual([{ name: 'http', port: 6566, targetPort: 'http', protocol: 'TCP' }]);
    expect(of('ConfigMap', 'feature-server-gate').data['nginx.conf']).toBe(featureGateConfig());
    expect(of('PodDisruptionBudget')).toBeUndefined();
  });

  it('admits only its own namespace to the server until endpoints are granted', () => {
    const np = of('NetworkPolicy', 'feature-server');
    expect(np.spec.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(np.spec.ingress).toEqual([{ from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'feast' } } }], ports: [{ protocol: 'TCP', port: 6566 }] }]);
  });

  it('materializes hourly from offline to online with its own service account', () => {
    const cj = of('CronJob', 'feature-materializer');
    expect(cj.spec).toMatchObject({ schedule: '0 * * * *', concurrencyPolicy: 'Forbid' });
    const pod = cj.spec.jobTemplate.spec.template.spec;
    expect(pod.serviceAccountName).toBe('feature-materializer');
    expect(pod.containers[0].command[2]).toMatch(/feast --chdir \/feast apply && feast --chdir \/feast materialize-incremental/);
  });

  it('passes deploy-time values through a ConfigMap the KubernetesStack writes', () => {
    const cm = Object.values(resourcesOf(kubernetes, 'kubernetes_config_map_v1')).find((r: any) => r.metadata.name === 'feast-online-store') as any;
    expect(cm.data.tables).toMatch(/aws_dynamodb_table_?features_online-merchant-stats_[0-9A-F]+_?name\}$/);
  });

  it('gives the server only online reads and registry reads, the materializer online writes', () => {
    const policies = Object.values(resourcesOf(aws, 'aws_iam_role_policy')) as any[];
    const actionsOf = (roleId: string) => policies.filter((p) => p.role.includes(roleId)).flatMap((p) => policyStatements(p.policy).flatMap((s: any) => s.Action));
    const server = actionsOf('server-identity');
    expect(server.sort()).toEqual(['dynamodb:BatchGetItem', 'dynamodb:DescribeTable', 'dynamodb:GetItem', 'kms:Decrypt', 'kms:Decrypt', 's3:GetObject', 's3:ListBucket']);
    expect(actionsOf('materializer-identity')).toEqual(expect.arrayContaining(['dynamodb:BatchWriteItem', 'dynamodb:TagResource', 's3:PutObject']));
    expect(actionsOf('materializer-identity')).not.toContain('dynamodb:UntagResource');
    expect(actionsOf('materializer-identity')).not.toContain('dynamodb:DeleteTable');
  });

  it('produces manifests that pass the Kubernetes schemas', () => {
    expect(manifestErrors(manifests)).toEqual([]);
  });
});

describe('FeatureStore with every prop (Redis)', () => {
  const { store, aws, kubernetes, manifests, of } = synthStore({
    project: 'fraud_features', namespace: 'features', offlineBucketName: 'acme-fraud-features-offline',
    registry: FeatureRegistryStore.s3({ prefix: 'feast-registry/' }),
    onlineStore: OnlineStore.redis({ nodeType: 'cache.r7g.large', replicas: 2, authTokenSecretArn: TOKEN_SECRET, engineVersion: '7.1' }),
    features: [MERCHANT, CARD],
    server: { image: 'quay.io/feastdev/feature-server:0.50.0', replicas: 3, resources: { cpu: '1', memory: '2Gi' } },
    materializationSchedule: '*/15 * * * *',
  }, { production: true });

  it('runs Redis encrypted at rest and in transit, with AUTH, failover and Multi-AZ, kept from destroy', () => {
    const rg = onlyResource(aws, 'aws_elasticache_replication_group');
    expect(rg).toMatchObject({
      engine: 'redis', node_type: 'cache.r7g.large', num_cache_clusters: 3, automatic_failover_enabled: true, multi_az_enabled: true,
      at_rest_encryption_enabled: 'true', transit_encryption_enabled: true, lifecycle: { prevent_destroy: true },
    });
    expect(rg.auth_token).toMatch(/^\$\{jsondecode\(data\.aws_secretsmanager_secret_version\..*\.secret_string\)\["token"\]\}$/);
    expect(rg.kms_key_id).toMatch(/aws_kms_key\.features_key/);
  });

  it('puts Redis in the private subnets behind a security group that admits only the workload security group', () => {
    expect(onlyResource(aws, 'aws_elasticache_subnet_group').subnet_ids).toEqual(TEST_CLUSTER.privateSubnetIds);
    expect(onlyResource(aws, 'aws_vpc_security_group_ingress_rule')).toMatchObject({
      referenced_security_group_id: TEST_CLUSTER.workloadSecurityGroupId, from_port: 6379, to_port: 6379, ip_protocol: 'tcp',
    });
    expect(onlyResource(aws, 'aws_security_group').ingress).toBeUndefined();
  });

  it('reads the Redis endpoint and token from what the KubernetesStack writes, not from Terraform tokens', () => {
    expect(store.featureStoreYaml).toContain('connection_string: "${REDIS_HOST}:${REDIS_PORT},ssl=true,password=${REDIS_PASSWORD}"');
    const cm = Object.values(resourcesOf(kubernetes, 'kubernetes_config_map_v1')).find((r: any) => r.metadata.name === 'feast-online-store') as any;
    expect(cm.data.host).toMatch(/aws_elasticache_replication_group_?features_redis_[0-9A-F]+_?primary_endpoint_address\}$/);
    const secret = Object.values(resourcesOf(kubernetes, 'kubernetes_secret_v1')).find((r: any) => r.metadata.name === 'feast-redis-auth') as any;
    expect(secret.data.token).toContain('jsondecode');
    const env = of('Deployment').spec.template.spec.containers[0].env;
    expect(env).toEqual(expect.arrayContaining([{ name: 'REDIS_PASSWORD', valueFrom: { secretKeyRef: { name: 'feast-redis-auth', key: 'token' } } }]));
  });

  it('takes the project, namespace, registry prefix, schedule, image, replicas and resources', () => {
    expect(store.featureStoreYaml).toMatch(/^project: fraud_features\n/);
    expect(store.featureStoreYaml).toContain('path: s3://acme-fraud-features-offline/feast-registry/registry.db');
    expect(store.serverUrl).toBe('http://feature-server.features.svc.cluster.local:6566');
    expect(of('CronJob').spec.schedule).toBe('*/15 * * * *');
    const d = of('Deployment');
    expect(d.metadata.namespace).toBe('features');
    expect(d.spec.replicas).toBe(3);
    expect(d.spec.template.spec.containers[0].resources).toEqual({ requests: { cpu: '1', memory: '2Gi' }, limits: { cpu: '1', memory: '2Gi' } });
    expect(of('PodDisruptionBudget').spec.minAvailable).toBe(1);
    expect(of('NetworkPolicy', 'feature-server').spec.egress).toEqual(expect.arrayContaining([{ to: [{ ipBlock: { cidr: TEST_CLUSTER.vpcCidr } }], ports: [{ protocol: 'TCP', port: 6379 }] }]));
    expect(of('ConfigMap').data['features.py']).toContain('card = Entity(name="card", join_keys=["card_id"], value_type=ValueType.INT64)');
    expect(of('ConfigMap').data['features.py']).toContain('timestamp_field="ts"');
  });

  it('produces manifests that pass the Kubernetes schemas', () => {
    expect(manifestErrors(manifests)).toEqual([]);
  });

  it('grants no DynamoDB access with Redis', () => {
    const actions = (Object.values(resourcesOf(aws, 'aws_iam_role_policy')) as any[]).flatMap((p) => policyStatements(p.policy).flatMap((s: any) => s.Action));
    expect(actions.filter((a: string) => a.startsWith('dynamodb:'))).toEqual([]);
  });
});

describe('FeatureStore feature set version', () => {
  it('does not depend on the order of views or features, and changes with any definition', () => {
    const reordered = FeatureView.of({ ...MERCHANT.props, features: [...MERCHANT.props.features].reverse() });
    expect(featureSetVersion('p', [MERCHANT, CARD])).toBe(featureSetVersion('p', [CARD, reordered]));
    const changed = FeatureView.of({ ...MERCHANT.props, ttlSeconds: 60 });
    expect(featureSetVersion('p', [MERCHANT])).not.toBe(featureSetVersion('p', [changed]));
    expect(featureSetVersion('p', [MERCHANT])).toMatch(/^sha256:[0-9a-f]{64}$/);
  });
});

describe('FeatureStore refuses bad input', () => {
  const view = (over: Partial<FeatureView['props']>) => FeatureView.of({ ...MERCHANT.props, ...over });
  it.each([
    [{ features: [] }, "FeatureStore 'aws/features': features ([]) must hold at least one FeatureView."],
    [{ features: [view({ name: 'Merchant-Stats' })] }, "features[0].name ('Merchant-Stats') must be lower-case letters, digits and '_', starting with a letter"],
    [{ features: [MERCHANT, MERCHANT] }, "features[1].name ('merchant_stats') is the name of another feature view."],
    [{ features: [view({ features: [{ name: 'merchant_id', type: 'String' }] })] }, "features[0].features ('merchant_id') is listed twice, or is the join key or the timestamp column."],
    [{ features: [view({ source: '../other/' })] }, "features[0].source ('../other/') must be a Parquet file or folder under the offline store's data/ prefix"],
    [{ features: [view({ ttlSeconds: 0 })] }, 'features[0].ttlSeconds (0) must be a whole number from 1 to 31536000.'],
    [{ features: [MERCHANT, FeatureView.of({ ...CARD.props, entity: { name: 'merchant', joinKey: 'merchant_key' } })] }, "features[1].entity ('merchant') is declared with another join key or type (merchant_id:STRING) by another view"],
    [{ project: 'fraud-features' }, "project ('fraud-features') must be a Feast project name"],
    [{ materializationSchedule: 'hourly' }, "materializationSchedule ('hourly') is not a cron expression"],
    [{ registry: FeatureRegistryStore.s3({ prefix: 'data/registry/' }) }, "registry.prefix ('data/registry/') must be a relative prefix ending with '/' outside 'data/'"],
    [{ server: { image: 'quay.io/feastdev/feature-server:latest' } }, "server.image ('quay.io/feastdev/feature-server:latest') must be pinned"],
    [{ server: { replicas: 0 } }, 'server.replicas (0) must be a whole number from 1 to 50.'],
    [{ onlineStore: OnlineStore.redis({ nodeType: 'r7g.large', replicas: 1, authTokenSecretArn: TOKEN_SECRET }) }, "onlineStore.nodeType ('r7g.large') must be an ElastiCache node type such as cache.r7g.large."],
    [{ onlineStore: OnlineStore.redis({ nodeType: 'cache.r7g.large', replicas: 6, authTokenSecretArn: TOKEN_SECRET }) }, 'onlineStore.replicas (6) must be a whole number from 0 to 5.'],
    [{ onlineStore: OnlineStore.redis({ nodeType: 'cache.r7g.large', replicas: 1, authTokenSecretArn: 'feast-redis' }) }, "onlineStore.authTokenSecretArn ('feast-redis') must be the ARN of a Secrets Manager secret."],
  ])('%#: %j', (props, message) => {
    expect(storeError(props as Partial<FeatureStoreProps>)).toContain(message);
  });

  it('refuses Redis without a replica in production: no automatic failover', () => {
    expect(storeError({ onlineStore: OnlineStore.redis({ nodeType: 'cache.r7g.large', replicas: 0, authTokenSecretArn: TOKEN_SECRET }) }, { production: true }))
      .toBe("FeatureStore 'aws/features': onlineStore.replicas (0) must be at least 1 in a production environment: without a replica there is no automatic failover.");
  });
});

describe('FeatureStore and ModelCards in the reference platform', () => {
  const app = PlatformTesting.app({ platform: REFERENCE_CONTEXT });
  const platform = buildReferencePlatform(app);
  const out = PlatformTesting.synth(app);
  const aws = out.terraform.platform;
  const roles = resourcesOf(aws, 'aws_iam_role');
  const policies = Object.values(resourcesOf(aws, 'aws_iam_role_policy')) as any[];
  /** The Allow statements attached to the role with this name. */
  const statementsOf = (roleName: string) => {
    const [id] = Object.entries(roles).find(([, r]: any) => r.name === roleName)!;
    return policies.filter((p) => p.role === `\${aws_iam_role.${id}.name}`).flatMap((p) => policyStatements(p.policy)).filter((s: any) => s.Effect === 'Allow');
  };
  const offlineBucket = Object.keys(resourcesOf(aws, 'aws_s3_bucket')).find((k) => k.startsWith('features_offline'))!;
  const touches = (s: any, needle: string) => [s.Resource].flat().some((r: string) => r.includes(needle));
  const S3_READS = ['s3:GetObject', 's3:GetObjectVersion', 's3:ListBucket'];
  const DYNAMO_WRITES = ['dynamodb:BatchWriteItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:CreateTable'];

  it('lets the fraud endpoint read the online tables but not the offline store', () => {
    const endpoint = statementsOf('acme-ml-prod-serving-fraud');
    expect(endpoint.filter((s) => touches(s, 'table/features.')).flatMap((s) => s.Action).sort()).toEqual(['dynamodb:BatchGetItem', 'dynamodb:DescribeTable', 'dynamodb:GetItem']);
    expect(endpoint.filter((s) => touches(s, `aws_s3_bucket.${offlineBucket}`) && s.Action.some((a: string) => S3_READS.includes(a)))).toEqual([]);
  });

  it('lets the fraud pipeline read the offline store but not write the online store', () => {
    const pipeline = statementsOf('acme-ml-prod-fraud-fraud-retrain');
    expect(pipeline.filter((s) => touches(s, `aws_s3_bucket.${offlineBucket}`)).flatMap((s) => s.Action)).toEqual(expect.arrayContaining(['s3:GetObject', 's3:ListBucket']));
    expect(pipeline.filter((s) => s.Action.some((a: string) => DYNAMO_WRITES.includes(a)))).toEqual([]);
    expect(pipeline.filter((s) => touches(s, 'table/'))).toEqual([]);
  });

  it('gives the endpoint the feature server address and a way to it', () => {
    const fraud = out.manifests['platform/fraud.k8s.yaml'];
    const env = fraud.find((d) => d.kind === 'Deployment')!.spec.template.spec.containers[0].env;
    expect(env).toEqual(expect.arrayContaining([{ name: 'FEAST_FEATURE_SERVER_URL', value: 'http://feature-server.feast.svc.cluster.local:6566' }]));
    const egress = fraud.find((d) => d.kind === 'NetworkPolicy' && d.metadata.name === 'fraud-to-features')!;
    expect(egress.spec.podSelector.matchLabels).toEqual(platform.fraud.selectorLabels);
    expect(egress.spec.egress[0].ports).toEqual([{ protocol: 'TCP', port: 6566 }]);
    const server = out.manifests['platform/features.k8s.yaml'].find((d) => d.kind === 'NetworkPolicy' && d.metadata.name === 'feature-server')!;
    expect(server.spec.ingress[0].from.map((f: any) => f.namespaceSelector.matchLabels['kubernetes.io/metadata.name'])).toEqual(['feast', 'serving']);
  });

  it('records the feature set version in the lineage tags the pipeline registers', () => {
    const template = out.manifests['platform/fraud-retrain.k8s.yaml'].find((d) => d.kind === 'WorkflowTemplate')!;
    const register = template.spec.templates.find((t: any) => t.name === 'register');
    const tags = JSON.parse(register.container.env.find((e: any) => e.name === 'LINEAGE_TAGS').value);
    expect(tags[LINEAGE_TAGS.featureSet]).toBe(platform.features.featureSetVersion);
    expect(LINEAGE_TAGS.featureSet).toBe('mlops.lineage.feature_set');
  });

  it('passes the platform check and the Kubernetes schemas', () => {
    expect(manifestErrors(out.manifests)).toEqual([]);
    const again = PlatformTesting.app({ platform: REFERENCE_CONTEXT });
    buildReferencePlatform(again);
    expect(PlatformTesting.findings(again)).toEqual([]);
  });

  describe('model cards', () => {
    const cards = platform.modelCards.cards;
    const fraudCard = cards.find((c) => c.model.name === 'fraud-detector')!;
    const dir = path.join(app.manifestsOutdir, 'model-cards');

    it('makes one card per served model version', () => {
      expect(cards.map((c) => `${c.model.name}@${c.model.version ?? c.model.alias}`)).toEqual(['churn@12', 'fraud-detector@8', 'recommender@31']);
      expect(fs.readdirSync(dir).sort()).toEqual(['churn-12.json', 'churn-12.md', 'fraud-detector-8.json', 'fraud-detector-8.md', 'recommender-31.json', 'recommender-31.md']);
    });

    it('takes purpose, owner and limitations from the description, and lineage from the pipeline', () => {
      expect(fraudCard.purpose).toMatch(/^Scores card payments for fraud/);
      expect(fraudCard.owner).toBe(platform.fraud.team);
      expect(fraudCard.limitations).toHaveLength(2);
      const template = out.manifests['platform/fraud-retrain.k8s.yaml'].find((d) => d.kind === 'WorkflowTemplate')!;
      const tags = JSON.parse(template.spec.templates.find((t: any) => t.name === 'register').container.env.find((e: any) => e.name === 'LINEAGE_TAGS').value);
      for (const f of fraudCard.lineage.fields) {
        // Every field names its tag; a value known at synth is the one the pipeline registers.
        expect(f.tag).toBe((LINEAGE_TAGS as Record<string, string>)[f.field]);
        if (!f.recordedAtRegistration) expect(f.value).toBe(tags[f.tag]);
        else expect(tags[f.tag] === undefined || tags[f.tag].includes('{{')).toBe(true);
      }
      const known = Object.fromEntries(fraudCard.lineage.fields.filter((f) => !f.recordedAtRegistration).map((f) => [f.field, f.value]));
      expect(known).toEqual({
        codeCommit: platform.fraudRetrain.codeCommit, configHash: platform.fraudRetrain.configHash,
        imageDigest: expect.stringMatching(/^sha256:/), featureSet: platform.features.featureSetVersion,
      });
      expect(fraudCard.lineage.dataUri).toBe(platform.fraudRetrain.dataUri);
    });

    it('lists the pipeline gates and metrics as evaluation', () => {
      expect(fraudCard.evaluation.gates).toEqual(platform.fraudRetrain.gates.map((g) => g.spec));
      expect(fraudCard.evaluation.metrics).toEqual([
        { metric: 'auc', tag: 'mlops.metrics.auc' }, { metric: 'precision_at_1pct', tag: 'mlops.metrics.precision_at_1pct' }, { metric: 'recall', tag: 'mlops.metrics.recall' },
      ]);
    });

    it('lists the fairness gates the gate step runs, and the tags registration records their results in', () => {
      // Source: the gate step's GATES (what gate.py checks) and the tags register.py sets (FAIRNESS_TAGS from the gate's output).
      const template = out.manifests['platform/fraud-retrain.k8s.yaml'].find((d) => d.kind === 'WorkflowTemplate')!;
      const env = (step: string) => Object.fromEntries(template.spec.templates.find((t: any) => t.name === step).container.env.map((e: any) => [e.name, e.value]));
      const checked = JSON.parse(env('gate').GATES).filter((g: any) => g.kind.startsWith('fairness'));
      expect(fraudCard.evaluation.fairness).toEqual(checked);
      expect(fraudCard.evaluation.fairness.map((g) => [g.kind, g.metric, g.groups, g.tag])).toEqual([
        ['fairness-max-disparity', 'recall', 'region', 'mlops.fairness.recall.region.max-disparity'],
        ['fairness-group-floor', 'recall', 'region', 'mlops.fairness.recall.region.group-floor'],
      ]);
      expect(fraudCard.evaluation.fairness.map((g) => g.tag)).toEqual(platform.fraudRetrain.fairnessTags);
      expect(env('register').FAIRNESS_TAGS).toBe('{{inputs.parameters.fairness}}');
      const md = fs.readFileSync(path.join(dir, 'fraud-detector-8.md'), 'utf8');
      expect(md).toContain('| recall | region | best − worst group ≤ 0.05 | at least 200 | reject the candidate | `mlops.fairness.recall.region.max-disparity` |');
      expect(md).toContain('| recall | region | every group ≥ 0.8 | at least 200 | reject the candidate | `mlops.fairness.recall.region.group-floor` |');
      // A model without a pipeline has no fairness gate to show.
      expect(cards.find((c) => c.model.name === 'churn')!.evaluation.fairness).toEqual([]);
    });

    it('takes the release strategy from the endpoint\'s Rollout and the alerts and routes from its MonitoringStack', () => {
      const [serving] = fraudCard.serving;
      const rollout = out.manifests['platform/fraud-release.k8s.yaml'].find((d) => d.kind === 'Rollout')!;
      expect(serving.release).toMatchObject({ rollout: 'platform/fraud-release', strategy: 'canary', steps: rollout.spec.strategy.canary.steps });
      const alertRules = platform.monitoring.ruleGroups.flatMap((g) => g.rules).filter((r) => r.alert && r.labels?.endpoint === 'fraud');
      expect(serving.monitoring!.alerts.map((a) => a.alert)).toEqual(expect.arrayContaining(alertRules.map((r) => r.alert)));
      const byName = Object.fromEntries(serving.monitoring!.alerts.map((a) => [a.alert, a]));
      // Routes: critical fraud alerts page the on-call; warnings go to Slack; drift also starts retraining.
      expect(byName.ErrorBudgetBurnFast.receivers).toEqual(['fraud-oncall']);
      expect(byName.LatencyObjectiveMissed.receivers).toEqual(['ml-alerts']);
      expect(byName.ModelDataDriftCritical.receivers).toEqual(['retraining', 'fraud-oncall']);
      expect(byName.LatencyObjectiveMissed.expr).toContain('> 0.1');
      // Subgroup monitoring: a region falling behind is a warning for the team, not a retraining trigger.
      expect(byName.ModelSubgroupMetricGap).toMatchObject({ severity: 'warning', for: '1h', receivers: ['ml-alerts'] });
      expect(byName.ModelSubgroupMetricGap.expr).toContain('group_label="region"} > 0.05');
    });

    it('marks what it does not know: a model no pipeline produces, an endpoint without release or monitoring', () => {
      const churn = cards.find((c) => c.model.name === 'churn')!;
      expect(churn.purpose).toBeUndefined();
      expect(churn.lineage.fields.every((f) => f.recordedAtRegistration)).toBe(true);
      expect(churn.serving[0]).not.toHaveProperty('release');
      expect(churn.serving[0]).not.toHaveProperty('monitoring');
      expect(fs.readFileSync(path.join(dir, 'churn-12.md'), 'utf8')).toContain('_not declared (ModelCards descriptions)_');
      const recsys = cards.find((c) => c.model.name === 'recommender')!;
      const rollout = out.manifests['platform/recsys-shadow.k8s.yaml'].find((d) => d.kind === 'Rollout')!;
      expect(recsys.serving[0].release!.strategy).toBe(Object.keys(rollout.spec.strategy)[0]);
    });

    it('writes the same card as JSON, Markdown and a ConfigMap in the registry namespace', () => {
      const json = fs.readFileSync(path.join(dir, 'fraud-detector-8.json'), 'utf8');
      expect(JSON.parse(json)).toEqual(JSON.parse(JSON.stringify(fraudCard)));
      const cm = out.manifests['platform/model-cards.k8s.yaml'].find((d) => d.metadata.name === 'model-card-fraud-detector-8')!;
      expect(cm.metadata.namespace).toBe(platform.registry.namespace);
      expect(cm.data['card.json']).toBe(json);
      expect(cm.data['card.md']).toBe(fs.readFileSync(path.join(dir, 'fraud-detector-8.md'), 'utf8'));
      expect(cm.data['card.md']).toContain(`| featureSet | \`mlops.lineage.feature_set\` | \`${platform.features.featureSetVersion}\` |`);
      expect(cm.data['card.md']).toContain('canary by `platform/fraud-release` (5% → 25% → 100%)');
    });
  });
});

describe('grants refuse what would be ambiguous', () => {
  const app = PlatformTesting.app({ platform: REFERENCE_CONTEXT });
  const p = buildReferencePlatform(app);

  it('refuses a second feature set for one pipeline: a model is trained on one feature set', () => {
    expect(() => new FeatureStore(p.aws, 'same-namespace', { cluster: p.cluster, onlineStore: OnlineStore.dynamodb(), features: [MERCHANT] }))
      .toThrow("FeatureStore 'platform/same-namespace': namespace ('feast') is the namespace of FeatureStore 'platform/features'; each store runs its feature server in a namespace of its own.");
    const other = new FeatureStore(p.aws, 'other-features', { cluster: p.cluster, namespace: 'feast-other', onlineStore: OnlineStore.dynamodb(), features: [MERCHANT] });
    expect(() => other.grantOfflineRead(p.fraudRetrain)).toThrow(
      `TrainingPipeline 'platform/fraud-retrain': mlops.lineage.feature_set ('${other.featureSetVersion}') is recorded already with another value (${p.features.featureSetVersion}): a model is trained on one feature set.`);
    // Granting the same store again is harmless.
    expect(() => p.features.grantOfflineRead(p.fraudRetrain)).not.toThrow();
  });

  it('refuses an environment variable set twice or with a bad name on an endpoint', () => {
    expect(() => p.fraud.addEnvironment('FEAST_FEATURE_SERVER_URL', 'http://other:6566'))
      .toThrow("ServingEndpoint 'platform/fraud': environment ('FEAST_FEATURE_SERVER_URL') is set already.");
    expect(() => p.fraud.addEnvironment('FEAST-URL', 'x')).toThrow("ServingEndpoint 'platform/fraud': environment ('FEAST-URL') must be an environment variable name.");
  });
});

describe('ModelCards refuses bad input', () => {
  it('refuses an empty purpose and an endpoint described twice', () => {
    const app = PlatformTesting.app({ platform: REFERENCE_CONTEXT });
    const p = buildReferencePlatform(app);
    expect(() => new ModelCards(p.aws, 'cards-empty', { descriptions: [{ endpoint: p.fraud, purpose: ' ' }] }))
      .toThrow("ModelCards 'platform/cards-empty': descriptions[0].purpose (' ') must say what the model is for.");
    expect(() => new ModelCards(p.aws, 'cards-twice', { descriptions: [{ endpoint: p.fraud, purpose: 'a' }, { endpoint: p.fraud, purpose: 'b' }] }))
      .toThrow("ModelCards 'platform/cards-twice': descriptions[1].endpoint ('platform/fraud') is described twice.");
  });

  it('routes like Alertmanager: first matching route, on while continue, then the default', () => {
    const route = { receiver: 'default', routes: [
      { receiver: 'retraining', matchers: [{ name: 'kind', value: 'drift|quality', matchType: '=~' }], continue: true },
      { receiver: 'pager', matchers: [{ name: 'severity', value: 'critical', matchType: '=' }] },
    ] };
    expect(receiversFor({ kind: 'drift', severity: 'critical' }, route)).toEqual(['retraining', 'pager']);
    expect(receiversFor({ kind: 'slo', severity: 'warning' }, route)).toEqual(['default']);
    expect(receiversFor({ kind: 'driftx', severity: 'warning' }, route)).toEqual(['default']);
  });
});

describeWithTool(terraformTool, 'FeatureStore checked by terraform', () => {
  it('plans the DynamoDB store offline', () => {
    const { aws } = synthStore({ features: [MERCHANT, CARD] }, { production: true });
    const plan = expectTerraformOk(checkWithTerraform(aws, { plan: true }));
    expect(plannedResources(plan, 'aws_dynamodb_table').map((r) => r.values.name).sort()).toEqual(['features.card_activity', 'features.merchant_stats']);
  });

  it('validates the Redis store (its AUTH token is read from Secrets Manager, which an offline plan cannot)', () => {
    const { aws } = synthStore({ onlineStore: OnlineStore.redis({ nodeType: 'cache.r7g.large', replicas: 1, authTokenSecretArn: TOKEN_SECRET }) });
    const result = checkWithTerraform(aws, { plan: false });
    expect(result.validate.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    expect(result.validate.valid).toBe(true);
  });
});

// The read gate as it runs: NGINX with the generated configuration in front of a stand-in for `feast serve`
// that answers every path and method it receives (feast/feature_server.py serves /push, /write-to-online-store,
// /materialize and /materialize-incremental beside /get-online-features and /health).
const nginxTools = onPath('nginx') && onPath('python3') ? { available: true } : { available: false, reason: 'nginx or python3 is not on PATH (apt-get install nginx-light)' };
describeWithTool(nginxTools, 'the feature server\'s read gate, run with nginx on loopback', () => {
  const base = 41000 + Math.floor(Math.random() * 15000);
  const [feast, gate] = [base, base + 1];
  const dir = tempDir('mlops-feature-gate-');
  const processes: ChildProcess[] = [];
  const config = featureGateConfig(gate, feast).split('/tmp/').join(`${dir}/`);

  beforeAll(async () => {
    fs.writeFileSync(path.join(dir, 'feast.py'), `
import json, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
class Feast(BaseHTTPRequestHandler):
    def answer(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        data = json.dumps({"upstream": "feast", "method": self.command, "path": self.path}).encode()
        self.send_response(200); self.send_header("Content-Type", "application/json"); self.send_header("Content-Length", str(len(data))); self.end_headers(); self.wfile.write(data)
    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = answer
    def log_message(self, *a): pass
HTTPServer(("127.0.0.1", int(sys.argv[1])), Feast).serve_forever()
`);
    fs.writeFileSync(path.join(dir, 'nginx.conf'), config.replace('worker_processes 1;', 'worker_processes 1;\ndaemon off;'));
    processes.push(spawn('python3', [path.join(dir, 'feast.py'), String(feast)], { stdio: 'ignore' }));
    processes.push(spawn('nginx', ['-p', dir, '-c', path.join(dir, 'nginx.conf')], { stdio: 'ignore' }));
    for (let i = 0; i < 300; i++) {
      const ready = await Promise.all([feast, gate].map((p) => call(p, 'GET', '/health').then(() => true, () => false)));
      if (ready.every(Boolean)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('nginx or the stand-in did not start');
  });
  afterAll(() => processes.forEach((p) => p.kill()));

  it('passes nginx -t', () => {
    const r = run('nginx', ['-t', '-p', dir, '-c', path.join(dir, 'nginx.conf')]);
    expect(`${r.stdout}${r.stderr}`).toMatch(/syntax is ok/);
  });

  it('relays the online read and the health check, as that path and nothing else', async () => {
    expect(await call(gate, 'POST', '/get-online-features', '{"features":["merchant_stats:merchant_risk"],"entities":{"merchant_id":[1]}}'))
      .toEqual({ status: 200, body: { upstream: 'feast', method: 'POST', path: '/get-online-features' } });
    expect(await call(gate, 'GET', '/health')).toEqual({ status: 200, body: { upstream: 'feast', method: 'GET', path: '/health' } });
  });

  it.each([
    ['POST', '/push'], ['POST', '/write-to-online-store'], ['POST', '/materialize'], ['POST', '/materialize-incremental'],
    ['GET', '/get-online-features'], ['PUT', '/get-online-features'], ['POST', '/health'],
    ['POST', '//push'], ['POST', '/get-online-features/../push'], ['POST', '/get-online-features/%2e%2e/push'], ['POST', '/%70ush'],
    ['POST', '/get-online-features/'], ['POST', '/docs'], ['GET', '/openapi.json'],
  ])('refuses %s %s', async (method, uri) => {
    const r = await call(gate, method, uri, '{}');
    expect({ method, uri, status: r.status, upstream: (r.body as any)?.upstream }).toEqual({ method, uri, status: 403, upstream: undefined });
  });
});

function call(port: number, method: string, uri: string, body?: string): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: uri, timeout: 2000, headers: body ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } : {} }, (res) => {
      let text = '';
      res.on('data', (c) => { text += c; });
      res.on('end', () => {
        let parsed: unknown = text;
        try { parsed = JSON.parse(text); } catch { /* not JSON */ }
        resolve({ status: res.statusCode ?? 0, body: parsed });
      });
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    if (body) req.write(body);
    req.end();
  });
}
