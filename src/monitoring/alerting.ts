/** A reference to a key of a Kubernetes Secret (in the Prometheus namespace). */
export interface SecretKey {
  readonly name: string;
  readonly key: string;
}

/** Where alerts go. */
export abstract class AlertReceiver {
  /** A Slack channel; the incoming-webhook URL is read from a Secret. */
  public static slack(name: string, props: { readonly channel: string; readonly webhookUrl: SecretKey }): AlertReceiver {
    return new (class extends AlertReceiver {
      public render() {
        return { name, slackConfigs: [{ channel: props.channel, apiURL: props.webhookUrl, sendResolved: true, title: '[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }}', text: '{{ range .Alerts }}{{ .Annotations.summary }}\n{{ end }}' }] };
      }
    })(name);
  }

  /** PagerDuty (Events API v2); the routing key is read from a Secret. */
  public static pagerDuty(name: string, props: { readonly routingKey: SecretKey }): AlertReceiver {
    return new (class extends AlertReceiver {
      public render() {
        return { name, pagerdutyConfigs: [{ routingKey: props.routingKey, sendResolved: true, severity: '{{ .CommonLabels.severity }}' }] };
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
      public render(topicArn?: string, region?: string) {
        return { name, snsConfigs: [{ topicARN: topicArn, sigv4: { region }, sendResolved: true, subject: '[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }}' }] };
      }
    })(name);
  }

  /** Any HTTP endpoint, e.g. the retraining trigger of a TrainingPipeline. */
  public static webhook(name: string, url: string): AlertReceiver {
    return new (class extends AlertReceiver {
      public render() {
        return { name, webhookConfigs: [{ url, sendResolved: false }] };
      }
    })(name);
  }

  public readonly usesSns: boolean = false;

  protected constructor(public readonly name: string) {}

  /** @internal */
  public abstract render(topicArn?: string, region?: string): Record<string, unknown>;
}

/** Which alerts go to a receiver. */
export interface AlertRoute {
  /** The receiver's name. */
  readonly receiver: string;
  /** @default - any severity */
  readonly severity?: 'critical' | 'warning';
  /** @default - any team */
  readonly team?: string;
  /** Kinds: `slo`, `health`, `drift`, `quality`, `cost`. @default - any kind */
  readonly kinds?: string[];
}
