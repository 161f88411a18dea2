import type { IConstruct } from '../engine';
import { Addon, Addons } from './addons';

/** A Kubernetes label selector. */
export interface LabelSelector {
  readonly matchLabels?: Record<string, string>;
  readonly matchExpressions?: Array<{ readonly key: string; readonly operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'; readonly values?: string[] }>;
}

/** Whether `labels` are selected by `selector`, as the API server decides it (an empty selector selects all). */
export function selectorMatches(selector: LabelSelector, labels: Record<string, string>): boolean {
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const has = e.key in labels;
    const inValues = has && (e.values ?? []).includes(labels[e.key]);
    if (e.operator === 'In' && !inValues) return false;
    if (e.operator === 'NotIn' && inValues) return false;
    if (e.operator === 'Exists' && !has) return false;
    if (e.operator === 'DoesNotExist' && has) return false;
  }
  return true;
}

/** What kind of monitoring object a Prometheus instance selects. */
export type MonitoringObjectKind = 'ServiceMonitor' | 'PodMonitor' | 'PrometheusRule' | 'AlertmanagerConfig';

/** Props of an existing Prometheus instance. */
export interface ExistingPrometheusProps {
  /** The in-cluster query URL, e.g. `http://prometheus.monitoring.svc:9090`. */
  readonly url: string;
  /** The namespace Prometheus and Alertmanager run in. */
  readonly namespace: string;
  /** The Prometheus's `serviceMonitorSelector`: the library labels its ServiceMonitors to match it. */
  readonly serviceMonitorSelector: LabelSelector;
  /** The Prometheus's `podMonitorSelector`. */
  readonly podMonitorSelector: LabelSelector;
  /** The Prometheus's `ruleSelector`: the library labels its PrometheusRules to match it. */
  readonly ruleSelector: LabelSelector;
  /** The Alertmanager's `alertmanagerConfigSelector`: the library labels its AlertmanagerConfig to match it. */
  readonly alertmanagerConfigSelector: LabelSelector;
  /** The label Grafana's dashboard sidecar looks for. @default { grafana_dashboard: '1' } */
  readonly dashboardLabels?: Record<string, string>;
  /**
   * How the instance's Alertmanager limits an AlertmanagerConfig to alerts (`AlertmanagerSpec.alertmanagerConfigMatcherStrategy.type`):
   * under `OnNamespace` a config sees only alerts labelled with its own namespace, under
   * `OnNamespaceExceptForAlertmanagerNamespace` a config in the Alertmanager's namespace sees all, under `None` every config sees all.
   * @default 'OnNamespace' (prometheus-operator's default)
   */
  readonly alertmanagerConfigMatcherStrategy?: 'OnNamespace' | 'OnNamespaceExceptForAlertmanagerNamespace' | 'None';
  /**
   * The AlertmanagerConfig the instance's Alertmanager takes as its global configuration
   * (`AlertmanagerSpec.alertmanagerConfiguration.name`), which sees every alert whatever the strategy.
   * @default - none
   */
  readonly globalAlertmanagerConfig?: string;
}

const KPS_RELEASE = { release: 'kube-prometheus-stack' };

/**
 * The pods kube-prometheus-stack runs (release `kube-prometheus-stack`): prometheus-operator labels
 * the pods of a Prometheus and an Alertmanager with `app.kubernetes.io/name` and
 * `operator.prometheus.io/name` = the custom resource's name, which the chart names
 * `<release>-prometheus` and `<release>-alertmanager`. The one place the library says so.
 */
export const KUBE_PROMETHEUS_STACK_PODS = {
  chart: 'kube-prometheus-stack',
  namespace: 'monitoring',
  prometheus: { 'app.kubernetes.io/name': 'prometheus', 'operator.prometheus.io/name': 'kube-prometheus-stack-prometheus' } as Record<string, string>,
  alertmanager: { 'app.kubernetes.io/name': 'alertmanager', 'alertmanager': 'kube-prometheus-stack-alertmanager' } as Record<string, string>,
} as const;

/** The port of Alertmanager's API and UI (prometheus-operator's `web` port): alerts in, silences, status. */
export const ALERTMANAGER_WEB_PORT = 9093;

/**
 * The Prometheus (operator) instance that scrapes the platform, and what it selects. Objects this
 * library writes carry the labels the instance selects on, and tests check that its selectors match
 * them: kube-prometheus-stack ignores monitors and rules without its `release` label
 * (prometheus-community/helm-charts#430, prometheus-operator#1470).
 */
export class PrometheusInstance {
  /** The kube-prometheus-stack add-on, installed by the platform at a pinned version. */
  public static kubePrometheusStack(): PrometheusInstance {
    return new PrometheusInstance({
      url: 'http://kube-prometheus-stack-prometheus.monitoring.svc.cluster.local:9090',
      namespace: KUBE_PROMETHEUS_STACK_PODS.namespace,
      serviceMonitorSelector: { matchLabels: KPS_RELEASE },
      podMonitorSelector: { matchLabels: KPS_RELEASE },
      ruleSelector: { matchLabels: KPS_RELEASE },
      alertmanagerConfigSelector: { matchLabels: KPS_RELEASE },
      dashboardLabels: { grafana_dashboard: '1' },
    }, Addon.kubePrometheusStack());
  }

  /** A Prometheus operator stack installed elsewhere, with its selectors. */
  public static existing(props: ExistingPrometheusProps): PrometheusInstance {
    return new PrometheusInstance(props);
  }

  private constructor(public readonly props: ExistingPrometheusProps, private readonly addon?: Addon) {}

  public get url(): string {
    return this.props.url;
  }

  public get namespace(): string {
    return this.props.namespace;
  }

  public get dashboardLabels(): Record<string, string> {
    return this.props.dashboardLabels ?? { grafana_dashboard: '1' };
  }

  /** The selector the instance applies to a kind of object. */
  public selector(kind: MonitoringObjectKind): LabelSelector {
    return {
      ServiceMonitor: this.props.serviceMonitorSelector, PodMonitor: this.props.podMonitorSelector,
      PrometheusRule: this.props.ruleSelector, AlertmanagerConfig: this.props.alertmanagerConfigSelector,
    }[kind];
  }

  /** The labels to put on an object of `kind` so that the instance selects it (its `matchLabels`). */
  public labelsFor(kind: MonitoringObjectKind): Record<string, string> {
    return { ...(this.selector(kind).matchLabels ?? {}) };
  }

  /** Whether the instance selects an object of `kind` with these labels. */
  public selects(kind: MonitoringObjectKind, labels: Record<string, string>): boolean {
    return selectorMatches(this.selector(kind), labels);
  }

  /** Whether the platform installs this instance (kube-prometheus-stack), and so creates its namespace. */
  public get installedByPlatform(): boolean {
    return this.addon !== undefined;
  }

  /**
   * Makes the AlertmanagerConfig `name` of the instance's namespace Alertmanager's global configuration
   * (prometheus-operator `AlertmanagerSpec.alertmanagerConfiguration`; its routes are not limited to its
   * own namespace), when the platform installs the instance: returns whether it did. An existing
   * instance keeps its own configuration; its owner decides.
   */
  public useGlobalAlertmanagerConfig(scope: IConstruct, name: string, reason: string): boolean {
    if (!this.addon) return this.props.globalAlertmanagerConfig === name;
    Addons.setValue(scope, this.addon, 'alertmanager.alertmanagerSpec.alertmanagerConfiguration', { name }, reason);
    return true;
  }

  /**
   * Whether an AlertmanagerConfig in the instance's namespace that is not the global configuration sees
   * alerts of every namespace (prometheus-operator pkg/alertmanager/amcfg.go: `namespaceEnforcer` adds a
   * `namespace` matcher to its routes under OnNamespace; `otherNamespaceEnforcer` spares the Alertmanager's namespace).
   */
  public get configsInOwnNamespaceSeeAllAlerts(): boolean {
    const strategy = this.addon ? 'OnNamespace' : this.props.alertmanagerConfigMatcherStrategy ?? 'OnNamespace';
    return strategy !== 'OnNamespace';
  }

  /** Declares the add-on, when the platform installs this instance. */
  public require(scope: IConstruct): void {
    if (this.addon) Addons.require(scope, this.addon);
  }
}
