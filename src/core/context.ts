import type { IConstruct } from '../engine';
import { check } from './errors';
import { NameRules } from './names';

/** The deployment environment of a platform; production turns on the stricter checks. */
export class Environment {
  /** A production environment: high availability is expected and turning it off must be explicit. */
  public static production(name = 'prod'): Environment {
    return new Environment(name, true);
  }

  /** A staging environment. */
  public static staging(name = 'staging', options: NonProductionOptions = {}): Environment {
    return new Environment(name, false, options.destroyable?.reason);
  }

  /** A development environment. */
  public static development(name = 'dev', options: NonProductionOptions = {}): Environment {
    return new Environment(name, false, options.destroyable?.reason);
  }

  private constructor(
    /** The environment's short name, used in resource names, tags and labels. */
    public readonly name: string,
    /** Whether this is a production environment. */
    public readonly isProduction: boolean,
    /** Why this environment's stateful resources may be destroyed (set only by an explicit opt-in, never in production). */
    public readonly destroyableReason?: string,
  ) {}

  /**
   * Whether `terraform destroy` may remove the stateful resources (buckets and their objects, databases,
   * file systems, keys, repositories, tables): only a non-production environment that opted in.
   */
  public get destroyable(): boolean {
    return !this.isProduction && this.destroyableReason !== undefined;
  }
}

/** Options of a non-production environment. */
export interface NonProductionOptions {
  /**
   * Let `terraform destroy` remove this environment's stateful resources: no `prevent_destroy`, no
   * deletion protection, buckets and repositories emptied on destroy, no final database snapshot. For
   * ephemeral environments (a pull request's, a load test's); say why. Production never offers it.
   * @default - stateful resources are protected as in production
   */
  readonly destroyable?: { readonly reason: string };
}

/** What every construct of a platform shares: who owns it, where it runs and how its cost is attributed. */
export interface PlatformContextProps {
  /** The platform's short name, a DNS label; it prefixes resource names. */
  readonly name: string;
  /** The environment. */
  readonly environment: Environment;
  /** The AWS region, e.g. `eu-west-1`. */
  readonly region: string;
  /**
   * The 12-digit AWS account id. It is given rather than looked up, so that a plan needs no
   * `aws_caller_identity` call and the provider refuses to touch any other account.
   */
  readonly accountId: string;
  /** The team that owns the platform; every resource without a more specific team carries it. */
  readonly team: string;
  /**
   * Further cost-allocation tags put on every taggable AWS resource and, as labels, on every
   * Kubernetes object. Keys and values must be valid Kubernetes label keys and values.
   * @default - only the platform, environment and team tags
   */
  readonly costTags?: Record<string, string>;
}

/** The prefix of the cost-attribution tag and label keys this library writes. */
export const TAG_PREFIX = 'mlops.io';

/**
 * The regions of the commercial `aws` partition (the AWS SDKs' partitions.json,
 * aws/aws-sdk-js-v3 packages/util-endpoints/src/lib/aws/partitions.json, plus ap-east-2 and
 * ap-southeast-6, opened in 2025). A name outside the list is refused rather than planned against an
 * endpoint that does not exist. The China and GovCloud partitions are not in it: the library writes
 * ARNs of the `aws` partition.
 */
export const AWS_REGIONS: readonly string[] = [
  'af-south-1', 'ap-east-1', 'ap-east-2', 'ap-northeast-1', 'ap-northeast-2', 'ap-northeast-3', 'ap-south-1', 'ap-south-2',
  'ap-southeast-1', 'ap-southeast-2', 'ap-southeast-3', 'ap-southeast-4', 'ap-southeast-5', 'ap-southeast-6', 'ap-southeast-7',
  'ca-central-1', 'ca-west-1', 'eu-central-1', 'eu-central-2', 'eu-north-1', 'eu-south-1', 'eu-south-2', 'eu-west-1', 'eu-west-2',
  'eu-west-3', 'il-central-1', 'me-central-1', 'me-south-1', 'mx-central-1', 'sa-east-1', 'us-east-1', 'us-east-2', 'us-west-1',
  'us-west-2',
];

/** A validated platform context. */
export class PlatformContext {
  public readonly name: string;
  public readonly environment: Environment;
  public readonly region: string;
  public readonly accountId: string;
  public readonly team: string;
  public readonly costTags: Readonly<Record<string, string>>;

  constructor(scope: IConstruct, props: PlatformContextProps) {
    this.name = NameRules.dnsLabel(scope, 'context.name', props.name);
    check(props.name.length <= 20, scope, 'context.name', props.name, 'must be at most 20 characters, since it prefixes bucket and role names');
    this.environment = props.environment;
    NameRules.dnsLabel(scope, 'context.environment.name', props.environment.name);
    check(props.environment.destroyableReason === undefined || (!props.environment.isProduction && props.environment.destroyableReason.trim().length >= 10),
      scope, 'context.environment.destroyable.reason', props.environment.destroyableReason,
      props.environment.isProduction ? 'cannot be set for production: its stateful resources are always protected' : 'must say why this environment may lose its data (at least 10 characters)');
    check(props.environment.name.length <= 12, scope, 'context.environment.name', props.environment.name, 'must be at most 12 characters');
    check(AWS_REGIONS.includes(props.region), scope, 'context.region', props.region,
      `is not a region of the AWS partition this library writes ARNs for; use one of ${AWS_REGIONS.join(', ')}`);
    this.region = props.region;
    check(/^\d{12}$/.test(props.accountId), scope, 'context.accountId', props.accountId, 'must be a 12-digit AWS account id');
    this.accountId = props.accountId;
    this.team = NameRules.dnsLabel(scope, 'context.team', props.team);
    for (const [key, value] of Object.entries(props.costTags ?? {})) {
      check(/^([a-z0-9.-]+\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/.test(key), scope, 'context.costTags', key,
        'keys must be valid Kubernetes label keys (an optional DNS prefix and \'/\', then at most 63 alphanumerics, \'-\', \'_\' or \'.\')');
      NameRules.labelValue(scope, `context.costTags.${key}`, value);
    }
    this.costTags = { ...(props.costTags ?? {}) };
  }

  /** The tags every resource of the platform carries. */
  public get baseTags(): Record<string, string> {
    return {
      [`${TAG_PREFIX}/platform`]: this.name,
      [`${TAG_PREFIX}/environment`]: this.environment.name,
      [`${TAG_PREFIX}/team`]: this.team,
      ...this.costTags,
    };
  }

  /** A physical name `<platform>-<environment>-<parts...>`, e.g. `acme-prod-registry-artifacts`. */
  public physicalName(...parts: string[]): string {
    return [this.name, this.environment.name, ...parts].join('-');
  }
}
