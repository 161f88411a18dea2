import { ArtifactServing, AuditTrail, RegistryAccess, IdentityMechanism, lineageTags, LINEAGE_TAGS, MLFLOW_IMAGE, ModelAlias, ModelRegistry, ObjectLock, parseLineage, PlatformTesting, WorkloadIdentity } from '../src';
import { manifestErrors } from './harness/kubernetes';
import { checkWithTerraform, expectTerraformOk, plannedResources, terraformTool } from './harness/terraform';
import { describeWithTool } from './harness/tools';
import { grantedActions, onlyResource, policyStatements, resourcesOf, TEST_CLUSTER, testPlatform } from './harness/fixtures';

function synthRegistry(props: Partial<ConstructorParameters<typeof ModelRegistry>[2]> = {}, options: { production?: boolean } = {}) {
  const { app, stack } = testPlatform(options);
  const registry = new ModelRegistry(stack, 'registry', { cluster: TEST_CLUSTER, ...props });
  const out = PlatformTesting.synth(app);
  return { registry, stack, aws: out.terraform.aws, kubernetes: out.terraform.kubernetes, manifests: out.manifests };
}

function bucketNamed(aws: any, name: string) {
  const [id] = Object.entries(resourcesOf(aws, 'aws_s3_bucket')).find(([, b]: any) => b.bucket === name) ?? [];
  if (!id) throw new Error(`no bucket ${name}`);
  return id;
}

function forBucket(aws: any, type: string, bucketId: string) {
  return Object.values(resourcesOf(aws, type)).find((r: any) => r.bucket === `\${aws_s3_bucket.${bucketId}.id}`) as any;
}

describe('ModelRegistry defaults', () => {
  const { aws, kubernetes, manifests } = synthRegistry();
  const artifacts = bucketNamed(aws, 'acme-dev-registry-123456789012');

  it('keeps artifacts in a versioned bucket encrypted with a rotating customer key', () => {
    expect(forBucket(aws, 'aws_s3_bucket_versioning', artifacts).versioning_configuration.status).toBe('Enabled');
    const sse = forBucket(aws, 'aws_s3_bucket_server_side_encryption_configuration', artifacts).rule[0];
    expect(sse.apply_server_side_encryption_by_default.sse_algorithm).toBe('aws:kms');
    expect(sse.apply_server_side_encryption_by_default.kms_master_key_id).toMatch(/^\$\{aws_kms_key\.registry_key_.*\.arn\}$/);
    expect(onlyResource(aws, 'aws_kms_key')).toMatchObject({ enable_key_rotation: true, deletion_window_in_days: 30, lifecycle: { prevent_destroy: true } });
  });

  it('blocks all public access and refuses plain HTTP and other encryption', () => {
    expect(forBucket(aws, 'aws_s3_bucket_public_access_block', artifacts)).toMatchObject({
      block_public_acls: true, block_public_policy: true, ignore_public_acls: true, restrict_public_buckets: true,
    });
    const statements = policyStatements(forBucket(aws, 'aws_s3_bucket_policy', artifacts).policy);
    expect(statements).toEqual(expect.arrayContaining([
      expect.objectContaining({ Sid: 'DenyInsecureTransport', Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
      expect.objectContaining({ Sid: 'DenyOtherEncryption', Effect: 'Deny', Action: 's3:PutObject' }),
      expect.objectContaining({ Sid: 'DenyOtherKmsKey', Effect: 'Deny', Action: 's3:PutObject' }),
    ]));
  });

  it('keeps noncurrent versions by default and logs access to a separate bucket', () => {
    const rules = forBucket(aws, 'aws_s3_bucket_lifecycle_configuration', artifacts).rule;
    expect(rules.map((r: any) => r.id)).toEqual(['abort-incomplete-multipart-uploads']);
    const logs = bucketNamed(aws, 'acme-dev-registry-logs-123456789012');
    expect(forBucket(aws, 'aws_s3_bucket_logging', artifacts).target_bucket).toBe(`\${aws_s3_bucket.${logs}.id}`);
    // S3 server access logs can only be delivered to SSE-S3 buckets
    expect(forBucket(aws, 'aws_s3_bucket_server_side_encryption_configuration', logs).rule[0].apply_server_side_encryption_by_default.sse_algorithm).toBe('AES256');
  });

  it('records artifact reads, writes and deletes in a CloudTrail trail with log validation', () => {
    const trail = onlyResource(aws, 'aws_cloudtrail');
    expect(trail).toMatchObject({ name: 'acme-dev-registry-audit', enable_log_file_validation: true });
    const fields = trail.advanced_event_selector[0].field_selector;
    expect(fields).toEqual(expect.arrayContaining([
      { field: 'eventCategory', equals: ['Data'] },
      { field: 'resources.ARN', starts_with: [`\${aws_s3_bucket.${artifacts}.arn}/`] },
    ]));
    // no readOnly field: GetObject is recorded too (CloudTrail advanced event selectors: without readOnly, both),
    // so a model's download leaves a trail
    expect(fields.map((f: any) => f.field)).not.toContain('readOnly');
  });

  it('runs PostgreSQL privately, encrypted, backed up and protected from deletion', () => {
    expect(onlyResource(aws, 'aws_db_instance')).toMatchObject({
      engine: 'postgres', storage_encrypted: true, publicly_accessible: false, deletion_protection: true,
      skip_final_snapshot: false, final_snapshot_identifier: 'acme-dev-registry-final', backup_retention_period: 7,
      manage_master_user_password: true, performance_insights_enabled: true, multi_az: false, instance_class: 'db.t4g.medium',
      lifecycle: { prevent_destroy: true },
    });
    const ingress = onlyResource(aws, 'aws_vpc_security_group_ingress_rule');
    expect(ingress).toMatchObject({ referenced_security_group_id: 'sg-0123456789abcdef0', from_port: 5432, to_port: 5432 });
    expect(onlyResource(aws, 'aws_security_group').egress).toEqual([]);
  });

  it('gives the server a Pod Identity role with no wildcard actions', () => {
    expect(Object.values(resourcesOf(aws, 'aws_eks_pod_identity_association'))).toHaveLength(2);
    expect(Object.values(resourcesOf(aws, 'aws_eks_pod_identity_association'))).toEqual(expect.arrayContaining([
      expect.objectContaining({ cluster_name: 'acme-dev', namespace: 'mlflow', service_account: 'mlflow' }),
      expect.objectContaining({ cluster_name: 'acme-dev', namespace: 'mlflow', service_account: 'mlflow-db-bootstrap' }),
    ]));
    const role = Object.values(resourcesOf(aws, 'aws_iam_role')).find((r: any) => r.name === 'acme-dev-registry-server') as any;
    const trust = JSON.parse(role.assume_role_policy).Statement[0];
    expect(trust).toMatchObject({ Principal: { Service: 'pods.eks.amazonaws.com' }, Action: ['sts:AssumeRole', 'sts:TagSession'] });
    // only the session EKS Pod Identity tags for this cluster, namespace and service account (EKS User Guide,
    // pod-id-role "Setting Conditions"; session tags of pod-id-abac): another association cannot use the role
    expect(trust.Condition).toEqual({
      StringEquals: {
        'aws:SourceAccount': '123456789012', 'aws:RequestTag/eks-cluster-name': 'acme-dev',
        'aws:RequestTag/kubernetes-namespace': 'mlflow', 'aws:RequestTag/kubernetes-service-account': 'mlflow',
      },
    });
    const actions = grantedActions(aws);
    // the server serves no artifacts (ArtifactServing.DIRECT): it reads them for its UI, and writes none
    expect(actions).toEqual(expect.arrayContaining(['s3:GetObject', 's3:ListBucket']));
    expect(actions.filter((a) => a.includes('*'))).toEqual([]);
    expect(actions).not.toContain('s3:DeleteObject');
    expect(actions).not.toContain('s3:PutObject');
  });

  it('writes the database address into the cluster, and no password: neither a Secret nor a Terraform read of the master secret', () => {
    // Issue 14: a copy of the RDS-managed master password goes stale when RDS rotates it (every 7 days).
    expect(resourcesOf(kubernetes, 'kubernetes_secret_v1')).toEqual({});
    expect(kubernetes.data?.aws_secretsmanager_secret_version).toBeUndefined();
    const config = onlyResource(kubernetes, 'kubernetes_config_map_v1');
    expect(config.metadata.name).toBe('mlflow-db');
    expect(Object.keys(config.data).sort()).toEqual(['dbname', 'host', 'master-secret-arn', 'port']);
    // Cross-stack references: values Terraform knows after applying the aws stack.
    expect(config.data.host).toMatch(/cross-stack-output-aws_db_instanceregistry_database_instance_\w+address\}$/);
    expect(config.data['master-secret-arn']).toMatch(/cross-stack-output-aws_db_instanceregistry_database_instance_\w+master_user_secret0secret_arn\}$/);
  });

  it('runs MLflow non-root with probes, resources and a network policy', () => {
    const docs = manifests['aws/registry.k8s.yaml'];
    const deployment = docs.find((d) => d.kind === 'Deployment');
    const container = deployment.spec.template.spec.containers[0];
    expect(container.image).toBe(MLFLOW_IMAGE);
    expect(container.image).toMatch(/^burakince\/mlflow:3\.14\.0@sha256:[0-9a-f]{64}$/);
    expect(container.securityContext).toMatchObject({ runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false });
    expect(container.readinessProbe.httpGet.path).toBe('/health');
    expect(container.resources.limits).toMatchObject({ memory: '2Gi' });
    expect(container.env.map((e: any) => e.name)).not.toContain('PGPASSWORD');
    expect(container.env).toEqual(expect.arrayContaining([{ name: 'PGSSLMODE', value: 'verify-full' }, { name: 'DB_USERNAME', value: 'mlflow_app' }]));
    // (the image is left out: its '@sha256:' digest is not a credential in a URI)
    expect(JSON.stringify({ ...container, image: undefined })).not.toMatch(/password=|:\/\/[^$]*:[^@]*@/);
    // artifacts move between S3 and each workload with the workload's own role, never through the server
    // (mlflow server --no-serve-artifacts: mlflow/cli.py; the mlflow-artifacts routes are not served)
    expect(container.args).toEqual(expect.arrayContaining(['--no-serve-artifacts', expect.stringMatching(/^--default-artifact-root=s3:\/\/.*\/models$/)]));
    expect(container.args).not.toContain('--serve-artifacts');
    const policy = docs.find((d) => d.kind === 'NetworkPolicy');
    expect(policy.spec.ingress[0].from).toEqual([{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'mlflow' } } }]);
    expect(docs.map((d) => d.kind)).not.toContain('PodDisruptionBudget'); // one replica outside production
  });

  it('passes the Kubernetes schema check', () => {
    expect(manifestErrors(manifests)).toEqual([]);
  });
});

describe('ModelRegistry with every option', () => {
  const { aws, manifests } = synthRegistry({
    bucketName: 'acme-models',
    objectLock: ObjectLock.compliance(365),
    noncurrentVersionExpirationDays: 400,
    logRetentionDays: 90,
    auditTrail: AuditTrail.existing('arn:aws:cloudtrail:eu-west-1:123456789012:trail/org'),
    database: { instanceClass: 'db.r7g.large', multiAz: true, backupRetentionDays: 14, allocatedStorageGiB: 50, engineVersion: '16' },
    server: {
      namespace: 'registry', image: 'burakince/mlflow:3.14.0@sha256:d66a486309adb1fd84fd4d1d6b11c1ecc90632e04372205b92bbc15d2196f418', replicas: 3, artifactServing: ArtifactServing.DIRECT,
      allowedNamespaces: ['serving'], ingress: { host: 'mlflow.acme.example', className: 'alb' },
    },
  });

  it('applies Object Lock, expiry and the database options', () => {
    const artifacts = bucketNamed(aws, 'acme-models');
    expect(resourcesOf(aws, 'aws_s3_bucket')[artifacts].object_lock_enabled).toBe(true);
    expect(forBucket(aws, 'aws_s3_bucket_object_lock_configuration', artifacts).rule.default_retention).toEqual({ mode: 'COMPLIANCE', days: 365 });
    expect(forBucket(aws, 'aws_s3_bucket_lifecycle_configuration', artifacts).rule[1].noncurrent_version_expiration).toEqual([{ noncurrent_days: 400 }]);
    expect(onlyResource(aws, 'aws_db_instance')).toMatchObject({ instance_class: 'db.r7g.large', multi_az: true, backup_retention_period: 14, allocated_storage: 50, max_allocated_storage: 500, engine_version: '16' });
    expect(onlyResource(aws, 'aws_db_parameter_group').family).toBe('postgres16');
  });

  it('creates no trail of its own when given one', () => {
    expect(resourcesOf(aws, 'aws_cloudtrail')).toEqual({});
    expect(Object.values(resourcesOf(aws, 'aws_s3_bucket')).map((b: any) => b.bucket)).toEqual(['acme-dev-registry-logs-123456789012', 'acme-models']);
  });

  it('serves artifacts directly, with a read-only server, an Ingress and a disruption budget', () => {
    const docs = manifests['aws/registry.k8s.yaml'];
    const container = docs.find((d) => d.kind === 'Deployment').spec.template.spec.containers[0];
    expect(container.args).toEqual(expect.arrayContaining(['--no-serve-artifacts', '--default-artifact-root=s3://acme-models/models']));
    expect(grantedActions(aws)).not.toContain('s3:PutObject');
    expect(docs.find((d) => d.kind === 'Ingress').spec.rules[0].host).toBe('mlflow.acme.example');
    expect(docs.find((d) => d.kind === 'PodDisruptionBudget').spec.minAvailable).toBe(1);
    expect(docs.every((d) => d.metadata.namespace === 'registry')).toBe(true);
    expect(manifestErrors(manifests)).toEqual([]);
  });
});

describe('ModelRegistry grants and model references', () => {
  const { app, stack } = testPlatform();
  const registry = new ModelRegistry(stack, 'registry', { cluster: TEST_CLUSTER });
  const serving = new WorkloadIdentity(stack, 'fraud-serving', { cluster: TEST_CLUSTER, namespace: 'serving', serviceAccount: 'fraud' });
  const training = new WorkloadIdentity(stack, 'trainer', { cluster: TEST_CLUSTER, namespace: 'training', serviceAccount: 'trainer' });
  const champion = registry.model('fraud-detector').alias('champion');
  champion.grantRead(serving);
  registry.grantWrite(training, { model: 'fraud-detector' });
  registry.grantReadData(training, { prefix: 'fraud/' });
  registry.grantWriteData(training, { prefix: 'fraud/labels/' });
  const aws = PlatformTesting.synth(app).terraform.aws;
  const policyOf = (name: string) => policyStatements((Object.values(resourcesOf(aws, 'aws_iam_role_policy')).find((p: any) => p.name === name) as any).policy);

  it('gives the serving side the model URI and prefix to load', () => {
    expect(champion.uri).toBe('models:/fraud-detector@champion');
    expect(registry.model('fraud-detector').version('7').uri).toBe('models:/fraud-detector/7');
    expect(champion.model.s3Prefix).toMatch(/^s3:\/\/.*\/models\/fraud-detector\/$/);
  });

  it('scopes a model read grant to that model\'s prefix, read-only', () => {
    const statements = policyOf('registry-read-fraud-detector');
    expect(statements.flatMap((s) => s.Action).sort()).toEqual(['kms:Decrypt', 's3:GetObject', 's3:GetObjectVersion', 's3:ListBucket', 's3:ListBucketVersions']);
    expect(statements.find((s) => s.Sid === 'ReadObjects').Resource).toEqual([expect.stringMatching(/\/models\/fraud-detector\/\*$/)]);
    expect(statements.find((s) => s.Sid === 'ListPrefixes').Condition).toEqual({ StringLike: { 's3:prefix': ['models/fraud-detector/*'] } });
    expect(statements.find((s) => s.Sid === 'UseRegistryKeyThroughS3').Condition).toEqual({ StringEquals: { 'kms:ViaService': 's3.eu-west-1.amazonaws.com' } });
  });

  it('lets training write its model and its data prefixes, and delete nothing', () => {
    const write = policyOf('registry-write-model-fraud-detector');
    expect(write.flatMap((s) => s.Action)).toEqual(expect.arrayContaining(['s3:PutObject', 'kms:GenerateDataKey']));
    expect(write.find((s) => s.Sid === 'WriteArtifacts').Resource).toEqual([expect.stringMatching(/\/models\/fraud-detector\/\*$/)]);
    const data = policyOf('registry-write-data-fraud-labels');
    expect(data.find((s) => s.Sid === 'WriteData').Resource).toEqual([expect.stringMatching(/\/data\/fraud\/labels\/\*$/)]);
    expect(policyOf('registry-read-data-fraud').find((s) => s.Sid === 'ReadObjects').Resource).toEqual([expect.stringMatching(/\/data\/fraud\/\*$/)]);
    expect([...write, ...data].flatMap((s) => s.Action).some((a: string) => /Delete/.test(a))).toBe(false);
  });

  it('attaches each grant to the grantee\'s own role', () => {
    const read = Object.values(resourcesOf(aws, 'aws_iam_role_policy')).find((p: any) => p.name === 'registry-read-fraud-detector') as any;
    expect(read.role).toMatch(/^\$\{aws_iam_role\.fraud-serving_role_.*\.name\}$/);
  });

  it('rejects bad model names, versions and aliases', () => {
    expect(() => registry.model('Fraud_Detector')).toThrow(/ModelRegistry 'aws\/registry': model \('Fraud_Detector'\) must be 1 to 63 lower-case letters/);
    expect(() => registry.model('fraud').version('v7')).toThrow(/version \('v7'\) must be a model version number/);
    expect(() => registry.model('fraud').alias('latest')).toThrow(/alias \('latest'\) must be an MLflow alias/);
  });
});

describe('ModelRegistry bad input', () => {
  const make = (props: any, options: { production?: boolean } = {}) => () => {
    const { stack } = testPlatform(options);
    new ModelRegistry(stack, 'registry', { cluster: TEST_CLUSTER, ...props });
  };

  it.each([
    [{ bucketName: 'Acme_Models' }, /ModelRegistry 'aws\/registry': bucketName \('Acme_Models'\) must be an S3 bucket name/],
    [{ bucketName: 'acme.models' }, /bucketName \('acme\.models'\) must be an S3 bucket name: .*without dots/],
    [{ objectLock: ObjectLock.governance(0) }, /objectLock\.days \(0\) must be a whole number from 1 to 36500/],
    [{ objectLock: ObjectLock.compliance(30), versioned: false }, /objectLock \('COMPLIANCE'\) needs a versioned bucket/],
    [{ objectLock: ObjectLock.compliance(30), noncurrentVersionExpirationDays: 10 }, /noncurrentVersionExpirationDays \(10\) must be at least the Object Lock retention \(30 days\)/],
    [{ database: { backupRetentionDays: 0 } }, /database\.backupRetentionDays \(0\) must be a whole number from 1 to 35/],
    [{ database: { instanceClass: 'db.t4g.huge' } }, /database\.instanceClass \('db\.t4g\.huge'\) is not an RDS instance class offered for PostgreSQL/],
    [{ database: { instanceClass: 'db.z1d.large' } }, /database\.instanceClass \('db\.z1d\.large'\) is not an RDS instance class/],
    [{ server: { image: 'burakince/mlflow:latest' } }, /server\.image \('burakince\/mlflow:latest'\) must be pinned/],
    [{ server: { image: 'burakince/mlflow' } }, /server\.image \('burakince\/mlflow'\) must be pinned/],
    [{ server: { replicas: 0 } }, /server\.replicas \(0\) must be a whole number from 1 to 20/],
    [{ server: { namespace: 'ML' } }, /server\.namespace \('ML'\) must be a DNS-1123 label/],
  ])('rejects %j', (props, message) => {
    expect(make(props)).toThrow(message);
  });

  it('refuses Multi-AZ off in production unless a reason is given', () => {
    expect(make({ database: { multiAz: false } }, { production: true }))
      .toThrow(/database\.multiAz \(false\) turns off the standby in the production environment 'prod'; set database\.singleAzReason/);
    expect(make({ database: { multiAz: false, singleAzReason: 'replica in a second region' } }, { production: true })).not.toThrow();
  });

  it('refuses an unversioned registry in production', () => {
    expect(make({ versioned: false }, { production: true })).toThrow(/versioned \(false\) cannot be turned off in the production environment 'prod'/);
  });

  it('needs the cluster\'s subnets in two zones', () => {
    expect(make({ cluster: { ...TEST_CLUSTER, privateSubnetIds: ['subnet-1'] } }))
      .toThrow(/cluster\.privateSubnetIds \(\["subnet-1"\]\) must name subnets in at least two availability zones/);
  });
});

describe('lineage contract', () => {
  const lineage = { codeCommit: 'a'.repeat(40), dataVersion: 'v2024.06-rc1', configHash: `sha256:${'b'.repeat(64)}`, imageDigest: `sha256:${'c'.repeat(64)}` };

  it('writes code commit, data version and config hash as model-version tags and reads them back', () => {
    const tags = lineageTags(lineage);
    expect(tags).toEqual({
      'mlops.lineage.code_commit': 'a'.repeat(40),
      'mlops.lineage.data_version': 'v2024.06-rc1',
      'mlops.lineage.config_hash': `sha256:${'b'.repeat(64)}`,
      'mlops.lineage.image_digest': `sha256:${'c'.repeat(64)}`,
    });
    expect(parseLineage(tags)).toEqual(lineage);
    expect(LINEAGE_TAGS.codeCommit).toBe('mlops.lineage.code_commit');
  });

  it('rejects a short commit, a missing data version and an unprefixed hash', () => {
    expect(() => lineageTags({ ...lineage, codeCommit: 'abc123' })).toThrow(/lineage\.codeCommit \('abc123'\) must be a full git commit id/);
    expect(() => parseLineage({ 'mlops.lineage.code_commit': 'a'.repeat(40) })).toThrow(/lineage\.dataVersion is required/);
    expect(() => lineageTags({ ...lineage, configHash: 'b'.repeat(64) })).toThrow(/lineage\.configHash .* must be 'sha256:'/);
  });

  it('moves versions candidate → staging → champion → archived only', () => {
    expect(ModelAlias.CANDIDATE.canMoveTo(ModelAlias.STAGING)).toBe(true);
    expect(ModelAlias.STAGING.canMoveTo(ModelAlias.CHAMPION)).toBe(true);
    expect(ModelAlias.CANDIDATE.canMoveTo(ModelAlias.CHAMPION)).toBe(false);
    expect(ModelAlias.ARCHIVED.canMoveTo(ModelAlias.CHAMPION)).toBe(false);
  });
});

describe('ModelRegistry clients and change log', () => {
  function synthClients() {
    const { app, stack } = testPlatform();
    const registry = new ModelRegistry(stack, 'registry', { cluster: TEST_CLUSTER, governance: { promoterNamespaces: ['ci'] } });
    const training = registry.addClient(stack, { namespace: 'team-a', name: 'fraud-pipeline', access: RegistryAccess.EDIT, models: ['fraud'] });
    const serving = registry.addClient(stack, { namespace: 'serving', name: 'fraud', access: RegistryAccess.READ, models: ['fraud'] });
    const out = PlatformTesting.synth(app);
    return { registry, training, serving, aws: out.terraform.aws, kubernetes: out.terraform.kubernetes, manifests: out.manifests };
  }
  const { registry, training, serving, aws, kubernetes, manifests } = synthClients();
  const docs = manifests['aws/registry.k8s.yaml'];

  it('gives each workload its own user, whose rights the gate reads', () => {
    expect(training).toEqual({
      username: 'team-a.fraud-pipeline', secretName: 'mlflow-registry-fraud-pipeline',
      env: [
        { name: 'MLFLOW_TRACKING_USERNAME', valueFrom: { secretKeyRef: { name: 'mlflow-registry-fraud-pipeline', key: 'username' } } },
        { name: 'MLFLOW_TRACKING_PASSWORD', valueFrom: { secretKeyRef: { name: 'mlflow-registry-fraud-pipeline', key: 'password' } } },
      ],
    });
    expect(serving.username).toBe('serving.fraud');
    expect(registry.promoterCredentials.map((c) => c.username)).toEqual(['ci.promoter']);
    const users = JSON.parse(docs.find((d) => d.kind === 'ConfigMap' && d.metadata.name === 'mlflow-gate').data['users.json']);
    expect(users).toEqual({
      'ci.promoter': { role: 'promote', models: [] },
      'serving.fraud': { role: 'read', models: ['fraud'] },
      'team-a.fraud-pipeline': { role: 'edit', models: ['fraud'] },
    });
    const pod = docs.find((d) => d.kind === 'Deployment').spec.template.spec;
    expect(pod.volumes.find((v: any) => v.name === 'credentials').projected.sources).toEqual(['ci.promoter', 'serving.fraud', 'team-a.fraud-pipeline']
      .map((u) => ({ secret: { name: `mlflow-user.${u}`, items: [{ key: 'password', path: u }] } })));
    // the clients' namespaces may reach the server
    const from = docs.find((d) => d.kind === 'NetworkPolicy').spec.ingress[0].from.map((f: any) => f.namespaceSelector.matchLabels['kubernetes.io/metadata.name']);
    expect(from).toEqual(expect.arrayContaining(['serving', 'team-a']));
    expect(manifestErrors(manifests)).toEqual([]);
  });

  it('makes each password in Secrets Manager, write-only, and writes it into the workload namespace and the gate', () => {
    const secrets = Object.values(resourcesOf(aws, 'aws_secretsmanager_secret')) as any[];
    expect(secrets.map((x) => x.name).sort()).toEqual(['acme-dev-registry/clients/ci.promoter', 'acme-dev-registry/clients/serving.fraud', 'acme-dev-registry/clients/team-a.fraud-pipeline']);
    expect(secrets.every((x) => /aws_kms_key\.registry_key/.test(x.kms_key_id))).toBe(true);
    const versions = Object.values(resourcesOf(aws, 'aws_secretsmanager_secret_version')) as any[];
    for (const v of versions) {
      expect(v.secret_string).toBeUndefined();
      expect(v.secret_string_wo).toMatch(/uuid\(\).*uuid\(\)/);
      expect(v.secret_string_wo_version).toBe(1);
    }
    const written = Object.fromEntries(Object.values(resourcesOf(kubernetes, 'kubernetes_secret_v1'))
      .map((x: any) => [`${x.metadata.namespace.replace(/^\$\{kubernetes_namespace_v1\.namespace-(.*)\.metadata\[0\]\.name\}$/, '$1')}/${x.metadata.name}`, x.data]));
    expect(Object.keys(written)).toEqual(expect.arrayContaining(['team-a/mlflow-registry-fraud-pipeline', 'serving/mlflow-registry-fraud', 'ci/mlflow-registry-promoter', 'mlflow/mlflow-user.team-a.fraud-pipeline']));
    // read from Secrets Manager when the KubernetesStack applies, never a literal
    expect(written['team-a/mlflow-registry-fraud-pipeline']).toEqual({ username: 'team-a.fraud-pipeline', password: expect.stringMatching(/^\$\{jsondecode\(data\.aws_secretsmanager_secret_version\.[\w-]+\.secret_string\)\.password\}$/) });
    expect(written['mlflow/mlflow-user.team-a.fraud-pipeline'].password).toBe(written['team-a/mlflow-registry-fraud-pipeline'].password);
  });

  it('refuses a client without models, and a second client of the same name with other rights', () => {
    const { stack } = testPlatform();
    const r = new ModelRegistry(stack, 'registry', { cluster: TEST_CLUSTER });
    expect(() => r.addClient(stack, { namespace: 'team-a', name: 'x', access: RegistryAccess.EDIT, models: [] }))
      .toThrow(/models \(\[\]\) must name at least one model the workload may use/);
    r.addClient(stack, { namespace: 'team-a', name: 'x', access: RegistryAccess.EDIT, models: ['fraud'] });
    expect(r.addClient(stack, { namespace: 'team-a', name: 'x', access: RegistryAccess.EDIT, models: ['fraud'] }).username).toBe('team-a.x');
    expect(() => r.addClient(stack, { namespace: 'team-a', name: 'x', access: RegistryAccess.READ, models: ['fraud'] }))
      .toThrow(/names registry user 'team-a.x', which another workload of namespace 'team-a' uses with other rights/);
  });

  it('records registry changes in an encrypted log group the server may only append to', () => {
    const group = onlyResource(aws, 'aws_cloudwatch_log_group');
    expect(group).toMatchObject({ name: '/mlops/acme-dev-registry/registry-changes', retention_in_days: 365 });
    expect(group.kms_key_id).toMatch(/aws_kms_key\.registry_key.*\.arn/);
    const append = Object.values(resourcesOf(aws, 'aws_iam_role_policy')).map((x: any) => policyStatements(x.policy)).flat().find((x: any) => x.Sid === 'AppendRegistryChanges');
    expect(append.Action).toEqual(['logs:CreateLogStream', 'logs:PutLogEvents']);
    expect(append.Resource).toEqual(['arn:aws:logs:eu-west-1:123456789012:log-group:/mlops/acme-dev-registry/registry-changes:*']);
    expect(grantedActions(aws).filter((a) => a.startsWith('logs:')).sort()).toEqual(['logs:CreateLogStream', 'logs:PutLogEvents']);
    const gate = docs.find((d) => d.kind === 'Deployment').spec.template.spec.containers.find((c: any) => c.name === 'registry-gate');
    expect(gate.env).toContainEqual({ name: 'AUDIT_LOG_GROUP', value: '/mlops/acme-dev-registry/registry-changes' });
    // CloudWatch Logs may use the key for this group only
    const key = JSON.parse(onlyResource(aws, 'aws_kms_key').policy);
    expect(key.Statement.find((x: any) => x.Sid === 'CloudWatchLogsEncryptsChangeLog').Condition).toEqual({
      ArnEquals: { 'kms:EncryptionContext:aws:logs:arn': 'arn:aws:logs:eu-west-1:123456789012:log-group:/mlops/acme-dev-registry/registry-changes' },
    });
  });

  it('refuses a log retention CloudWatch Logs does not accept', () => {
    const { stack } = testPlatform();
    expect(() => new ModelRegistry(stack, 'registry', { cluster: TEST_CLUSTER, logRetentionDays: 100 }))
      .toThrow(/logRetentionDays \(100\) must be a retention CloudWatch Logs accepts: 1, 3, 5/);
  });
});

describeWithTool(terraformTool, 'ModelRegistry checked by terraform', () => {
  const { app, stack } = testPlatform();
  const registry = new ModelRegistry(stack, 'registry', { cluster: TEST_CLUSTER, objectLock: ObjectLock.governance(30), governance: { promoterNamespaces: ['ci'] } });
  registry.addClient(stack, { namespace: 'team-a', name: 'fraud-pipeline', access: RegistryAccess.EDIT, models: ['fraud'] });
  const aws = PlatformTesting.synth(app).terraform.aws;
  const plan = () => expectTerraformOk(checkWithTerraform(aws));

  it('validates and plans offline with the aws provider', () => {
    const creates = plan().resource_changes.filter((c) => c.change.actions.includes('create'));
    expect(creates.length).toBeGreaterThan(25);
  });

  it('plans the client passwords offline, write-only: no password in the plan or the state', () => {
    const p = plan();
    const versions = plannedResources(p, 'aws_secretsmanager_secret_version');
    expect(versions).toHaveLength(2);
    for (const v of versions) expect(v.values).toMatchObject({ secret_string_wo: null, secret_string_wo_version: 1 });
    expect(plannedResources(p, 'aws_cloudwatch_log_group')[0].values).toMatchObject({ name: '/mlops/acme-dev-registry/registry-changes', retention_in_days: 365 });
  });

  it('plans encryption, versioning, public access block, deletion protection and backups', () => {
    const p = plan();
    expect(plannedResources(p, 'aws_db_instance')[0].values).toMatchObject({ storage_encrypted: true, deletion_protection: true, backup_retention_period: 7, publicly_accessible: false, skip_final_snapshot: false });
    expect(plannedResources(p, 'aws_s3_bucket_versioning').map((r) => r.values.versioning_configuration[0].status)).toEqual(['Enabled', 'Enabled', 'Enabled']);
    for (const pab of plannedResources(p, 'aws_s3_bucket_public_access_block')) {
      expect(pab.values).toMatchObject({ block_public_acls: true, block_public_policy: true, ignore_public_acls: true, restrict_public_buckets: true });
    }
    expect(plannedResources(p, 'aws_kms_key')[0].values).toMatchObject({ enable_key_rotation: true, deletion_window_in_days: 30 });
    expect(plannedResources(p, 'aws_s3_bucket_object_lock_configuration')[0].values.rule[0].default_retention[0]).toMatchObject({ mode: 'GOVERNANCE', days: 30 });
    expect(plannedResources(p, 'aws_s3_bucket').every((b) => b.values.force_destroy === false)).toBe(true);
  });
});

describe('ModelRegistry on a cluster that uses IRSA', () => {
  const { app, stack } = testPlatform();
  const cluster = { ...TEST_CLUSTER, identityMechanism: IdentityMechanism.irsa({ oidcProviderArn: 'arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/ABC', issuer: 'oidc.eks.eu-west-1.amazonaws.com/id/ABC' }) };
  new ModelRegistry(stack, 'registry', { cluster });
  const out = PlatformTesting.synth(app);

  it('trusts the service account\'s OIDC token and annotates the service account with the role', () => {
    expect(resourcesOf(out.terraform.aws, 'aws_eks_pod_identity_association')).toEqual({});
    const role = Object.values(resourcesOf(out.terraform.aws, 'aws_iam_role')).find((r: any) => r.name === 'acme-dev-registry-server') as any;
    const trust = JSON.parse(role.assume_role_policy).Statement[0];
    expect(trust).toMatchObject({
      Principal: { Federated: 'arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/ABC' },
      Action: ['sts:AssumeRoleWithWebIdentity'],
      Condition: { StringEquals: { 'oidc.eks.eu-west-1.amazonaws.com/id/ABC:sub': 'system:serviceaccount:mlflow:mlflow', 'oidc.eks.eu-west-1.amazonaws.com/id/ABC:aud': 'sts.amazonaws.com' } },
    });
    const sa = out.manifests['aws/registry.k8s.yaml'].find((d) => d.kind === 'ServiceAccount');
    expect(sa.metadata.annotations).toEqual({ 'eks.amazonaws.com/role-arn': 'arn:aws:iam::123456789012:role/acme-dev-registry-server' });
    expect(manifestErrors(out.manifests)).toEqual([]);
  });
});
