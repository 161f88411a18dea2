import { createHash } from 'crypto';
import { imageReference, IMAGES } from '../core/images';
import { Cloudtrail, CloudwatchLogGroup, IamRolePolicy, S3BucketNotification, SecretsmanagerSecret, SecretsmanagerSecretVersion } from '../providers/aws';
import { Construct, Fn, IConstruct, k8s, KubernetesLazy, Token } from '../engine';
import { Addon, Addons } from '../core/addons';
import { PlatformApp } from '../core/app';
import { PlatformRefactoring } from '../core/refactoring';
import { check, checkIntegerRange } from '../core/errors';
import { grant, IEksCluster, IGrantable, PolicyStatement, WorkloadIdentity } from '../core/identity';
import { PlatformKey } from '../core/key';
import { ClusterValue, ClusterValues } from '../core/kubernetes-stack';
import { requireLoadBalancerController } from '../core/load-balancer-controller';
import { PlatformChart } from '../core/kubernetes';
import { NameRules } from '../core/names';
import { PlatformNamespaces } from '../core/namespaces';
import { BucketEncryption, ObjectLock, SecureBucket } from '../core/secure-bucket';
import { PostgresDatabase, PostgresDatabaseOptions } from '../core/database';
import { Lineage, lineageTags } from './lineage';
import { bootstrapSql, DatabaseCaBundle, DB_AUTH_DIR, DB_SCRIPTS_DIR, REGISTRY_DB_SCRIPT, REGISTRY_DB_USER, TOKEN_MAX_AGE_SECONDS, TOKEN_REFRESH_SECONDS } from './database-access';
import { GATE_PORT, LINEAGE_TAG_PREFIX, MLFLOW_LOCAL_PORT, nginxConfig, PROMOTION_PORT, REGISTRY_GATE_SCRIPT } from './promotion-gate';
import { baseEgressRules, checkPinnedImage, fromNamespaces, resources, restrictedContainerSecurityContext, restrictedPodSecurityContext } from '../core/workloads';

/** Where the registry's audit trail of object writes and deletes goes. */
export abstract class AuditTrail {
  /** A CloudTrail trail of the registry's own, into an encrypted, versioned trail bucket. */
  public static create(): AuditTrail {
    return new (class extends AuditTrail {
      public readonly existingTrailArn = undefined;
    })();
  }

  /**
   * An organization or account trail that already records S3 data events for the artifact bucket;
   * the registry creates no trail of its own.
   */
  public static existing(trailArn: string): AuditTrail {
    return new (class extends AuditTrail {
      public readonly existingTrailArn = trailArn;
    })();
  }

  public abstract readonly existingTrailArn?: string;
}

/** How clients reach model artifacts. */
export enum ArtifactServing {
  /**
   * Through the MLflow server (`--serve-artifacts`): clients need no S3 permissions of their own, but
   * the server's role writes every model's prefix for every client that reaches the API port (a
   * shared write path). Only for registries whose every client is equally trusted.
   */
  PROXIED = 'proxied',
  /**
   * Directly from S3 (`--no-serve-artifacts`): each workload reads and writes with its own role, scoped
   * to its model's prefix (`grantRead`/`grantWrite`); the server only reads, and the registry gate
   * refuses artifact transfers through the API port.
   */
  DIRECT = 'direct',
}

/**
 * What a workload may do in the registry, after MLflow's permissions
 * (mlflow/server/auth/permissions.py): READ reads, EDIT also changes, but never deletes.
 */
export enum RegistryAccess {
  /** Read its models' versions, aliases and artifacts; change nothing (serving). */
  READ = 'read',
  /**
   * Also create its models and their versions (with lineage tags), set other tags and non-protected
   * aliases, log runs and artifacts (training). Deleting, renaming, rewriting lineage and moving
   * protected aliases stay with the promotion endpoint.
   */
  EDIT = 'edit',
}

/** A workload that reaches the registry as itself. */
export interface RegistryClientOptions {
  /** The workload's namespace: its credentials are written there. */
  readonly namespace: string;
  /** The workload's name (its service account's, say): with the namespace, it names the user `<namespace>.<name>`. */
  readonly name: string;
  /** What it may do. */
  readonly access: RegistryAccess;
  /** The registered models it may use; it may name no other in a registry call. */
  readonly models: string[];
}

/** The credentials of a registry client, in a Secret of its namespace. */
export interface RegistryCredentials {
  /** The MLflow user: `<namespace>.<name>`. */
  readonly username: string;
  /** The Secret (keys `username`, `password`) in the client's namespace. */
  readonly secretName: string;
  /** `MLFLOW_TRACKING_USERNAME` and `MLFLOW_TRACKING_PASSWORD`, read from the Secret: add them to every container that talks to MLflow. */
  readonly env: k8s.EnvVar[];
}

/** The retention periods CloudWatch Logs accepts (PutRetentionPolicy, retentionInDays). */
const LOG_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];

/** Options of the registry's database. */
export interface RegistryDatabaseOptions extends PostgresDatabaseOptions {
  /**
   * The RDS CA bundle that MLflow and the bootstrap verify the database's certificate against
   * (`PGSSLMODE=verify-full`, with the instance's endpoint as host name).
   * @default DatabaseCaBundle.download() - the region's bundle from the RDS trust store, fetched when a pod starts
   */
  readonly caBundle?: DatabaseCaBundle;
}

/** Ingress of the MLflow server. */
export interface RegistryIngressOptions {
  /** The host name. */
  readonly host: string;
  /** @default 'alb' */
  readonly className?: string;
  /** The Secret holding the TLS certificate. @default - TLS terminated by the load balancer (ALB with an ACM certificate) */
  readonly tlsSecretName?: string;
}

/** Options of the MLflow tracking and registry server. */
export interface RegistryServerOptions {
  /** @default 'mlflow' */
  readonly namespace?: string;
  /**
   * The MLflow image, with boto3 and psycopg2, by digest (a tag-only image fails synth unless
   * `ImagePinning.allowTag` accepts it). Point it at your own ECR copy of `ghcr.io/mlflow/mlflow:<v>-full`
   * to run the official build.
   * @default MLFLOW_IMAGE ('burakince/mlflow:3.14.0@sha256:d66a4863...', see IMAGES.mlflow)
   */
  readonly image?: string;
  /** @default - 2 in a production environment, 1 elsewhere */
  readonly replicas?: number;
  /** @default ArtifactServing.DIRECT */
  readonly artifactServing?: ArtifactServing;
  /**
   * Namespaces whose pods may reach the server (training, serving, pipelines).
   * @default - only the server's own namespace
   */
  readonly allowedNamespaces?: string[];
  /** @default - no Ingress; the server is reached inside the cluster */
  readonly ingress?: RegistryIngressOptions;
}

/** Who may move the production aliases. */
export interface RegistryGovernanceOptions {
  /**
   * Namespaces whose pods may use the promotion endpoint (`promotionUri`), e.g. the namespace of the
   * CI runners that promote a model to production.
   * Each gets a `promote` registry user (`<namespace>.promoter`, Secret `mlflow-registry-promoter` in
   * that namespace): the only credentials the promotion port accepts.
   * @default - none: no pod reaches the promotion port and no credential may use it
   */
  readonly promoterNamespaces?: string[];
  /**
   * Aliases that only the promotion endpoint may set or delete.
   * @default ['champion']
   */
  readonly protectedAliases?: string[];
  /**
   * The NGINX image of the gate sidecar (unprivileged build), by digest.
   * @default - 'nginxinc/nginx-unprivileged:1.27.5-alpine@sha256:65e3e85d...' (IMAGES.nginxUnprivileged)
   */
  readonly proxyImage?: string;
}

/** Props of a ModelRegistry. */
export interface ModelRegistryProps {
  /**
   * The construct's id before it was renamed: physical names (bucket, database, cluster, keys, roles)
   * keep deriving from it, and Terraform `moved` blocks carry every resource from its old address
   * (PlatformRefactoring.renamed), so a rename replaces nothing.
   * @default - never renamed
   */
  readonly formerId?: string;
  /** The cluster the MLflow server runs in; its private subnets hold the database. */
  readonly cluster: IEksCluster;
  /**
   * The artifact bucket's name.
   * @default - `<platform>-<environment>-registry-<account id>`
   */
  readonly bucketName?: string;
  /**
   * Keep every version of every artifact. Turning it off is refused in production and with Object Lock.
   * @default true
   */
  readonly versioned?: boolean;
  /**
   * S3 Object Lock on the artifact bucket (regulated teams).
   * @default - no Object Lock
   */
  readonly objectLock?: ObjectLock;
  /**
   * Days after which noncurrent artifact versions expire.
   * @default - noncurrent versions are kept
   */
  readonly noncurrentVersionExpirationDays?: number;
  /**
   * Days server access logs and audit logs (the trail and the registry's change log) are kept: one
   * of the periods CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400,
   * 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653).
   * @default 365
   */
  readonly logRetentionDays?: number;
  /** @default AuditTrail.create() */
  readonly auditTrail?: AuditTrail;
  /** @default - a db.t4g.medium PostgreSQL 17 with 7 days of backups, Multi-AZ in production */
  readonly database?: RegistryDatabaseOptions;
  /** @default - MLflow in namespace `mlflow`, artifacts read and written by each workload in S3, no Ingress */
  readonly server?: RegistryServerOptions;
  /** @default - `champion` is moved only through the promotion endpoint, which no namespace may reach */
  readonly governance?: RegistryGovernanceOptions;
}

/** What other constructs need of a registry. */
export interface IModelRegistry extends IConstruct {
  readonly bucketName: string;
  readonly bucketArn: string;
  readonly trackingUri: string;
  grantRead(grantee: IGrantable & Construct, options?: { model?: string }): IamRolePolicy;
  grantWrite(grantee: IGrantable & Construct, options?: { model?: string }): IamRolePolicy;
  /** Lets a workload read datasets under one prefix of the DVC remote (`data/<prefix>`). */
  grantReadData(grantee: IGrantable & Construct, options: { prefix: string }): IamRolePolicy;
  /** Lets a workload write datasets under one prefix of the DVC remote (`data/<prefix>`), and read them. */
  grantWriteData(grantee: IGrantable & Construct, options: { prefix: string }): IamRolePolicy;
  /** The S3 prefix of datasets (`data/`), or of one dataset below it. */
  dataPrefix(prefix?: string): string;
  model(name: string): RegisteredModel;
  /** Admits pods of a namespace to the tracking server (its NetworkPolicy). */
  allowNamespace(namespace: string): void;
  /** Gives a workload its own credentials and what it may do with which models; admits its namespace. */
  addClient(owner: IConstruct, options: RegistryClientOptions): RegistryCredentials;
  /** The namespace of the tracking server. */
  readonly namespace: string;
  /** The MLflow image the server runs (clients that download models use it too). */
  readonly serverImage: string;
}

const MODEL_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const MODELS_PREFIX = 'models/';
const DATA_PREFIX = 'data/';
const MLFLOW_PORT = 5000;
/** The service account of the database bootstrap Job. */
const DB_BOOTSTRAP = 'mlflow-db-bootstrap';

/**
 * The single source of truth for which model versions exist, what produced them and which one is in
 * production: an encrypted, versioned, audited artifact store (with a DVC remote for datasets under
 * `data/`), a PostgreSQL metadata database, and an MLflow tracking and registry server in the cluster.
 */
export class ModelRegistry extends Construct implements IModelRegistry {
  /** The id names and selector labels derive from: `formerId` when renamed (selectors are immutable). */
  private readonly instanceId: string;
  public readonly key: PlatformKey;
  public readonly artifactBucket: SecureBucket;
  public readonly logBucket: SecureBucket;
  public readonly trailBucket?: SecureBucket;
  public readonly trail?: Cloudtrail;
  /** The trail that records object writes and deletes, created here or given. */
  public readonly trailArn: string;
  public readonly database: PostgresDatabase;
  /** The MLflow server's AWS identity. */
  public readonly serverIdentity: WorkloadIdentity;
  /**
   * The AWS identity of the bootstrap Job that creates the database role MLflow connects as: it may
   * read the database's master user secret, and nothing else.
   */
  public readonly databaseBootstrapIdentity: WorkloadIdentity;
  /** The database role MLflow connects as, with an IAM authentication token (`mlflow_app`). */
  public readonly databaseUser: string = REGISTRY_DB_USER;
  public readonly chart: PlatformChart;
  public readonly namespace: string;
  /** The in-cluster URI of the tracking server (`MLFLOW_TRACKING_URI`). */
  public readonly trackingUri: string;
  /** The in-cluster URI of the promotion endpoint: the only one that may move protected aliases. */
  public readonly promotionUri: string;
  /** Aliases only the promotion endpoint may move. */
  public readonly protectedAliases: string[];
  /**
   * Where the registry gate records every registry change (who, what, when, allowed or refused): a
   * KMS-encrypted CloudWatch Logs group that the server may only append to and no client may write.
   */
  public readonly auditLogGroup: CloudwatchLogGroup;
  /** The change log's name, `/mlops/<platform>-<environment>-<id>/registry-changes`. */
  public readonly auditLogGroupName: string;
  /** The credentials of each promoter namespace (user `<namespace>.promoter`, Secret `mlflow-registry-promoter`). */
  public readonly promoterCredentials: RegistryCredentials[] = [];
  private readonly clients = new Map<string, { access: string; models: string[]; secretName: string }>();
  /** Namespaces whose pods may reach the promotion endpoint (`governance.promoterNamespaces`). */
  public readonly promoterNamespaces: string[];
  /** The DVC remote for datasets (`dvc remote add -d registry <url>`). */
  public readonly dvcRemoteUrl: string;
  public readonly artifactServing: ArtifactServing;
  public readonly serverImage: string;
  private readonly allowedNamespaces = new Set<string>();
  private readonly artifactBucketName: string;
  private readonly dbCaBundle: DatabaseCaBundle;
  private readonly vpcCidr: string;

  constructor(scope: Construct, id: string, props: ModelRegistryProps) {
    super(scope, id);
    const context = PlatformApp.of(this).context;
    const base = context.physicalName(props.formerId ?? id);
    if (props.formerId) PlatformRefactoring.renamed(this, props.formerId);
    this.instanceId = props.formerId ?? id;
    const versioned = props.versioned ?? true;
    check(versioned || !context.environment.isProduction, this, 'versioned', versioned,
      `cannot be turned off in the production environment '${context.environment.name}': versions are how a deleted or overwritten model is recovered`);
    const logDays = props.logRetentionDays ?? 365;
    checkIntegerRange(this, 'logRetentionDays', logDays, 1, 36500);
    const server = props.server ?? {};
    this.namespace = NameRules.dnsLabel(this, 'server.namespace', server.namespace ?? 'mlflow');
    this.artifactServing = server.artifactServing ?? ArtifactServing.DIRECT;
    const bucketName = props.bucketName ?? `${base}-${context.accountId}`;
    this.artifactBucketName = bucketName;
    this.vpcCidr = props.cluster.vpcCidr;
    const trailName = `${base}-audit`;
    check(LOG_RETENTION_DAYS.includes(logDays), this, 'logRetentionDays', logDays,
      `must be a retention CloudWatch Logs accepts: ${LOG_RETENTION_DAYS.join(', ')}`);
    const auditLogGroupName = `/mlops/${base}/registry-changes`;
    const auditLogGroupArn = `arn:aws:logs:${context.region}:${context.accountId}:log-group:${auditLogGroupName}`;
    const trailArn = `arn:aws:cloudtrail:${context.region}:${context.accountId}:trail/${trailName}`;
    const createTrail = props.auditTrail?.existingTrailArn === undefined;

    this.key = new PlatformKey(this, 'key', {
      description: `Model registry ${base}: artifacts, metadata database, audit trail`,
      alias: base,
      // The CloudTrail guide, "Configure AWS KMS key policies for CloudTrail": GenerateDataKey under the
      // trail's encryption context; DescribeKey, which carries no encryption context, on its own; and,
      // since the audit bucket has an S3 Bucket Key, Decrypt (CreateTrail fails without it).
      serviceStatements: [...(createTrail ? [
        {
          sid: 'CloudTrailEncryptsAuditLogs', service: 'cloudtrail.amazonaws.com', actions: ['kms:GenerateDataKey'],
          conditions: {
            StringEquals: { 'aws:SourceArn': trailArn },
            StringLike: { 'kms:EncryptionContext:aws:cloudtrail:arn': `arn:aws:cloudtrail:*:${context.accountId}:trail/*` },
          },
        },
        { sid: 'CloudTrailDescribesKey', service: 'cloudtrail.amazonaws.com', actions: ['kms:DescribeKey'], conditions: { StringEquals: { 'aws:SourceArn': trailArn } } },
        { sid: 'CloudTrailUsesBucketKey', service: 'cloudtrail.amazonaws.com', actions: ['kms:Decrypt'], conditions: { StringEquals: { 'aws:SourceArn': trailArn } } },
      ] : []), {
        // CloudWatch Logs encrypts the change log with this key (its docs: encrypt-log-data-kms).
        sid: 'CloudWatchLogsEncryptsChangeLog', service: `logs.${context.region}.amazonaws.com`,
        actions: ['kms:Encrypt', 'kms:Decrypt', 'kms:ReEncryptFrom', 'kms:ReEncryptTo', 'kms:GenerateDataKey', 'kms:GenerateDataKeyWithoutPlaintext', 'kms:DescribeKey'],
        conditions: { ArnEquals: { 'kms:EncryptionContext:aws:logs:arn': auditLogGroupArn } },
      }],
    });
    this.logBucket = new SecureBucket(this, 'access-logs', {
      bucketName: `${base}-logs-${context.accountId}`,
      bucketNameProp: 'bucketName (access-log bucket derived from it)',
      encryption: BucketEncryption.s3Managed(),
      expirationDays: logDays,
      noncurrentVersionExpirationDays: 30,
      policyStatements: [{
        sid: 'S3ServerAccessLogs', principal: { Service: 'logging.s3.amazonaws.com' }, actions: ['s3:PutObject'], resources: ['objects'],
        conditions: { StringEquals: { 'aws:SourceAccount': context.accountId } },
      }],
    });
    this.artifactBucket = new SecureBucket(this, 'artifacts', {
      bucketName,
      encryption: BucketEncryption.kms(this.key.key),
      versioned,
      objectLock: props.objectLock,
      noncurrentVersionExpirationDays: props.noncurrentVersionExpirationDays,
      accessLogsBucket: this.logBucket,
    });

    if (createTrail) {
      this.trailBucket = new SecureBucket(this, 'audit-trail', {
        bucketName: `${base}-audit-${context.accountId}`,
        bucketNameProp: 'bucketName (audit bucket derived from it)',
        encryption: BucketEncryption.kms(this.key.key),
        expirationDays: logDays,
        accessLogsBucket: this.logBucket,
        policyStatements: [
          { sid: 'CloudTrailAclCheck', principal: { Service: 'cloudtrail.amazonaws.com' }, actions: ['s3:GetBucketAcl'], resources: ['bucket'], conditions: { StringEquals: { 'aws:SourceArn': trailArn } } },
          { sid: 'CloudTrailWrite', principal: { Service: 'cloudtrail.amazonaws.com' }, actions: ['s3:PutObject'], resources: ['objects'], conditions: { StringEquals: { 'aws:SourceArn': trailArn, 's3:x-amz-acl': 'bucket-owner-full-control' } } },
        ],
      });
      this.trail = new Cloudtrail(this, 'trail', {
        name: trailName,
        s3BucketName: this.trailBucket.bucketName,
        kmsKeyId: this.key.keyArn,
        enableLogFileValidation: true,
        includeGlobalServiceEvents: false,
        isMultiRegionTrail: false,
        advancedEventSelector: [{
          // Reads too: who downloaded which model (or dataset) is what an exfiltration investigation asks.
          // Data events are billed per event; the selector keeps them to this bucket's objects.
          name: 'Artifact and dataset reads, writes and deletes',
          fieldSelector: [
            { field: 'eventCategory', equalTo: ['Data'] },
            { field: 'resources.type', equalTo: ['AWS::S3::Object'] },
            { field: 'resources.ARN', startsWith: [`${this.artifactBucket.bucketArn}/`] },
          ],
        }],
        dependsOn: [this.trailBucket.policy],
      });
      this.trailArn = this.trail.arn;
    } else {
      this.trailArn = props.auditTrail!.existingTrailArn!;
    }

    const { caBundle, ...databaseOptions } = props.database ?? {};
    this.dbCaBundle = caBundle ?? DatabaseCaBundle.download();
    if (this.dbCaBundle.pem !== undefined) {
      check(/-----BEGIN CERTIFICATE-----[\s\S]+-----END CERTIFICATE-----/.test(this.dbCaBundle.pem), this, 'database.caBundle', `${this.dbCaBundle.pem.slice(0, 40)}...`,
        'must be PEM certificates (-----BEGIN CERTIFICATE----- ... -----END CERTIFICATE-----), e.g. the region\'s bundle from the RDS trust store');
    }
    this.database = new PostgresDatabase(this, 'database', {
      identifier: base,
      databaseName: 'mlflow',
      cluster: props.cluster,
      key: this.key,
      ...databaseOptions,
    });

    this.serverIdentity = new WorkloadIdentity(this, 'server-identity', {
      cluster: props.cluster, namespace: this.namespace, serviceAccount: 'mlflow', roleName: `${base}-server`,
    });
    // The server writes models only when it proxies them, and never datasets (it does not read them).
    if (this.artifactServing === ArtifactServing.PROXIED) this.grantWrite(this.serverIdentity);
    else this.grantRead(this.serverIdentity);
    this.auditLogGroupName = auditLogGroupName;
    this.auditLogGroup = new CloudwatchLogGroup(this, 'change-log', {
      name: auditLogGroupName, retentionInDays: logDays, kmsKeyId: this.key.keyArn, dependsOn: [this.key.key],
    });
    // The gate may append records, nothing else: no client has any right on the group. The group's
    // ARN with ':*' is the one IAM policies use (CloudWatch Logs docs: iam-access-control-overview-cwl).
    grant(this.serverIdentity, NameRules.iamName(this, 'policy', `${this.instanceId}-change-log`, 128), [{
      sid: 'AppendRegistryChanges', actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [`${auditLogGroupArn}:*`],
    }]);

    // MLflow connects as its own role with IAM tokens; only the bootstrap reads the master secret,
    // when it runs, so no password is in a Kubernetes Secret or in Terraform's state.
    this.database.grantConnect(this.serverIdentity, REGISTRY_DB_USER, NameRules.iamName(this, 'policy', `${this.instanceId}-db-connect`, 128));
    this.databaseBootstrapIdentity = new WorkloadIdentity(this, 'db-bootstrap-identity', {
      cluster: props.cluster, namespace: this.namespace, serviceAccount: DB_BOOTSTRAP, roleName: `${base}-db-bootstrap`,
    });
    this.database.grantReadMasterSecret(this.databaseBootstrapIdentity, NameRules.iamName(this, 'policy', `${this.instanceId}-db-master-secret`, 128));
    // Deploy-time values (no secret among them) reach the pods through a ConfigMap that the KubernetesStack writes.
    ClusterValues.configMap(this, {
      namespace: this.namespace,
      name: 'mlflow-db',
      data: {
        host: ClusterValue.of(this.database.instance.address),
        port: ClusterValue.of(Token.asString(this.database.instance.port)),
        dbname: ClusterValue.of('mlflow'),
        'master-secret-arn': ClusterValue.of(this.database.masterUserSecretArn),
      },
    });

    this.trackingUri = `http://mlflow.${this.namespace}.svc.cluster.local:${MLFLOW_PORT}`;
    this.promotionUri = `http://mlflow-promotion.${this.namespace}.svc.cluster.local:${PROMOTION_PORT}`;
    this.protectedAliases = props.governance?.protectedAliases ?? ['champion'];
    this.promoterNamespaces = [...(props.governance?.promoterNamespaces ?? [])];
    this.protectedAliases.forEach((a) => check(/^[A-Za-z_][A-Za-z0-9_-]{0,254}$/.test(a), this, 'governance.protectedAliases', a, 'must be an MLflow alias'));
    this.dvcRemoteUrl = `s3://${bucketName}/${DATA_PREFIX.slice(0, -1)}`;
    this.chart = new PlatformChart(this, { namespace: this.namespace });
    PlatformNamespaces.use(this, this.namespace);
    this.serverImage = props.server?.image ?? MLFLOW_IMAGE;
    this.addServer(bucketName, server, context.environment.isProduction, props.governance ?? {}, props.cluster);
  }

  /** The artifact bucket's name: known at synth, so manifests can hold it. */
  public get bucketName(): string {
    return this.artifactBucketName;
  }

  public get bucketArn(): string {
    return this.artifactBucket.bucketArn;
  }

  /**
   * Lets a workload read model artifacts: every model's, or one model's prefix. Returns the policy.
   */
  public grantRead(grantee: IGrantable & Construct, options: { model?: string } = {}): IamRolePolicy {
    const prefix = this.modelsPrefix(options.model);
    return grant(grantee, this.policyName('read', options.model), [
      ...this.readStatements(prefix),
      this.kmsStatement(['kms:Decrypt']),
    ]);
  }

  /** Lets a workload read datasets: the DVC remote under `data/`, or one prefix below it. */
  public grantReadData(grantee: IGrantable & Construct, options: { prefix?: string } = {}): IamRolePolicy {
    const prefix = this.dataPrefix(options.prefix);
    return grant(grantee, this.policyName('read-data', options.prefix?.replace(/[^a-zA-Z0-9]+/g, '-').replace(/^-|-$/g, '')), [...this.readStatements(prefix), this.kmsStatement(['kms:Decrypt'])]);
  }

  /** The S3 prefix of datasets (`data/`), or of one dataset below it (`data/<prefix>`, ending with '/'). */
  public dataPrefix(prefix?: string): string {
    if (prefix === undefined) return DATA_PREFIX;
    check(/^[a-z0-9][a-z0-9._/-]*\/$/.test(prefix) && !prefix.includes('..'), this, 'dataPrefix', prefix, 'must be a relative prefix of lower-case letters, digits and ._-/ ending with \'/\', e.g. \'fraud/transactions/\'');
    return `${DATA_PREFIX}${prefix}`;
  }

  /** Sends the artifact bucket's events to EventBridge (once), so that new data can start pipelines. */
  public enableEventBridge(): void {
    if (this.node.tryFindChild('eventbridge')) return;
    new S3BucketNotification(this, 'eventbridge', { bucket: this.artifactBucket.bucket.id, eventbridge: true });
  }

  /**
   * Lets a workload write model artifacts (every model's, or one model's prefix) and datasets, and
   * read them back. Nothing is granted to delete: versions and Object Lock stay in charge.
   */
  public grantWrite(grantee: IGrantable & Construct, options: { model?: string } = {}): IamRolePolicy {
    const prefix = this.modelsPrefix(options.model);
    return grant(grantee, this.policyName('write-model', options.model), [
      ...this.readStatements(prefix),
      { sid: 'WriteArtifacts', actions: ['s3:PutObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts'], resources: [`${this.bucketArn}/${prefix}*`] },
      this.kmsStatement(['kms:Decrypt', 'kms:GenerateDataKey']),
    ]);
  }

  /**
   * Lets a workload write datasets under one prefix of the DVC remote, and read them. A write under a
   * prefix that a TrainingPipeline watches starts a retraining, so grant it to that prefix's team only.
   */
  public grantWriteData(grantee: IGrantable & Construct, options: { prefix: string }): IamRolePolicy {
    const prefix = this.dataPrefix(options.prefix);
    return grant(grantee, this.policyName('write-data', options.prefix.replace(/[^a-zA-Z0-9]+/g, '-').replace(/^-|-$/g, '')), [
      ...this.readStatements(prefix),
      { sid: 'WriteData', actions: ['s3:PutObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts'], resources: [`${this.bucketArn}/${prefix}*`] },
      this.kmsStatement(['kms:Decrypt', 'kms:GenerateDataKey']),
    ]);
  }

  /** Admits pods of a namespace to the tracking server, e.g. a serving namespace whose init containers download models. */
  public allowNamespace(namespace: string): void {
    this.allowedNamespaces.add(NameRules.dnsLabel(this, 'namespace', namespace));
  }

  /**
   * Gives a workload its own MLflow user (`<namespace>.<name>`) with a generated password, and says
   * what it may do with which models; the registry gate holds it to that. The password is made by
   * Terraform into AWS Secrets Manager (write-only: never in Terraform state of this stack) and
   * written by the KubernetesStack into Secret `mlflow-registry-<name>` of the workload's namespace.
   */
  public addClient(owner: IConstruct, options: RegistryClientOptions): RegistryCredentials {
    return this.client(owner, options.namespace, options.name, options.access, options.models);
  }

  private client(owner: IConstruct, namespace: string, name: string, access: string, models: string[]): RegistryCredentials {
    NameRules.dnsLabel(owner, 'namespace', namespace);
    NameRules.dnsLabel(owner, 'name', name);
    models.forEach((m) => this.model(m));
    check(access === 'promote' || models.length > 0, owner, 'models', models, 'must name at least one model the workload may use');
    const username = `${namespace}.${name}`;
    const existing = this.clients.get(username);
    if (existing) {
      check(existing.access === access && existing.models.join() === [...models].sort().join(), owner, 'name', name,
        `names registry user '${username}', which another workload of namespace '${namespace}' uses with other rights; give it another name`);
      return this.credentials(username, existing.secretName);
    }
    const secretName = `mlflow-registry-${name}`;
    const { environment } = PlatformApp.of(this).context;
    const id = `client-${namespace}-${name}`;
    const secret = new SecretsmanagerSecret(this, id, {
      name: `${PlatformApp.of(this).context.physicalName(this.instanceId)}/clients/${username}`,
      description: `MLflow registry credentials of workload ${username}`,
      kmsKeyId: this.key.keyArn,
      recoveryWindowInDays: environment.isProduction ? 30 : 7,
    });
    new SecretsmanagerSecretVersion(this, `${id}-value`, {
      secretId: secret.id,
      // 244 random bits (two UUIDs v4), written once: write-only, so Terraform keeps no copy.
      secretStringWo: Fn.jsonencode({ username, password: Fn.replace(Fn.join('', [Fn.uuid(), Fn.uuid()]), '-', '') }),
      secretStringWoVersion: 1,
    });
    const password = ClusterValue.fromSecretsManager(secret.arn, 'password');
    ClusterValues.secret(this, { namespace, name: secretName, data: { username: ClusterValue.of(username), password } });
    // The gate's copy, in the registry's namespace: one Secret per user, projected into the gate.
    ClusterValues.secret(this, { namespace: this.namespace, name: `mlflow-user.${username}`, data: { password } });
    this.clients.set(username, { access, models: [...models].sort(), secretName });
    this.allowNamespace(namespace);
    return this.credentials(username, secretName);
  }

  private credentials(username: string, secretName: string): RegistryCredentials {
    return {
      username,
      secretName,
      env: [
        { name: 'MLFLOW_TRACKING_USERNAME', valueFrom: { secretKeyRef: { name: secretName, key: 'username' } } },
        { name: 'MLFLOW_TRACKING_PASSWORD', valueFrom: { secretKeyRef: { name: secretName, key: 'password' } } },
      ],
    };
  }

  /** A registered model, by name (lower-case letters, digits and '-': it is also an S3 prefix and a label). */
  public model(name: string): RegisteredModel {
    check(MODEL_NAME.test(name), this, 'model', name, 'must be 1 to 63 lower-case letters, digits and \'-\', starting and ending with a letter or digit');
    return new RegisteredModel(this, name);
  }

  private modelsPrefix(model?: string): string {
    if (model === undefined) return MODELS_PREFIX;
    this.model(model);
    return `${MODELS_PREFIX}${model}/`;
  }

  private policyName(kind: string, model?: string): string {
    return NameRules.iamName(this, 'policy', [this.instanceId, kind, model].filter(Boolean).join('-'), 128);
  }

  private readStatements(...prefixes: string[]): PolicyStatement[] {
    const arn = this.bucketArn;
    return [
      { sid: 'ListPrefixes', actions: ['s3:ListBucket', 's3:ListBucketVersions'], resources: [arn], conditions: { StringLike: { 's3:prefix': prefixes.map((p) => `${p}*`) } } },
      { sid: 'ReadObjects', actions: ['s3:GetObject', 's3:GetObjectVersion'], resources: prefixes.map((p) => `${arn}/${p}*`) },
    ];
  }

  private kmsStatement(actions: string[]): PolicyStatement {
    const { region } = PlatformApp.of(this).context;
    return { sid: 'UseRegistryKeyThroughS3', actions, resources: [this.key.keyArn], conditions: { StringEquals: { 'kms:ViaService': `s3.${region}.amazonaws.com` } } };
  }

  /**
   * How pods reach the database: the token sidecar of the server's pods, what MLflow mounts and reads
   * from the environment, and the bootstrap Job (with its service account, scripts and network policy)
   * that creates the role MLflow connects as.
   */
  private addDatabaseAccess(image: string): { tokenSidecar: k8s.Container; env: k8s.EnvVar[]; mounts: k8s.VolumeMount[]; volumes: k8s.Volume[]; addBootstrap: () => void } {
    const { region } = PlatformApp.of(this).context;
    const caUrl = this.dbCaBundle.url(region);
    const caPath = caUrl ? `${DB_AUTH_DIR}/rds-ca.pem` : '/registry-db-ca/rds-ca.pem';
    const sql = bootstrapSql(REGISTRY_DB_USER, this.database.databaseName);
    const fromConfig = (name: string, key: string): k8s.EnvVar => ({ name, valueFrom: { configMapKeyRef: { name: 'mlflow-db', key } } });
    const env: k8s.EnvVar[] = [
      fromConfig('DB_HOST', 'host'), fromConfig('DB_PORT', 'port'), fromConfig('DB_NAME', 'dbname'),
      // verify-full: the certificate must chain to the RDS CA and name DB_HOST, the instance's endpoint.
      { name: 'PGSSLMODE', value: 'verify-full' },
      { name: 'PGSSLROOTCERT', value: caPath },
      { name: 'PGPASSFILE', value: `${DB_AUTH_DIR}/pgpass` },
    ];
    const common: k8s.EnvVar[] = [
      ...env,
      { name: 'DB_USER', value: REGISTRY_DB_USER },
      { name: 'AWS_REGION', value: region },
      ...(caUrl ? [{ name: 'CA_URL', value: caUrl }] : []),
    ];
    const scriptsName = 'mlflow-db-access';
    const mounts: k8s.VolumeMount[] = [
      { name: 'db-auth', mountPath: DB_AUTH_DIR },
      ...(caUrl ? [] : [{ name: 'db-ca', mountPath: '/registry-db-ca', readOnly: true }]),
    ];
    const volumes: k8s.Volume[] = [
      // In memory: the token never reaches the node's disk.
      { name: 'db-auth', emptyDir: { medium: 'Memory', sizeLimit: k8s.Quantity.fromString('1Mi') } },
      { name: 'db-scripts', configMap: { name: scriptsName } },
      ...(caUrl ? [] : [{ name: 'db-ca', configMap: { name: 'mlflow-db-ca' } }]),
    ];
    const script = `${DB_SCRIPTS_DIR}/registry_db.py`;
    const fresh = (extra: Partial<k8s.Probe>): k8s.Probe => ({ exec: { command: ['python', script, 'check'] }, timeoutSeconds: 10, ...extra });
    const tokenSidecar: k8s.Container = {
      name: 'db-token',
      image,
      imagePullPolicy: 'IfNotPresent',
      // A native sidecar (on by default since Kubernetes 1.29; every version the library supports):
      // it starts before MLflow and runs beside it. The EKS Pod Identity webhook gives init containers
      // the role's credentials too, and keeps their restartPolicy (aws/amazon-eks-pod-identity-webhook#208, #209).
      restartPolicy: 'Always',
      command: ['python', script, 'token'],
      env: [...common, { name: 'REFRESH_SECONDS', value: String(TOKEN_REFRESH_SECONDS) }, { name: 'MAX_AGE_SECONDS', value: String(TOKEN_MAX_AGE_SECONDS) }],
      startupProbe: fresh({ periodSeconds: 2, failureThreshold: 60 }),
      readinessProbe: fresh({ periodSeconds: 30, failureThreshold: 2 }),
      livenessProbe: fresh({ periodSeconds: 60, failureThreshold: 3 }),
      resources: resources({ cpu: '10m', memory: '96Mi', cpuLimit: '200m', memoryLimit: '192Mi' }),
      securityContext: restrictedContainerSecurityContext(),
      volumeMounts: [...mounts, { name: 'db-scripts', mountPath: DB_SCRIPTS_DIR, readOnly: true }],
    };

    // The bootstrap: a Job named after what it runs, so that a change runs it again (a Job's pod
    // template cannot change); running it again changes nothing.
    const addBootstrap = () => this.addDatabaseBootstrap(image, script, common, mounts, volumes, caUrl ?? this.dbCaBundle.pem!, sql, scriptsName);
    return { tokenSidecar, env, mounts, volumes, addBootstrap };
  }

  private addDatabaseBootstrap(image: string, script: string, common: k8s.EnvVar[], mounts: k8s.VolumeMount[], volumes: k8s.Volume[], ca: string, sql: string, scriptsName: string): void {
    // The scripts and the CA bundle, which the server's pods mount too.
    new k8s.KubeConfigMap(this.chart, 'db-access-scripts', {
      metadata: { name: scriptsName, labels: { 'app.kubernetes.io/name': 'mlflow', 'app.kubernetes.io/instance': this.instanceId, 'app.kubernetes.io/component': 'model-registry' } },
      data: { 'registry_db.py': REGISTRY_DB_SCRIPT.trimStart(), 'bootstrap.sql': sql },
    });
    if (this.dbCaBundle.pem !== undefined) {
      new k8s.KubeConfigMap(this.chart, 'db-ca-bundle', { metadata: { name: 'mlflow-db-ca', labels: { 'app.kubernetes.io/name': 'mlflow', 'app.kubernetes.io/instance': this.instanceId, 'app.kubernetes.io/component': 'model-registry' } }, data: { 'rds-ca.pem': this.dbCaBundle.pem } });
    }
    const hash = createHash('sha256').update(JSON.stringify([REGISTRY_DB_SCRIPT, sql, image, ca])).digest('hex').slice(0, 10);
    const jobLabels = { 'app.kubernetes.io/name': DB_BOOTSTRAP, 'app.kubernetes.io/instance': this.instanceId, 'app.kubernetes.io/component': 'model-registry' };
    new k8s.KubeServiceAccount(this.chart, 'db-bootstrap-service-account', {
      metadata: { name: DB_BOOTSTRAP, labels: jobLabels, annotations: this.databaseBootstrapIdentity.serviceAccountAnnotations }, automountServiceAccountToken: false,
    });
    new k8s.KubeJob(this.chart, 'db-bootstrap', {
      metadata: { name: `${DB_BOOTSTRAP}-${hash}`, labels: jobLabels },
      spec: {
        backoffLimit: 6,
        activeDeadlineSeconds: 1800,
        template: {
          metadata: { labels: jobLabels },
          spec: {
            serviceAccountName: DB_BOOTSTRAP,
            automountServiceAccountToken: false,
            restartPolicy: 'Never',
            securityContext: restrictedPodSecurityContext(1000),
            containers: [{
              name: 'bootstrap',
              image,
              imagePullPolicy: 'IfNotPresent',
              command: ['python', script, 'bootstrap'],
              env: [
                ...common.filter((e) => e.name !== 'PGPASSFILE'),
                { name: 'MASTER_SECRET_ARN', valueFrom: { configMapKeyRef: { name: 'mlflow-db', key: 'master-secret-arn' } } },
                { name: 'SQL_FILE', value: `${DB_SCRIPTS_DIR}/bootstrap.sql` },
              ],
              resources: resources({ cpu: '50m', memory: '128Mi', cpuLimit: '500m', memoryLimit: '256Mi' }),
              securityContext: restrictedContainerSecurityContext(),
              volumeMounts: [...mounts, { name: 'db-scripts', mountPath: DB_SCRIPTS_DIR, readOnly: true }],
            }],
            volumes,
          },
        },
      },
    });
    new k8s.KubeNetworkPolicy(this.chart, 'db-bootstrap-network-policy', {
      metadata: { name: DB_BOOTSTRAP, labels: jobLabels },
      spec: {
        podSelector: { matchLabels: jobLabels },
        policyTypes: ['Ingress', 'Egress'],
        ingress: [],
        egress: [
          ...baseEgressRules(),
          { to: [{ ipBlock: { cidr: this.vpcCidr } }], ports: [{ protocol: 'TCP', port: k8s.IntOrString.fromNumber(5432) }] },
          // Secrets Manager and the RDS trust store.
          { ports: [{ protocol: 'TCP', port: k8s.IntOrString.fromNumber(443) }] },
        ],
      },
    });
  }

  private addServer(bucketName: string, server: RegistryServerOptions, production: boolean, governance: RegistryGovernanceOptions, cluster: IEksCluster): void {
    const replicas = server.replicas ?? (production ? 2 : 1);
    checkIntegerRange(this, 'server.replicas', replicas, 1, 20);
    const image = this.serverImage;
    checkPinnedImage(this, 'server.image', image);
    for (const ns of [this.namespace, ...(server.allowedNamespaces ?? [])]) {
      this.allowedNamespaces.add(NameRules.dnsLabel(this, 'server.allowedNamespaces', ns));
    }
    const labels = { 'app.kubernetes.io/name': 'mlflow', 'app.kubernetes.io/instance': this.instanceId, 'app.kubernetes.io/component': 'model-registry' };
    const artifactArgs = this.artifactServing === ArtifactServing.PROXIED
      ? ['--serve-artifacts', `--artifacts-destination=s3://${bucketName}/${MODELS_PREFIX.slice(0, -1)}`]
      : ['--no-serve-artifacts', `--default-artifact-root=s3://${bucketName}/${MODELS_PREFIX.slice(0, -1)}`];
    const probe = (path: string, extra: Partial<k8s.Probe>, port = 'mlflow'): k8s.Probe => ({ httpGet: { path, port: k8s.IntOrString.fromString(port) }, timeoutSeconds: 5, ...extra });
    const db = this.addDatabaseAccess(image);
    const proxyImage = governance.proxyImage ?? imageReference(IMAGES.nginxUnprivileged);
    checkPinnedImage(this, 'governance.proxyImage', proxyImage);
    const promoters = governance.promoterNamespaces ?? [];
    promoters.forEach((ns) => NameRules.dnsLabel(this, 'governance.promoterNamespaces', ns));
    for (const ns of promoters) this.promoterCredentials.push(this.client(this, ns, 'promoter', 'promote', []));
    // Clients added later (addClient) are in: the users are read when the chart is written.
    const users = KubernetesLazy.any({
      produce: () => JSON.stringify(Object.fromEntries([...this.clients].sort(([a], [b]) => a.localeCompare(b))
        .map(([user, c]) => [user, { role: c.access, models: c.models }])), null, 2),
    }) as unknown as string;
    new k8s.KubeConfigMap(this.chart, 'gate-config', {
      metadata: { name: 'mlflow-gate', labels },
      data: { 'nginx.conf': nginxConfig(MLFLOW_PORT), 'gate.py': REGISTRY_GATE_SCRIPT.trimStart(), 'users.json': users },
    });

    new k8s.KubeServiceAccount(this.chart, 'service-account', {
      metadata: { name: 'mlflow', labels, annotations: this.serverIdentity.serviceAccountAnnotations }, automountServiceAccountToken: false,
    });
    new k8s.KubeDeployment(this.chart, 'deployment', {
      metadata: { name: 'mlflow', labels },
      spec: {
        replicas,
        revisionHistoryLimit: 5,
        selector: { matchLabels: labels },
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: k8s.IntOrString.fromNumber(0), maxSurge: k8s.IntOrString.fromNumber(1) } },
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: 'mlflow',
            automountServiceAccountToken: false,
            securityContext: restrictedPodSecurityContext(1000),
            terminationGracePeriodSeconds: 30,
            // The token sidecar starts first; MLflow starts once its startup probe saw a token.
            initContainers: [db.tokenSidecar],
            topologySpreadConstraints: [
              { maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: labels } },
              { maxSkew: 1, topologyKey: 'kubernetes.io/hostname', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: labels } },
            ],
            containers: [{
              name: 'mlflow',
              image,
              imagePullPolicy: 'IfNotPresent',
              command: ['mlflow', 'server'],
              args: [
                // Behind the gate: no NetworkPolicy admits this port, clients use the sidecar's.
                '--host=0.0.0.0', `--port=${MLFLOW_LOCAL_PORT}`,
                // No password: libpq takes the IAM token from the password file (PGPASSFILE) at each new
                // connection, so no secret is ever part of a URI or a command line.
                '--backend-store-uri=postgresql://$(DB_USERNAME)@$(DB_HOST):$(DB_PORT)/$(DB_NAME)',
                ...artifactArgs,
                '--expose-prometheus=/tmp/prometheus',
              ],
              env: [
                ...db.env,
                { name: 'DB_USERNAME', value: REGISTRY_DB_USER },
                { name: 'AWS_REGION', value: PlatformApp.of(this).context.region },
                { name: 'HOME', value: '/tmp' },
              ],
              ports: [{ name: 'mlflow', containerPort: MLFLOW_LOCAL_PORT, protocol: 'TCP' }],
              startupProbe: probe('/health', { periodSeconds: 5, failureThreshold: 60 }),
              readinessProbe: probe('/health', { periodSeconds: 10, failureThreshold: 3 }),
              livenessProbe: probe('/health', { periodSeconds: 20, failureThreshold: 3 }),
              resources: resources({ cpu: '500m', memory: '1Gi', cpuLimit: '2', memoryLimit: '2Gi' }),
              securityContext: restrictedContainerSecurityContext(),
              volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }, ...db.mounts.map((m) => ({ ...m, readOnly: true }))],
            }, {
              name: 'gateway',
              image: proxyImage,
              ports: [{ name: 'http', containerPort: MLFLOW_PORT, protocol: 'TCP' }, { name: 'promotion', containerPort: PROMOTION_PORT, protocol: 'TCP' }],
              readinessProbe: probe('/health', { periodSeconds: 10, failureThreshold: 3 }, 'http'),
              livenessProbe: probe('/health', { periodSeconds: 20, failureThreshold: 6 }, 'http'),
              resources: resources({ cpu: '100m', memory: '64Mi', cpuLimit: '1', memoryLimit: '256Mi' }),
              securityContext: restrictedContainerSecurityContext(),
              volumeMounts: [{ name: 'gate', mountPath: '/etc/nginx/nginx.conf', subPath: 'nginx.conf', readOnly: true }, { name: 'proxy-tmp', mountPath: '/tmp' }],
            }, {
              name: 'registry-gate',
              image,
              command: ['python', '/gate/gate.py'],
              env: [
                { name: 'UPSTREAM', value: `http://127.0.0.1:${MLFLOW_LOCAL_PORT}` }, { name: 'PORT', value: String(GATE_PORT) },
                { name: 'PROTECTED_ALIASES', value: this.protectedAliases.join(',') },
                { name: 'ARTIFACTS', value: this.artifactServing },
                { name: 'LINEAGE_TAG_PREFIX', value: LINEAGE_TAG_PREFIX },
                { name: 'USERS_FILE', value: '/gate/users.json' }, { name: 'CREDENTIALS_DIR', value: '/credentials' },
                { name: 'AUDIT_LOG_GROUP', value: this.auditLogGroupName },
                { name: 'AWS_REGION', value: PlatformApp.of(this).context.region }, { name: 'HOME', value: '/tmp' },
              ],
              ports: [{ name: 'gate', containerPort: GATE_PORT, protocol: 'TCP' }],
              readinessProbe: probe('/healthz', { periodSeconds: 10 }, 'gate'),
              livenessProbe: probe('/healthz', { periodSeconds: 20 }, 'gate'),
              resources: resources({ cpu: '50m', memory: '128Mi', cpuLimit: '500m', memoryLimit: '256Mi' }),
              securityContext: restrictedContainerSecurityContext(),
              volumeMounts: [{ name: 'gate', mountPath: '/gate', readOnly: true }, { name: 'credentials', mountPath: '/credentials', readOnly: true }, { name: 'gate-tmp', mountPath: '/tmp' }],
            }],
            volumes: [
              ...db.volumes,
              { name: 'tmp', emptyDir: { sizeLimit: k8s.Quantity.fromString('1Gi') } },
              { name: 'proxy-tmp', emptyDir: { sizeLimit: k8s.Quantity.fromString('1Gi') } },
              { name: 'gate', configMap: { name: 'mlflow-gate' } },
              { name: 'gate-tmp', emptyDir: { sizeLimit: k8s.Quantity.fromString('64Mi') } },
              {
                name: 'credentials',
                projected: {
                  defaultMode: 0o440,
                  sources: KubernetesLazy.any({
                    produce: () => [...this.clients.keys()].sort().map((user) => ({ secret: { name: `mlflow-user.${user}`, items: [{ key: 'password', path: user }] } })),
                  }) as unknown as k8s.VolumeProjection[],
                },
              },
            ],
          },
        },
      },
    });
    new k8s.KubeService(this.chart, 'service', {
      metadata: { name: 'mlflow', labels },
      spec: { type: 'ClusterIP', selector: labels, ports: [{ name: 'http', port: MLFLOW_PORT, targetPort: k8s.IntOrString.fromString('http'), protocol: 'TCP' }] },
    });
    new k8s.KubeService(this.chart, 'promotion-service', {
      metadata: { name: 'mlflow-promotion', labels },
      spec: { type: 'ClusterIP', selector: labels, ports: [{ name: 'promotion', port: PROMOTION_PORT, targetPort: k8s.IntOrString.fromString('promotion'), protocol: 'TCP' }] },
    });
    if (replicas > 1) {
      new k8s.KubePodDisruptionBudget(this.chart, 'disruption-budget', {
        metadata: { name: 'mlflow', labels }, spec: { minAvailable: k8s.IntOrString.fromNumber(1), selector: { matchLabels: labels } },
      });
    }
    // An ALB with IP targets reaches the pods from inside the VPC.
    const ingressFrom = server.ingress ? [{ ipBlock: { cidr: this.vpcCidr } }] : [];
    new k8s.KubeNetworkPolicy(this.chart, 'network-policy', {
      metadata: { name: 'mlflow', labels },
      spec: {
        podSelector: { matchLabels: labels },
        policyTypes: ['Ingress', 'Egress'],
        // Namespaces added later (allowNamespace) are in: the list is read when the chart is written.
        ingress: [{
          from: KubernetesLazy.any({ produce: () => [...fromNamespaces([...this.allowedNamespaces].sort()), ...ingressFrom] }) as unknown as k8s.NetworkPolicyPeer[],
          ports: [{ protocol: 'TCP', port: k8s.IntOrString.fromNumber(MLFLOW_PORT) }],
        }, ...(promoters.length ? [{
          // Only promoters reach the port that may move protected aliases.
          from: fromNamespaces(promoters),
          ports: [{ protocol: 'TCP', port: k8s.IntOrString.fromNumber(PROMOTION_PORT) }],
        }] : [])],
        egress: [
          ...baseEgressRules(),
          // The database is in the cluster's VPC (private subnets).
          { to: [{ ipBlock: { cidr: this.vpcCidr } }], ports: [{ protocol: 'TCP', port: k8s.IntOrString.fromNumber(5432) }] },
          { ports: [{ protocol: 'TCP', port: k8s.IntOrString.fromNumber(443) }] },
        ],
      },
    });
    if (server.ingress) {
      NameRules.dnsSubdomain(this, 'server.ingress.host', server.ingress.host);
      const className = server.ingress.className ?? 'alb';
      if (className === 'alb') requireLoadBalancerController(this, cluster);
      if (className === 'nginx') Addons.require(this, Addon.ingressNginx());
      new k8s.KubeIngress(this.chart, 'ingress', {
        metadata: {
          name: 'mlflow', labels,
          annotations: className === 'alb' ? {
            'alb.ingress.kubernetes.io/scheme': 'internal',
            'alb.ingress.kubernetes.io/target-type': 'ip',
            'alb.ingress.kubernetes.io/listen-ports': '[{"HTTPS":443}]',
            'alb.ingress.kubernetes.io/ssl-policy': 'ELBSecurityPolicy-TLS13-1-2-2021-06',
            'alb.ingress.kubernetes.io/healthcheck-path': '/health',
          } : undefined,
        },
        spec: {
          ingressClassName: className,
          tls: [{ hosts: [server.ingress.host], ...(server.ingress.tlsSecretName ? { secretName: server.ingress.tlsSecretName } : {}) }],
          rules: [{ host: server.ingress.host, http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'mlflow', port: { number: MLFLOW_PORT } } } }] } }],
        },
      });
    }
    db.addBootstrap();
  }
}

/** A model in the registry. */
export class RegisteredModel {
  constructor(public readonly registry: ModelRegistry, public readonly name: string) {}

  /** The S3 prefix under which this model's experiments keep their artifacts. */
  public get s3Prefix(): string {
    return `s3://${this.registry.bucketName}/${MODELS_PREFIX}${this.name}/`;
  }

  /**
   * One version, by number: what an endpoint serves. Versions are immutable, so the number pins
   * exactly what runs; a new number in code is what starts a release. `source` (the version's
   * artifact prefix in the registry bucket) and `lineage` (what it was built from) are recorded on the
   * pods for review and audit.
   */
  public version(version: string, details: ModelVersionDetails = {}): ModelVersion {
    check(/^[1-9]\d{0,9}$/.test(version), this.registry, 'version', version, `must be a model version number (1, 2, ...) of model '${this.name}'`);
    if (details.source !== undefined) {
      check(details.source.startsWith(this.s3Prefix) && details.source.endsWith('/') && !details.source.includes('..'), this.registry, 'version.source', details.source,
        `must be an S3 prefix under model '${this.name}''s artifacts (${this.s3Prefix}...), ending with '/'`);
    }
    if (details.lineage !== undefined) {
      try {
        lineageTags(details.lineage);
      } catch (e) {
        check(false, this.registry, 'version.lineage', details.lineage, `is not a lineage record of version ${version} of '${this.name}': ${(e as Error).message}`);
      }
    }
    return new ModelVersion(this, version, undefined, details);
  }

  /**
   * The version an alias points to (`champion`, `staging`, ...). An alias moves, so it is for
   * clients that resolve it on purpose (grants, evaluation); an endpoint refuses it and serves a
   * version number.
   */
  public alias(alias: string): ModelVersion {
    check(/^[A-Za-z_][A-Za-z0-9_-]{0,254}$/.test(alias) && alias !== 'latest' && !/^v\d+$/.test(alias), this.registry, 'alias', alias,
      'must be an MLflow alias: letters, digits, \'_\' and \'-\', not \'latest\' and not of the reserved form v<number>');
    return new ModelVersion(this, undefined, alias);
  }
}

/** What is known of a model version besides its number. */
export interface ModelVersionDetails {
  /**
   * The version's artifact prefix in the registry bucket (the `source` MLflow records), e.g.
   * `s3://<bucket>/models/fraud-detector/3f2a.../artifacts/model/`.
   * @default - not recorded
   */
  readonly source?: string;
  /** What the version was built from (its `mlops.lineage.*` tags). @default - not recorded */
  readonly lineage?: Lineage;
}

/** The MLflow image the registry runs, and that downloads models for serving. */
export const MLFLOW_IMAGE = imageReference(IMAGES.mlflow);

/** A model version, by number or alias: what serving loads. */
export class ModelVersion {
  constructor(
    public readonly model: RegisteredModel,
    public readonly version: string | undefined,
    public readonly alias: string | undefined,
    /** Where the version's artifacts are and what produced it (its source and lineage), when declared. */
    public readonly details: ModelVersionDetails = {},
  ) {}

  public get registry(): ModelRegistry {
    return this.model.registry;
  }

  /** The MLflow model URI: `models:/<name>/<version>` or `models:/<name>@<alias>`. */
  public get uri(): string {
    return this.version !== undefined ? `models:/${this.model.name}/${this.version}` : `models:/${this.model.name}@${this.alias}`;
  }

  /** Whether this names an exact, immutable version (not an alias that moves). */
  public get pinned(): boolean {
    return this.version !== undefined;
  }

  /**
   * What pods record about the version, as annotations: the URI, the artifact source and the
   * lineage (`mlops.io/lineage.<field>`).
   */
  public get annotations(): Record<string, string> {
    const out: Record<string, string> = { 'mlops.io/model-uri': this.uri };
    if (this.details.source) out['mlops.io/model-source'] = this.details.source;
    for (const [tag, value] of Object.entries(this.details.lineage ? lineageTags(this.details.lineage) : {})) {
      out[`mlops.io/lineage.${tag.replace(/^mlops\.lineage\./, '').replace(/_/g, '-')}`] = value;
    }
    return out;
  }

  /** The version or alias, as a label value. */
  public get label(): string {
    return this.version ?? this.alias!;
  }

  /** Grants a workload read access to this model's artifacts only. */
  public grantRead(grantee: IGrantable & Construct): IamRolePolicy {
    return this.registry.grantRead(grantee, { model: this.model.name });
  }
}
