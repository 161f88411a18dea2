/** What a canary analysis does when a query returns no data (no canary traffic yet, or no series). */
export enum NoDataPolicy {
  /**
   * No data is inconclusive: more than `inconclusiveLimit` such measurements pause the rollout for a
   * human (or CI) to judge. It never passes silently and never aborts without saying why.
   */
  INCONCLUSIVE = 'inconclusive',
  /** No data is a failed measurement: a canary that gets no traffic is rolled back. */
  FAIL = 'fail',
}

/** The metric analysis of a release. */
export interface AnalysisOptions {
  /** Share of successful requests the new version must keep, in (0, 1]. @default 0.99 */
  readonly successRate?: number | false;
  /**
   * How far the new version's success rate may fall below the stable version's, measured at the same
   * time under the same live traffic (canary and shadow; blue-green's previous version gets no traffic
   * after the switch). No traffic on either side is inconclusive.
   * @default 0.01
   */
  readonly maxSuccessRateDrop?: number | false;
  /** Latency the new version must stay under, in milliseconds, at `latencyQuantile`. @default - the endpoint's latency objective */
  readonly latencyMs?: number | false;
  /** The quantile `latencyMs` is measured at, from the server's latency histogram, in (0, 1). @default 0.95 */
  readonly latencyQuantile?: number;
  /** Further queries: PromQL over the server's metrics; `{{selector}}` stands for the new version's series. @default - none */
  readonly customMetrics?: Array<{ readonly name: string; readonly query: string; readonly min?: number; readonly max?: number }>;
  /** Time between two measurements of an analysis (Argo Rollouts duration, e.g. '30s', '1m'). @default '30s' */
  readonly interval?: string;
  /**
   * Measurements each step's analysis (and blue-green's post-promotion analysis) takes, `interval`
   * apart. Argo Rollouts refuses an analysis of a step or a promotion that runs indefinitely; only the
   * background analysis runs until the release ends. At least two measurements must succeed, so
   * `count` must exceed `failureLimit + inconclusiveLimit + 1`.
   * @default 4
   */
  readonly count?: number;
  /** Failed measurements tolerated before the release is aborted. @default 1 */
  readonly failureLimit?: number;
  /**
   * Measurements without data (no traffic yet) tolerated; one more pauses the release for a human.
   * @default 1
   */
  readonly inconclusiveLimit?: number;
  /** What a measurement without data counts as: inconclusive (enough of them pause the release) or failed (the release rolls back). @default NoDataPolicy.INCONCLUSIVE */
  readonly onNoData?: NoDataPolicy;
}

/** How traffic is split between versions. */
export class TrafficRouting {
  /** The NGINX Ingress controller (the endpoint needs an `nginx` Ingress). Weights only. */
  public static nginx(): TrafficRouting {
    return new TrafficRouting('nginx', true, false, false);
  }

  /** The AWS Load Balancer Controller (the endpoint needs an `alb` Ingress). Weights only. */
  public static alb(): TrafficRouting {
    return new TrafficRouting('alb', true, false, false);
  }

  /** Istio: a VirtualService this construct writes; weights, header routes and mirroring. */
  public static istio(): TrafficRouting {
    return new TrafficRouting('istio', true, true, true);
  }

  /**
   * Gateway API, through the Argo Rollouts Gateway API plugin: an HTTPRoute attached to `gateway`;
   * weights, header routes and mirroring.
   */
  public static gatewayApi(props: { readonly gateway: string; readonly gatewayNamespace?: string; readonly pluginLocation: string }): TrafficRouting {
    return new TrafficRouting('gateway-api', true, true, true, props);
  }

  /**
   * No router: the split is approximated by the ratio of canary to stable replicas (5% of traffic
   * needs at least 20 replicas to be exact). Good for internal endpoints without a mesh.
   */
  public static replicaCount(): TrafficRouting {
    return new TrafficRouting('replica-count', false, false, false);
  }

  private constructor(
    public readonly kind: 'nginx' | 'alb' | 'istio' | 'gateway-api' | 'replica-count',
    /** Whether weights are exact. */
    public readonly exactWeights: boolean,
    /** Whether the router can route by header (A/B). */
    public readonly headerRoutes: boolean,
    /** Whether the router can mirror traffic (shadow). */
    public readonly mirroring: boolean,
    public readonly gateway?: { readonly gateway: string; readonly gatewayNamespace?: string; readonly pluginLocation: string },
  ) {}
}

/** A release strategy. */
export abstract class ReleaseStrategy {
  /** Canary: traffic in steps (default 5% → 25% → 100%), each held `pause` while the analysis runs. */
  public static canary(props: { readonly weights?: number[]; readonly pause?: string } = {}): ReleaseStrategy {
    return new (class extends ReleaseStrategy {
      public readonly kind = 'canary' as const;
      public readonly canary = props;
    })();
  }

  /** Blue-green: the new version behind a preview Service, analysed before promotion; instant switch back. */
  public static blueGreen(props: { readonly autoPromote?: boolean; readonly autoPromotionSeconds?: number; readonly scaleDownDelaySeconds?: number } = {}): ReleaseStrategy {
    return new (class extends ReleaseStrategy {
      public readonly kind = 'blue-green' as const;
      public readonly blueGreen = props;
    })();
  }

  /**
   * Shadow: the new version gets a mirrored copy of live traffic, its responses discarded, for
   * `duration` while its metrics (labelled `mlops.io/track=shadow`) are compared with production;
   * then it waits for promotion and continues as a canary.
   */
  public static shadow(props: { readonly duration?: string; readonly replicas?: number; readonly mirrorPercent?: number } = {}): ReleaseStrategy {
    return new (class extends ReleaseStrategy {
      public readonly kind = 'shadow' as const;
      public readonly shadow = props;
    })();
  }

  /**
   * A/B: users carrying a header (or cookie) value go to the challenger for `duration`, while a
   * comparison metric of challenger over champion must stay at or above `minRatio`.
   */
  public static abTest(props: {
    readonly match: { readonly header: string; readonly value: string } | { readonly cookie: string; readonly value: string };
    /** PromQL over the server's metrics with `{{selector}}`, e.g. a conversion rate. */
    readonly comparisonQuery: string;
    /** @default 1 (the challenger is at least as good) */
    readonly minRatio?: number;
    /** @default '1h' */
    readonly duration?: string;
  }): ReleaseStrategy {
    return new (class extends ReleaseStrategy {
      public readonly kind = 'ab-test' as const;
      public readonly abTest = props;
    })();
  }

  public abstract readonly kind: 'canary' | 'blue-green' | 'shadow' | 'ab-test';
  /** @internal */ public readonly canary?: Parameters<typeof ReleaseStrategy.canary>[0];
  /** @internal */ public readonly blueGreen?: Parameters<typeof ReleaseStrategy.blueGreen>[0];
  /** @internal */ public readonly shadow?: Parameters<typeof ReleaseStrategy.shadow>[0];
  /** @internal */ public readonly abTest?: Parameters<typeof ReleaseStrategy.abTest>[0];
}

/** What happens in the registry when a release succeeds. */
export interface PromotionOptions {
  /**
   * The alias that moves to the released version, through the registry's promotion endpoint
   * (`registry.promotionUri`); the endpoint's namespace must be one of the registry's
   * `governance.promoterNamespaces`.
   * @default 'champion'
   */
  readonly alias?: string;
}
