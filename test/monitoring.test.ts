import {
  Addon, AlertReceiver, ClusterNetwork, ClusterValue, GpuTrainingCluster, InstanceType, metricNamesIn, ModelRegistry, ModelServer, MonitoringStack,
  MonitoringStackProps, PlatformNamespaces, PlatformTesting, DEFAULT_RUNBOOK_BASE_URL, PrometheusInstance, QUALITY_METRIC, ReferenceProfile, selectorMatches, ServingEndpoint, ServingMode,
  SubgroupMetric,
} from '../src';
import { manifestErrors } from './harness/kubernetes';
import { checkRules, promtoolTool, ruleFileOf, testRules } from './harness/promtool';
import { checkWithTerraform, expectTerraformOk, plannedResources, terraformTool } from './harness/terraform';
import { describeWithTool } from './harness/tools';
import { alertmanagerRouting, amtoolTool, receiversOf } from './harness/alertmanager';
import { onlyResource, resourcesOf, TEST_CLUSTER, testPlatform } from './harness/fixtures';

const PROFILE = ReferenceProfile.of([{ name: 'amount', edges: [10, 100], fractions: [0.5, 0.3, 0.2] }]);

function setup(props: (e: ServingEndpoint) => Partial<MonitoringStackProps> = () => ({}), gpu = false) {
  const { app, stack } = testPlatform();
  const cluster = gpu ? new GpuTrainingCluster(stack, 'training', {
    network: ClusterNetwork.create({ availabilityZones: ['eu-west-1a', 'eu-west-1b'] }),
    gpuPools: [{ name: 'g6', instanceTypes: [InstanceType.g6('xlarge')], maxSize: 2 }],
  }) : TEST_CLUSTER;
  const registry = new ModelRegistry(stack, 'registry', { cluster });
  const endpoint = new ServingEndpoint(stack, 'fraud', {
    cluster, namespace: 'serving', model: registry.model('fraud-detector').version('8'), server: ModelServer.mlflow(), team: 'fraud',
  });
  const monitoring = new MonitoringStack(stack, 'monitoring', { endpoints: [endpoint], registry, topicSubscriptions: [{ protocol: 'email', endpoint: 'oncall@acme.example' }], ...props(endpoint), ...(gpu ? { cluster: cluster as GpuTrainingCluster } : {}) });
  const out = PlatformTesting.synth(app);
  return { monitoring, endpoint, out, aws: out.terraform.aws, docs: out.manifests['aws/monitoring.k8s.yaml'] };
}

const ALERT_SECRET = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:alerts-AbCdEf';

const FULL = (e: ServingEndpoint): Partial<MonitoringStackProps> => ({
  drift: [{ endpoint: e, profile: PROFILE }],
  quality: [{ endpoint: e, floor: 0.9 }],
  alerting: {
    receivers: [
      AlertReceiver.pagerDuty('oncall', { routingKey: ClusterValue.fromSecretsManager(ALERT_SECRET, 'pagerduty') }),
      AlertReceiver.slack('ml-alerts', { channel: '#ml', webhookUrl: ClusterValue.fromSecretsManager(ALERT_SECRET, 'slack') }),
      AlertReceiver.sns('aws'),
    ],
    routes: [{ receiver: 'oncall', severity: 'critical', team: 'fraud' }, { receiver: 'ml-alerts', severity: 'warning' }],
    retraining: {
      url: 'http://fraud-retrain-trigger.pipelines.svc.cluster.local:12000/retrain', model: 'fraud-detector',
      token: ClusterValue.fromSecretsManager(ALERT_SECRET, 'retraining-token'),
    },
  },
  budgets: [{ name: 'fraud', team: 'fraud', monthlyLimitUsd: 1000 }],
  activateCostAllocationTags: true,
});

describe('MonitoringStack', () => {
  const { monitoring, docs, out, aws } = setup(FULL, true);

  it('records latency percentiles, throughput, error ratios per burn-rate window, saturation and GPU use', () => {
    const records = monitoring.ruleGroups.flatMap((g) => g.rules.map((r) => r.record)).filter(Boolean);
    expect(records).toEqual(expect.arrayContaining([
      'mlops:request_rate:rate5m', 'mlops:latency_seconds:p50', 'mlops:latency_seconds:p95', 'mlops:latency_seconds:p99',
      'mlops:error_ratio:rate5m', 'mlops:error_ratio:rate1h', 'mlops:error_ratio:rate3d', 'mlops:cpu_saturation:ratio',
      'mlops:gpu_utilization:avg_by_node', 'mlops:drift_psi', 'mlops:drift_ks', 'mlops:accuracy_drop:zscore',
    ]));
    const alerts = monitoring.ruleGroups.flatMap((g) => g.rules.map((r) => r.alert)).filter(Boolean);
    expect(alerts).toEqual(expect.arrayContaining(['ErrorBudgetBurnFast', 'ErrorBudgetBurnSlow', 'LatencyObjectiveMissed', 'ModelServerCrashLooping',
      'ModelEndpointNoTraffic', 'GpuNodeIdle', 'ModelDataDriftWarning', 'ModelDataDriftCritical', 'ModelQualityDrop', 'ModelAccuracyBelowFloor']));
  });

  it('puts the Prometheus selector labels on every monitor, rule and routing object, and the selectors match them', () => {
    const prometheus = PrometheusInstance.kubePrometheusStack();
    const all = Object.values(out.manifests).flat();
    const kinds = ['ServiceMonitor', 'PodMonitor', 'PrometheusRule', 'AlertmanagerConfig'] as const;
    const objects = all.filter((d) => (kinds as readonly string[]).includes(d.kind));
    expect(objects.map((d) => d.kind)).toEqual(expect.arrayContaining(['ServiceMonitor', 'PrometheusRule', 'AlertmanagerConfig']));
    for (const o of objects) expect({ name: o.metadata.name, selected: prometheus.selects(o.kind, o.metadata.labels ?? {}) }).toEqual({ name: o.metadata.name, selected: true });
    // The chart values that the add-on installs say the same selectors the instance promises.
    const values = Addon.kubePrometheusStack().props.values as any;
    expect(values.prometheus.prometheusSpec.ruleSelector).toEqual(prometheus.selector('PrometheusRule'));
    expect(values.prometheus.prometheusSpec.serviceMonitorSelector).toEqual(prometheus.selector('ServiceMonitor'));
    expect(values.alertmanager.alertmanagerSpec.alertmanagerConfigSelector).toEqual(prometheus.selector('AlertmanagerConfig'));
    // Rules only from the monitoring namespace (prometheus-operator PrometheusSpec.ruleNamespaceSelector): the
    // platform writes them all there, and no team namespace can set the team or model label of an alert.
    const monitoringOnly = { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } };
    expect(values.prometheus.prometheusSpec.ruleNamespaceSelector).toEqual(monitoringOnly);
    // Routing from any namespace, each limited to its own namespace's alerts (AlertmanagerSpec
    // alertmanagerConfigMatcherStrategy OnNamespace: pkg/alertmanager/amcfg.go adds the namespace matcher).
    expect(values.alertmanager.alertmanagerSpec.alertmanagerConfigNamespaceSelector).toEqual({});
    expect(values.alertmanager.alertmanagerSpec.alertmanagerConfigMatcherStrategy).toEqual({ type: 'OnNamespace' });
    for (const o of objects.filter((d) => d.kind === 'PrometheusRule' || d.kind === 'AlertmanagerConfig')) {
      expect({ name: o.metadata.name, namespace: o.metadata.namespace }).toEqual({ name: o.metadata.name, namespace: 'monitoring' });
    }
  });

  it('installs Grafana without the chart\'s default admin password, with namespaced RBAC and sidecars in `monitoring`', () => {
    // kube-prometheus-stack values.yaml sets grafana.adminPassword 'prom-operator'; the grafana chart generates one when empty
    const grafana = (Addon.kubePrometheusStack().props.values as any).grafana;
    expect(grafana.adminPassword).toBe('');
    // grafana chart rbac.namespaced: a Role instead of a ClusterRole over every namespace's Secrets and ConfigMaps
    expect(grafana.rbac).toEqual({ namespaced: true });
    expect(grafana.sidecar.dashboards.searchNamespace).toBe('monitoring');
    expect(Object.values(out.manifests).flat().filter((d) => d.kind === 'ConfigMap' && d.metadata.labels?.grafana_dashboard).map((d) => d.metadata.namespace ?? 'monitoring'))
      .toEqual(expect.arrayContaining(['monitoring']));
    expect(selectorMatches({ matchLabels: { release: 'kube-prometheus-stack' } }, { app: 'x' })).toBe(false);
  });

  it('routes by severity and team, and sends drift and quality alerts to the retraining trigger', () => {
    const config = docs.find((d) => d.kind === 'AlertmanagerConfig');
    // The chart's always-firing Watchdog and InfoInhibitor go nowhere, as in the chart's own configuration this one replaces.
    expect(config.spec.route.routes[0]).toEqual({ receiver: 'discard', matchers: [{ name: 'alertname', value: 'Watchdog|InfoInhibitor', matchType: '=~' }] });
    // only the drift and quality alerts of the endpoint serving the pipeline's model start it
    expect(config.spec.route.routes[1]).toEqual({
      receiver: 'retraining', continue: true,
      matchers: [
        { name: 'mlops_alert_kind', value: 'drift|quality', matchType: '=~' }, { name: 'endpoint', value: 'fraud', matchType: '=' },
        { name: 'namespace', value: 'serving', matchType: '=' }, { name: 'model', value: 'fraud-detector', matchType: '=' },
      ],
    });
    // with its bearer token (AlertmanagerConfig v1alpha1 webhookConfigs[].httpConfig.authorization, SafeAuthorization)
    expect(config.spec.receivers[3].webhookConfigs[0].httpConfig).toEqual({ authorization: { type: 'Bearer', credentials: { name: 'monitoring-alert-receivers', key: 'retraining-bearer-token' } } });
    expect(config.spec.route.routes[2]).toEqual({ receiver: 'oncall', matchers: [{ name: 'severity', value: 'critical', matchType: '=' }, { name: 'team', value: 'fraud', matchType: '=' }] });
    expect(config.spec.receivers.map((r: any) => r.name)).toEqual(['oncall', 'ml-alerts', 'aws', 'retraining', 'discard']);
    expect(config.spec.receivers[4]).toEqual({ name: 'discard' });
    // Credentials come from a Secret the KubernetesStack writes from Secrets Manager, in the AlertmanagerConfig's namespace.
    expect(config.spec.receivers[0].pagerdutyConfigs[0].routingKey).toEqual({ name: 'monitoring-alert-receivers', key: 'oncall-routing-key' });
    expect(config.spec.receivers[1].slackConfigs[0].apiURL).toEqual({ name: 'monitoring-alert-receivers', key: 'ml-alerts-webhook-url' });
    expect(Object.keys(out.terraform.kubernetes.resource.kubernetes_secret_v1['secret-monitoring-monitoring-alert-receivers'].data)).toEqual(['ml-alerts-webhook-url', 'oncall-routing-key', 'retraining-bearer-token']);
    // Unmatched alerts reach the team-neutral SNS receiver, not the first team's on-call.
    expect(config.spec.route.receiver).toBe('aws');
    expect(config.spec.inhibitRules).toContainEqual({
      sourceMatch: [{ name: 'alertname', value: 'ModelDataDriftCritical', matchType: '=' }],
      targetMatch: [{ name: 'alertname', value: 'ModelDataDriftWarning', matchType: '=' }],
      equal: ['namespace', 'endpoint', 'feature'],
    });
    expect(Object.values(resourcesOf(aws, 'aws_sns_topic_subscription'))).toEqual([expect.objectContaining({ protocol: 'email', endpoint: 'oncall@acme.example' })]);
    expect(config.spec.receivers[2].snsConfigs[0].topicARN).toBe('arn:aws:sns:eu-west-1:123456789012:acme-dev-monitoring-alerts');
    expect(onlyResource(aws, 'aws_sns_topic').name).toBe('acme-dev-monitoring-alerts');
  });

  it('makes its routing Alertmanager\'s global configuration, and only where it writes that routing', () => {
    // prometheus-operator pkg/alertmanager/operator.go provisionAlertmanagerConfiguration: with
    // spec.alertmanagerConfiguration set, it reads that AlertmanagerConfig from the Alertmanager's namespace and
    // fails the whole configuration ("failed to get global AlertmanagerConfig") when it does not exist.
    const release = (o: typeof out) => JSON.parse(o.terraform.kubernetes.resource.helm_release['addon-kube-prometheus-stack'].values[0]);
    expect(release(out).alertmanager.alertmanagerSpec.alertmanagerConfiguration).toEqual({ name: 'mlops-alert-routing' });
    const config = docs.find((d) => d.kind === 'AlertmanagerConfig');
    expect({ name: config.metadata.name, namespace: config.metadata.namespace }).toEqual({ name: 'mlops-alert-routing', namespace: 'monitoring' });
    // amcfg.go checkAlertmanagerConfigRootRoute: the global root route has a receiver, no matchers, no continue
    expect(config.spec.route.receiver).toBeTruthy();
    expect(config.spec.route.matchers).toBeUndefined();
    expect(config.spec.route.continue).toBeUndefined();
    // Without alerting there is no platform routing, and the chart keeps its own configuration.
    const quiet = setup();
    expect(quiet.docs.some((d) => d.kind === 'AlertmanagerConfig')).toBe(false);
    expect(release(quiet.out).alertmanager.alertmanagerSpec.alertmanagerConfiguration).toBeUndefined();
    expect(release(quiet.out).alertmanager.alertmanagerSpec.alertmanagerConfigMatcherStrategy).toEqual({ type: 'OnNamespace' });
  });

  it('refuses routing through an existing Alertmanager that would limit it to its own namespace, and routes where it may', () => {
    const existing = (more: object) => PrometheusInstance.existing({
      url: 'http://prometheus.obs.svc:9090', namespace: 'obs', serviceMonitorSelector: {}, podMonitorSelector: {}, ruleSelector: {}, alertmanagerConfigSelector: {}, ...more,
    });
    const alerting = { receivers: [AlertReceiver.sns('aws'), AlertReceiver.webhook('fraud-hook', 'http://hook.fraud.svc.cluster.local:8080/alerts')], routes: [{ receiver: 'fraud-hook', team: 'fraud' }] };
    // prometheus-operator's default strategy OnNamespace: the config would only see alerts of namespace 'obs'
    expect(() => setup(() => ({ prometheus: existing({}), alerting }))).toThrow(
      "MonitoringStack 'aws/monitoring': prometheus ('OnNamespace') is the matcher strategy of the Alertmanager, under which AlertmanagerConfig obs/mlops-alert-routing would see only alerts of namespace 'obs'");
    // the Alertmanager's namespace spared: a plain config, without the Watchdog route of a global one
    // (the existing stack's namespace, which the platform declares so that the namespaces check knows it)
    const inObs = (more: object) => (e: ServingEndpoint) => { PlatformNamespaces.use(e, 'obs'); return { prometheus: existing(more), alerting }; };
    const spared = setup(inObs({ alertmanagerConfigMatcherStrategy: 'OnNamespaceExceptForAlertmanagerNamespace' }));
    const config = spared.docs.find((d) => d.kind === 'AlertmanagerConfig');
    expect({ namespace: config.metadata.namespace, receivers: config.spec.receivers.map((r: any) => r.name) }).toEqual({ namespace: 'obs', receivers: ['aws', 'fraud-hook'] });
    // (the endpoint's own default instance is still installed; the routing does not touch its chart values)
    expect(JSON.parse(spared.out.terraform.kubernetes.resource.helm_release['addon-kube-prometheus-stack'].values[0]).alertmanager.alertmanagerSpec.alertmanagerConfiguration).toBeUndefined();
    // declared as the Alertmanager's global configuration: the same routing as on the platform's own
    const global = setup(inObs({ globalAlertmanagerConfig: 'mlops-alert-routing' }));
    expect(global.docs.find((d) => d.kind === 'AlertmanagerConfig').spec.route.routes[0].receiver).toBe('discard');
  });

  it('refuses a receiver named like the one the platform discards Watchdog alerts to', () => {
    expect(() => setup(() => ({ alerting: { receivers: [AlertReceiver.sns('discard')] } }))).toThrow(
      /MonitoringStack 'aws\/monitoring': alerting\.receivers\[0\]\.name \('discard'\) is the receiver the platform routes kube-prometheus-stack's Watchdog/);
  });

  it('gives every alert a severity, a team, a summary, a description and a runbook URL', () => {
    const alerts = monitoring.ruleGroups.flatMap((g) => g.rules).filter((r) => r.alert);
    expect(alerts.length).toBeGreaterThan(10);
    for (const a of alerts) {
      expect({ alert: a.alert, severity: !!a.labels?.severity, team: !!a.labels?.team, summary: !!a.annotations?.summary, description: !!a.annotations?.description })
        .toEqual({ alert: a.alert, severity: true, team: true, summary: true, description: true });
      expect(a.annotations?.runbook_url).toBe(`${DEFAULT_RUNBOOK_BASE_URL}#${a.alert!.toLowerCase()}`);
    }
    expect(alerts.find((a) => a.alert === 'GpuNodeIdle')?.labels?.team).toBe('platform');
  });

  it('ships a Grafana dashboard per model whose every query reads a recorded or contract metric', () => {
    const configMap = docs.find((d) => d.kind === 'ConfigMap' && d.metadata.name === 'mlops-dashboard-serving-fraud');
    expect(configMap.metadata.labels).toEqual(expect.objectContaining({ grafana_dashboard: '1' }));
    const dashboard = JSON.parse(configMap.data['serving-fraud.json']);
    const titles = dashboard.panels.map((p: any) => p.title);
    expect(titles).toEqual(expect.arrayContaining(['Latency', 'Throughput', 'Error ratio', 'Canary vs stable traffic', 'Data drift: PSI per feature', 'GPU utilisation']));
    const recorded = new Set(monitoring.ruleGroups.flatMap((g) => g.rules.map((r) => r.record)).filter(Boolean));
    const queries: string[] = dashboard.panels.flatMap((p: any) => p.targets.map((t: any) => t.expr));
    const unknown = queries.flatMap(metricNamesIn).filter((m) => !recorded.has(m) && m !== QUALITY_METRIC);
    expect(unknown).toEqual([]);
  });

  it('creates an encrypted SNS topic, database and node alarms, cost allocation tags and budgets on AWS', () => {
    expect(onlyResource(aws, 'aws_sns_topic').kms_master_key_id).toMatch(/aws_kms_key\.monitoring_key_\w+\.arn/);
    const alarms = (Object.values(resourcesOf(aws, 'aws_cloudwatch_metric_alarm')) as any[]).map((a) => `${a.namespace}/${a.metric_name}`).sort();
    expect(alarms).toEqual(['AWS/EC2/CPUUtilization', 'AWS/EC2/StatusCheckFailed', 'AWS/RDS/CPUUtilization', 'AWS/RDS/FreeStorageSpace', 'AWS/RDS/FreeableMemory']);
    expect((Object.values(resourcesOf(aws, 'aws_ce_cost_allocation_tag')) as any[]).map((t) => t.tag_key).sort()).toEqual(['mlops.io/environment', 'mlops.io/model', 'mlops.io/platform', 'mlops.io/team']);
    const budget = onlyResource(aws, 'aws_budgets_budget');
    expect(budget).toMatchObject({ limit_amount: '1000.00', time_unit: 'MONTHLY', cost_filter: [{ name: 'TagKeyValue', values: ['user:mlops.io/team$fraud'] }] });
    expect(budget.notification.map((n: any) => [n.notification_type, n.threshold])).toEqual([['ACTUAL', 80], ['ACTUAL', 100], ['FORECASTED', 100]]);
    const publish = (Object.values(resourcesOf(aws, 'aws_iam_role_policy')) as any[]).find((p) => p.name === 'publish-alerts');
    expect(JSON.parse(publish.policy).Statement[0].Action).toEqual(['sns:Publish']);
    // the topic's key only through SNS (kms:ViaService), never directly
    expect(JSON.parse(publish.policy).Statement[1]).toMatchObject({ Action: ['kms:GenerateDataKey', 'kms:Decrypt'], Condition: { StringEquals: { 'kms:ViaService': 'sns.eu-west-1.amazonaws.com' } } });
  });

  it('passes the Kubernetes schema check, prometheus-operator CRDs included', () => {
    expect(manifestErrors(out.manifests)).toEqual([]);
  });
});

describe('MonitoringStack bad input', () => {
  const bad = (props: (e: ServingEndpoint) => Partial<MonitoringStackProps>) => () => setup(props);
  const profile = (edges: number[], fractions: number[]) => ReferenceProfile.of([{ name: 'amount', edges, fractions }]);

  it.each([
    [(e: ServingEndpoint) => ({ drift: [{ endpoint: e, profile: PROFILE, thresholds: { psiWarning: 0.3, psiCritical: 0.2 } }] }), /drift\[0\]\.thresholds .* are out of order: 0 < psiWarning < psiCritical/],
    [(e: ServingEndpoint) => ({ drift: [{ endpoint: e, profile: profile([10, 100], [0.5, 0.3, 0.3]) }] }), /drift\[0\]\.profile\.amount\.fractions \(\[0\.5,0\.3,0\.3\]\) must sum to 1 \(they sum to 1\.1\)/],
    [(e: ServingEndpoint) => ({ drift: [{ endpoint: e, profile: profile([100, 10], [0.5, 0.3, 0.2]) }] }), /drift\[0\]\.profile\.amount\.edges \(\[100,10\]\) must be strictly increasing/],
    [(e: ServingEndpoint) => ({ drift: [{ endpoint: e, profile: profile([10], [0.5, 0.3, 0.2]) }] }), /drift\[0\]\.profile\.amount\.fractions .* must hold 2 values/],
    [(e: ServingEndpoint) => ({ objectives: [{ endpoint: e, availability: 1.5 }] }), /objectives\[0\]\.availability \(1\.5\) must be a share between 0 and 1, exclusive/],
    [(e: ServingEndpoint) => ({ objectives: [{ endpoint: e, availability: 1 }] }), /objectives\[0\]\.availability \(1\) must be a share between 0 and 1, exclusive \(0\.999 for 99\.9%\); an objective of 100% or more leaves no error budget/],
    [(e: ServingEndpoint) => ({ drift: [{ endpoint: e, profile: PROFILE, window: '20s' }] }), /drift\[0\]\.window \('20s'\) is shorter than two scrape intervals \(15s\)/],
    [(e: ServingEndpoint) => ({ scrapeInterval: '1m', quality: [{ endpoint: e, window: '1m' }] }), /quality\[0\]\.window \('1m'\) is shorter than two scrape intervals \(1m\)/],
    [(e: ServingEndpoint) => ({ objectives: [{ endpoint: e, latencyMs: -5 }] }), /objectives\[0\]\.latencyMs \(-5\) must be a positive number of milliseconds/],
    [() => ({ budgets: [{ name: 'fraud', team: 'fraud', model: 'fraud-detector', monthlyLimitUsd: 100 }] }), /budgets\[0\] \('fraud'\) names both a team and a model; a budget filters on one tag/],
    [() => ({ topicSubscriptions: [] }), /topicSubscriptions \(\[\]\) must name at least one subscriber of the alert topic acme-dev-monitoring-alerts/],
    [() => ({ topicSubscriptions: [{ protocol: 'https' as const, endpoint: 'http://chat.example/hook' }] }), /topicSubscriptions\[0\]\.endpoint \('http:\/\/chat\.example\/hook'\) must be an https:\/\/ URL/],
    [() => ({ alerting: { receivers: [AlertReceiver.pagerDuty('oncall', { routingKey: { name: 'pd', key: 'key' } })], routes: [{ receiver: 'oncall', team: 'fraud' }] } }),
      /alerting\.defaultReceiver \(undefined\) must name the receiver of alerts no route matches/],
    [() => ({ alerting: { receivers: [AlertReceiver.pagerDuty('oncall', { routingKey: { name: 'pd', key: 'key' } })], routes: [{ receiver: 'oncall', team: 'fraud' }], defaultReceiver: 'oncall' } }),
      /alerting\.defaultReceiver \('oncall'\) is a team's receiver/],
    [() => ({ alerting: { receivers: [AlertReceiver.sns('aws'), AlertReceiver.pagerDuty('pd', { routingKey: { name: 'pd', key: 'key' } })], routes: [{ receiver: 'pd', team: 'search' }] } }),
      /alerting\.routes \(\["search"\]\) name no route for team 'fraud'/],
    [(e: ServingEndpoint) => ({ drift: [{ endpoint: e, profile: PROFILE, minSamples: 0 }] }), /drift\[0\]\.minSamples \(0\)/],
  ])('rejects %#', (props, message) => {
    expect(bad(props)).toThrow(message);
  });

  it('rejects an endpoint without metrics', () => {
    const make = () => {
      const { stack } = testPlatform();
      const registry = new ModelRegistry(stack, 'registry', { cluster: TEST_CLUSTER });
      const batch = new ServingEndpoint(stack, 'scores', {
        cluster: TEST_CLUSTER, namespace: 'batch', model: registry.model('churn').version('3'), server: ModelServer.mlflow(),
        mode: ServingMode.batch({ inputUri: 's3://in-bucket/', outputUri: 's3://out-bucket/', command: ['score'] }),
      });
      new MonitoringStack(stack, 'monitoring', { endpoints: [batch] });
    };
    expect(make).toThrow(/MonitoringStack 'aws\/monitoring': endpoints \('aws\/scores'\) is an endpoint without metrics/);
  });

  it('rejects a latency objective on a server that exports no latency distribution', () => {
    const make = () => {
      const { stack } = testPlatform();
      const registry = new ModelRegistry(stack, 'registry', { cluster: TEST_CLUSTER });
      const e = new ServingEndpoint(stack, 'ts', { cluster: TEST_CLUSTER, namespace: 'serving', model: registry.model('m').version('1'), server: ModelServer.torchServe() });
      new MonitoringStack(stack, 'monitoring', { endpoints: [e], objectives: [{ endpoint: e, latencyMs: 100 }] });
    };
    expect(make).toThrow(/objectives\[0\]\.latencyMs \(100\) cannot be measured for 'aws\/ts': the server exports no latency histogram or summary/);
  });
});

describeWithTool(promtoolTool, 'MonitoringStack rules checked by promtool', () => {
  const { monitoring } = setup((e) => ({ drift: [{ endpoint: e, profile: PROFILE }], quality: [{ endpoint: e, floor: 0.9 }] }), true);
  const rules = { groups: monitoring.ruleGroups };
  const S = 'namespace="serving",service="fraud"';
  const E = { endpoint: 'fraud', namespace: 'serving', model: 'fraud-detector' };
  const labels = (l: Record<string, string>) => `{${Object.entries(l).map(([k, v]) => `${k}="${v}"`).join(',')}}`;
  /** A promtool expectation that `expr` is within 1e-6 of `value` (promtool compares samples exactly). */
  const within = (expr: string, value: number, at: string, l: Record<string, string>) => ({
    expr: `abs(${expr} - ${value}) < bool 0.000001`, eval_time: at, exp_samples: [{ labels: labels(l), value: 1 }],
  });

  /** The annotations of an alert that hold no template: its description and runbook URL. */
  const fixed = (alert: string) => {
    const a = monitoring.ruleGroups.flatMap((g) => g.rules).find((r) => r.alert === alert)!.annotations!;
    return { description: a.description, runbook_url: a.runbook_url };
  };

  it('passes promtool check rules', () => {
    const result = checkRules(rules);
    expect(result.output).toMatch(/SUCCESS/);
    expect(result.ok).toBe(true);
  });

  it('every rule file the reference platform writes passes promtool check rules', () => {
    const { buildReferencePlatform, REFERENCE_CONTEXT } = require('../stacks/platform');
    const app = PlatformTesting.app({ platform: REFERENCE_CONTEXT });
    buildReferencePlatform(app);
    const result = checkRules(ruleFileOf(PlatformTesting.synth(app).manifests));
    expect(result.ok).toBe(true);
  });

  it('records p95 latency from the server histogram', () => {
    // 100 requests a minute: 50 under 50 ms, 40 more under 100 ms, 10 under 250 ms. The 95th lies in
    // (0.1, 0.25]: 0.1 + (95 - 90) / 10 × 0.15 = 0.175 s.
    const bucket = (le: string, perMinute: number) => ({ series: `rest_server_request_duration_seconds_bucket{${S},le="${le}"}`, values: `0+${perMinute}x20` });
    const result = testRules(rules, {
      evaluation_interval: '1m',
      tests: [{
        interval: '1m',
        input_series: [bucket('0.05', 50), bucket('0.1', 90), bucket('0.25', 100), bucket('+Inf', 100)],
        promql_expr_test: [within(`mlops:latency_seconds:p95${labels(E)}`, 0.175, '10m', E)],
      }],
    });
    expect(result.output).toMatch(/SUCCESS/);
  });

  it('fires the fast burn-rate alert for a burst of errors, and not for a single failed request', () => {
    const requests = (code: string, values: string) => ({ series: `rest_server_requests_total{${S},status_code="${code}"}`, values });
    const burst = { interval: '1m', input_series: [requests('200', '0+5400x90'), requests('500', '0+600x90')] };
    const single = { interval: '1m', input_series: [requests('200', '0+6x90'), requests('500', '0x30 1x60')] };
    const fast = (exp: object[]) => [{ eval_time: '70m', alertname: 'ErrorBudgetBurnFast', exp_alerts: exp }];
    const firing = [{
      exp_labels: { ...E, severity: 'critical', team: 'fraud', mlops_alert_kind: 'slo' },
      exp_annotations: {
        summary: 'fraud is burning its 99.90% availability budget fast',
        description: 'Error ratio 10% over the long window; budget 0.100%.',
        runbook_url: `${DEFAULT_RUNBOOK_BASE_URL}#errorbudgetburnfast`,
      },
    }];
    const result = testRules(rules, {
      evaluation_interval: '1m',
      tests: [{ ...burst, alert_rule_test: fast(firing) }, { ...single, alert_rule_test: fast([]) }],
    });
    expect(result.output).toMatch(/SUCCESS/);
  });

  // Live buckets per minute under 10, under 100, in all; the reference is 0.5 / 0.3 / 0.2.
  const histogram = (below10: number, below100: number, all: number) => ['10', '100', '+Inf'].map((le, i) => ({
    series: `mlops_feature_value_bucket{${S},feature="amount",le="${le}"}`, values: `0+${[below10, below100, all][i]}x120`,
  }));
  const psi = (q: number[], p = [0.5, 0.3, 0.2]) => q.reduce((s, qi, i) => s + (qi - p[i]) * Math.log(qi / p[i]), 0);
  const F = { ...E, feature: 'amount' };

  it('computes the PSI and the KS statistic of a hand-computed shift to 1e-6', () => {
    // Live shares 0.3 / 0.4 / 0.3: PSI = Σ (q − p) ln(q / p); KS = max(|0.3 − 0.5|, |0.7 − 0.8|) = 0.2.
    const expected = psi([0.3, 0.4, 0.3]);
    expect(expected).toBeCloseTo(0.1714798, 6);
    const result = testRules(rules, {
      evaluation_interval: '1m',
      tests: [{
        interval: '1m', input_series: histogram(3, 7, 10),
        promql_expr_test: [within(`mlops:drift_psi${labels(F)}`, expected, '60m', F), within(`mlops:drift_ks${labels(F)}`, 0.2, '60m', F)],
      }],
    });
    expect(result.output).toMatch(/SUCCESS/);
  });

  it('fires the critical drift alert only after its 30m for window, and nothing for a shift under the threshold', () => {
    // Live 0.1 / 0.3 / 0.6: PSI ≈ 1.083, critical. Live 0.48 / 0.31 / 0.21: PSI ≈ 0.001, no alert.
    // 10 values a minute: the window holds the 200-value minimum from about 20m, so the critical fires after 50m.
    const critical = { exp_labels: { ...F, severity: 'critical', team: 'fraud', mlops_alert_kind: 'drift' }, exp_annotations: { summary: `Feature amount of fraud drifted: PSI ${psi([0.1, 0.3, 0.6]).toFixed(3)} > 0.25`, ...fixed('ModelDataDriftCritical') } };
    const result = testRules(rules, {
      evaluation_interval: '1m',
      tests: [
        { interval: '1m', input_series: histogram(1, 4, 10), alert_rule_test: [
          { eval_time: '45m', alertname: 'ModelDataDriftCritical', exp_alerts: [] },
          { eval_time: '60m', alertname: 'ModelDataDriftCritical', exp_alerts: [critical] },
        ] },
        { interval: '1m', input_series: histogram(48, 79, 100), alert_rule_test: [
          { eval_time: '90m', alertname: 'ModelDataDriftCritical', exp_alerts: [] },
          { eval_time: '90m', alertname: 'ModelDataDriftWarning', exp_alerts: [] },
          { eval_time: '90m', alertname: 'ModelDistributionShift', exp_alerts: [] },
        ] },
      ],
    });
    expect(result.output).toMatch(/SUCCESS/);
  });

  it('alerts on a sustained, significant accuracy drop from labelled feedback', () => {
    // Seven days at 95% accuracy, then an hour at 80% (600 labelled predictions an hour).
    const fb = (outcome: string, values: string) => ({ series: `${QUALITY_METRIC}{${S},outcome="${outcome}"}`, values });
    const result = testRules(rules, {
      evaluation_interval: '5m',
      tests: [{
        interval: '5m',
        input_series: [fb('correct', '0+47.5x2016 95760+40x24'), fb('incorrect', '0+2.5x2016 5040+10x24')],
        alert_rule_test: [{ eval_time: '7d2h', alertname: 'ModelQualityDrop', exp_alerts: [{
          exp_labels: { ...E, severity: 'warning', team: 'fraud', mlops_alert_kind: 'quality' },
          exp_annotations: { summary: 'fraud accuracy dropped significantly below its 7d baseline (z = 16.4)', ...fixed('ModelQualityDrop') },
        }] }],
      }],
    });
    expect(result.output).toMatch(/SUCCESS/);
  });
});

describeWithTool(promtoolTool, 'MonitoringStack alerts that fire when they should, checked by promtool', () => {
  const { monitoring } = setup((e) => ({ drift: [{ endpoint: e, profile: PROFILE }], quality: [{ endpoint: e, floor: 0.9 }] }), true);
  const rules = { groups: monitoring.ruleGroups };
  const S = 'namespace="serving",service="fraud"';
  /** A promtool expectation that `alert` is firing (or not) at `at`, read from the ALERTS series. */
  const firing = (alert: string, at: string, yes: boolean) => ({
    expr: `count by (alertname) (ALERTS{alertname="${alert}",alertstate="firing"})`, eval_time: at, exp_samples: yes ? [{ labels: `{alertname="${alert}"}`, value: 1 }] : [],
  });
  /** A promtool expectation that `alert` never fired in the `range` before `at`. */
  const neverFired = (alert: string, at: string, range: string) => ({
    expr: `count_over_time(ALERTS{alertname="${alert}",alertstate="firing"}[${range}])`, eval_time: at, exp_samples: [],
  });
  const psi = (q: number[], p = [0.5, 0.3, 0.2]) => q.reduce((sum, qi, i) => sum + (qi - p[i]) * Math.log(qi / p[i]), 0);
  /** Cumulative bucket counters of the `amount` histogram from per-minute live shares, phase after phase. */
  const histogram = (phases: Array<{ minutes: number; perMinute: number; shares: number[] }>) => ['10', '100', '+Inf'].map((le, b) => {
    let value = 0;
    const parts = phases.map((ph, i) => {
      const step = Number((ph.perMinute * ph.shares.slice(0, b + 1).reduce((x, y) => x + y, 0)).toFixed(6));
      const start = i === 0 ? value : value + step;
      const count = i === 0 ? ph.minutes : ph.minutes - 1;
      value = start + step * count;
      return `${Number(start.toFixed(6))}+${step}x${count}`;
    });
    return { series: `mlops_feature_value_bucket{${S},feature="amount",le="${le}"}`, values: parts.join(' ') };
  });
  const run = (tests: object[]) => testRules(rules, { evaluation_interval: '1m', tests });

  it('raises no drift alert below the minimum sample size, even at PSI 0.4', () => {
    // GIVEN live shares 0.22 / 0.3 / 0.48 (PSI ≈ 0.4) at 3 values a minute: 180 an hour, under the 200 minimum
    const shifted = [0.22, 0.3, 0.48];
    expect(psi(shifted)).toBeGreaterThan(0.39);
    const result = run([
      { interval: '1m', input_series: histogram([{ minutes: 150, perMinute: 3, shares: shifted }]), promql_expr_test: [
        neverFired('ModelDataDriftCritical', '150m', '150m'), neverFired('ModelDataDriftWarning', '150m', '150m'), neverFired('ModelDistributionShift', '150m', '150m'),
      ] },
      // THEN the same shift at 4 a minute (240 an hour) pages: the guard, not the data, kept it quiet
      { interval: '1m', input_series: histogram([{ minutes: 150, perMinute: 4, shares: shifted }]), promql_expr_test: [firing('ModelDataDriftCritical', '150m', true)] },
      // AND with no traffic at all nothing fires
      { interval: '1m', input_series: histogram([{ minutes: 150, perMinute: 0, shares: shifted }]), promql_expr_test: [
        neverFired('ModelDataDriftCritical', '150m', '150m'), neverFired('ModelDataDriftWarning', '150m', '150m'),
      ] },
    ]);
    expect(result.output).toMatch(/SUCCESS/);
  });

  it('keeps the warning active while the PSI rises through 0.25, until the critical fires', () => {
    // GIVEN 90 minutes at PSI ≈ 0.2, then a shift to PSI ≈ 0.4, at 100 values a minute
    const before = [0.3, 0.3, 0.4];
    const after = [0.22, 0.3, 0.48];
    expect(psi(before)).toBeGreaterThan(0.15);
    expect(psi(before)).toBeLessThan(0.25);
    // The 1h window mixes the two: find the minute its PSI first exceeds 0.25.
    const at = (t: number) => { const late = Math.min(Math.max(t - 90, 0), 60) / 60; return psi(before.map((b, i) => b * (1 - late) + after[i] * late)); };
    let crossed = 90;
    while (at(crossed) <= 0.25) crossed++;
    const result = run([{
      interval: '1m', input_series: histogram([{ minutes: 91, perMinute: 100, shares: before }, { minutes: 160, perMinute: 100, shares: after }]),
      promql_expr_test: [
        // THEN the warning fires on the PSI ≈ 0.2 and stays firing after the PSI passed 0.25, the critical not yet
        firing('ModelDataDriftWarning', `${crossed - 5}m`, true),
        firing('ModelDataDriftWarning', `${crossed + 10}m`, true),
        firing('ModelDataDriftCritical', `${crossed + 10}m`, false),
        // AND the critical fires once its 30m are over (Alertmanager then inhibits the warning)
        firing('ModelDataDriftCritical', `${crossed + 35}m`, true),
      ],
    }]);
    expect(result.output).toMatch(/SUCCESS/);
  });

  it('does not page at a true accuracy of 0.91 against a 0.9 floor with 300 labels an hour, and pages at 0.8', () => {
    // GIVEN a day of labelled feedback, 5 labels a minute, each correct with probability 0.91 (seeded)
    let seed = 20240611;
    const random = () => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648; };
    const sample = (p: number, minutes: number) => Array.from({ length: minutes }, () => Array.from({ length: 5 }, () => (random() < p ? 1 : 0) as number).reduce((a, b) => a + b, 0));
    const cumulative = (xs: number[]) => { let c = 0; return [0, ...xs.map((x) => (c += x))].join(' '); };
    const fb = (outcome: string, values: string) => ({ series: `${QUALITY_METRIC}{${S},outcome="${outcome}"}`, values });
    const correct = sample(0.91, 1440);
    // The point estimate of this sample dips under the floor for 30 minutes or more: the old rule would have paged.
    let longest = 0;
    for (let t = 60, run = 0; t <= 1440; t++) {
      const c = correct.slice(t - 60, t).reduce((a, b) => a + b, 0);
      run = c / 300 < 0.9 ? run + 1 : 0;
      longest = Math.max(longest, run);
    }
    expect(longest).toBeGreaterThanOrEqual(30);
    const worse = sample(0.8, 240);
    const result = run([
      { interval: '1m', input_series: [fb('correct', cumulative(correct)), fb('incorrect', cumulative(correct.map((c) => 5 - c)))],
        promql_expr_test: [neverFired('ModelAccuracyBelowFloor', '1d', '1d')] },
      // THEN at a true 0.8 the upper bound lies well under the floor and it pages
      { interval: '1m', input_series: [fb('correct', cumulative(worse)), fb('incorrect', cumulative(worse.map((c) => 5 - c)))],
        promql_expr_test: [firing('ModelAccuracyBelowFloor', '4h', true)] },
      // AND with no labels at all, nothing fires
      { interval: '1m', input_series: [fb('correct', '0x240'), fb('incorrect', '0x240')], promql_expr_test: [neverFired('ModelAccuracyBelowFloor', '4h', '4h')] },
    ]);
    expect(result.output).toMatch(/SUCCESS/);
  });

  it('opens a ticket for a 10x slow burn at 6 requests a minute, which the hourly guard would never reach', () => {
    // GIVEN 6 requests a minute with 1% failing: 10 times a 99.9% budget, 3.6 failures an hour (< 5), 86 a day
    const requests = (code: string, values: string) => ({ series: `rest_server_requests_total{${S},status_code="${code}"}`, values });
    const result = run([
      { interval: '1m', input_series: [requests('200', '0+5.94x1560'), requests('500', '0+0.06x1560')], promql_expr_test: [
        firing('ErrorBudgetBurnSlow', '1d2h', true),
        // while the last hour holds fewer than 5 failures: a ticket guarded by the page's hourly count would never open
        { expr: `count(mlops:failure_rate:rate1h{endpoint="fraud"} * 3600 < 5)`, eval_time: '1d2h', exp_samples: [{ labels: '{}', value: 1 }] },
      ] },
      // AND with no requests at all, no burn-rate alert fires
      { interval: '1m', input_series: [requests('200', '0x1560'), requests('500', '0x1560')], promql_expr_test: [
        neverFired('ErrorBudgetBurnSlow', '1d2h', '1d2h'), neverFired('ErrorBudgetBurnFast', '1d2h', '1d2h'),
      ] },
    ]);
    expect(result.output).toMatch(/SUCCESS/);
  });
});

describe('MonitoringStack subgroup monitoring', () => {
  const { monitoring, docs } = setup((e) => ({ subgroups: [{ endpoint: e, groupLabel: 'region' }] }));
  const group = monitoring.ruleGroups.find((g) => g.name === 'mlops.serving.fraud.subgroups.accuracy-by-region')!;

  it('records the metric per group from the labelled-outcome counter and alerts on a group that falls behind', () => {
    expect(group.rules.map((r) => r.record ?? r.alert)).toEqual([
      'mlops:subgroup_samples:window', 'mlops:subgroup_metric:window', 'mlops:subgroup_metric:eligible', 'mlops:subgroup_metric:others_mean', 'mlops:subgroup_metric:gap', 'ModelSubgroupMetricGap',
    ]);
    expect(group.rules[0]).toEqual({
      record: 'mlops:subgroup_samples:window', labels: { endpoint: 'fraud', namespace: 'serving', model: 'fraud-detector', subgroup_metric: 'accuracy', group_label: 'region' },
      expr: `sum by (group) (label_replace(increase(${QUALITY_METRIC}{namespace="serving",service="fraud",region!=""}[6h]), "group", "$1", "region", "(.*)"))`,
    });
    const alert = group.rules[5];
    expect(alert).toMatchObject({ for: '1h', labels: { team: 'fraud', endpoint: 'fraud', subgroup_metric: 'accuracy', group_label: 'region', severity: 'warning', mlops_alert_kind: 'fairness' } });
    expect(alert.expr).toBe('mlops:subgroup_metric:gap{endpoint="fraud",namespace="serving",model="fraud-detector",subgroup_metric="accuracy",group_label="region"} > 0.05');
    expect(alert.annotations).toMatchObject({ runbook_url: `${DEFAULT_RUNBOOK_BASE_URL}#modelsubgroupmetricgap`, description: expect.stringContaining('at least 200 labelled outcomes') });
    expect(docs.find((d) => d.kind === 'PrometheusRule' && d.metadata.name === 'mlops-serving-fraud-subgroups-accuracy-by-region').spec.groups).toEqual([group]);
  });

  it.each([
    [{ groupLabel: 'region-code' }, /MonitoringStack 'aws\/monitoring': subgroups\[0\]\.groupLabel \('region-code'\) must be a Prometheus label name/],
    [{ groupLabel: 'outcome' }, /subgroups\[0\]\.groupLabel \('outcome'\) is a label the rules already use \('namespace', 'service'.*'outcome'\); name the label that holds the group/],
    [{ groupLabel: 'region', maxGap: 1.5 }, /subgroups\[0\]\.maxGap \(1\.5\) must be a gap from 0 to 1, exclusive/],
    [{ groupLabel: 'region', minSamples: 0 }, /subgroups\[0\]\.minSamples \(0\) must be a whole number from 1 to 100000000/],
    [{ groupLabel: 'region', window: '10s' }, /subgroups\[0\]\.window \('10s'\) is shorter than two scrape intervals/],
    [{ groupLabel: 'region', metric: SubgroupMetric.ratio({ name: 'recall', counter: 'fraud_outcomes_total', numerator: ['true_positive'], denominator: ['false_negative'] }) },
      /subgroups\[0\]\.metric\.numerator \(\["true_positive"\]\) must be outcomes of the denominator \('false_negative'\)/],
  ])('rejects %j', (entry, message) => {
    expect(() => setup((e) => ({ subgroups: [{ endpoint: e, ...entry }] }))).toThrow(message);
  });

  it('rejects watching the same metric by the same label twice', () => {
    expect(() => setup((e) => ({ subgroups: [{ endpoint: e, groupLabel: 'region' }, { endpoint: e, groupLabel: 'region', maxGap: 0.1 }] })))
      .toThrow("MonitoringStack 'aws/monitoring': subgroups[1] ('accuracy by region') watches what subgroups of 'aws/fraud' watch already.");
  });
});

describeWithTool(promtoolTool, 'MonitoringStack subgroup alerts checked by promtool', () => {
  // A 1h window and a 30m `for`, so that the series stay short.
  const { monitoring } = setup((e) => ({
    subgroups: [
      { endpoint: e, groupLabel: 'region', window: '1h', for: '30m' },
      { endpoint: e, groupLabel: 'region', window: '1h', for: '30m', maxGap: 0.1, metric: SubgroupMetric.ratio({ name: 'recall', counter: 'fraud_outcomes_total', numerator: ['true_positive'], denominator: ['true_positive', 'false_negative'] }) },
    ],
  }));
  const rules = { groups: monitoring.ruleGroups };
  const S = 'namespace="serving",service="fraud"';
  const K = { endpoint: 'fraud', namespace: 'serving', model: 'fraud-detector', subgroup_metric: 'accuracy', group_label: 'region' };
  const labels = (l: Record<string, string>) => `{${Object.entries(l).map(([k, v]) => `${k}="${v}"`).join(',')}}`;
  /** Feedback counters of one region: `perMinute` labels a minute, `accuracy` of them correct, for `minutes`. */
  const region = (name: string, perMinute: number, accuracy: number, minutes = 150) => [
    { series: `${QUALITY_METRIC}{${S},region="${name}",outcome="correct"}`, values: `0+${Number((perMinute * accuracy).toFixed(6))}x${minutes}` },
    { series: `${QUALITY_METRIC}{${S},region="${name}",outcome="incorrect"}`, values: `0+${Number((perMinute * (1 - accuracy)).toFixed(6))}x${minutes}` },
  ];
  const gapAlert = (exp: object[], at: string) => ({ eval_time: at, alertname: 'ModelSubgroupMetricGap', exp_alerts: exp });
  const within = (expr: string, value: number, at: string, l: Record<string, string>) => ({ expr: `abs(${expr} - ${value}) < bool 0.000001`, eval_time: at, exp_samples: [{ labels: labels(l), value: 1 }] });
  const neverFired = (at: string) => ({ expr: 'count_over_time(ALERTS{alertname="ModelSubgroupMetricGap",alertstate="firing"}[150m])', eval_time: at, exp_samples: [] });
  const run = (tests: object[]) => testRules(rules, { evaluation_interval: '1m', tests });
  const fired = (group: string, gap: number) => ({
    exp_labels: { ...K, group, team: 'fraud', severity: 'warning', mlops_alert_kind: 'fairness' },
    exp_annotations: {
      summary: `fraud accuracy for region=${group} is ${gap.toFixed(3)} below the other groups' mean`,
      description: monitoring.ruleGroups.flatMap((g) => g.rules).find((r) => r.alert === 'ModelSubgroupMetricGap')!.annotations!.description.replace(/\{\{ \$labels\.group \}\}/g, group),
      runbook_url: `${DEFAULT_RUNBOOK_BASE_URL}#modelsubgroupmetricgap`,
    },
  });

  it('passes promtool check rules', () => {
    const result = checkRules(rules);
    expect(result.output).toMatch(/SUCCESS/);
    expect(result.ok).toBe(true);
  });

  it('fires for the region that falls behind the others, with the gap to the others\' mean', () => {
    // GIVEN eu at 0.95, us at 0.94, apac at 0.80, 10 labels a minute each (600 an hour, over the 200 minimum)
    // THEN apac lies (0.95 + 0.94) / 2 − 0.80 = 0.145 below the others; eu and us lie above theirs
    const result = run([{
      interval: '1m', input_series: [...region('eu', 10, 0.95), ...region('us', 10, 0.94), ...region('apac', 10, 0.8)],
      promql_expr_test: [
        within(`mlops:subgroup_metric:gap${labels({ ...K, group: 'apac' })}`, 0.145, '70m', { ...K, group: 'apac' }),
        within(`mlops:subgroup_metric:others_mean${labels({ ...K, group: 'eu' })}`, 0.87, '70m', { ...K, group: 'eu' }),
        within(`mlops:subgroup_samples:window${labels({ ...K, group: 'us' })}`, 600, '70m', { ...K, group: 'us' }),
      ],
      alert_rule_test: [
        // AND the alert waits for its 30m `for` (from about 20m, when the window first holds 200 labels)
        gapAlert([], '45m'),
        gapAlert([fired('apac', 0.145)], '120m'),
      ],
    }]);
    expect(result.output).toMatch(/SUCCESS/);
  });

  it('stays quiet for groups within the gap, and without labelled feedback', () => {
    const result = run([
      { interval: '1m', input_series: [...region('eu', 10, 0.95), ...region('us', 10, 0.93), ...region('apac', 10, 0.91)], promql_expr_test: [neverFired('150m')] },
      // No data: no feedback series at all, or counters that never move
      { interval: '1m', input_series: [{ series: 'up{job="fraud"}', values: '1x150' }], promql_expr_test: [neverFired('150m')] },
      { interval: '1m', input_series: [...region('eu', 0, 0.95), ...region('apac', 0, 0.5)], promql_expr_test: [
        neverFired('150m'), { expr: 'mlops:subgroup_metric:gap', eval_time: '150m', exp_samples: [] },
      ] },
    ]);
    expect(result.output).toMatch(/SUCCESS/);
  });

  it('neither alerts on nor counts a group with too few labelled outcomes', () => {
    // GIVEN apac at accuracy 0.5 with 3 labels a minute: 180 an hour, under the 200 minimum
    const result = run([
      { interval: '1m', input_series: [...region('eu', 10, 0.95), ...region('us', 10, 0.93), ...region('apac', 3, 0.5)], promql_expr_test: [
        neverFired('150m'),
        // THEN eu is compared with us alone: apac's 0.5 does not drag the others' mean down
        within(`mlops:subgroup_metric:others_mean${labels({ ...K, group: 'eu' })}`, 0.93, '150m', { ...K, group: 'eu' }),
        { expr: `mlops:subgroup_metric:gap{group="apac"}`, eval_time: '150m', exp_samples: [] },
      ] },
      // AND the same apac at 4 labels a minute (240 an hour) is alerted on: the guard, not the data, kept it quiet
      { interval: '1m', input_series: [...region('eu', 10, 0.95), ...region('us', 10, 0.93), ...region('apac', 4, 0.5)], alert_rule_test: [gapAlert([fired('apac', 0.44)], '150m')] },
      // AND with a single group over the minimum there is nothing to compare with
      { interval: '1m', input_series: [...region('eu', 10, 0.95), ...region('apac', 3, 0.5)], promql_expr_test: [neverFired('150m'), { expr: 'mlops:subgroup_metric:others_mean', eval_time: '150m', exp_samples: [] }] },
    ]);
    expect(result.output).toMatch(/SUCCESS/);
  });

  it('computes a ratio metric such as recall from its own counter, a group with no hits at 0', () => {
    const outcomes = (name: string, tp: number, fn: number) => [
      { series: `fraud_outcomes_total{${S},region="${name}",outcome="true_positive"}`, values: `0+${tp}x150` },
      { series: `fraud_outcomes_total{${S},region="${name}",outcome="false_negative"}`, values: `0+${fn}x150` },
      { series: `fraud_outcomes_total{${S},region="${name}",outcome="true_negative"}`, values: '0+50x150' },
    ];
    const R = { ...K, subgroup_metric: 'recall' };
    const result = run([{
      interval: '1m',
      input_series: [...outcomes('eu', 9, 1), ...outcomes('us', 8.5, 1.5), ...[{ series: `fraud_outcomes_total{${S},region="apac",outcome="false_negative"}`, values: '0+5x150' }]],
      promql_expr_test: [
        within(`mlops:subgroup_metric:window${labels({ ...R, group: 'eu' })}`, 0.9, '90m', { ...R, group: 'eu' }),
        within(`mlops:subgroup_metric:window${labels({ ...R, group: 'apac' })}`, 0, '90m', { ...R, group: 'apac' }),
        within(`mlops:subgroup_metric:gap${labels({ ...R, group: 'apac' })}`, 0.875, '90m', { ...R, group: 'apac' }),
      ],
    }]);
    expect(result.output).toMatch(/SUCCESS/);
  });
});

describeWithTool(terraformTool, 'MonitoringStack checked by terraform', () => {
  it('plans the encrypted topic, alarms and budgets offline', () => {
    const { aws } = setup(FULL);
    const plan = expectTerraformOk(checkWithTerraform(aws));
    expect(plannedResources(plan, 'aws_cloudwatch_metric_alarm').map((a) => a.values.alarm_name).sort()).toEqual([
      'acme-dev-monitoring-registry-db-cpu', 'acme-dev-monitoring-registry-db-memory', 'acme-dev-monitoring-registry-db-storage',
    ]);
    expect(plannedResources(plan, 'aws_budgets_budget')[0].values).toMatchObject({ limit_amount: '1000.00', budget_type: 'COST' });
    expect(plannedResources(plan, 'aws_ce_cost_allocation_tag').map((t) => t.values.status)).toEqual(['Active', 'Active', 'Active', 'Active']);
  });
});

describeWithTool(amtoolTool, 'MonitoringStack alert routing, as Alertmanager routes it (amtool config routes test)', () => {
  const { docs } = setup(FULL);
  const platform = docs.find((d) => d.kind === 'AlertmanagerConfig');
  // What a team may write in its own namespace: every alert to its own pager.
  const team = {
    apiVersion: 'monitoring.coreos.com/v1alpha1', kind: 'AlertmanagerConfig', metadata: { name: 'team-routing', namespace: 'other-team' },
    spec: { route: { receiver: 'team-pager' }, receivers: [{ name: 'team-pager' }] },
  };
  const config = alertmanagerRouting(platform, [team], 'OnNamespace');
  const fraud = { endpoint: 'fraud', namespace: 'serving', model: 'fraud-detector', team: 'fraud' };
  const at = (name: string) => `monitoring/mlops-alert-routing/${name}`;

  it('sends the chart\'s Watchdog nowhere, and unmatched alerts to the neutral receiver', () => {
    expect(receiversOf(config, { alertname: 'Watchdog', severity: 'none' })).toEqual([at('discard')]);
    expect(receiversOf(config, { alertname: 'KubePodCrashLooping', namespace: 'kube-system', severity: 'info' })).toEqual([at('aws')]);
  });

  it('starts the retraining only for drift and quality alerts of the endpoint serving the pipeline\'s model', () => {
    expect(receiversOf(config, { alertname: 'ModelDataDriftWarning', severity: 'warning', mlops_alert_kind: 'drift', ...fraud })).toEqual([at('retraining'), at('ml-alerts')]);
    expect(receiversOf(config, { alertname: 'ModelQualityDrop', severity: 'critical', mlops_alert_kind: 'quality', ...fraud })).toEqual([at('retraining'), at('oncall')]);
    // the same model name on another endpoint or namespace, another model, or an SLO alert: no retraining
    expect(receiversOf(config, { alertname: 'ModelDataDriftWarning', severity: 'warning', mlops_alert_kind: 'drift', ...fraud, namespace: 'other-team' })).not.toContain(at('retraining'));
    expect(receiversOf(config, { alertname: 'ModelDataDriftWarning', severity: 'warning', mlops_alert_kind: 'drift', ...fraud, endpoint: 'fraud-shadow' })).not.toContain(at('retraining'));
    expect(receiversOf(config, { alertname: 'ModelDataDriftWarning', severity: 'warning', mlops_alert_kind: 'drift', ...fraud, model: 'churn' })).not.toContain(at('retraining'));
    expect(receiversOf(config, { alertname: 'ErrorBudgetBurnFast', severity: 'critical', mlops_alert_kind: 'slo', ...fraud })).toEqual([at('oncall')]);
  });

  it('gives a team\'s own AlertmanagerConfig only its namespace\'s alerts, which still reach the platform\'s routes', () => {
    expect(receiversOf(config, { alertname: 'ErrorBudgetBurnFast', severity: 'critical', mlops_alert_kind: 'slo', ...fraud })).not.toContain('other-team/team-routing/team-pager');
    // its route continues: the platform's routes still see the alert (Alertmanager uses the root's receiver only when no route matched)
    expect(receiversOf(config, { alertname: 'ErrorBudgetBurnSlow', severity: 'warning', mlops_alert_kind: 'slo', ...fraud, namespace: 'other-team', team: 'other' }))
      .toEqual(['other-team/team-routing/team-pager', at('ml-alerts')]);
    // With strategy None (the chart's setting before), the same object took every team's alerts.
    expect(receiversOf(alertmanagerRouting(platform, [team], 'None'), { alertname: 'ErrorBudgetBurnFast', severity: 'critical', ...fraud }))
      .toContain('other-team/team-routing/team-pager');
  });
});
