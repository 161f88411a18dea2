import { DbInstance, DbParameterGroup, DbSubnetGroup, IamRolePolicy, SecurityGroup, VpcSecurityGroupIngressRule } from '../providers/aws';
import { Construct, Token } from '../engine';
import { check, checkIntegerRange } from './errors';
import { PlatformApp } from './app';
import { grant, IEksCluster, IGrantable } from './identity';
import { PlatformKey } from './key';

const SMALL = ['micro', 'small', 'medium', 'large', 'xlarge', '2xlarge'];
const upTo = (largest: string) => {
  const all = ['large', 'xlarge', '2xlarge', '4xlarge', '8xlarge', '12xlarge', '16xlarge', '24xlarge', '32xlarge', '48xlarge'];
  return all.slice(0, all.indexOf(largest) + 1);
};
/** RDS for PostgreSQL instance classes, by family. */
const POSTGRES_CLASSES: Record<string, string[]> = {
  t3: SMALL, t4g: SMALL,
  m5: upTo('24xlarge'), m5d: upTo('24xlarge'), m6g: upTo('16xlarge'), m6gd: upTo('16xlarge'), m6i: upTo('32xlarge'), m6id: upTo('32xlarge'),
  m7g: upTo('16xlarge'), m7i: upTo('48xlarge'), m8g: upTo('48xlarge'),
  r5: upTo('24xlarge'), r5b: upTo('24xlarge'), r5d: upTo('24xlarge'), r6g: upTo('16xlarge'), r6gd: upTo('16xlarge'), r6i: upTo('32xlarge'), r6id: upTo('32xlarge'),
  r7g: upTo('16xlarge'), r7i: upTo('48xlarge'), r8g: upTo('48xlarge'), x2g: upTo('16xlarge'),
};

/** Whether RDS offers `instanceClass` for PostgreSQL. */
export function isPostgresInstanceClass(instanceClass: string): boolean {
  const m = /^db\.([a-z0-9]+)\.([a-z0-9]+)$/.exec(instanceClass);
  return !!m && (POSTGRES_CLASSES[m[1]] ?? []).includes(m[2]);
}

/** The tunable settings of a PostgresDatabase (what constructs that own one pass through). */
export interface PostgresDatabaseOptions {
  /**
   * The instance class.
   * @default 'db.t4g.medium'
   */
  readonly instanceClass?: string;
  /**
   * Standby in a second availability zone.
   * @default - true in a production environment, false elsewhere
   */
  readonly multiAz?: boolean;
  /**
   * Why a production database runs in one zone; required to turn Multi-AZ off in production.
   * @default - none
   */
  readonly singleAzReason?: string;
  /**
   * Days of automated backups (point-in-time recovery).
   * @default 7
   */
  readonly backupRetentionDays?: number;
  /**
   * Allocated storage in GiB; storage autoscales up to ten times this.
   * @default 20
   */
  readonly allocatedStorageGiB?: number;
  /**
   * The PostgreSQL major version; minor versions are upgraded in the maintenance window.
   * @default '17'
   */
  readonly engineVersion?: string;
}

/** Props of a PostgresDatabase. */
export interface PostgresDatabaseProps extends PostgresDatabaseOptions {
  /** The DB instance identifier. */
  readonly identifier: string;
  /** The initial database's name. */
  readonly databaseName: string;
  /** The cluster whose workloads connect: its private subnets hold the database, its security group alone is admitted. */
  readonly cluster: IEksCluster;
  /** The key that encrypts storage, Performance Insights and the master password secret. */
  readonly key: PlatformKey;
}

/**
 * RDS for PostgreSQL as a platform keeps its metadata: private subnets, encrypted with a customer
 * key, TLS required, automated backups, deletion protection, a final snapshot, Performance Insights,
 * the master password generated and held by Secrets Manager, and a security group that admits only
 * the cluster's workloads.
 */
export class PostgresDatabase extends Construct {
  public readonly instance: DbInstance;
  public readonly securityGroup: SecurityGroup;
  public readonly databaseName: string;
  /** The ARN of the Secrets Manager secret that holds the master user's credentials (JSON: username, password). */
  public readonly masterUserSecretArn: string;
  /** The instance's resource id (`db-...`), which IAM database authentication policies name. */
  public readonly resourceId: string;
  /** The key that encrypts the master user's secret. */
  private readonly key: PlatformKey;

  constructor(scope: Construct, id: string, props: PostgresDatabaseProps) {
    super(scope, id);
    const context = PlatformApp.of(this).context;
    const instanceClass = props.instanceClass ?? 'db.t4g.medium';
    check(isPostgresInstanceClass(instanceClass), scope, 'database.instanceClass', instanceClass,
      'is not an RDS instance class offered for PostgreSQL; use e.g. db.t4g.medium, db.m7g.large or db.r7g.xlarge');
    const backupDays = props.backupRetentionDays ?? 7;
    checkIntegerRange(scope, 'database.backupRetentionDays', backupDays, 1, 35);
    const storage = props.allocatedStorageGiB ?? 20;
    checkIntegerRange(scope, 'database.allocatedStorageGiB', storage, 20, 6553);
    const engineVersion = props.engineVersion ?? '17';
    check(/^1[3-7]$/.test(engineVersion), scope, 'database.engineVersion', engineVersion, 'must be a supported PostgreSQL major version from 13 to 17');
    const multiAz = props.multiAz ?? context.environment.isProduction;
    if (context.environment.isProduction && !multiAz) {
      check(!!props.singleAzReason?.trim(), scope, 'database.multiAz', multiAz,
        `turns off the standby in the production environment '${context.environment.name}'; set database.singleAzReason to say why, or leave Multi-AZ on`);
    }
    if (!Token.isUnresolved(props.cluster.privateSubnetIds)) {
      check(props.cluster.privateSubnetIds.length >= 2, scope, 'cluster.privateSubnetIds', props.cluster.privateSubnetIds,
        'must name subnets in at least two availability zones (RDS needs them for a subnet group)');
    }
    this.databaseName = props.databaseName;

    const subnetGroup = new DbSubnetGroup(this, 'subnets', {
      name: props.identifier, description: `Private subnets of ${props.identifier}`, subnetIds: props.cluster.privateSubnetIds,
    });
    this.securityGroup = new SecurityGroup(this, 'security-group', {
      name: `${props.identifier}-db`, description: `PostgreSQL ${props.identifier}: admits only the cluster's workloads`,
      vpcId: props.cluster.vpcId, egress: [], revokeRulesOnDelete: true,
    });
    new VpcSecurityGroupIngressRule(this, 'from-cluster', {
      securityGroupId: this.securityGroup.id, description: 'PostgreSQL from the cluster workloads',
      referencedSecurityGroupId: props.cluster.workloadSecurityGroupId, ipProtocol: 'tcp', fromPort: 5432, toPort: 5432,
    });
    const parameters = new DbParameterGroup(this, 'parameters', {
      name: `${props.identifier}-pg${engineVersion}`, family: `postgres${engineVersion}`, description: `TLS-only parameters of ${props.identifier}`,
      parameter: [{ name: 'rds.force_ssl', value: '1' }, { name: 'log_min_duration_statement', value: '1000' }],
      lifecycle: { createBeforeDestroy: true },
    });
    this.instance = new DbInstance(this, 'instance', {
      identifier: props.identifier,
      engine: 'postgres',
      engineVersion,
      autoMinorVersionUpgrade: true,
      instanceClass,
      dbName: props.databaseName,
      username: 'registry_admin',
      manageMasterUserPassword: true,
      masterUserSecretKmsKeyId: props.key.keyArn,
      allocatedStorage: storage,
      maxAllocatedStorage: storage * 10,
      storageType: 'gp3',
      storageEncrypted: true,
      kmsKeyId: props.key.keyArn,
      multiAz,
      // A production database without a standby says so where reviews and the environments' safeguard check see it.
      ...(context.environment.isProduction && !multiAz ? { tags: { 'mlops.io/single-az': 'declared' } } : {}),
      dbSubnetGroupName: subnetGroup.name,
      vpcSecurityGroupIds: [this.securityGroup.id],
      parameterGroupName: parameters.name,
      publiclyAccessible: false,
      iamDatabaseAuthenticationEnabled: true,
      caCertIdentifier: 'rds-ca-rsa2048-g1',
      backupRetentionPeriod: backupDays,
      copyTagsToSnapshot: true,
      deleteAutomatedBackups: false,
      deletionProtection: !PlatformApp.of(this).context.environment.destroyable,
      skipFinalSnapshot: PlatformApp.of(this).context.environment.destroyable,
      finalSnapshotIdentifier: `${props.identifier}-final`,
      performanceInsightsEnabled: true,
      performanceInsightsKmsKeyId: props.key.keyArn,
      performanceInsightsRetentionPeriod: 7,
      enabledCloudwatchLogsExports: ['postgresql', 'upgrade'],
      lifecycle: { preventDestroy: !PlatformApp.of(this).context.environment.destroyable },
    });
    this.masterUserSecretArn = this.instance.masterUserSecret.get(0).secretArn;
    this.resourceId = this.instance.resourceId;
    this.key = props.key;
  }

  /**
   * The ARN IAM database authentication checks for a database user:
   * `arn:aws:rds-db:<region>:<account>:dbuser:<resource id>/<user>` (Service Authorization Reference,
   * Amazon RDS IAM Authentication, resource type `db-user`).
   */
  public dbUserArn(user: string): string {
    check(POSTGRES_ROLE.test(user), this, 'user', user, 'must be a lower-case PostgreSQL role name: a letter or \'_\', then letters, digits and \'_\', at most 63');
    const { region, accountId } = PlatformApp.of(this).context;
    return `arn:aws:rds-db:${region}:${accountId}:dbuser:${this.resourceId}/${user}`;
  }

  /**
   * Lets a workload connect as one database user with an IAM authentication token
   * (`rds-db:connect` on exactly that user of this instance). The user must be a role granted
   * `rds_iam`. Returns the policy.
   */
  public grantConnect(grantee: IGrantable & Construct, user: string, policyName: string): IamRolePolicy {
    return grant(grantee, policyName, [{ sid: 'ConnectWithIamToken', actions: ['rds-db:connect'], resources: [this.dbUserArn(user)] }]);
  }

  /**
   * Lets a workload read the master user's credentials from Secrets Manager, when it runs, and
   * nothing else: `secretsmanager:GetSecretValue` on that one secret and `kms:Decrypt` of its key only
   * through Secrets Manager. For a bootstrap that creates the roles applications connect as; no
   * application should hold it. Returns the policy.
   */
  public grantReadMasterSecret(grantee: IGrantable & Construct, policyName: string): IamRolePolicy {
    const { region } = PlatformApp.of(this).context;
    return grant(grantee, policyName, [
      { sid: 'ReadMasterUserSecret', actions: ['secretsmanager:GetSecretValue'], resources: [this.masterUserSecretArn] },
      {
        sid: 'DecryptMasterUserSecret', actions: ['kms:Decrypt'], resources: [this.key.keyArn],
        // Secrets Manager decrypts with the secret's ARN as encryption context (its docs: security-encryption).
        conditions: { StringEquals: { 'kms:ViaService': `secretsmanager.${region}.amazonaws.com`, 'kms:EncryptionContext:SecretARN': this.masterUserSecretArn } },
      },
    ]);
  }
}

/** A PostgreSQL role name the library writes unquoted: lower case, so that SQL and IAM name the same role. */
export const POSTGRES_ROLE = /^[a-z_][a-z0-9_]{0,62}$/;
