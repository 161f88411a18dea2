import { ClusterValue } from '../core/kubernetes-stack';

/** A reference to a key of a Kubernetes Secret (in the Prometheus namespace) that something else writes. */
export interface SecretKey {
  readonly name: string;
  readonly key: string;
}

/**
 * A receiver's credential (webhook URL, routing key): a value Terraform writes into a Secret the
 * MonitoringStack owns (`ClusterValue.fromSecretsManager(secretArn, jsonKey)`, read when Terraform applies;
 * never in the manifests), or a key of a Secret that exists already (`{ name, key }`; the platform check
 * refuses one that neither a manifest nor Terraform writes, since prometheus-operator then drops the whole
 * AlertmanagerConfig).
 */
export type ReceiverSecret = ClusterValue | SecretKey;

/** What a receiver renders with. @internal */
export interface ReceiverContext {
  readonly topicArn?: string;
  readonly region?: string;
  /** The Secret key a credential is read from (written by Terraform for a ClusterValue). */
  secretKey(receiver: string, field: string, value: ReceiverSecret): SecretKey;
}

/** Where alerts go. */
export abstract class AlertReceiver {
  /** A Slack channel; the incoming-webhook URL is a secret. */
  public static slack(name: string, props: { readonly channel: string; readonly webhookUrl: ReceiverSecret }): AlertReceiver {
    return new (class extends AlertReceiver {
      public render(c: ReceiverContext) {
        return { name, slackConfigs: [{ channel: props.channel, apiURL: c.secretKey(name, 'webhook-url', props.webhookUrl), sendResolved: true, title: '[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }}', text: '{{ range .Alerts }}{{ .Annotations.summary }}\n{{ end }}' }] };
      }
    })(name);
  }

  /** PagerDuty (Events API v2); the routing key is a secret. */
  public static pagerDuty(name: string, props: { readonly routingKey: ReceiverSecret }): AlertReceiver {
    return new (class extends AlertReceiver {
      public render(c: ReceiverContext) {
        return { name, pagerdutyConfigs: [{ routingKey: c.secretKey(name, 'routing-key', props.routingKey), sendResolved: true, severity: '{{ .CommonLabels.severity }}' }] };
      }
    })(name);
  }

  /**
   * The platform's encrypted SNS topic (created by the MonitoringStack on AWS; CloudWatch alarms and
   * budgets publish there too). Alertmanager publishes with its own Pod Identity role.
   */
  public static sns(name: string): AlertReceiver {
    return new (class extends AlertReceiver {
      public readonly usesSns = true;
      public render(c: ReceiverContext) {
        return { name, snsConfigs: [{ topicARN: c.topicArn, sigv4: { region: c.region }, sendResolved: true, subject: '[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }}' }] };
      }
    })(name);
  }

  /** Any HTTP endpoint, e.g. the retraining trigger of a TrainingPipeline. */
  public static webhook(name: string, url: string, props: { readonly bearerToken?: ReceiverSecret } = {}): AlertReceiver {
    return new (class extends AlertReceiver {
      public render(c: ReceiverContext) {
        // AlertmanagerConfig v1alpha1 webhookConfigs[].httpConfig.authorization: a type and the credentials'
        // Secret key (prometheus-operator API docs, SafeAuthorization); Alertmanager sends `Authorization: <type> <credentials>`.
        const httpConfig = props.bearerToken ? { httpConfig: { authorization: { type: 'Bearer', credentials: c.secretKey(name, 'bearer-token', props.bearerToken) } } } : {};
        return { name, webhookConfigs: [{ url, sendResolved: false, ...httpConfig }] };
      }
    })(name);
  }

  /** Whether the receiver publishes to the stack's SNS topic (Alertmanager then gets a role that may). */
  public readonly usesSns: boolean = false;

  protected constructor(
    /** The receiver's name (a DNS label), which routes name. */
    public readonly name: string,
  ) {}

  /** @internal */
  public abstract render(context: ReceiverContext): Record<string, unknown>;
}

/** Which alerts go to a receiver. */
export interface AlertRoute {
  /** The receiver's name. */
  readonly receiver: string;
  /** Only alerts of this severity (their `severity` label). @default - any severity */
  readonly severity?: 'critical' | 'warning';
  /** Only alerts of this team (their `team` label); every monitored team needs a route naming it. @default - any team */
  readonly team?: string;
  /** Kinds: `slo`, `health`, `drift`, `quality`, `fairness`, `cost`. @default - any kind */
  readonly kinds?: string[];
}
