import type { ServingEndpoint } from '../serving/serving-endpoint';
import { matchers } from './promql';
import { endpointLabels } from './rules';

interface Panel {
  readonly title: string;
  readonly unit: string;
  readonly targets: Array<{ expr: string; legend: string }>;
}

/**
 * A Grafana dashboard for one model endpoint: latency percentiles, throughput, errors, canary vs
 * stable traffic, drift per feature, GPU use and saturation. Every query reads a recorded series of
 * the MonitoringStack or a metric of the documented contract.
 */
export function endpointDashboard(e: ServingEndpoint, options: { drift: boolean; quality: boolean; gpu: boolean }): object {
  const sel = matchers(endpointLabels(e));
  const panels: Panel[] = [];
  const latency = [0.5, 0.95, 0.99].filter((q) => !e.metrics.latencySupport(q));
  if (latency.length) {
    panels.push({ title: 'Latency', unit: 's', targets: latency.map((q) => ({ expr: `mlops:latency_seconds:p${Math.round(q * 100)}{${sel}}`, legend: `p${Math.round(q * 100)}` })) });
  }
  panels.push({ title: 'Throughput', unit: 'reqps', targets: [{ expr: `mlops:request_rate:rate5m{${sel}}`, legend: 'requests/s' }] });
  if (e.metrics.hasFailures) panels.push({ title: 'Error ratio', unit: 'percentunit', targets: [{ expr: `mlops:error_ratio:rate5m{${sel}}`, legend: 'errors' }] });
  panels.push({
    title: 'Canary vs stable traffic', unit: 'reqps',
    targets: [{ expr: `mlops:request_rate_by_version:rate5m{${sel}}`, legend: 'version {{mlops_io_model_version}} ({{rollouts_pod_template_hash}})' }],
  });
  if (options.drift) {
    panels.push({ title: 'Data drift: PSI per feature', unit: 'none', targets: [{ expr: `mlops:drift_psi{${sel}}`, legend: '{{feature}}' }] });
    panels.push({ title: 'Data drift: KS statistic per feature', unit: 'none', targets: [{ expr: `mlops:drift_ks{${sel}}`, legend: '{{feature}}' }] });
  }
  if (options.quality) panels.push({ title: 'Accuracy from labelled feedback', unit: 'percentunit', targets: [{ expr: `mlops:accuracy:ratio_window{${sel}}`, legend: 'accuracy' }] });
  if (options.gpu) {
    panels.push({ title: 'GPU utilisation', unit: 'percent', targets: [{ expr: `mlops:gpu_utilization:avg_by_pod{namespace="${e.namespace}",pod=~"${e.name}-.*"}`, legend: '{{pod}}' }] });
  }
  panels.push({
    title: 'Saturation', unit: 'percentunit',
    targets: [{ expr: `mlops:cpu_saturation:ratio{${sel}}`, legend: 'CPU' }, { expr: `mlops:memory_saturation:ratio{${sel}}`, legend: 'memory' }],
  });

  return {
    uid: `mlops-${e.namespace}-${e.name}`.slice(0, 40),
    title: `Model ${e.model.model.name} (${e.namespace}/${e.name})`,
    tags: ['mlops', e.model.model.name],
    schemaVersion: 39,
    refresh: '30s',
    time: { from: 'now-6h', to: 'now' },
    panels: panels.map((p, i) => ({
      id: i + 1,
      type: 'timeseries',
      title: p.title,
      datasource: { type: 'prometheus', uid: 'prometheus' },
      gridPos: { h: 8, w: 12, x: (i % 2) * 12, y: Math.floor(i / 2) * 8 },
      fieldConfig: { defaults: { unit: p.unit }, overrides: [] },
      targets: p.targets.map((t, j) => ({ refId: String.fromCharCode(65 + j), expr: t.expr, legendFormat: t.legend })),
    })),
  };
}
