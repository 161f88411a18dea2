import { BudgetsBudget, CeCostAllocationTag, CloudwatchMetricAlarm, SnsTopic, SnsTopicPolicy, SnsTopicSubscription } from '../providers/aws';
import { ApiObject, Construct, k8s } from '../engine';
import { PlatformApp } from '../core/app';
import { TAG_PREFIX } from '../core/context';
import { check, checkIntegerRange } from '../core/errors';
import { grant, IEksCluster, WorkloadIdentity } from '../core/identity';
import { PlatformKey } from '../core/key';
import { PlatformChart } from '../core/kubernetes';
import { NameRules } from '../core/names';
import { PlatformNamespaces } from '../core/namespaces';
import { MONITORING_PRIVILEGED_REASON } from '../core/addons';
import { ALERTMANAGER_WEB_PORT, KUBE_PROMETHEUS_STACK_PODS, PrometheusInstance } from '../core/prometheus';
import type { ModelRegistry } from '../registry/model-registry';
import type { ServingEndpoint } from '../serving/serving-endpoint';
import type { GpuTrainingCluster } from '../training/gpu-cluster';
import { InstanceType } from '../training/instances';

/** Whether a cluster is one the platform built (it has system nodes to alarm on). */
function isTrainingCluster(cluster: IEksCluster): cluster is GpuTrainingCluster {
  return 'systemNodes' in cluster;
}
import { AlertReceiver, AlertRoute, ReceiverContext, ReceiverSecret, SecretKey } from './alerting';
import { ClusterValue, ClusterValues } from '../core/kubernetes-stack';
import { endpointDashboard } from './dashboard';
import { driftAlertRules, driftRecordingRules, DriftThresholds, ReferenceProfile } from './drift';
import { durationSeconds, RuleGroup } from './promql';
import { endpointAlertRules, endpointLabels, endpointRecordingRules, gpuRules, qualityRules, ResolvedObjective } from './rules';
import { SubgroupMonitoring, subgroupRules, validateSubgroupMonitoring } from './subgroups';

/** The platform's AlertmanagerConfig (in the Alertmanager's namespace; Alertmanager's global configuration when the platform installs it). */
export const ALERT_ROUTING_NAME = 'mlops-alert-routing';
/** The receiver without integrations that the Watchdog and InfoInhibitor alerts go to under the global configuration. */
const DISCARD_RECEIVER = 'discard';

/** Objectives of one endpoint. */
export interface EndpointObjectives {
  /** The endpoint the objectives are for. */
  readonly endpoint: ServingEndpoint;
  /** Share of requests that must succeed, e.g. 0.999; `false` for none. @default 0.999 for real-time, 0.99 otherwise */
  readonly availability?: number | false;
  /** Latency the endpoint's requests must stay under, in milliseconds, at its latency class's quantile. @default - the endpoint's latency class objective */
  readonly latencyMs?: number;
  /**
   * Failed requests a burn-rate alert needs within its own long window before it fires (1h and 6h for
   * the page, 1d and 3d for the ticket). @default 5
   */
  readonly minFailures?: number;
}

/** Drift detection for one endpoint. */
export interface DriftDetection {
  /** The endpoint whose input features are compared with the training data. */
  readonly endpoint: ServingEndpoint;
  /** The training data's reference profile. */
  readonly profile: ReferenceProfile;
  /** The live window the distributions are compared over. @default '1h' */
  readonly window?: string;
  /** How long drift must last before an alert fires. @default '30m' */
  readonly for?: string;
  /** The PSI and KS values at which drift alerts fire. @default - PSI 0.1 warning, 0.25 critical; KS 0.2 */
  readonly thresholds?: DriftThresholds;
  /** Values the live window must hold before a drift alert may fire (a PSI over a few values is noise). @default 200 */
  readonly minSamples?: number;
}

/** Model quality from labelled feedback for one endpoint. */
export interface QualityMonitoring {
  readonly endpoint: ServingEndpoint;
  /** @default '1h' */
  readonly window?: string;
  /** @default '7d' */
  readonly baseline?: string;
  /** An absolute accuracy floor (0 to 1). @default - none */
  readonly floor?: number;
  /** @default 200 */
  readonly minSamples?: number;
  /** Standard errors below the baseline that count as a real drop. @default 3 */
  readonly zScore?: number;
}

/** A monthly AWS budget on the platform's cost-allocation tags. */
export interface CostBudget {
  /** The budget's name (a DNS label); the AWS budget is `<platform>-<environment>-<name>`. */
  readonly name: string;
  /** The team whose tagged costs the budget counts (one tag per budget: not with `model`). @default - the whole platform */
  readonly team?: string;
  /** The model whose tagged costs the budget counts; one of the stack's endpoints must serve it. @default - every model */
  readonly model?: string;
  /** The monthly limit, in US dollars. */
  readonly monthlyLimitUsd: number;
  /** Actual spend, in percent of the limit, at which the alert topic is notified (a forecast over 100% always is). @default [80, 100] */
  readonly thresholdsPercent?: number[];
}

/** Where the platform's runbooks are, unless `runbookBaseUrl` says otherwise: the monitoring section of this library's README. */
export const DEFAULT_RUNBOOK_BASE_URL = 'https://github.com/mlops-platform-constructs/mlops-platform-constructs/blob/main/README.md';

/** A subscriber of the alert topic. */
export interface TopicSubscription {
  /** `email` (confirmed by the recipient), `https` (a chat or incident webhook), `sqs` or `lambda`. */
  readonly protocol: 'email' | 'https' | 'sqs' | 'lambda';
  /** The address, URL or ARN. */
  readonly endpoint: string;
}

/** Alertmanager routing. */
export interface AlertRouting {
  /** Where alerts can go: Slack, PagerDuty, the SNS topic, webhooks (unique names). */
  readonly receivers: AlertReceiver[];
  /** Team-specific routes first, then team-neutral ones; every monitored team needs a route naming it. @default - none */
  readonly routes?: AlertRoute[];
  /**
   * The receiver of alerts no route matches: a team-neutral one (no route with a `team` sends to it).
   * @default - the SNS receiver, when one is listed
   */
  readonly defaultReceiver?: string;
  /**
   * A TrainingPipeline's retraining webhook (`pipeline.retraining`): drift and quality alerts of its
   * model's endpoints also call it, with its bearer token.
   * @default - no alert starts a retraining
   */
  readonly retraining?: RetrainingTarget;
}

/** Where drift and quality alerts of one model start its retraining (a TrainingPipeline's `retraining`). */
export interface RetrainingTarget {
  /** The webhook's URL. */
  readonly url: string;
  /** The bearer token the webhook requires (written into the monitoring namespace for Alertmanager). */
  readonly token: ReceiverSecret;
  /** The model whose endpoints' alerts start it (the alerts' `model` label). */
  readonly model: string;
}

/** Props of a MonitoringStack. */
export interface MonitoringStackProps {
  /** The endpoints to monitor (real-time or streaming: batch endpoints expose no metrics). */
  readonly endpoints: ServingEndpoint[];
  /**
   * GPU rules of this cluster (DCGM metrics) and, for a GpuTrainingCluster, alarms on its system nodes.
   * A cluster the platform did not create (`EksCluster.fromAttributes`) needs the DCGM exporter scraped by
   * this Prometheus, e.g. from the NVIDIA GPU Operator, and GPU pools described in `nodePools`.
   * @default - none
   */
  readonly cluster?: IEksCluster;
  /** Database alarms of this registry. @default - none */
  readonly registry?: ModelRegistry;
  /** @default PrometheusInstance.kubePrometheusStack() */
  readonly prometheus?: PrometheusInstance;
  /** @default '15s' */
  readonly scrapeInterval?: string;
  /** @default - availability 99.9% (real-time) or 99%, latency from the latency class */
  readonly objectives?: EndpointObjectives[];
  /** @default - none */
  readonly drift?: DriftDetection[];
  /** @default - none */
  readonly quality?: QualityMonitoring[];
  /**
   * A quality metric per group of users (e.g. accuracy per `region`), alerting when one group falls
   * below the others, with a minimum of labelled outcomes per group as for drift.
   * @default - none
   */
  readonly subgroups?: SubgroupMonitoring[];
  /** @default - alerts stay in Alertmanager's default route */
  readonly alerting?: AlertRouting;
  /**
   * Who reads the alert topic that CloudWatch alarms, budgets and SNS receivers publish to: at least
   * one subscription (an unread topic drops every alarm).
   */
  readonly topicSubscriptions?: TopicSubscription[];
  /** Where runbooks live: each alert's `runbook_url` is `<base>#<alertname in lower case>`. @default DEFAULT_RUNBOOK_BASE_URL */
  readonly runbookBaseUrl?: string;
  /** The team that owns platform-wide alerts (GPU use). @default 'platform' */
  readonly platformTeam?: string;
  /** @default - below 5% for 1h */
  readonly gpuIdle?: { readonly belowPercent?: number; readonly for?: string };
  /** @default - none */
  readonly budgets?: CostBudget[];
  /**
   * Activate the platform's tag keys (`mlops.io/platform`, `environment`, `team`, `model`) as cost
   * allocation tags, which budgets filter on. Only the payer (management or standalone) account can
   * activate them, and only once AWS has seen the keys on resources (up to 24 hours after the first
   * apply): turn this on in a later apply, in the payer account; otherwise activate them there in
   * the Billing console.
   * @default false - no `aws_ce_cost_allocation_tag`: the first apply does not fail on keys AWS has not seen yet
   */
  readonly activateCostAllocationTags?: boolean;
}

/**
 * How the platform notices models degrading: recording rules and SLO burn-rate alerts per endpoint,
 * data drift (PSI, KS) and model quality computed in Prometheus, GPU use, Alertmanager routing,
 * Grafana dashboards, and on AWS an encrypted SNS topic, CloudWatch alarms, cost-allocation tags and
 * budgets.
 */
export class MonitoringStack extends Construct {
  public readonly prometheus: PrometheusInstance;
  public readonly chart: PlatformChart;
  public readonly topic: SnsTopic;
  public readonly key: PlatformKey;
  /** The rule groups written as PrometheusRules (also what the tests feed promtool). */
  public readonly ruleGroups: RuleGroup[] = [];
  public readonly alertmanagerIdentity?: WorkloadIdentity;
  /** The alert topic's ARN, known before apply (built from its name). */
  public readonly topicArn: string;

  constructor(scope: Construct, id: string, props: MonitoringStackProps) {
    super(scope, id);
    const context = PlatformApp.of(this).context;
    this.prometheus = props.prometheus ?? PrometheusInstance.kubePrometheusStack();
    this.prometheus.require(this);
    const scrape = props.scrapeInterval ?? '15s';
    const scrapeSeconds = durationSeconds(scrape);
    check(scrapeSeconds !== undefined, this, 'scrapeInterval', scrape, 'must be a Prometheus duration such as 15s');
    const window = (prop: string, value: string) => {
      const s = durationSeconds(value);
      check(s !== undefined, this, prop, value, 'must be a Prometheus duration such as 5m or 1h');
      check(s! >= 2 * scrapeSeconds!, this, prop, value, `is shorter than two scrape intervals (${scrape}): a rate needs at least two samples in its window`);
      return value;
    };
    check(props.endpoints.length > 0, this, 'endpoints', [], 'must name at least one endpoint');
    const names = new Set<string>();
    for (const e of props.endpoints) {
      check(!!e.serviceMonitor, this, 'endpoints', e.node.path, 'is an endpoint without metrics (a batch endpoint has no ServiceMonitor); monitor real-time or streaming endpoints');
      check(!names.has(`${e.namespace}/${e.name}`), this, 'endpoints', e.node.path, 'is listed twice');
      names.add(`${e.namespace}/${e.name}`);
      // Selected for real: the endpoint's monitor carries the labels this Prometheus selects on.
      for (const [k, v] of Object.entries(this.prometheus.labelsFor('ServiceMonitor'))) e.serviceMonitor!.metadata.addLabel(k, v);
    }
    const listed = (e: ServingEndpoint, prop: string) => check(props.endpoints.includes(e), this, prop, e.node.path, 'is not one of this stack\'s endpoints');

    // Rules per endpoint
    for (const e of props.endpoints) {
      const o = props.objectives?.find((x) => x.endpoint === e);
      const objective = this.resolveObjective(e, o, props.objectives?.indexOf(o!) ?? -1);
      const recording = endpointRecordingRules(e);
      const alerts = endpointAlertRules(e, objective, e.team);
      this.ruleGroups.push({ name: `mlops.${e.namespace}.${e.name}.recording`, interval: '30s', rules: recording });
      this.ruleGroups.push({ name: `mlops.${e.namespace}.${e.name}.alerts`, rules: alerts });
    }
    (props.drift ?? []).forEach((d, i) => {
      listed(d.endpoint, `drift[${i}].endpoint`);
      d.profile.validate(this, `drift[${i}].profile`);
      const t = { psiWarning: 0.1, psiCritical: 0.25, ksWarning: 0.2, ...d.thresholds };
      check(t.psiWarning > 0 && t.psiWarning < t.psiCritical, this, `drift[${i}].thresholds`, t, 'are out of order: 0 < psiWarning < psiCritical');
      check(t.ksWarning > 0 && t.ksWarning < 1, this, `drift[${i}].thresholds.ksWarning`, t.ksWarning, 'must be between 0 and 1');
      const minSamples = d.minSamples ?? 200;
      checkIntegerRange(this, `drift[${i}].minSamples`, minSamples, 1, 100000000);
      const labels = endpointLabels(d.endpoint);
      const selector = { namespace: d.endpoint.namespace, service: d.endpoint.serviceName };
      this.ruleGroups.push({ name: `mlops.${d.endpoint.namespace}.${d.endpoint.name}.drift`, interval: '1m', rules: [
        ...driftRecordingRules(d.profile, selector, labels, window(`drift[${i}].window`, d.window ?? '1h')),
        ...driftAlertRules(labels, t, window(`drift[${i}].for`, d.for ?? '30m'), d.endpoint.team, minSamples),
      ] });
    });
    (props.quality ?? []).forEach((q, i) => {
      listed(q.endpoint, `quality[${i}].endpoint`);
      if (q.floor !== undefined) check(q.floor > 0 && q.floor < 1, this, `quality[${i}].floor`, q.floor, 'must be an accuracy between 0 and 1');
      const minSamples = q.minSamples ?? 200;
      checkIntegerRange(this, `quality[${i}].minSamples`, minSamples, 10, 10000000);
      const r = qualityRules(q.endpoint, {
        window: window(`quality[${i}].window`, q.window ?? '1h'), baseline: window(`quality[${i}].baseline`, q.baseline ?? '7d'),
        floor: q.floor, minSamples, zScore: q.zScore ?? 3,
      }, q.endpoint.team);
      check(durationSeconds(q.baseline ?? '7d')! > durationSeconds(q.window ?? '1h')!, this, `quality[${i}].baseline`, q.baseline ?? '7d', 'must be longer than the window it is compared with');
      this.ruleGroups.push({ name: `mlops.${q.endpoint.namespace}.${q.endpoint.name}.quality`, interval: '1m', rules: [...r.recording, ...r.alerts] });
    });
    (props.subgroups ?? []).forEach((s, i) => {
      listed(s.endpoint, `subgroups[${i}].endpoint`);
      const v = validateSubgroupMonitoring(this, `subgroups[${i}]`, s);
      // The group's name becomes the PrometheusRule's (dots to dashes): a DNS subdomain, so no '_' or capitals.
      const name = `mlops.${s.endpoint.namespace}.${s.endpoint.name}.subgroups.${`${v.metric.name}-by-${s.groupLabel}`.toLowerCase().replace(/_/g, '-')}`;
      check(!this.ruleGroups.some((g) => g.name === name), this, `subgroups[${i}]`, `${v.metric.name} by ${s.groupLabel}`, `watches what subgroups of '${s.endpoint.node.path}' watch already`);
      this.ruleGroups.push({ name, interval: '1m', rules: subgroupRules(s.endpoint, {
        groupLabel: s.groupLabel, metric: v.metric, maxGap: v.maxGap, minSamples: v.minSamples,
        window: window(`subgroups[${i}].window`, s.window ?? '6h'), forDuration: window(`subgroups[${i}].for`, s.for ?? '1h'),
      }, s.endpoint.team) });
    });
    if (props.cluster) {
      check(isTrainingCluster(props.cluster) || (props.cluster.nodePools ?? []).some((p) => p.instanceTypes.some((t) => InstanceType.of(t).gpus > 0)), this, 'cluster', props.cluster.clusterName,
        'has no GPU pool to watch: describe its GPU pools in EksCluster.fromAttributes({ nodePools }), or leave `cluster` out');
      const idle = props.gpuIdle ?? {};
      const below = idle.belowPercent ?? 5;
      check(below > 0 && below < 100, this, 'gpuIdle.belowPercent', below, 'must be a percentage between 0 and 100');
      const g = gpuRules(below, window('gpuIdle.for', idle.for ?? '1h'), props.platformTeam ?? 'platform');
      this.ruleGroups.push({ name: 'mlops.gpu', interval: '30s', rules: [...g.recording, ...g.alerts] });
    }

    // Every alert says who owns it, what it means and where its runbook is.
    const runbooks = props.runbookBaseUrl ?? DEFAULT_RUNBOOK_BASE_URL;
    check(/^https:\/\/[^\s#]+$/.test(runbooks), this, 'runbookBaseUrl', runbooks, 'must be an https:// URL without a fragment');
    for (const group of this.ruleGroups) {
      group.rules.forEach((r, i) => {
        if (!r.alert) return;
        for (const label of ['severity', 'team']) check(!!r.labels?.[label], this, `ruleGroups.${group.name}.${r.alert}`, r.labels, `has no ${label} label`);
        for (const a of ['summary', 'description']) check(!!r.annotations?.[a], this, `ruleGroups.${group.name}.${r.alert}`, r.annotations, `has no ${a} annotation`);
        group.rules[i] = { ...r, annotations: { ...r.annotations, runbook_url: `${runbooks}#${r.alert.toLowerCase()}` } };
      });
    }

    // Kubernetes: rules, routing, dashboards
    this.chart = new PlatformChart(this, { namespace: this.prometheus.namespace });
    // The add-on's namespace is shared with kube-prometheus-stack, whose node exporter needs host access. An
    // existing Prometheus lives in a namespace created outside the platform, which the platform leaves alone.
    if (this.prometheus.installedByPlatform) PlatformNamespaces.use(this, this.prometheus.namespace, { podSecurity: 'privileged', reason: MONITORING_PRIVILEGED_REASON });
    const ruleLabels = this.prometheus.labelsFor('PrometheusRule');
    for (const group of this.ruleGroups) {
      new ApiObject(this.chart, `rules-${group.name}`, {
        apiVersion: 'monitoring.coreos.com/v1', kind: 'PrometheusRule',
        metadata: { name: group.name.replace(/\./g, '-'), labels: ruleLabels },
        spec: { groups: [group] },
      } as any);
    }
    for (const e of props.endpoints) {
      const dashboard = endpointDashboard(e, {
        drift: (props.drift ?? []).some((d) => d.endpoint === e),
        quality: (props.quality ?? []).some((q) => q.endpoint === e),
        gpu: !!props.cluster,
      });
      new k8s.KubeConfigMap(this.chart, `dashboard-${e.namespace}-${e.name}`, {
        metadata: { name: `mlops-dashboard-${e.namespace}-${e.name}`, labels: this.prometheus.dashboardLabels },
        data: { [`${e.namespace}-${e.name}.json`]: JSON.stringify(dashboard, null, 2) },
      });
    }

    // AWS: an encrypted topic for alarms, budgets and Alertmanager
    const base = context.physicalName(id);
    this.key = new PlatformKey(this, 'key', {
      description: `Alerts of ${base}`, alias: base,
      serviceStatements: [
        { sid: 'CloudWatchAlarmsPublish', service: 'cloudwatch.amazonaws.com', actions: ['kms:GenerateDataKey', 'kms:Decrypt'], conditions: { StringEquals: { 'aws:SourceAccount': context.accountId } } },
        { sid: 'BudgetsPublish', service: 'budgets.amazonaws.com', actions: ['kms:GenerateDataKey', 'kms:Decrypt'], conditions: { StringEquals: { 'aws:SourceAccount': context.accountId } } },
      ],
    });
    this.topic = new SnsTopic(this, 'alerts', { name: `${base}-alerts`, kmsMasterKeyId: this.key.keyArn });
    this.topicArn = `arn:aws:sns:${context.region}:${context.accountId}:${base}-alerts`;
    new SnsTopicPolicy(this, 'alerts-policy', {
      arn: this.topic.arn,
      policy: JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          { Sid: 'AwsServicesPublish', Effect: 'Allow', Principal: { Service: ['cloudwatch.amazonaws.com', 'budgets.amazonaws.com'] }, Action: 'sns:Publish', Resource: this.topic.arn, Condition: { StringEquals: { 'aws:SourceAccount': context.accountId } } },
          { Sid: 'DenyInsecureTransport', Effect: 'Deny', Principal: '*', Action: 'sns:Publish', Resource: this.topic.arn, Condition: { Bool: { 'aws:SecureTransport': 'false' } } },
        ],
      }),
    });
    const subscriptions = props.topicSubscriptions ?? [];
    check(subscriptions.length > 0, this, 'topicSubscriptions', subscriptions,
      `must name at least one subscriber of the alert topic ${base}-alerts (email, https chat or incident webhook, sqs, lambda): CloudWatch alarms and budgets publish there and nobody would read them`);
    subscriptions.forEach((sub, i) => {
      const ok = sub.protocol === 'email' ? /^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(sub.endpoint)
        : sub.protocol === 'https' ? /^https:\/\/\S+$/.test(sub.endpoint) : /^arn:aws[a-z-]*:(sqs|lambda):/.test(sub.endpoint);
      check(ok, this, `topicSubscriptions[${i}].endpoint`, sub.endpoint, sub.protocol === 'email' ? 'must be an email address' : sub.protocol === 'https' ? 'must be an https:// URL' : `must be the ARN of the ${sub.protocol} target`);
      new SnsTopicSubscription(this, `alerts-subscription-${i}`, { topicArn: this.topic.arn, protocol: sub.protocol, endpoint: sub.endpoint });
    });
    if (props.alerting) this.alertmanagerIdentity = this.addRouting(props.alerting, props.cluster ?? props.endpoints[0].cluster, context.region, props.endpoints);
    if (props.registry) this.addDatabaseAlarms(props.registry);
    if (props.cluster && isTrainingCluster(props.cluster)) this.addNodeAlarms(props.cluster);
    this.addCostAttribution(props.budgets ?? [], props.endpoints.map((e) => e.model.model.name), props.activateCostAllocationTags ?? false);
  }

  private resolveObjective(e: ServingEndpoint, o: EndpointObjectives | undefined, i: number): ResolvedObjective {
    const prop = `objectives[${i}]`;
    const availability = o?.availability === false ? undefined : o?.availability ?? (e.metrics.hasFailures ? (e.latencyClass.minReplicas >= 2 ? 0.999 : 0.99) : undefined);
    if (availability !== undefined) {
      check(availability > 0 && availability < 1, this, `${prop}.availability`, availability, 'must be a share between 0 and 1, exclusive (0.999 for 99.9%); an objective of 100% or more leaves no error budget');
      check(e.metrics.hasFailures, this, `${prop}.availability`, availability, `cannot be measured: the ${e.server.name} server of '${e.node.path}' exports no failed-request counter; set availability: false`);
    }
    const latencyMs = o?.latencyMs ?? (e.metrics.latencySupport(e.latencyClass.quantile) ? undefined : e.latencyClass.objectiveMs);
    if (o?.latencyMs !== undefined) {
      check(o.latencyMs > 0 && Number.isFinite(o.latencyMs), this, `${prop}.latencyMs`, o.latencyMs, 'must be a positive number of milliseconds');
      const reason = e.metrics.latencySupport(e.latencyClass.quantile);
      check(!reason, this, `${prop}.latencyMs`, o.latencyMs, `cannot be measured for '${e.node.path}': ${reason}`);
    }
    const minFailures = o?.minFailures ?? 5;
    checkIntegerRange(this, `${prop}.minFailures`, minFailures, 1, 1000000);
    return { availability, latencyMs, quantile: e.latencyClass.quantile, minFailures };
  }

  /**
   * Alertmanager's API (9093) takes silences from whoever reaches it, with no authentication: any pod could
   * silence another team's pages or a retraining. Only Prometheus (alerts, and scraping it and its config
   * reloader on 8080), Grafana (its Alertmanager data source) and the Alertmanager peers (cluster gossip on
   * 9094, TCP and UDP) reach its pods; the kubelet's probes come from the node, which the VPC CNI's
   * network policy agent admits.
   */
  private restrictAlertmanagerApi(): void {
    const pods = (labels: Record<string, string>) => [{ podSelector: { matchLabels: labels } }];
    const tcp = (...ports: number[]) => ports.map((port) => ({ protocol: 'TCP', port: k8s.IntOrString.fromNumber(port) }));
    new k8s.KubeNetworkPolicy(this.chart, 'alertmanager-api', {
      metadata: { name: 'alertmanager-api' },
      spec: {
        podSelector: { matchLabels: KUBE_PROMETHEUS_STACK_PODS.alertmanager },
        policyTypes: ['Ingress'],
        ingress: [
          { from: pods(KUBE_PROMETHEUS_STACK_PODS.prometheus), ports: tcp(ALERTMANAGER_WEB_PORT, 8080) },
          { from: pods({ 'app.kubernetes.io/name': 'grafana' }), ports: tcp(ALERTMANAGER_WEB_PORT) },
          { from: pods(KUBE_PROMETHEUS_STACK_PODS.alertmanager), ports: [...tcp(9094), { protocol: 'UDP', port: k8s.IntOrString.fromNumber(9094) }] },
        ],
      },
    });
  }

  private addRouting(alerting: AlertRouting, cluster: IEksCluster, region: string, endpoints: ServingEndpoint[]): WorkloadIdentity | undefined {
    const teams = endpoints.map((e) => e.team);
    const models = endpoints.map((e) => e.model.model.name);
    alerting.receivers.forEach((r, i) => check(r.name !== DISCARD_RECEIVER, this, `alerting.receivers[${i}].name`, r.name,
      `is the receiver the platform routes kube-prometheus-stack's Watchdog and InfoInhibitor alerts to; choose another name`));
    const receivers = [...alerting.receivers];
    if (alerting.retraining) receivers.push(AlertReceiver.webhook('retraining', alerting.retraining.url, { bearerToken: alerting.retraining.token }));
    check(receivers.length > 0, this, 'alerting.receivers', [], 'must name at least one receiver');
    const names = receivers.map((r) => r.name);
    names.forEach((n) => NameRules.dnsLabel(this, 'alerting.receivers', n));
    check(new Set(names).size === names.length, this, 'alerting.receivers', names, 'must have unique names');
    receivers.forEach((r, i) => {
      // Render once with a probe that checks each credential given as an existing Secret's key.
      const props: Record<string, string> = { 'webhook-url': 'webhookUrl', 'routing-key': 'routingKey' };
      const probe: ReceiverContext = {
        topicArn: this.topicArn, region,
        secretKey: (_receiver, field, value) => {
          if (!(value instanceof ClusterValue)) {
            const prop = `alerting.receivers[${i}].${props[field] ?? field}`;
            NameRules.dnsSubdomain(this, `${prop}.name`, value.name ?? '');
            check(/^[-._a-zA-Z0-9]{1,253}$/.test(value.key ?? ''), this, `${prop}.key`, value.key, 'must be a Secret key: 1 to 253 letters, digits, \'-\', \'_\' or \'.\'');
          }
          return { name: 'probe', key: 'probe' };
        },
      };
      const rendered = r.render(probe) as { slackConfigs?: Array<{ channel?: string }> };
      for (const c of rendered.slackConfigs ?? []) check(typeof c.channel === 'string' && /^[#@]?[^\s#@]+$/.test(c.channel), this, `alerting.receivers[${i}].channel`, c.channel, 'must name a Slack channel, e.g. \'#ml-alerts\' (not empty, no spaces)');
    });
    (alerting.routes ?? []).forEach((r, i) => check(names.includes(r.receiver), this, `alerting.routes[${i}].receiver`, r.receiver, `is not a receiver; receivers are ${names.map((n) => `'${n}'`).join(', ')}`));
    // Unmatched alerts go to a team-neutral receiver, and each team's alerts to a route naming that team.
    const teamReceivers = new Set((alerting.routes ?? []).filter((r) => r.team).map((r) => r.receiver));
    const fallback = alerting.defaultReceiver ?? receivers.find((r) => r.usesSns)?.name;
    check(fallback !== undefined, this, 'alerting.defaultReceiver', fallback,
      'must name the receiver of alerts no route matches (or list an SNS receiver, the default): a team-neutral one, not a team\'s on-call');
    check(names.includes(fallback!), this, 'alerting.defaultReceiver', fallback, `is not a receiver; receivers are ${names.map((n) => `'${n}'`).join(', ')}`);
    check(!teamReceivers.has(fallback!), this, 'alerting.defaultReceiver', fallback, 'is a team\'s receiver (a route with a team sends to it); unmatched alerts of every team would reach it');
    for (const team of [...new Set(teams)]) {
      check((alerting.routes ?? []).some((r) => r.team === team), this, 'alerting.routes', (alerting.routes ?? []).map((r) => r.team ?? '*'),
        `name no route for team '${team}', whose endpoints are monitored; add { receiver, team: '${team}' }`);
    }
    const routes: object[] = [];
    if (alerting.retraining) {
      // Drift and quality alerts of the pipeline's model also call its trigger, then go on to the team's receivers.
      const served = [...new Set(models)];
      check(served.includes(alerting.retraining.model), this, 'alerting.retraining.model', alerting.retraining.model,
        `is served by none of this stack's endpoints, so no alert would start its retraining; the endpoints serve ${served.map((m) => `'${m}'`).join(', ')}`);
      // One route per endpoint serving the model: its alerts, by namespace, endpoint and model, and no other's.
      for (const e of endpoints.filter((x) => x.model.model.name === alerting.retraining!.model)) {
        routes.push({
          receiver: 'retraining', continue: true,
          matchers: [
            { name: 'mlops_alert_kind', value: 'drift|quality', matchType: '=~' },
            ...Object.entries(endpointLabels(e)).map(([name, value]) => ({ name, value, matchType: '=' })),
          ],
        });
      }
    }
    for (const r of alerting.routes ?? []) {
      const m = [
        ...(r.severity ? [{ name: 'severity', value: r.severity, matchType: '=' }] : []),
        ...(r.team ? [{ name: 'team', value: r.team, matchType: '=' }] : []),
        ...(r.kinds ? [{ name: 'mlops_alert_kind', value: r.kinds.join('|'), matchType: '=~' }] : []),
      ];
      routes.push({ receiver: r.receiver, matchers: m });
    }
    // Credentials Terraform writes go into one Secret of this stack, in the namespace of the AlertmanagerConfig
    // (prometheus-operator reads receiver secrets there, and drops the whole config when one is missing).
    const secretName = `${this.node.id}-alert-receivers`;
    const written: Record<string, ClusterValue> = {};
    const secretKey = (receiver: string, field: string, value: ReceiverSecret): SecretKey => {
      if (!(value instanceof ClusterValue)) return value;
      written[`${receiver}-${field}`] = value;
      return { name: secretName, key: `${receiver}-${field}` };
    };
    const rendered = receivers.map((r) => r.render({ topicArn: this.topicArn, region, secretKey }));
    if (Object.keys(written).length > 0) {
      ClusterValues.secret(this, { namespace: this.prometheus.namespace, name: secretName, data: written });
    }
    // The platform's routing is Alertmanager's global configuration (prometheus-operator
    // AlertmanagerSpec.alertmanagerConfiguration: its routes match alerts of every namespace, while an
    // AlertmanagerConfig of a team namespace only sees that namespace's alerts). It replaces the chart's own
    // configuration, whose first route sends the always-firing Watchdog and the InfoInhibitor to a receiver
    // that sends nothing: the same here, or they would reach the default receiver every few hours.
    const global = this.prometheus.useGlobalAlertmanagerConfig(this, ALERT_ROUTING_NAME,
      'MonitoringStack writes the platform\'s alert routing as this AlertmanagerConfig, in the Alertmanager\'s namespace');
    if (global) routes.unshift({ receiver: DISCARD_RECEIVER, matchers: [{ name: 'alertname', value: 'Watchdog|InfoInhibitor', matchType: '=~' }] });
    if (this.prometheus.installedByPlatform) this.restrictAlertmanagerApi();
    // An existing Alertmanager that limits this config to its own namespace would route none of the endpoints' alerts.
    check(global || this.prometheus.configsInOwnNamespaceSeeAllAlerts, this, 'prometheus', this.prometheus.props.alertmanagerConfigMatcherStrategy ?? 'OnNamespace',
      `is the matcher strategy of the Alertmanager, under which AlertmanagerConfig ${this.prometheus.namespace}/${ALERT_ROUTING_NAME} would see only alerts of namespace '${this.prometheus.namespace}' and route none of the endpoints'; `
      + `make it the Alertmanager's global configuration (alertmanagerConfiguration.name: ${ALERT_ROUTING_NAME}) and say so with globalAlertmanagerConfig, or use the strategy 'OnNamespaceExceptForAlertmanagerNamespace'`);
    new ApiObject(this.chart, 'alert-routing', {
      apiVersion: 'monitoring.coreos.com/v1alpha1', kind: 'AlertmanagerConfig',
      metadata: { name: ALERT_ROUTING_NAME, labels: this.prometheus.labelsFor('AlertmanagerConfig') },
      spec: {
        route: { receiver: fallback, groupBy: ['alertname', 'endpoint', 'team'], groupWait: '30s', groupInterval: '5m', repeatInterval: '4h', routes },
        // The topic's ARN is built from its name: manifests hold no value that exists only after apply.
        receivers: global ? [...rendered, { name: DISCARD_RECEIVER }] : rendered,
        // A warning is silent while the critical alert of the same subject fires: a PSI rising past the
        // critical threshold keeps the warning until the critical's `for` is over, then only pages once.
        inhibitRules: [
          ['ModelDataDriftCritical', 'ModelDataDriftWarning', ['namespace', 'endpoint', 'feature']],
          ['ErrorBudgetBurnFast', 'ErrorBudgetBurnSlow', ['namespace', 'endpoint']],
        ].map(([source, target, equal]) => ({
          sourceMatch: [{ name: 'alertname', value: source, matchType: '=' }],
          targetMatch: [{ name: 'alertname', value: target, matchType: '=' }],
          equal,
        })),
      },
    } as any);
    if (!receivers.some((r) => r.usesSns)) return undefined;
    // Alertmanager publishes to the topic with its own Pod Identity role (kube-prometheus-stack's service account).
    const identity = new WorkloadIdentity(this, 'alertmanager-identity', {
      cluster, namespace: this.prometheus.namespace, serviceAccount: 'kube-prometheus-stack-alertmanager',
      roleName: PlatformApp.of(this).context.physicalName(this.node.id, 'alertmanager'),
    });
    grant(identity, 'publish-alerts', [
      { sid: 'Publish', actions: ['sns:Publish'], resources: [this.topic.arn] },
      // Only as SNS encrypts the message for the topic (SNS docs, sns-key-management: publishers to an
      // encrypted topic need these two, called by SNS on their behalf).
      { sid: 'EncryptForTopic', actions: ['kms:GenerateDataKey', 'kms:Decrypt'], resources: [this.key.keyArn], conditions: { StringEquals: { 'kms:ViaService': `sns.${region}.amazonaws.com` } } },
    ]);
    return identity;
  }

  private alarm(id: string, props: { name: string; description: string; namespace: string; metric: string; dimensions: Record<string, string>; statistic: string; comparison: string; threshold: number; periods?: number; period?: number }): void {
    new CloudwatchMetricAlarm(this, id, {
      alarmName: props.name, alarmDescription: props.description, namespace: props.namespace, metricName: props.metric,
      dimensions: props.dimensions, statistic: props.statistic, comparisonOperator: props.comparison, threshold: props.threshold,
      period: props.period ?? 300, evaluationPeriods: props.periods ?? 3, datapointsToAlarm: props.periods ?? 3,
      treatMissingData: 'breaching', alarmActions: [this.topic.arn], okActions: [this.topic.arn],
    });
  }

  private addDatabaseAlarms(registry: ModelRegistry): void {
    const db = { DBInstanceIdentifier: registry.database.instance.identifier };
    const base = PlatformApp.of(this).context.physicalName(this.node.id);
    this.alarm('db-cpu', { name: `${base}-registry-db-cpu`, description: 'Registry database CPU above 80% for 15 minutes', namespace: 'AWS/RDS', metric: 'CPUUtilization', dimensions: db, statistic: 'Average', comparison: 'GreaterThanThreshold', threshold: 80 });
    this.alarm('db-storage', { name: `${base}-registry-db-storage`, description: 'Registry database has less than 2 GiB of free storage', namespace: 'AWS/RDS', metric: 'FreeStorageSpace', dimensions: db, statistic: 'Minimum', comparison: 'LessThanThreshold', threshold: 2 * 1024 ** 3, periods: 1 });
    this.alarm('db-memory', { name: `${base}-registry-db-memory`, description: 'Registry database has less than 256 MiB of free memory', namespace: 'AWS/RDS', metric: 'FreeableMemory', dimensions: db, statistic: 'Minimum', comparison: 'LessThanThreshold', threshold: 256 * 1024 ** 2 });
  }

  private addNodeAlarms(cluster: GpuTrainingCluster): void {
    const asg = { AutoScalingGroupName: cluster.systemNodes.resources.get(0).autoscalingGroups.get(0).name };
    const base = PlatformApp.of(this).context.physicalName(this.node.id);
    this.alarm('nodes-status', { name: `${base}-system-nodes-status`, description: 'A system node of the cluster fails its EC2 status checks', namespace: 'AWS/EC2', metric: 'StatusCheckFailed', dimensions: asg, statistic: 'Maximum', comparison: 'GreaterThanThreshold', threshold: 0, periods: 2, period: 60 });
    this.alarm('nodes-cpu', { name: `${base}-system-nodes-cpu`, description: 'The cluster\'s system nodes run above 85% CPU for 15 minutes', namespace: 'AWS/EC2', metric: 'CPUUtilization', dimensions: asg, statistic: 'Average', comparison: 'GreaterThanThreshold', threshold: 85 });
  }

  private addCostAttribution(budgets: CostBudget[], servedModels: string[], activateTags: boolean): void {
    if (activateTags) {
      for (const key of ['platform', 'environment', 'team', 'model']) {
        new CeCostAllocationTag(this, `cost-tag-${key}`, { tagKey: `${TAG_PREFIX}/${key}`, status: 'Active' });
      }
    }
    const context = PlatformApp.of(this).context;
    budgets.forEach((b, i) => {
      NameRules.dnsLabel(this, `budgets[${i}].name`, b.name);
      check(b.monthlyLimitUsd > 0 && Number.isFinite(b.monthlyLimitUsd), this, `budgets[${i}].monthlyLimitUsd`, b.monthlyLimitUsd, 'must be a positive amount of US dollars');
      const thresholds = b.thresholdsPercent ?? [80, 100];
      thresholds.forEach((t) => check(t > 0 && t <= 1000, this, `budgets[${i}].thresholdsPercent`, thresholds, 'must be percentages from 1 to 1000'));
      // A budget filters on one tag (AWS Budgets takes one TagKeyValue filter): a team's, a model's or the platform's.
      check(!(b.team && b.model), this, `budgets[${i}]`, b.name, 'names both a team and a model; a budget filters on one tag, so make two budgets');
      check(!b.model || servedModels.includes(b.model), this, `budgets[${i}].model`, b.model, `is served by none of this stack's endpoints, so no cost would carry its tag; the endpoints serve ${[...new Set(servedModels)].map((m) => `'${m}'`).join(', ')}`);
      const [key, value] = b.model ? ['model', b.model] : b.team ? ['team', b.team] : ['platform', context.name];
      const tagFilter = { name: 'TagKeyValue', values: [`user:${TAG_PREFIX}/${key}$${value}`] };
      new BudgetsBudget(this, `budget-${b.name}`, {
        name: `${context.physicalName(b.name)}`,
        budgetType: 'COST', limitAmount: b.monthlyLimitUsd.toFixed(2), limitUnit: 'USD', timeUnit: 'MONTHLY',
        costFilter: [tagFilter],
        notification: [
          ...thresholds.map((t) => ({ comparisonOperator: 'GREATER_THAN', threshold: t, thresholdType: 'PERCENTAGE', notificationType: 'ACTUAL', subscriberSnsTopicArns: [this.topic.arn] })),
          { comparisonOperator: 'GREATER_THAN', threshold: 100, thresholdType: 'PERCENTAGE', notificationType: 'FORECASTED', subscriberSnsTopicArns: [this.topic.arn] },
        ],
      });
    });
  }
}
