import {
  Addon, AlertReceiver, ClusterNetwork, ClusterValue, GpuTrainingCluster, InstanceType, metricNamesIn, ModelRegistry, ModelServer, MonitoringStack,
  MonitoringStackProps, PlatformTesting, PrometheusInstance, QUALITY_METRIC, ReferenceProfile, selectorMatches, ServingEndpoint, ServingMode,
} from '../src';
import { manifestErrors } from './harness/kubernetes';
import { checkRules, promtoolTool, ruleFileOf, testRules } from './harness/promtool';
import { checkWithTerraform, expectTerraformOk, plannedResources, terraformTool } from './harness/terraform';
import { describeWithTool } from './harness/tools';
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
  const monitoring = new MonitoringStack(stack, 'monitoring', { endpoints: [endpoint], registry, ...props(endpoint), ...(gpu ? { cluster: cluster as GpuTrainingCluster } : {}) });
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
    retrainingWebhookUrl: 'http://fraud-retrain-trigger.pipelines.svc.cluster.local:12000/retrain',
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
    expect(selectorMatches({ matchLabels: { release: 'kube-prometheus-stack' } }, { app: 'x' })).toBe(false);
  });

  it('routes by severity and team, and sends drift and quality alerts to the retraining trigger', () => {
    const config = docs.find((d) => d.kind === 'AlertmanagerConfig');
    expect(config.spec.route.routes[0]).toEqual({ receiver: 'retraining', continue: true, matchers: [{ name: 'mlops_alert_kind', value: 'drift|quality', matchType: '=~' }] });
    expect(config.spec.route.routes[1]).toEqual({ receiver: 'oncall', matchers: [{ name: 'severity', value: 'critical', matchType: '=' }, { name: 'team', value: 'fraud', matchType: '=' }] });
    expect(config.spec.receivers.map((r: any) => r.name)).toEqual(['oncall', 'ml-alerts', 'aws', 'retraining']);
    // Credentials come from a Secret the KubernetesStack writes from Secrets Manager, in the AlertmanagerConfig's namespace.
    expect(config.spec.receivers[0].pagerdutyConfigs[0].routingKey).toEqual({ name: 'monitoring-alert-receivers', key: 'oncall-routing-key' });
    expect(config.spec.receivers[1].slackConfigs[0].apiURL).toEqual({ name: 'monitoring-alert-receivers', key: 'ml-alerts-webhook-url' });
    expect(Object.keys(out.terraform.kubernetes.resource.kubernetes_secret_v1['secret-monitoring-monitoring-alert-receivers'].data)).toEqual(['ml-alerts-webhook-url', 'oncall-routing-key']);
    expect(config.spec.receivers[2].snsConfigs[0].topicARN).toBe('arn:aws:sns:eu-west-1:123456789012:acme-dev-monitoring-alerts');
    expect(onlyResource(aws, 'aws_sns_topic').name).toBe('acme-dev-monitoring-alerts');
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
    const critical = { exp_labels: { ...F, severity: 'critical', team: 'fraud', mlops_alert_kind: 'drift' }, exp_annotations: { summary: `Feature amount of fraud drifted: PSI ${psi([0.1, 0.3, 0.6]).toFixed(3)} > 0.25`, runbook: 'Compare the live and reference distributions; retrain on recent data if the shift is real.' } };
    const result = testRules(rules, {
      evaluation_interval: '1m',
      tests: [
        { interval: '1m', input_series: histogram(1, 4, 10), alert_rule_test: [
          { eval_time: '20m', alertname: 'ModelDataDriftCritical', exp_alerts: [] },
          { eval_time: '40m', alertname: 'ModelDataDriftCritical', exp_alerts: [critical] },
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
          exp_annotations: { summary: 'fraud accuracy dropped significantly below its 7d baseline (z = 16.4)' },
        }] }],
      }],
    });
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
