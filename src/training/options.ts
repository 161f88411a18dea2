import { InstanceType } from './instances';

/** EKS Kubernetes versions this library supports. */
export class KubernetesVersion {
  public static readonly V1_30 = new KubernetesVersion('1.30');
  public static readonly V1_31 = new KubernetesVersion('1.31');
  public static readonly V1_32 = new KubernetesVersion('1.32');
  public static readonly V1_33 = new KubernetesVersion('1.33');
  public static readonly V1_34 = new KubernetesVersion('1.34');
  /** The versions EKS offers in standard support that this library is tested against. */
  public static readonly SUPPORTED = ['1.30', '1.31', '1.32', '1.33', '1.34'];
  /** The default: the newest version in the supported set but one, as most teams run. */
  public static readonly DEFAULT = KubernetesVersion.V1_33;

  /** A version by name; checked against the supported set when the cluster is created. */
  public static of(version: string): KubernetesVersion {
    return new KubernetesVersion(version);
  }

  private constructor(public readonly version: string) {}
}

/** Who can reach the cluster's API server. */
export class EndpointAccess {
  /** Only from inside the VPC (and peered networks). */
  public static privateOnly(): EndpointAccess {
    return new EndpointAccess([]);
  }

  /** From inside the VPC and from these public CIDR blocks (never 0.0.0.0/0). */
  public static publicAndPrivate(allowedCidrs: string[]): EndpointAccess {
    return new EndpointAccess(allowedCidrs);
  }

  private constructor(public readonly publicCidrs: string[]) {}

  public get isPublic(): boolean {
    return this.publicCidrs.length > 0;
  }
}

/** Spot or on-demand capacity. */
export enum CapacityType {
  /** Up to 90% cheaper; interrupted with two minutes' notice. The default for training. */
  SPOT = 'SPOT',
  ON_DEMAND = 'ON_DEMAND',
}

/** A pool of GPU nodes. */
export interface GpuPoolOptions {
  /** The pool's name (a DNS label); jobs select it by the `mlops.io/pool` label. */
  readonly name: string;
  /** Instance types; one architecture, all with NVIDIA GPUs. */
  readonly instanceTypes: InstanceType[];
  /** @default CapacityType.SPOT */
  readonly capacityType?: CapacityType;
  /** @default 0 - idle GPUs cost nothing */
  readonly minSize?: number;
  /** The most nodes the pool may run. */
  readonly maxSize: number;
  /**
   * Elastic Fabric Adapter and a cluster placement group, for multi-node training on p4d/p5 (and the
   * larger g5/g6/g6e). The pool then runs in the first private subnet's zone only.
   * @default false
   */
  readonly efa?: boolean;
  /** @default 200 */
  readonly diskSizeGiB?: number;
  /**
   * The team and/or model the pool's nodes are attributed to: its instances and volumes carry
   * `mlops.io/team` / `mlops.io/model`, so that budgets of that team or model count them. For a pool
   * dedicated to one team or model; a shared pool's nodes are attributed to the platform's team.
   * @default - the platform's cost tags only
   */
  readonly costAttribution?: { readonly team?: string; readonly model?: string };
}

/**
 * A pool of CPU nodes for serving and batch work that the system nodes have no room for. Its nodes
 * carry the label `mlops.io/pool=<name>` and the taint `mlops.io/pool=<name>:NoSchedule`, so only
 * what names the pool runs there (a ServingEndpoint's `resources.pool`).
 */
export interface CpuPoolOptions {
  /** The pool's name (a DNS label), unique among all pools and not 'system'. */
  readonly name: string;
  /** Instance types without GPUs, of one architecture. */
  readonly instanceTypes: InstanceType[];
  /**
   * On-demand or spot capacity.
   * @default CapacityType.ON_DEMAND - serving is not interrupted
   */
  readonly capacityType?: CapacityType;
  /**
   * The fewest nodes the pool keeps.
   * @default 0 - the pool scales to zero when nothing runs there
   */
  readonly minSize?: number;
  /** The most nodes the pool may run. */
  readonly maxSize: number;
}

/** How GPU nodes are added and removed. */
export abstract class NodeAutoscaler {
  /**
   * EKS managed node groups scaled by the Cluster Autoscaler, from zero: the node groups' ASGs carry
   * the node-template tags (GPU count, labels, taint) that let it scale a pool up from zero nodes.
   */
  public static clusterAutoscaler(): NodeAutoscaler {
    return new (class extends NodeAutoscaler {
      public readonly kind = 'cluster-autoscaler' as const;
    })();
  }

  /**
   * Karpenter: one NodePool and EC2NodeClass per GPU pool instead of managed node groups; each
   * NodePool's `nvidia.com/gpu` limit is the pool's maxSize times its GPUs per node, and synth fails
   * when a job asks for more GPUs than that (karpenter-provider-aws#8068).
   */
  public static karpenter(): NodeAutoscaler {
    return new (class extends NodeAutoscaler {
      public readonly kind = 'karpenter' as const;
    })();
  }

  public abstract readonly kind: 'cluster-autoscaler' | 'karpenter';
}

/** Shared storage for datasets and checkpoints, mounted by every team's jobs. */
export abstract class SharedStorage {
  /**
   * FSx for Lustre (PERSISTENT_2), encrypted with the cluster key, linked to a dataset bucket (new
   * objects imported, changed files exported back), with daily backups.
   */
  public static fsxLustre(props: { readonly storageCapacityGiB?: number; readonly throughputPerTiB?: 125 | 250 | 500 | 1000; readonly datasetBucketName?: string } = {}): SharedStorage {
    return new (class extends SharedStorage {
      public readonly kind = 'fsx-lustre' as const;
      public readonly fsx = props;
    })();
  }

  /** EFS (encrypted, elastic throughput, automatic backups): simpler and slower than Lustre. */
  public static efs(): SharedStorage {
    return new (class extends SharedStorage {
      public readonly kind = 'efs' as const;
    })();
  }

  public abstract readonly kind: 'fsx-lustre' | 'efs';
  /** @internal */ public readonly fsx?: { storageCapacityGiB?: number; throughputPerTiB?: number; datasetBucketName?: string };
}

/** A team's namespace and quota. */
export interface TeamOptions {
  /** The team (and namespace) name. */
  readonly name: string;
  /** The most GPUs the team's pods may request at once. */
  readonly gpus: number;
  /** @default '64' */
  readonly cpu?: string;
  /** @default '256Gi' */
  readonly memory?: string;
}
