import { KmsKey, S3Bucket, S3BucketLifecycleConfiguration, S3BucketLoggingA, S3BucketObjectLockConfigurationA, S3BucketOwnershipControls, S3BucketPolicy, S3BucketPublicAccessBlock, S3BucketServerSideEncryptionConfigurationA, S3BucketVersioningA } from '../providers/aws';
import type { S3BucketLifecycleConfigurationRule } from '../providers/aws';
import { Construct } from '../engine';
import { check, checkIntegerRange } from './errors';
import { NameRules } from './names';
import { PlatformApp } from './app';

/** How objects are encrypted at rest. */
export abstract class BucketEncryption {
  /** SSE-KMS with a customer-managed key and S3 bucket keys (fewer KMS calls). */
  public static kms(key: KmsKey): BucketEncryption {
    return new (class extends BucketEncryption {
      public readonly key = key;
      public readonly algorithm = 'aws:kms';
    })();
  }

  /**
   * SSE-S3 (AES-256 with S3-managed keys). Only for buckets that AWS services write to and that
   * cannot use KMS, such as the target of server access logs.
   */
  public static s3Managed(): BucketEncryption {
    return new (class extends BucketEncryption {
      public readonly key = undefined;
      public readonly algorithm = 'AES256';
    })();
  }

  public abstract readonly key?: KmsKey;
  public abstract readonly algorithm: 'aws:kms' | 'AES256';
}

/** S3 Object Lock: write-once-read-many retention for regulated teams. */
export class ObjectLock {
  /** Governance mode: users with `s3:BypassGovernanceRetention` can still delete early. */
  public static governance(days: number): ObjectLock {
    return new ObjectLock('GOVERNANCE', days);
  }

  /** Compliance mode: nobody, not even the root user, can delete a version before `days` pass. */
  public static compliance(days: number): ObjectLock {
    return new ObjectLock('COMPLIANCE', days);
  }

  private constructor(public readonly mode: 'GOVERNANCE' | 'COMPLIANCE', public readonly days: number) {}
}

/** A bucket-policy statement of a service or principal, beside the TLS and encryption guards. */
export interface BucketPolicyStatement {
  readonly sid: string;
  readonly principal: Record<string, string | string[]>;
  readonly actions: string[];
  /** Resources; `bucket` stands for the bucket ARN and `objects` for all objects in it. */
  readonly resources: Array<'bucket' | 'objects' | string>;
  readonly conditions?: Record<string, Record<string, string | string[]>>;
}

/** Props of a SecureBucket. */
export interface SecureBucketProps {
  /** The bucket name (checked against the S3 naming rules). */
  readonly bucketName: string;
  /** Encryption at rest. */
  readonly encryption: BucketEncryption;
  /**
   * Keep every version of every object.
   * @default true
   */
  readonly versioned?: boolean;
  /**
   * Object Lock retention. Needs versioning, and can only be turned on when the bucket is created.
   * @default - no Object Lock
   */
  readonly objectLock?: ObjectLock;
  /**
   * Days after which noncurrent versions expire.
   * @default - noncurrent versions are kept
   */
  readonly noncurrentVersionExpirationDays?: number;
  /**
   * Days after which current objects expire (for log buckets).
   * @default - objects never expire
   */
  readonly expirationDays?: number;
  /**
   * Write server access logs to this bucket, under `<bucket name>/`.
   * @default - no access logs
   */
  readonly accessLogsBucket?: SecureBucket;
  /**
   * Further bucket-policy statements (service principals that write to the bucket).
   * @default - only the TLS and encryption guards
   */
  readonly policyStatements?: BucketPolicyStatement[];
  /** The prop name that holds `bucketName` in the construct that creates this bucket, for errors. */
  readonly bucketNameProp?: string;
}

/**
 * An S3 bucket with the settings nothing in a platform should go without: versioning, encryption at
 * rest, every public access blocked, ACLs off (bucket owner enforced), a policy that denies requests
 * without TLS and uploads that ask for another encryption, incomplete multipart uploads cleaned up,
 * and `prevent_destroy`, so that a renamed construct or a careless `destroy` cannot delete the data.
 */
export class SecureBucket extends Construct {
  public readonly bucket: S3Bucket;
  public readonly encryption: BucketEncryption;
  public readonly policy: S3BucketPolicy;

  constructor(scope: Construct, id: string, props: SecureBucketProps) {
    super(scope, id);
    const nameProp = props.bucketNameProp ?? 'bucketName';
    NameRules.bucketName(scope, nameProp, props.bucketName);
    const versioned = props.versioned ?? true;
    if (props.objectLock) {
      check(versioned, scope, 'objectLock', props.objectLock.mode, 'needs a versioned bucket; remove versioned: false or the Object Lock');
      checkIntegerRange(scope, 'objectLock.days', props.objectLock.days, 1, 36500);
    }
    checkIntegerRange(scope, 'noncurrentVersionExpirationDays', props.noncurrentVersionExpirationDays, 1, 36500);
    checkIntegerRange(scope, 'expirationDays', props.expirationDays, 1, 36500);
    if (props.objectLock && props.noncurrentVersionExpirationDays !== undefined) {
      check(props.noncurrentVersionExpirationDays >= props.objectLock.days, scope, 'noncurrentVersionExpirationDays', props.noncurrentVersionExpirationDays,
        `must be at least the Object Lock retention (${props.objectLock.days} days): locked versions cannot expire earlier`);
    }
    this.encryption = props.encryption;

    this.bucket = new S3Bucket(this, 'bucket', {
      bucket: props.bucketName,
      objectLockEnabled: props.objectLock ? true : undefined,
      forceDestroy: PlatformApp.of(this).context.environment.destroyable,
      lifecycle: { preventDestroy: !PlatformApp.of(this).context.environment.destroyable },
    });
    const bucket = this.bucket.id;
    new S3BucketOwnershipControls(this, 'ownership', { bucket, rule: { objectOwnership: 'BucketOwnerEnforced' } });
    new S3BucketPublicAccessBlock(this, 'public-access-block', {
      bucket, blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: true,
    });
    const versioning = new S3BucketVersioningA(this, 'versioning', {
      bucket, versioningConfiguration: { status: versioned ? 'Enabled' : 'Suspended' },
    });
    new S3BucketServerSideEncryptionConfigurationA(this, 'encryption', {
      bucket,
      rule: [{
        applyServerSideEncryptionByDefault: { sseAlgorithm: props.encryption.algorithm, kmsMasterKeyId: props.encryption.key?.arn },
        bucketKeyEnabled: props.encryption.key ? true : undefined,
      }],
    });
    if (props.objectLock) {
      new S3BucketObjectLockConfigurationA(this, 'object-lock', {
        bucket,
        rule: { defaultRetention: { mode: props.objectLock.mode, days: props.objectLock.days } },
        dependsOn: [versioning],
      });
    }
    const rules: S3BucketLifecycleConfigurationRule[] = [{
      id: 'abort-incomplete-multipart-uploads', status: 'Enabled', filter: [{}],
      abortIncompleteMultipartUpload: [{ daysAfterInitiation: 7 }],
    }];
    if (props.noncurrentVersionExpirationDays !== undefined) {
      rules.push({ id: 'expire-noncurrent-versions', status: 'Enabled', filter: [{}], noncurrentVersionExpiration: [{ noncurrentDays: props.noncurrentVersionExpirationDays }] });
    }
    if (props.expirationDays !== undefined) {
      rules.push({ id: 'expire-objects', status: 'Enabled', filter: [{}], expiration: [{ days: props.expirationDays }] });
    }
    new S3BucketLifecycleConfiguration(this, 'lifecycle', { bucket, rule: rules, dependsOn: [versioning] });
    if (props.accessLogsBucket) {
      new S3BucketLoggingA(this, 'access-logs', { bucket, targetBucket: props.accessLogsBucket.bucket.id, targetPrefix: `${props.bucketName}/` });
    }

    const arn = this.bucket.arn;
    const objects = `${arn}/*`;
    const resolve = (r: string) => (r === 'bucket' ? arn : r === 'objects' ? objects : r);
    const statements: object[] = [
      {
        Sid: 'DenyInsecureTransport', Effect: 'Deny', Principal: '*', Action: 's3:*', Resource: [arn, objects],
        Condition: { Bool: { 'aws:SecureTransport': 'false' } },
      },
      {
        // Uploads without the header get the default encryption; uploads that ask for another one are refused.
        Sid: 'DenyOtherEncryption', Effect: 'Deny', Principal: '*', Action: 's3:PutObject', Resource: objects,
        Condition: { StringNotEquals: { 's3:x-amz-server-side-encryption': props.encryption.algorithm }, Null: { 's3:x-amz-server-side-encryption': 'false' } },
      },
    ];
    if (props.encryption.key) {
      statements.push({
        Sid: 'DenyOtherKmsKey', Effect: 'Deny', Principal: '*', Action: 's3:PutObject', Resource: objects,
        Condition: { StringNotEquals: { 's3:x-amz-server-side-encryption-aws-kms-key-id': props.encryption.key.arn }, Null: { 's3:x-amz-server-side-encryption-aws-kms-key-id': 'false' } },
      });
    }
    for (const s of props.policyStatements ?? []) {
      statements.push({
        Sid: s.sid, Effect: 'Allow', Principal: s.principal, Action: s.actions, Resource: s.resources.map(resolve),
        ...(s.conditions ? { Condition: s.conditions } : {}),
      });
    }
    this.policy = new S3BucketPolicy(this, 'policy', { bucket, policy: JSON.stringify({ Version: '2012-10-17', Statement: statements }) });
  }

  /** The bucket's name. */
  public get bucketName(): string {
    return this.bucket.bucket;
  }

  /** The bucket's ARN. */
  public get bucketArn(): string {
    return this.bucket.arn;
  }
}
