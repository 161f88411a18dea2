import type { ServingEndpoint } from '../serving/serving-endpoint';
import { durationSeconds, matchers, PrometheusRuleSpec } from './promql';

/** The windows error ratios are recorded over: those the multi-window burn-rate alerts read. */
export const ERROR_RATIO_WINDOWS = ['5m', '30m', '1h', '2h', '6h', '1d', '3d'];

/**
 * Multi-window, multi-burn-rate alerts (Google SRE workbook, chapter 5): [long window, short window,
 * burn rate, severity]. A page when 2% of a 30-day budget burns in an hour or 5% in six hours; a
 * ticket when 10% burns in three days.
 */
export const BURN_RATE_WINDOWS: Array<[string, string, number, 'critical' | 'warning']> = [
  ['1h', '5m', 14.4, 'critical'], ['6h', '30m', 6, 'critical'], ['1d', '2h', 3, 'warning'], ['3d', '6h', 1, 'warning'],
];

/** The labels every recorded series of an endpoint carries. */
export function endpointLabels(e: ServingEndpoint): Record<string, string> {
  return { endpoint: e.name, namespace: e.namespace, model: e.model.model.name };
}

/** Recording rules of an endpoint: request rate, error ratios, latency quantiles, traffic per model version, saturation. */
export function endpointRecordingRules(e: ServingEndpoint): PrometheusRuleSpec[] {
  const sel = e.metricsSelector;
  const labels = endpointLabels(e);
  const m = e.metrics;
  const rules: PrometheusRuleSpec[] = [
    { record: 'mlops:request_rate:rate5m', expr: m.requestRate(sel, '5m'), labels },
    { record: 'mlops:request_rate_by_version:rate5m', expr: m.requestRate(sel, '5m', ['mlops_io_model_version', 'rollouts_pod_template_hash']), labels },
  ];
  if (m.hasFailures) {
    rules.push({ record: 'mlops:failure_rate:rate5m', expr: m.failureRate(sel, '5m'), labels });
    // Failures per second over each burn-rate alert's long window: the guard of that alert's branch.
    for (const w of [...new Set(BURN_RATE_WINDOWS.map((b) => b[0]))]) rules.push({ record: `mlops:failure_rate:rate${w}`, expr: m.failureRate(sel, w), labels });
    for (const w of ERROR_RATIO_WINDOWS) rules.push({ record: `mlops:error_ratio:rate${w}`, expr: m.errorRatio(sel, w), labels });
  }
  for (const q of [0.5, 0.95, 0.99]) {
    if (!m.latencySupport(q)) {
      rules.push({ record: `mlops:latency_seconds:p${Math.round(q * 100)}`, expr: m.latencyQuantile(q, sel, '5m'), labels });
    }
  }
  const pods = matchers({ namespace: e.namespace }) + `,pod=~"${e.name}-.*"`;
  rules.push({
    record: 'mlops:cpu_saturation:ratio',
    expr: `sum(rate(container_cpu_usage_seconds_total{${pods},container!=""}[5m])) / sum(kube_pod_container_resource_limits{${pods},resource="cpu"})`, labels,
  });
  rules.push({
    record: 'mlops:memory_saturation:ratio',
    expr: `sum(container_memory_working_set_bytes{${pods},container!=""}) / sum(kube_pod_container_resource_limits{${pods},resource="memory"})`, labels,
  });
  return rules;
}

/** The objectives of an endpoint. */
export interface ResolvedObjective {
  /** Share of requests that must succeed (e.g. 0.999), or undefined for no availability objective. */
  readonly availability?: number;
  /** The latency objective in milliseconds at `quantile`. */
  readonly latencyMs?: number;
  readonly quantile: number;
  /**
   * Failed requests below which a burn-rate alert stays quiet (one failure is not an outage),
   * counted over each alert branch's own long window (1h and 6h for the page, 1d and 3d for the ticket).
   */
  readonly minFailures: number;
}

/** Alerts of an endpoint: burn rates, latency objective, crash loops, no traffic. */
export function endpointAlertRules(e: ServingEndpoint, o: ResolvedObjective, team: string): PrometheusRuleSpec[] {
  const sel = matchers(endpointLabels(e));
  const rules: PrometheusRuleSpec[] = [];
  const common = { team, endpoint: e.name, mlops_alert_kind: 'slo' };
  if (o.availability !== undefined) {
    const budget = Number((1 - o.availability).toPrecision(6));
    for (const severity of ['critical', 'warning'] as const) {
      const windows = BURN_RATE_WINDOWS.filter((w) => w[3] === severity);
      // Each branch carries its own guard, sized on its long window: a low-traffic service burning
      // slowly reaches the failure count over a day long before it does within an hour.
      const burning = windows.map(([long, short, rate]) =>
        `(mlops:error_ratio:rate${long}{${sel}} > ${rate} * ${budget} and mlops:error_ratio:rate${short}{${sel}} > ${rate} * ${budget}`
        + ` and on (endpoint, namespace) mlops:failure_rate:rate${long}{${sel}} * ${durationSeconds(long)} >= ${o.minFailures})`).join(' or ');
      rules.push({
        alert: severity === 'critical' ? 'ErrorBudgetBurnFast' : 'ErrorBudgetBurnSlow',
        expr: burning,
        for: severity === 'critical' ? '2m' : '15m',
        labels: { ...common, severity },
        annotations: {
          summary: `${e.name} is burning its ${(o.availability * 100).toFixed(2)}% availability budget ${severity === 'critical' ? 'fast' : 'steadily'}`,
          description: `Error ratio {{ $value | humanizePercentage }} over the long window; budget ${(budget * 100).toPrecision(3)}%.`,
        },
      });
    }
  }
  if (o.latencyMs !== undefined) {
    const p = Math.round(o.quantile * 100);
    rules.push({
      alert: 'LatencyObjectiveMissed', expr: `mlops:latency_seconds:p${p}{${sel}} > ${o.latencyMs / 1000}`, for: '10m',
      labels: { ...common, severity: 'warning' },
      annotations: {
        summary: `${e.name} p${p} latency {{ $value | humanizeDuration }} is above its ${o.latencyMs} ms objective`,
        description: `The p${p} latency over 5 minutes has stayed above ${o.latencyMs} ms for 10 minutes.`,
      },
    });
  }
  rules.push({
    alert: 'ModelServerCrashLooping',
    expr: `increase(kube_pod_container_status_restarts_total{namespace="${e.namespace}",pod=~"${e.name}-.*"}[15m]) > 3`, for: '5m',
    labels: { ...common, severity: 'critical', mlops_alert_kind: 'health' },
    annotations: {
      summary: `Pod {{ $labels.pod }} of ${e.name} restarted more than 3 times in 15 minutes`,
      description: 'Container {{ $labels.container }} restarted {{ $value | printf "%.0f" }} times in 15 minutes; read its previous logs.',
    },
  });
  if (e.latencyClass.warm) {
    rules.push({
      alert: 'ModelEndpointNoTraffic',
      expr: `(mlops:request_rate:rate5m{${sel}} == 0) or absent(mlops:request_rate:rate5m{${sel}})`, for: '15m',
      labels: { ...common, severity: 'warning', mlops_alert_kind: 'health' },
      annotations: {
        summary: `${e.name} has served no request for 15 minutes (or is not scraped)`,
        description: 'A warm endpoint saw no request for 15 minutes, or Prometheus scrapes none of its pods: check the ServiceMonitor targets and the callers.',
      },
    });
  }
  return rules;
}

/** GPU recording rules and the money-burning alert, from the DCGM exporter. */
export function gpuRules(idlePercent: number, idleFor: string, team: string): { recording: PrometheusRuleSpec[]; alerts: PrometheusRuleSpec[] } {
  return {
    recording: [
      { record: 'mlops:gpu_utilization:avg_by_node', expr: 'avg by (Hostname) (DCGM_FI_DEV_GPU_UTIL)' },
      { record: 'mlops:gpu_memory_used_bytes:sum_by_node', expr: 'sum by (Hostname) (DCGM_FI_DEV_FB_USED) * 1048576' },
      { record: 'mlops:gpu_utilization:avg_by_pod', expr: 'avg by (namespace, pod) (DCGM_FI_DEV_GPU_UTIL{pod!=""})' },
    ],
    alerts: [{
      alert: 'GpuNodeIdle', expr: `max by (Hostname) (DCGM_FI_DEV_GPU_UTIL) < ${idlePercent}`, for: idleFor,
      labels: { team, severity: 'warning', mlops_alert_kind: 'cost' },
      annotations: {
        summary: 'GPUs of node {{ $labels.Hostname }} are idle while the node runs (and costs money)',
        description: `The busiest GPU of the node ran below ${idlePercent}% for ${idleFor} (now {{ $value | printf "%.0f" }}%): scale the pool down or find the stuck job.`,
      },
    }],
  };
}

/** The labelled-feedback contract: a counter of scored predictions by outcome. */
export const QUALITY_METRIC = 'mlops_feedback_total';

/** Model quality from labelled feedback: accuracy now and over a baseline, and a z-score of the drop. */
export function qualityRules(e: ServingEndpoint, q: { window: string; baseline: string; floor?: number; minSamples: number; zScore: number }, team: string): { recording: PrometheusRuleSpec[]; alerts: PrometheusRuleSpec[] } {
  const labels = endpointLabels(e);
  const selector = e.metricsSelector;
  const sel = matchers(labels);
  const acc = (w: string) => `sum(increase(${QUALITY_METRIC}{${selector},outcome="correct"}[${w}])) / sum(increase(${QUALITY_METRIC}{${selector}}[${w}]))`;
  const recording: PrometheusRuleSpec[] = [
    { record: 'mlops:accuracy:ratio_window', expr: acc(q.window), labels },
    { record: 'mlops:accuracy:ratio_baseline', expr: acc(q.baseline), labels },
    { record: 'mlops:feedback:count_window', expr: `sum(increase(${QUALITY_METRIC}{${selector}}[${q.window}]))`, labels },
    {
      // The upper Wilson score bound of the window's accuracy at z: the best accuracy the labels still allow.
      record: 'mlops:accuracy:wilson_upper_window',
      expr: wilsonUpper(`mlops:accuracy:ratio_window{${sel}}`, `mlops:feedback:count_window{${sel}}`, q.zScore),
      labels,
    },
    {
      // How many standard errors the current accuracy lies below the baseline (a one-sided z-test of proportions).
      record: 'mlops:accuracy_drop:zscore',
      expr: `(mlops:accuracy:ratio_baseline{${sel}} - mlops:accuracy:ratio_window{${sel}}) / sqrt(clamp_min(mlops:accuracy:ratio_baseline{${sel}} * (1 - mlops:accuracy:ratio_baseline{${sel}}), 0.000001) / mlops:feedback:count_window{${sel}})`,
      labels,
    },
  ];
  const common = { team, endpoint: e.name, mlops_alert_kind: 'quality' };
  const enough = `mlops:feedback:count_window{${sel}} >= ${q.minSamples}`;
  const alerts: PrometheusRuleSpec[] = [{
    alert: 'ModelQualityDrop', expr: `mlops:accuracy_drop:zscore{${sel}} > ${q.zScore} and on (endpoint, namespace) ${enough}`, for: '30m',
    labels: { ...common, severity: 'warning' },
    annotations: {
      summary: `${e.name} accuracy dropped significantly below its ${q.baseline} baseline (z = {{ $value | printf "%.1f" }})`,
      description: `The ${q.window} accuracy lies more than ${q.zScore} standard errors below the ${q.baseline} accuracy, with at least ${q.minSamples} labelled predictions in the window.`,
    },
  }];
  if (q.floor !== undefined) {
    alerts.push({
      // A one-sided test against the floor: page only when even the upper Wilson bound lies below it,
      // so sampling noise of a model slightly above the floor does not page.
      alert: 'ModelAccuracyBelowFloor', expr: `mlops:accuracy:wilson_upper_window{${sel}} < ${q.floor} and on (endpoint, namespace) ${enough}`, for: '30m',
      labels: { ...common, severity: 'critical' },
      annotations: {
        summary: `${e.name} accuracy is below the ${q.floor * 100}% floor (upper bound {{ $value | humanizePercentage }})`,
        description: `Over ${q.window}, the upper Wilson score bound (z = ${q.zScore}) of the accuracy from labelled feedback is below ${q.floor}, with at least ${q.minSamples} labels.`,
      },
    });
  }
  return { recording, alerts };
}

/**
 * The upper Wilson score bound of a proportion `p` from `n` trials at `z` standard errors, as PromQL:
 * (p + z²/2n + z·√(p(1−p)/n + z²/4n²)) / (1 + z²/n). Unlike p + z·√(p(1−p)/n) it holds for p near 1 and small n.
 */
export function wilsonUpper(p: string, n: string, z: number): string {
  const z2 = Number((z * z).toPrecision(12));
  return `(${p} + ${z2} / (2 * ${n}) + ${z} * sqrt(${p} * (1 - ${p}) / ${n} + ${z2} / (4 * ${n} * ${n}))) / (1 + ${z2} / ${n})`;
}
