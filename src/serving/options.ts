/** How fast an endpoint must answer; sets defaults and the latency objective monitoring reads. */
export class LatencyClass {
  /** Sub-100 ms: warm replicas (at least two, never zero), p95 objective 100 ms. */
  public static readonly REAL_TIME = new LatencyClass('real-time', 100, 2, 0.95);
  /** Sub-second: one replica at least, p95 objective 1 s. */
  public static readonly NEAR_REAL_TIME = new LatencyClass('near-real-time', 1000, 1, 0.95);
  /** Throughput over latency: scheduled or queued work; the objective is on job completion, not requests. */
  public static readonly BATCH = new LatencyClass('batch', 60 * 60 * 1000, 0, 0.95);

  private constructor(
    public readonly name: string,
    /** The latency objective in milliseconds (at `quantile`). */
    public readonly objectiveMs: number,
    /** The fewest replicas the class allows. */
    public readonly minReplicas: number,
    public readonly quantile: number,
  ) {}

  /** Whether the class keeps replicas warm (no scale to zero). */
  public get warm(): boolean {
    return this.minReplicas > 0;
  }
}

/** What scales a real-time endpoint. */
export abstract class Autoscaling {
  /** A HorizontalPodAutoscaler on CPU utilisation. */
  public static cpu(targetUtilizationPercent = 70): Autoscaling {
    return new (class extends Autoscaling {
      public readonly kind = 'cpu' as const;
      public readonly target = targetUtilizationPercent;
    })();
  }

  /** A KEDA ScaledObject on requests per second per replica, from Prometheus. */
  public static requestsPerSecond(perReplica: number): Autoscaling {
    return new (class extends Autoscaling {
      public readonly kind = 'rps' as const;
      public readonly target = perReplica;
    })();
  }

  /** A KEDA ScaledObject on a Prometheus query (queue depth, ...), `target` per replica. */
  public static prometheusQuery(query: string, target: number): Autoscaling {
    return new (class extends Autoscaling {
      public readonly kind = 'query' as const;
      public readonly target = target;
      public readonly query = query;
    })();
  }

  public abstract readonly kind: 'cpu' | 'rps' | 'query';
  public abstract readonly target: number;
  public readonly query?: string;
}

/** A Kafka cluster to consume from. */
export abstract class KafkaSource {
  /** Brokers by address (`host:port`), over TLS by default. */
  public static brokers(brokers: string[], options: { readonly tls?: boolean } = {}): KafkaSource {
    return new (class extends KafkaSource {
      public readonly brokerList = brokers;
      public readonly tls = options.tls ?? true;
    })();
  }

  /**
   * Amazon MSK: its bootstrap brokers (a token from the MSK cluster is fine) reach the pods through
   * a ConfigMap the KubernetesStack writes; IAM authentication through the endpoint's role.
   */
  public static msk(props: { readonly clusterArn: string; readonly bootstrapBrokers: string }): KafkaSource {
    return new (class extends KafkaSource {
      public readonly msk = props;
      public readonly tls = true;
    })();
  }

  public readonly brokerList?: string[];
  public readonly msk?: { clusterArn: string; bootstrapBrokers: string };
  public abstract readonly tls: boolean;
}

/**
 * The Ingress of a real-time endpoint. It routes only the server's inference paths (exact), from the
 * allowed source ranges, over HTTPS.
 */
export interface EndpointIngress {
  /** The host name clients call (the Ingress rule's host and TLS host). */
  readonly host: string;
  /**
   * The Ingress class: the AWS Load Balancer Controller's ALB or ingress-nginx.
   * @default 'alb'
   */
  readonly className?: 'alb' | 'nginx';
  /**
   * The Secret with the TLS certificate for `host`.
   * @default - the controller's default certificate (ALB: ACM discovery by host)
   */
  readonly tlsSecretName?: string;
  /**
   * ALB only: `internal` (reachable from the VPC and what is routed to it) or `internet-facing`, which
   * needs `allowedCidrs` or `authentication`, so that exposing a model to the internet is a decision.
   * @default 'internal'
   */
  readonly scheme?: 'internal' | 'internet-facing';
  /**
   * Source ranges allowed to call (ALB `inbound-cidrs`, the security group it manages; nginx
   * `whitelist-source-range`).
   * @default - ALB: the cluster's VPC CIDR; nginx: no restriction beyond the controller's own Service
   */
  readonly allowedCidrs?: string[];
  /** ALB only: authenticate callers at the load balancer (OIDC or Cognito). @default - none */
  readonly authentication?: IngressAuthentication;
}

/**
 * Authentication at the Application Load Balancer (aws-load-balancer-controller
 * docs/guide/ingress/annotations.md, "Authentication"): the ALB authenticates each request before it
 * reaches the model server; requires an HTTPS listener (the endpoint's is HTTPS only).
 */
export abstract class IngressAuthentication {
  /**
   * An OIDC identity provider. `secretName` names a Secret in the endpoint's namespace with the keys
   * `clientID` and `clientSecret` (the controller reads it).
   */
  public static oidc(props: {
    readonly issuer: string; readonly authorizationEndpoint: string; readonly tokenEndpoint: string; readonly userInfoEndpoint: string;
    readonly secretName: string;
    /** @default 'authenticate' (browsers are redirected to log in); 'deny' answers 401 to API clients without a session */
    readonly onUnauthenticatedRequest?: 'authenticate' | 'deny';
    /** @default 'openid' */
    readonly scope?: string;
  }): IngressAuthentication {
    const { onUnauthenticatedRequest, scope, secretName, ...endpoints } = props;
    return new (class extends IngressAuthentication {
      public readonly annotations = {
        'alb.ingress.kubernetes.io/auth-type': 'oidc',
        'alb.ingress.kubernetes.io/auth-idp-oidc': JSON.stringify({ ...endpoints, secretName }),
        'alb.ingress.kubernetes.io/auth-on-unauthenticated-request': onUnauthenticatedRequest ?? 'authenticate',
        'alb.ingress.kubernetes.io/auth-scope': scope ?? 'openid',
      };
      public readonly urls = Object.values(endpoints);
    })();
  }

  /** An Amazon Cognito user pool. */
  public static cognito(props: {
    readonly userPoolArn: string; readonly userPoolClientId: string; readonly userPoolDomain: string;
    /** @default 'authenticate' */
    readonly onUnauthenticatedRequest?: 'authenticate' | 'deny';
  }): IngressAuthentication {
    return new (class extends IngressAuthentication {
      public readonly annotations = {
        'alb.ingress.kubernetes.io/auth-type': 'cognito',
        'alb.ingress.kubernetes.io/auth-idp-cognito': JSON.stringify({ userPoolARN: props.userPoolArn, userPoolClientID: props.userPoolClientId, userPoolDomain: props.userPoolDomain }),
        'alb.ingress.kubernetes.io/auth-on-unauthenticated-request': props.onUnauthenticatedRequest ?? 'authenticate',
      };
      public readonly urls: string[] = [];
    })();
  }

  /** The Ingress annotations. */
  public abstract readonly annotations: Record<string, string>;
  /** The provider's URLs, checked to be HTTPS. */
  public abstract readonly urls: string[];
}

/** How an endpoint serves. */
export abstract class ServingMode {
  /** An autoscaled API (the default). */
  public static realtime(props: {
    /** @default - the latency class's minimum (2 for real-time) */
    readonly minReplicas?: number;
    /** @default 10 */
    readonly maxReplicas?: number;
    /** @default Autoscaling.cpu(70) */
    readonly autoscaling?: Autoscaling;
    /** @default - no Ingress */
    readonly ingress?: EndpointIngress;
  } = {}): ServingMode {
    return new (class extends ServingMode {
      public readonly kind = 'realtime' as const;
      public readonly realtime = props;
    })();
  }

  /**
   * Scheduled (or one-off) batch inference: reads `inputUri`, writes `outputUri` (both `s3://bucket/prefix/`).
   * The command gets `MODEL_URI`, `MODEL_DIR`, `INPUT_URI`, `OUTPUT_URI`, `SHARD` and `SHARDS`.
   */
  public static batch(props: {
    readonly inputUri: string;
    readonly outputUri: string;
    /** The batch command. */
    readonly command: string[];
    /**
     * The image that runs `command` (your scoring code), pinned. A model server image holds no batch
     * program of yours.
     * @default - the server's image
     */
    readonly image?: string;
    /** A cron expression; omitted, a one-off Job. @default - a one-off Job */
    readonly schedule?: string;
    /** @default 1 */
    readonly parallelism?: number;
    /** @default 3600 */
    readonly deadlineSeconds?: number;
    /** @default 3 */
    readonly retries?: number;
  }): ServingMode {
    return new (class extends ServingMode {
      public readonly kind = 'batch' as const;
      public readonly batch = props;
    })();
  }

  /**
   * Consumers of a Kafka topic, scaled by KEDA on consumer lag, writing predictions to an output
   * topic. The command gets `KAFKA_BROKERS`, `INPUT_TOPIC`, `OUTPUT_TOPIC` and `CONSUMER_GROUP`.
   */
  public static streaming(props: {
    readonly source: KafkaSource;
    readonly inputTopic: string;
    readonly outputTopic: string;
    readonly command: string[];
    /** The image that runs `command` (your consumer), pinned. @default - the server's image */
    readonly image?: string;
    /** @default - the endpoint's name */
    readonly consumerGroup?: string;
    /** @default 100 */
    readonly lagPerReplica?: number;
    /** @default 1 */
    readonly minReplicas?: number;
    /** @default - the input topic's partitions are the limit; 10 */
    readonly maxReplicas?: number;
  }): ServingMode {
    return new (class extends ServingMode {
      public readonly kind = 'streaming' as const;
      public readonly streaming = props;
    })();
  }

  public abstract readonly kind: 'realtime' | 'batch' | 'streaming';
  /** @internal */ public readonly realtime?: Parameters<typeof ServingMode.realtime>[0];
  /** @internal */ public readonly batch?: Parameters<typeof ServingMode.batch>[0];
  /** @internal */ public readonly streaming?: Parameters<typeof ServingMode.streaming>[0];
}
