import { KmsAlias, KmsKey } from '../providers/aws';
import { Construct } from '../engine';
import { PlatformApp } from './app';

/**
 * What the account root may do with a key. Listed one by one (no `kms:*`), and including
 * `kms:PutKeyPolicy`, so that the account can always repair the key policy.
 */
const ACCOUNT_KEY_ACTIONS = [
  'kms:CancelKeyDeletion', 'kms:CreateAlias', 'kms:CreateGrant', 'kms:Decrypt', 'kms:DeleteAlias', 'kms:DescribeKey',
  'kms:DisableKey', 'kms:DisableKeyRotation', 'kms:EnableKey', 'kms:EnableKeyRotation', 'kms:Encrypt',
  'kms:GenerateDataKey', 'kms:GenerateDataKeyWithoutPlaintext', 'kms:GetKeyPolicy', 'kms:GetKeyRotationStatus',
  'kms:ListAliases', 'kms:ListGrants', 'kms:ListKeyPolicies', 'kms:ListResourceTags', 'kms:PutKeyPolicy',
  'kms:ReEncryptFrom', 'kms:ReEncryptTo', 'kms:RetireGrant', 'kms:RevokeGrant', 'kms:RotateKeyOnDemand',
  'kms:ScheduleKeyDeletion', 'kms:TagResource', 'kms:UntagResource', 'kms:UpdateAlias', 'kms:UpdateKeyDescription',
];

/** A key-policy statement for an AWS service. */
export interface KeyServiceStatement {
  readonly sid: string;
  readonly service: string;
  readonly actions: string[];
  readonly conditions?: Record<string, Record<string, string | string[]>>;
}

/**
 * A key-policy statement for IAM roles of this account matched by ARN pattern, for roles whose exact
 * ARN is not known before the key (service-linked roles named after the resource they serve). The
 * principal is `*`, narrowed by `aws:PrincipalArn` and `kms:CallerAccount`.
 */
export interface KeyRoleStatement {
  /** The statement id. */
  readonly sid: string;
  /** The role ARNs allowed (`StringLike`, may end in `*`). */
  readonly principalArnLike: string;
  /** The KMS actions allowed, named (no wildcard). */
  readonly actions: string[];
  /**
   * More conditions, beside the principal ARN and the caller account.
   * @default - none
   */
  readonly conditions?: Record<string, Record<string, string | string[]>>;
}

/** Props of a PlatformKey. */
export interface PlatformKeyProps {
  /** What the key protects. */
  readonly description: string;
  /** The alias, without `alias/`. */
  readonly alias: string;
  /**
   * Statements for AWS services that encrypt with the key on the account's behalf.
   * @default - none
   */
  readonly serviceStatements?: KeyServiceStatement[];
  /**
   * Statements for roles of this account known only by an ARN pattern.
   * @default - none
   */
  readonly roleStatements?: KeyRoleStatement[];
}

/**
 * A customer-managed KMS key: yearly rotation, a 30-day deletion window, `prevent_destroy`, and a
 * key policy that delegates use to IAM in this account and names each action.
 */
export class PlatformKey extends Construct {
  public readonly key: KmsKey;
  public readonly alias: KmsAlias;

  constructor(scope: Construct, id: string, props: PlatformKeyProps) {
    super(scope, id);
    const { accountId } = PlatformApp.of(this).context;
    this.key = new KmsKey(this, 'key', {
      description: props.description,
      enableKeyRotation: true,
      deletionWindowInDays: 30,
      lifecycle: { preventDestroy: !PlatformApp.of(this).context.environment.destroyable },
      policy: JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          { Sid: 'AccountAdministrationAndIamDelegation', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${accountId}:root` }, Action: ACCOUNT_KEY_ACTIONS, Resource: '*' },
          ...(props.serviceStatements ?? []).map((s) => ({
            Sid: s.sid, Effect: 'Allow', Principal: { Service: s.service }, Action: s.actions, Resource: '*',
            ...(s.conditions ? { Condition: s.conditions } : {}),
          })),
          ...(props.roleStatements ?? []).map((s) => ({
            Sid: s.sid, Effect: 'Allow', Principal: { AWS: '*' }, Action: s.actions, Resource: '*',
            Condition: {
              ...s.conditions,
              StringLike: { ...s.conditions?.StringLike, 'aws:PrincipalArn': s.principalArnLike },
              StringEquals: { ...s.conditions?.StringEquals, 'kms:CallerAccount': accountId },
            },
          })),
        ],
      }),
    });
    this.alias = new KmsAlias(this, 'alias', { name: `alias/${props.alias}`, targetKeyId: this.key.keyId });
  }

  public get keyArn(): string {
    return this.key.arn;
  }
}
