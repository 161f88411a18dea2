import { imageReference, IMAGES } from '../core/images';
import { DataAwsSecretsmanagerSecretVersion, DynamodbTable, ElasticacheReplicationGroup, ElasticacheSubnetGroup, IamRolePolicy, SecurityGroup, VpcSecurityGroupIngressRule } from '../providers/aws';
import { Construct, k8s, KubernetesLazy } from '../engine';
import { PlatformApp } from '../core/app';
import { PlatformRefactoring } from '../core/refactoring';
import { cronProblem } from '../core/cron';
import { check, checkIntegerRange } from '../core/errors';
import { grant, IEksCluster, IGrantable, PolicyStatement, WorkloadIdentity } from '../core/identity';
import { PlatformKey } from '../core/key';
import { ClusterValue, ClusterValues } from '../core/kubernetes-stack';
import { PlatformChart } from '../core/kubernetes';
import { NameRules } from '../core/names';
import { PlatformNamespaces } from '../core/namespaces';
import { BucketEncryption, SecureBucket } from '../core/secure-bucket';
import { CostAttribution } from '../core/tags';
import { baseEgressRules, checkPinnedImage, fromNamespaces, resources, restrictedContainerSecurityContext, restrictedPodSecurityContext } from '../core/workloads';
import { LINEAGE_TAGS } from '../registry/lineage';
import { featureSetVersion, FeatureRegistryStore, FeatureView, OnlineStore } from './options';
import { FEAST_LOCAL_PORT, FEATURE_GATE_PORT, featureGateConfig } from './read-gate';

/** The Feast feature server image (`feast serve`), as the feast-feature-server chart pins it (`IMAGES.feast`: by tag, a documented exception). */
export const FEAST_IMAGE = imageReference(IMAGES.feast);
/** The port consumers call the feature server on (its read gate's; `feast serve`'s default). */
export const FEAST_SERVER_PORT = FEATURE_GATE_PORT;
const REDIS_PORT = 6379;
const DATA_PREFIX = 'data/';

/** The feature server. */
export interface FeatureServerOptions {
  /**
   * The feature server image.
   * @default FEAST_IMAGE ('quay.io/feastdev/feature-server:0.50.0', a catalog default without a verified digest, see IMAGES.feast); pass it by digest to pin it
   */
  readonly image?: string;
  /**
   * How many feature server pods run (a PodDisruptionBudget keeps one up with two or more).
   * @default - 2 in a production environment, 1 elsewhere
   */
  readonly replicas?: number;
  /**
   * CPU and memory the feature server requests (and its limits).
   * @default - 500m CPU and 1 GiB requested, 1 CPU and 2 GiB limit
   */
  readonly resources?: { readonly cpu: string; readonly memory: string; readonly cpuLimit?: string; readonly memoryLimit?: string };
  /**
   * The image of the read gate in front of the server (NGINX, unprivileged), pinned by digest.
   * @default - 'nginxinc/nginx-unprivileged:1.27.5-alpine@sha256:65e3e85d...' (IMAGES.nginxUnprivileged)
   */
  readonly gateImage?: string;
}

/** Props of a FeatureStore. */
export interface FeatureStoreProps {
  /**
   * The construct's id before it was renamed: physical names (bucket, database, cluster, keys, roles)
   * keep deriving from it, and Terraform `moved` blocks carry every resource from its old address
   * (PlatformRefactoring.renamed), so a rename replaces nothing.
   * @default - never renamed
   */
  readonly formerId?: string;
  /** The cluster the feature server and materialization run in. */
  readonly cluster: IEksCluster;
  /** Where the latest values are served from: `OnlineStore.dynamodb()` or `OnlineStore.redis({...})`. */
  readonly onlineStore: OnlineStore;
  /** The feature views: the one definition training and serving share. */
  readonly features: FeatureView[];
  /**
   * Where Feast keeps its registry (the applied definitions).
   * @default FeatureRegistryStore.s3(): `registry/registry.db` in the offline store's bucket
   */
  readonly registry?: FeatureRegistryStore;
  /** The Feast project (letters, digits and '_'). @default - the construct id with '-' turned into '_' */
  readonly project?: string;
  /**
   * The namespace of the feature server and the materialization CronJob (one FeatureStore per namespace).
   * @default 'feast'
   */
  readonly namespace?: string;
  /** The offline store's bucket. @default - `<platform>-<environment>-<id>-offline-<account id>` */
  readonly offlineBucketName?: string;
  /**
   * The feature server's image, replicas and resources.
   * @default - FEAST_IMAGE, 2 replicas in production
   */
  readonly server?: FeatureServerOptions;
  /** When `feast materialize-incremental` copies new offline values into the online store. @default - hourly, '0 * * * *' */
  readonly materializationSchedule?: string;
}

/** What `grantOnlineRead` created. */
export interface OnlineReadGrant {
  /** Read access to the online tables (DynamoDB); none with Redis, which only the feature server reaches. */
  readonly policy?: IamRolePolicy;
  /** Lets the endpoint's pods reach the feature server. */
  readonly egress: k8s.KubeNetworkPolicy;
}

/** A workload that reads features: a TrainingPipeline records the feature set version in its lineage. */
export interface ILineageRecorder {
  /** The workload's identity, which the grant gives read access to the offline store. */
  readonly identity: WorkloadIdentity;
  /** Records a lineage tag (`mlops.lineage.<key>`) on every model version the workload registers. */
  addLineageTag(key: string, value: string): void;
}

/** A ServingEndpoint, as far as the feature store needs it. */
export interface IFeatureConsumer extends Construct {
  /** The consumer's identity, which the grant gives read access to the online tables. */
  readonly identity: WorkloadIdentity;
  /** The consumer's namespace, admitted to the feature server. */
  readonly namespace: string;
  /** The labels of the consumer's pods, which its egress NetworkPolicy selects. */
  readonly selectorLabels: Record<string, string>;
  /** The chart the egress NetworkPolicy to the feature server is added to. */
  readonly chart: PlatformChart;
  /** Sets an environment variable on the consumer's server container (`FEAST_FEATURE_SERVER_URL`). */
  addEnvironment(name: string, value: string): void;
}

const storesByApp = new WeakMap<PlatformApp, FeatureStore[]>();
const VIEW_NAME = /^[a-z][a-z0-9_]{0,62}$/;
const FIELD_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
const PROJECT = /^[A-Za-z0-9][A-Za-z0-9_]{0,62}$/;
const SOURCE = /^[a-z0-9][a-z0-9._/-]*(\/|\.parquet)$/;
const PYTHON_TYPES: Record<string, string> = { STRING: 'ValueType.STRING', INT64: 'ValueType.INT64' };

/**
 * A Feast feature store: one definition of features shared by training and serving. Feature views
 * are rendered into a Feast repository (`feature_store.yaml` and `features.py`) in a ConfigMap; the
 * offline store is Parquet in an encrypted, versioned bucket (`data/`), the registry a file in the
 * same bucket, the online store DynamoDB tables or ElastiCache for Redis. A feature server
 * (`feast serve`) answers online reads, and a CronJob applies the definitions and materializes new
 * values from offline to online. Training pipelines read the offline store and serving endpoints the
 * online store, each through its own workload identity and nothing more.
 */
export class FeatureStore extends Construct {
  /** The id names and selector labels derive from: `formerId` when renamed (selectors are immutable). */
  private readonly instanceId: string;
  /** The Feast project. */
  public readonly project: string;
  /** The namespace of the feature server and the materializer. */
  public readonly namespace: string;
  /** The customer key that encrypts the offline bucket and the online store. */
  public readonly key: PlatformKey;
  /** The offline store (and registry) bucket. */
  public readonly offlineBucket: SecureBucket;
  /** The online tables (DynamoDB), by view name. */
  public readonly tables: Record<string, DynamodbTable> = {};
  /** The Redis replication group (Redis). */
  public readonly redis?: ElasticacheReplicationGroup;
  /** The feature server's identity: reads the registry and the online tables. */
  public readonly serverIdentity: WorkloadIdentity;
  /** The materializer's identity: reads `data/`, writes the registry and the online tables. */
  public readonly materializerIdentity: WorkloadIdentity;
  /** The store's Kubernetes objects. */
  public readonly chart: PlatformChart;
  /** The feature views, as declared. */
  public readonly views: FeatureView[];
  /** `sha256:` of the feature definitions: recorded as `mlops.lineage.feature_set` on models trained on them. */
  public readonly featureSetVersion: string;
  /** The in-cluster URL of the feature server (`FEAST_FEATURE_SERVER_URL`). */
  public readonly serverUrl: string;
  private readonly storeYamlLines: () => string[];
  /** The rendered feature repository (`features.py`). */
  public readonly featureRepository: string;
  /** The online store, as declared. */
  public readonly onlineStore: OnlineStore;
  private readonly bucketNameValue: string;
  private readonly registryPrefix: string;
  private readonly clientNamespaces = new Set<string>();

  constructor(scope: Construct, id: string, props: FeatureStoreProps) {
    super(scope, id);
    const context = PlatformApp.of(this).context;
    const base = context.physicalName(props.formerId ?? id);
    if (props.formerId) PlatformRefactoring.renamed(this, props.formerId);
    this.instanceId = props.formerId ?? id;
    this.project = props.project ?? id.replace(/-/g, '_');
    check(PROJECT.test(this.project), this, 'project', this.project, 'must be a Feast project name: letters, digits and \'_\', starting with a letter or digit, at most 63 characters');
    this.namespace = NameRules.dnsLabel(this, 'namespace', props.namespace ?? 'feast');
    const app = PlatformApp.of(this);
    const stores = storesByApp.get(app) ?? [];
    const clash = stores.find((s) => s.namespace === this.namespace);
    check(!clash, this, 'namespace', this.namespace, `is the namespace of FeatureStore '${clash?.node.path}'; each store runs its feature server in a namespace of its own`);
    storesByApp.set(app, [...stores, this]);
    this.onlineStore = props.onlineStore;
    this.views = props.features;
    this.checkViews(props.features);
    this.featureSetVersion = featureSetVersion(this.project, props.features);
    const registry = props.registry ?? FeatureRegistryStore.s3();
    check(/^[a-z0-9][a-z0-9._/-]*\/$/.test(registry.prefix) && !registry.prefix.includes('..') && !registry.prefix.startsWith(DATA_PREFIX), this, 'registry.prefix', registry.prefix,
      'must be a relative prefix ending with \'/\' outside \'data/\' (where the offline data lives), e.g. \'registry/\'');
    this.registryPrefix = registry.prefix;
    const schedule = props.materializationSchedule ?? '0 * * * *';
    const problem = cronProblem(schedule);
    check(!problem, this, 'materializationSchedule', schedule, `is not a cron expression: it ${problem}`);

    this.key = new PlatformKey(this, 'key', { description: `Feature store ${base}: offline data, registry, online store`, alias: base });
    this.bucketNameValue = props.offlineBucketName ?? `${base}-offline-${context.accountId}`;
    this.offlineBucket = new SecureBucket(this, 'offline', {
      bucketName: this.bucketNameValue, bucketNameProp: 'offlineBucketName', encryption: BucketEncryption.kms(this.key.key),
    });

    this.serverIdentity = new WorkloadIdentity(this, 'server-identity', { cluster: props.cluster, namespace: this.namespace, serviceAccount: 'feature-server', roleName: `${base}-server` });
    this.materializerIdentity = new WorkloadIdentity(this, 'materializer-identity', { cluster: props.cluster, namespace: this.namespace, serviceAccount: 'feature-materializer', roleName: `${base}-materializer` });

    const onlineValues: Record<string, ClusterValue> = {};
    let onlineYaml: () => string[];
    if (props.onlineStore.kind === 'dynamodb') {
      for (const view of props.features) {
        // Feast's default table_name_template is '{project}.{table_name}'.
        this.tables[view.name] = new DynamodbTable(this, `online-${view.name.replace(/_/g, '-')}`, {
          name: `${this.project}.${view.name}`,
          billingMode: 'PAY_PER_REQUEST',
          hashKey: 'entity_id',
          attribute: [{ name: 'entity_id', type: 'S' }],
          serverSideEncryption: { enabled: true, kmsKeyArn: this.key.keyArn },
          pointInTimeRecovery: { enabled: true },
          deletionProtectionEnabled: !PlatformApp.of(this).context.environment.destroyable,
          lifecycle: { preventDestroy: !PlatformApp.of(this).context.environment.destroyable },
        });
      }
      onlineValues.tables = ClusterValue.of(Object.values(this.tables).map((t) => t.name).join(','));
      // Feast's apply sets each table's tags to these (and removes others): the ones Terraform gives the tables.
      onlineYaml = () => ['  type: dynamodb', `  region: ${context.region}`, "  table_name_template: '{project}.{table_name}'", '  tags:',
        ...Object.entries(this.tableTags()).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `    ${JSON.stringify(k)}: ${JSON.stringify(v)}`)];
      grant(this.serverIdentity, `${base}-online-read`, this.onlineReadStatements());
      grant(this.materializerIdentity, `${base}-online-write`, [
        // Feast's apply creates each table; they exist (Terraform), so it gets ResourceInUseException and goes on.
        // Feast's apply then reads and sets the tables' tags (to the same tags Terraform gives them).
        { sid: 'WriteOnlineTables', actions: ['dynamodb:BatchWriteItem', 'dynamodb:CreateTable', 'dynamodb:DescribeTable', 'dynamodb:ListTagsOfResource', 'dynamodb:PutItem', 'dynamodb:TagResource'], resources: this.tableArns() },
        { sid: 'UseStoreKeyThroughDynamoDb', actions: ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey'], resources: [this.key.keyArn], conditions: { StringEquals: { 'kms:ViaService': `dynamodb.${context.region}.amazonaws.com` } } },
      ]);
    } else {
      this.redis = this.addRedis(props.cluster, props.onlineStore.redis!, base, context.environment.isProduction);
      onlineValues.host = ClusterValue.of(this.redis.primaryEndpointAddress);
      onlineValues.port = ClusterValue.of(String(REDIS_PORT));
      ClusterValues.secret(this, {
        namespace: this.namespace, name: 'feast-redis-auth',
        data: { token: ClusterValue.fromSecretsManager(props.onlineStore.redis!.authTokenSecretArn, 'token') },
      });
      // Feast expands environment variables in feature_store.yaml.
      onlineYaml = () => ['  type: redis', '  redis_type: redis', '  connection_string: "${REDIS_HOST}:${REDIS_PORT},ssl=true,password=${REDIS_PASSWORD}"'];
    }
    // Deploy-time values (table names, Redis endpoint) reach the pods through a ConfigMap the KubernetesStack writes.
    ClusterValues.configMap(this, { namespace: this.namespace, name: 'feast-online-store', data: onlineValues });

    this.grantRegistry(this.serverIdentity, false);
    this.grantRegistry(this.materializerIdentity, true);
    this.grantOfflineRead(this.materializerIdentity);

    this.storeYamlLines = () => [
      `project: ${this.project}`,
      'provider: aws',
      'registry:',
      '  registry_type: file',
      `  path: s3://${this.bucketNameValue}/${this.registryPrefix}registry.db`,
      '  cache_ttl_seconds: 60',
      'online_store:',
      ...onlineYaml(),
      'offline_store:',
      '  type: dask',
      'entity_key_serialization_version: 3',
      '',
    ];
    this.featureRepository = this.renderRepository();
    this.serverUrl = `http://feature-server.${this.namespace}.svc.cluster.local:${FEAST_SERVER_PORT}`;
    this.clientNamespaces.add(this.namespace);

    this.chart = new PlatformChart(this, { namespace: this.namespace });
    PlatformNamespaces.use(this, this.namespace);
    this.addWorkloads(props, schedule, context.environment.isProduction, context.region);
  }

  /** The rendered `feature_store.yaml` (read when the manifests are written: tags added later are in). */
  public get featureStoreYaml(): string {
    return this.storeYamlLines().join('\n');
  }

  /** The tags of the online tables, as the cost-tag aspect gives them. */
  private tableTags(): Record<string, string> {
    const table = Object.values(this.tables)[0];
    return table ? { ...CostAttribution.tagsOf(table), ...(table.tagsInput ?? {}) } : {};
  }

  /** The offline store's bucket name (known at synth). */
  public get offlineBucketName(): string {
    return this.bucketNameValue;
  }

  /** The S3 URI of the offline data (Parquet per feature view). */
  public get offlineUri(): string {
    return `s3://${this.bucketNameValue}/${DATA_PREFIX}`;
  }

  /**
   * Lets a workload read the offline store (the data under `data/` and the registry), for training
   * data with point-in-time joins; nothing else. A TrainingPipeline also records the feature set's
   * version (`mlops.lineage.feature_set`) on every model version it registers. Returns the policy.
   */
  public grantOfflineRead(grantee: (IGrantable & Construct) | ILineageRecorder): IamRolePolicy {
    const recorder = 'addLineageTag' in grantee ? grantee : undefined;
    const identity = (recorder ? recorder.identity : grantee) as IGrantable & Construct;
    const { region } = PlatformApp.of(this).context;
    const arn = this.offlineBucket.bucketArn;
    const prefixes = [DATA_PREFIX, this.registryPrefix];
    const policy = grant(identity, NameRules.iamName(this, 'policy', `${this.instanceId}-offline-read`, 128), [
      { sid: 'ListOfflineStore', actions: ['s3:ListBucket'], resources: [arn], conditions: { StringLike: { 's3:prefix': prefixes.map((p) => `${p}*`) } } },
      { sid: 'ReadOfflineStore', actions: ['s3:GetObject', 's3:GetObjectVersion'], resources: prefixes.map((p) => `${arn}/${p}*`) },
      { sid: 'UseStoreKeyThroughS3', actions: ['kms:Decrypt'], resources: [this.key.keyArn], conditions: { StringEquals: { 'kms:ViaService': `s3.${region}.amazonaws.com` } } },
    ]);
    recorder?.addLineageTag(LINEAGE_TAGS.featureSet, this.featureSetVersion);
    return policy;
  }

  /**
   * Lets a serving endpoint read the online store: its pods get `FEAST_FEATURE_SERVER_URL`, may reach
   * the feature server, and (DynamoDB) its role may read the online tables; nothing offline.
   */
  public grantOnlineRead(endpoint: IFeatureConsumer): OnlineReadGrant {
    const policy = this.onlineStore.kind === 'dynamodb'
      ? grant(endpoint.identity, NameRules.iamName(this, 'policy', `${this.instanceId}-online-read`, 128), this.onlineReadStatements())
      : undefined;
    this.clientNamespaces.add(endpoint.namespace);
    endpoint.addEnvironment('FEAST_FEATURE_SERVER_URL', this.serverUrl);
    // NetworkPolicies add up: this one opens the endpoint's pods' way to the feature server.
    const egress = new k8s.KubeNetworkPolicy(endpoint.chart, `feature-store-${this.node.id}`, {
      metadata: { name: `${endpoint.node.id}-to-${this.node.id}`.slice(0, 63).replace(/-+$/, '') },
      spec: {
        podSelector: { matchLabels: endpoint.selectorLabels },
        policyTypes: ['Egress'],
        egress: [{ to: fromNamespaces([this.namespace]).map((p) => ({ ...p, podSelector: { matchLabels: { 'app.kubernetes.io/name': 'feature-server' } } })), ports: [{ protocol: 'TCP', port: k8s.IntOrString.fromNumber(FEAST_SERVER_PORT) }] }],
      },
    });
    return { policy, egress };
  }

  private tableArns(): string[] {
    const { region, accountId } = PlatformApp.of(this).context;
    return this.views.map((v) => `arn:aws:dynamodb:${region}:${accountId}:table/${this.project}.${v.name}`);
  }

  private onlineReadStatements(): PolicyStatement[] {
    const { region } = PlatformApp.of(this).context;
    return [
      { sid: 'ReadOnlineTables', actions: ['dynamodb:BatchGetItem', 'dynamodb:DescribeTable', 'dynamodb:GetItem'], resources: this.tableArns() },
      { sid: 'UseStoreKeyThroughDynamoDb', actions: ['kms:Decrypt'], resources: [this.key.keyArn], conditions: { StringEquals: { 'kms:ViaService': `dynamodb.${region}.amazonaws.com` } } },
    ];
  }

  private grantRegistry(identity: WorkloadIdentity, write: boolean): void {
    const { region } = PlatformApp.of(this).context;
    const arn = this.offlineBucket.bucketArn;
    grant(identity, NameRules.iamName(this, 'policy', `${this.instanceId}-registry-${write ? 'write' : 'read'}`, 128), [
      { sid: 'ListRegistry', actions: ['s3:ListBucket'], resources: [arn], conditions: { StringLike: { 's3:prefix': [`${this.registryPrefix}*`] } } },
      { sid: write ? 'ReadWriteRegistry' : 'ReadRegistry', actions: write ? ['s3:GetObject', 's3:PutObject'] : ['s3:GetObject'], resources: [`${arn}/${this.registryPrefix}*`] },
      { sid: 'UseStoreKeyThroughS3', actions: write ? ['kms:Decrypt', 'kms:GenerateDataKey'] : ['kms:Decrypt'], resources: [this.key.keyArn], conditions: { StringEquals: { 'kms:ViaService': `s3.${region}.amazonaws.com` } } },
    ]);
  }

  private checkViews(views: FeatureView[]): void {
    check(views.length > 0, this, 'features', [], 'must hold at least one FeatureView');
    const names = new Set<string>();
    const entities = new Map<string, string>();
    views.forEach((v, i) => {
      const p = v.props;
      check(VIEW_NAME.test(p.name), this, `features[${i}].name`, p.name, 'must be lower-case letters, digits and \'_\', starting with a letter (at most 63)');
      check(!names.has(p.name), this, `features[${i}].name`, p.name, 'is the name of another feature view');
      names.add(p.name);
      check(FIELD_NAME.test(p.entity.name), this, `features[${i}].entity.name`, p.entity.name, 'must be a Python identifier');
      check(FIELD_NAME.test(p.entity.joinKey), this, `features[${i}].entity.joinKey`, p.entity.joinKey, 'must be a column name (letters, digits and \'_\')');
      const key = `${p.entity.joinKey}:${p.entity.keyType ?? 'STRING'}`;
      check(!entities.has(p.entity.name) || entities.get(p.entity.name) === key, this, `features[${i}].entity`, p.entity.name,
        `is declared with another join key or type (${entities.get(p.entity.name)}) by another view; an entity has one join key`);
      entities.set(p.entity.name, key);
      check(p.features.length > 0, this, `features[${i}].features`, [], 'must hold at least one feature');
      const fields = new Set<string>([p.entity.joinKey, p.timestampField ?? 'event_timestamp']);
      p.features.forEach((f) => {
        check(FIELD_NAME.test(f.name), this, `features[${i}].features`, f.name, 'must be a column name (letters, digits and \'_\')');
        check(!fields.has(f.name), this, `features[${i}].features`, f.name, 'is listed twice, or is the join key or the timestamp column');
        fields.add(f.name);
      });
      check(SOURCE.test(p.source) && !p.source.includes('..'), this, `features[${i}].source`, p.source,
        'must be a Parquet file or folder under the offline store\'s data/ prefix, e.g. \'merchant_stats/\' or \'merchant_stats.parquet\'');
      checkIntegerRange(this, `features[${i}].ttlSeconds`, p.ttlSeconds, 1, 365 * 86400);
    });
  }

  private addRedis(cluster: IEksCluster, r: NonNullable<OnlineStore['redis']>, base: string, production: boolean): ElasticacheReplicationGroup {
    check(/^cache\.[a-z0-9]+\.[a-z0-9]+$/.test(r.nodeType), this, 'onlineStore.nodeType', r.nodeType, 'must be an ElastiCache node type such as cache.r7g.large');
    checkIntegerRange(this, 'onlineStore.replicas', r.replicas, 0, 5);
    check(!production || r.replicas >= 1, this, 'onlineStore.replicas', r.replicas, 'must be at least 1 in a production environment: without a replica there is no automatic failover');
    check(/^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$/.test(r.authTokenSecretArn) || r.authTokenSecretArn.startsWith('${'), this, 'onlineStore.authTokenSecretArn', r.authTokenSecretArn, 'must be the ARN of a Secrets Manager secret');
    const groupId = base.slice(0, 40).replace(/-+$/, '');
    const sg = new SecurityGroup(this, 'redis-security-group', {
      name: `${base}-redis`, description: `Feature store ${base} online store: only the cluster's workloads`, vpcId: cluster.vpcId,
    });
    new VpcSecurityGroupIngressRule(this, 'redis-from-workloads', {
      securityGroupId: sg.id, referencedSecurityGroupId: cluster.workloadSecurityGroupId, ipProtocol: 'tcp', fromPort: REDIS_PORT, toPort: REDIS_PORT,
      description: 'Redis over TLS from the cluster workloads',
    });
    const subnets = new ElasticacheSubnetGroup(this, 'redis-subnets', { name: `${base}-redis`, subnetIds: cluster.privateSubnetIds, description: `Private subnets of ${base}` });
    const token = new DataAwsSecretsmanagerSecretVersion(this, 'redis-auth-token', { secretId: r.authTokenSecretArn });
    return new ElasticacheReplicationGroup(this, 'redis', {
      replicationGroupId: groupId,
      description: `Feast online store of ${base}`,
      engine: 'redis',
      engineVersion: r.engineVersion ?? '7.1',
      nodeType: r.nodeType,
      numCacheClusters: r.replicas + 1,
      automaticFailoverEnabled: r.replicas > 0,
      multiAzEnabled: r.replicas > 0,
      port: REDIS_PORT,
      atRestEncryptionEnabled: 'true',
      kmsKeyId: this.key.keyArn,
      transitEncryptionEnabled: true,
      authToken: `\${jsondecode(${token.fqn}.secret_string)["token"]}`,
      subnetGroupName: subnets.name,
      securityGroupIds: [sg.id],
      snapshotRetentionLimit: 7,
      autoMinorVersionUpgrade: 'true',
      lifecycle: { preventDestroy: !PlatformApp.of(this).context.environment.destroyable },
    });
  }

  private renderRepository(): string {
    const types = new Set<string>();
    this.views.forEach((v) => v.props.features.forEach((f) => types.add(f.type)));
    const lines = [
      '# Generated by mlops-platform-constructs from the FeatureStore\'s feature views: edit them there.',
      `# Feature set ${this.featureSetVersion}`,
      'from datetime import timedelta',
      '',
      'from feast import Entity, FeatureView, Field, FileSource, ValueType',
      `from feast.types import ${[...types].sort().join(', ')}`,
      '',
    ];
    const entities = new Map<string, FeatureView['props']['entity']>();
    this.views.forEach((v) => entities.set(v.props.entity.name, v.props.entity));
    for (const [name, e] of [...entities].sort(([a], [b]) => a.localeCompare(b))) {
      lines.push(`${name} = Entity(name="${name}", join_keys=["${e.joinKey}"], value_type=${PYTHON_TYPES[e.keyType ?? 'STRING']})`);
    }
    for (const v of this.views) {
      const p = v.props;
      lines.push(
        '',
        `${p.name}_source = FileSource(name="${p.name}_source", path="s3://${this.bucketNameValue}/${DATA_PREFIX}${p.source}", timestamp_field="${p.timestampField ?? 'event_timestamp'}")`,
        `${p.name} = FeatureView(`,
        `    name="${p.name}",`,
        `    entities=[${p.entity.name}],`,
        `    ttl=timedelta(seconds=${p.ttlSeconds ?? 86400}),`,
        '    schema=[',
        ...p.features.map((f) => `        Field(name="${f.name}", dtype=${f.type}),`),
        '    ],',
        '    online=True,',
        `    source=${p.name}_source,`,
        ')',
      );
    }
    return `${lines.join('\n')}\n`;
  }

  private addWorkloads(props: FeatureStoreProps, schedule: string, production: boolean, region: string): void {
    const server = props.server ?? {};
    const image = server.image ?? FEAST_IMAGE;
    checkPinnedImage(this, 'server.image', image);
    const gateImage = server.gateImage ?? imageReference(IMAGES.nginxUnprivileged);
    checkPinnedImage(this, 'server.gateImage', gateImage);
    const replicas = server.replicas ?? (production ? 2 : 1);
    checkIntegerRange(this, 'server.replicas', replicas, 1, 50);
    const labels = { 'app.kubernetes.io/name': 'feature-server', 'app.kubernetes.io/instance': this.instanceId, 'app.kubernetes.io/component': 'feature-store' };
    const jobLabels = { 'app.kubernetes.io/name': 'feature-materializer', 'app.kubernetes.io/instance': this.instanceId, 'app.kubernetes.io/component': 'feature-store' };
    const redis = props.onlineStore.kind === 'redis';
    new k8s.KubeConfigMap(this.chart, 'repository', {
      metadata: { name: 'feast-repository', labels: { ...labels, 'mlops.io/feature-set': this.featureSetVersion.slice(7, 47) } },
      data: { 'feature_store.yaml': KubernetesLazy.any({ produce: () => this.featureStoreYaml }) as unknown as string, 'features.py': this.featureRepository },
    });
    new k8s.KubeConfigMap(this.chart, 'gate-config', { metadata: { name: 'feature-server-gate', labels }, data: { 'nginx.conf': featureGateConfig() } });
    const env: k8s.EnvVar[] = [
      { name: 'AWS_REGION', value: region }, { name: 'AWS_DEFAULT_REGION', value: region },
      { name: 'HOME', value: '/tmp' }, { name: 'PYTHONDONTWRITEBYTECODE', value: '1' },
      { name: 'FEAST_FEATURE_SET', value: this.featureSetVersion },
      ...(redis ? [
        { name: 'REDIS_HOST', valueFrom: { configMapKeyRef: { name: 'feast-online-store', key: 'host' } } },
        { name: 'REDIS_PORT', valueFrom: { configMapKeyRef: { name: 'feast-online-store', key: 'port' } } },
        { name: 'REDIS_PASSWORD', valueFrom: { secretKeyRef: { name: 'feast-redis-auth', key: 'token' } } },
      ] : []),
    ];
    const mounts: k8s.VolumeMount[] = [{ name: 'repository', mountPath: '/feast', readOnly: true }, { name: 'tmp', mountPath: '/tmp' }];
    const volumes: k8s.Volume[] = [
      { name: 'repository', configMap: { name: 'feast-repository' } },
      { name: 'tmp', emptyDir: { sizeLimit: k8s.Quantity.fromString('1Gi') } },
    ];
    for (const [name, sa] of [['server-service-account', this.serverIdentity], ['materializer-service-account', this.materializerIdentity]] as const) {
      new k8s.KubeServiceAccount(this.chart, name, { metadata: { name: sa.serviceAccount, annotations: sa.serviceAccountAnnotations }, automountServiceAccountToken: false });
    }
    const r = server.resources ?? { cpu: '500m', memory: '1Gi', cpuLimit: '1', memoryLimit: '2Gi' };
    const probe = (extra: Partial<k8s.Probe>): k8s.Probe => ({ httpGet: { path: '/health', port: k8s.IntOrString.fromString('feast') }, timeoutSeconds: 5, ...extra });
    new k8s.KubeDeployment(this.chart, 'server', {
      metadata: { name: 'feature-server', labels },
      spec: {
        replicas,
        revisionHistoryLimit: 5,
        selector: { matchLabels: labels },
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: k8s.IntOrString.fromNumber(0), maxSurge: k8s.IntOrString.fromNumber(1) } },
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: 'feature-server',
            automountServiceAccountToken: false,
            securityContext: restrictedPodSecurityContext(1000),
            topologySpreadConstraints: [
              { maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: labels } },
            ],
            containers: [{
              name: 'feature-server',
              image,
              imagePullPolicy: 'IfNotPresent',
              // Behind the read gate: no NetworkPolicy admits this port, consumers call the gate's.
              command: ['feast', '--chdir', '/feast', 'serve', '--host', '0.0.0.0', '--port', String(FEAST_LOCAL_PORT)],
              env,
              ports: [{ name: 'feast', containerPort: FEAST_LOCAL_PORT, protocol: 'TCP' }],
              // /health answers 503 until the registry is loaded (before the first `feast apply`, or while S3 is
              // unreachable): that takes the pod out of the Service, but must not restart it, so liveness is the port.
              startupProbe: { tcpSocket: { port: k8s.IntOrString.fromString('feast') }, periodSeconds: 5, failureThreshold: 60 },
              readinessProbe: probe({ periodSeconds: 10, failureThreshold: 3 }),
              livenessProbe: { tcpSocket: { port: k8s.IntOrString.fromString('feast') }, periodSeconds: 20, failureThreshold: 3, timeoutSeconds: 5 },
              resources: resources(r),
              securityContext: restrictedContainerSecurityContext(),
              volumeMounts: mounts,
            }, {
              name: 'read-gate',
              image: gateImage,
              imagePullPolicy: 'IfNotPresent',
              ports: [{ name: 'http', containerPort: FEATURE_GATE_PORT, protocol: 'TCP' }],
              readinessProbe: { tcpSocket: { port: k8s.IntOrString.fromString('http') }, periodSeconds: 10, failureThreshold: 3, timeoutSeconds: 5 },
              livenessProbe: { tcpSocket: { port: k8s.IntOrString.fromString('http') }, periodSeconds: 20, failureThreshold: 3, timeoutSeconds: 5 },
              resources: resources({ cpu: '50m', memory: '32Mi', cpuLimit: '500m', memoryLimit: '128Mi' }),
              securityContext: restrictedContainerSecurityContext(),
              volumeMounts: [{ name: 'gate-config', mountPath: '/etc/nginx/nginx.conf', subPath: 'nginx.conf', readOnly: true }, { name: 'gate-tmp', mountPath: '/tmp' }],
            }],
            volumes: [
              ...volumes,
              { name: 'gate-config', configMap: { name: 'feature-server-gate' } },
              { name: 'gate-tmp', emptyDir: { sizeLimit: k8s.Quantity.fromString('64Mi') } },
            ],
          },
        },
      },
    });
    new k8s.KubeService(this.chart, 'service', {
      metadata: { name: 'feature-server', labels },
      spec: { type: 'ClusterIP', selector: labels, ports: [{ name: 'http', port: FEAST_SERVER_PORT, targetPort: k8s.IntOrString.fromString('http'), protocol: 'TCP' }] },
    });
    if (replicas > 1) {
      new k8s.KubePodDisruptionBudget(this.chart, 'disruption-budget', {
        metadata: { name: 'feature-server', labels }, spec: { minAvailable: k8s.IntOrString.fromNumber(1), selector: { matchLabels: labels } },
      });
    }
    const storeEgress: k8s.NetworkPolicyEgressRule[] = [
      ...baseEgressRules(),
      // S3 and DynamoDB over HTTPS.
      { ports: [{ protocol: 'TCP', port: k8s.IntOrString.fromNumber(443) }] },
      ...(redis ? [{ to: [{ ipBlock: { cidr: props.cluster.vpcCidr } }], ports: [{ protocol: 'TCP', port: k8s.IntOrString.fromNumber(REDIS_PORT) }] }] : []),
    ];
    new k8s.KubeNetworkPolicy(this.chart, 'server-network-policy', {
      metadata: { name: 'feature-server', labels },
      spec: {
        podSelector: { matchLabels: labels },
        policyTypes: ['Ingress', 'Egress'],
        ingress: [{
          // Namespaces granted later (grantOnlineRead) are in: the list is read when the chart is written.
          from: KubernetesLazy.any({ produce: () => fromNamespaces([...this.clientNamespaces].sort()) }) as unknown as k8s.NetworkPolicyPeer[],
          ports: [{ protocol: 'TCP', port: k8s.IntOrString.fromNumber(FEAST_SERVER_PORT) }],
        }],
        egress: storeEgress,
      },
    });
    new k8s.KubeNetworkPolicy(this.chart, 'materializer-network-policy', {
      metadata: { name: 'feature-materializer', labels: jobLabels },
      spec: { podSelector: { matchLabels: jobLabels }, policyTypes: ['Ingress', 'Egress'], ingress: [], egress: storeEgress },
    });
    new k8s.KubeCronJob(this.chart, 'materialize', {
      metadata: { name: 'feature-materializer', labels: jobLabels },
      spec: {
        schedule,
        timeZone: 'Etc/UTC',
        concurrencyPolicy: 'Forbid',
        startingDeadlineSeconds: 600,
        successfulJobsHistoryLimit: 3,
        failedJobsHistoryLimit: 5,
        jobTemplate: {
          spec: {
            backoffLimit: 2,
            activeDeadlineSeconds: 3600,
            ttlSecondsAfterFinished: 86400,
            template: {
              metadata: { labels: jobLabels },
              spec: {
                serviceAccountName: 'feature-materializer',
                automountServiceAccountToken: false,
                restartPolicy: 'Never',
                securityContext: restrictedPodSecurityContext(1000),
                containers: [{
                  name: 'materialize',
                  image,
                  // Apply the definitions (registry, online tables), then copy what is new since the last run.
                  command: ['/bin/sh', '-c', 'feast --chdir /feast apply && feast --chdir /feast materialize-incremental "$(date -u +%Y-%m-%dT%H:%M:%S)"'],
                  env,
                  resources: resources({ cpu: '1', memory: '2Gi', memoryLimit: '4Gi' }),
                  securityContext: restrictedContainerSecurityContext(),
                  volumeMounts: mounts,
                }],
                volumes,
              },
            },
          },
        },
      },
    });
  }
}
