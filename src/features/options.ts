import { createHash } from 'crypto';

/** The value types Feast's `Field` accepts for a feature (feast.types). */
export type FeatureType = 'Float32' | 'Float64' | 'Int32' | 'Int64' | 'String' | 'Bool' | 'UnixTimestamp';

/** The value types of an entity's join key (feast.ValueType). */
export type EntityKeyType = 'STRING' | 'INT64';

/** One feature of a view. */
export interface FeatureField {
  /** The column name in the source data and the feature's name. */
  readonly name: string;
  /** Its Feast value type (`Float32`, `Int64`, `String`, ...). */
  readonly type: FeatureType;
}

/** Props of a FeatureView. */
export interface FeatureViewProps {
  /** The view's name (snake_case); it also names its online table. */
  readonly name: string;
  /** The entity the features describe, e.g. `{ name: 'merchant', joinKey: 'merchant_id' }`. */
  readonly entity: { readonly name: string; readonly joinKey: string; /** @default 'STRING' */ readonly keyType?: EntityKeyType };
  /** The features. */
  readonly features: FeatureField[];
  /** The Parquet data under the offline bucket's `data/` prefix, e.g. `merchant_stats/` or `merchant_stats.parquet`. */
  readonly source: string;
  /** The event timestamp column of the source. @default 'event_timestamp' */
  readonly timestampField?: string;
  /** How long a value stays valid for online reads and point-in-time joins, in seconds. @default 86400 */
  readonly ttlSeconds?: number;
}

/**
 * A Feast feature view: the one definition of a group of features that training (point-in-time
 * joins from the offline store) and serving (the online store) both read, so that they compute the
 * same thing (no training-serving skew).
 */
export class FeatureView {
  /** A feature view from its props (name, entity, source, ttl, features); checked when a FeatureStore takes it. */
  public static of(props: FeatureViewProps): FeatureView {
    return new FeatureView(props);
  }

  private constructor(
    /** The view as declared. */
    public readonly props: FeatureViewProps,
  ) {}

  /** The view's name, also the online table's suffix (`<project>.<view>`). */
  public get name(): string {
    return this.props.name;
  }

  /** The canonical, order-independent description of the view (what the feature set version hashes). */
  public canonical(): Record<string, unknown> {
    const p = this.props;
    return {
      name: p.name,
      entity: { name: p.entity.name, joinKey: p.entity.joinKey, keyType: p.entity.keyType ?? 'STRING' },
      features: [...p.features].sort((a, b) => a.name.localeCompare(b.name)).map((f) => ({ name: f.name, type: f.type })),
      source: p.source,
      timestampField: p.timestampField ?? 'event_timestamp',
      ttlSeconds: p.ttlSeconds ?? 86400,
    };
  }
}

/** `sha256:<64 hex>` of a feature set: the project and its views, independent of declaration order. */
export function featureSetVersion(project: string, views: FeatureView[]): string {
  const canonical = { project, views: views.map((v) => v.canonical()).sort((a, b) => String(a.name).localeCompare(String(b.name))) };
  return `sha256:${createHash('sha256').update(JSON.stringify(canonical)).digest('hex')}`;
}

/** Where the online store keeps the latest feature values. */
export abstract class OnlineStore {
  /**
   * Amazon DynamoDB: one on-demand table per feature view (`<project>.<view>`, Feast's default
   * `table_name_template`), encrypted with the store's key, point-in-time recovery, deletion protection.
   */
  public static dynamodb(): OnlineStore {
    return new (class extends OnlineStore {
      public readonly kind = 'dynamodb' as const;
    })();
  }

  /**
   * ElastiCache for Redis (cluster mode off): encrypted at rest with the store's key and in transit
   * (TLS), AUTH token required, in the cluster's private subnets, reachable only from the cluster's
   * workload security group.
   */
  public static redis(props: {
    /** The node type, e.g. `cache.r7g.large`. */
    readonly nodeType: string;
    /** Read replicas besides the primary (0 to 5); with at least one, automatic failover and Multi-AZ. */
    readonly replicas: number;
    /**
     * A Secrets Manager secret (JSON, key `token`) holding the AUTH token (16 to 128 printable
     * characters), created and rotated by the team; Terraform and the feature server read it.
     */
    readonly authTokenSecretArn: string;
    /** @default '7.1' */
    readonly engineVersion?: string;
  }): OnlineStore {
    return new (class extends OnlineStore {
      public readonly kind = 'redis' as const;
      public readonly redis = props;
    })();
  }

  /** Which online store: DynamoDB tables or an ElastiCache for Redis group. */
  public abstract readonly kind: 'dynamodb' | 'redis';
  /** @internal */ public readonly redis?: Parameters<typeof OnlineStore.redis>[0];
}

/** Where Feast keeps its registry (the applied feature definitions). */
export abstract class FeatureRegistryStore {
  /** A `registry.db` file under a prefix of the offline store's bucket (Feast's S3 registry store). */
  public static s3(props: { /** @default 'registry/' */ readonly prefix?: string } = {}): FeatureRegistryStore {
    return new (class extends FeatureRegistryStore {
      public readonly prefix = props.prefix ?? 'registry/';
    })();
  }

  /** The key prefix of `registry.db` in the offline store's bucket (ends with '/'). */
  public abstract readonly prefix: string;
}
