import type { IConstruct } from '../engine';
import { check } from '../core/errors';
import { leMatcher, matchers, PrometheusRuleSpec } from './promql';

/**
 * The metric contract of drift detection: the model server exports, per feature, a histogram of
 * the live input values, and a histogram of its prediction scores, with bucket bounds equal to the
 * reference profile's edges.
 */
export const DRIFT_METRICS = {
  /** Histogram of input feature values; label `feature` names the feature. */
  feature: 'mlops_feature_value',
  /** Histogram of prediction scores. */
  prediction: 'mlops_prediction_score',
} as const;

/** The reference distribution of one feature (or of the prediction score) from the training data. */
export interface FeatureReference {
  /** The feature's name (the `feature` label), or `prediction` for the prediction score. */
  readonly name: string;
  /** Upper bucket bounds, strictly increasing; a last `+Inf` bucket is implied. */
  readonly edges: number[];
  /** The share of the training data in each bucket: `edges.length + 1` values summing to 1. */
  readonly fractions: number[];
}

/** A reference profile of the training data (as the training run writes it). */
export class ReferenceProfile {
  /** From typed objects. */
  public static of(features: FeatureReference[]): ReferenceProfile {
    return new ReferenceProfile(features);
  }

  /** From the JSON a training run writes: `{ "features": [{ "name", "edges", "fractions" }] }`. */
  public static fromJson(json: string | { features: FeatureReference[] }): ReferenceProfile {
    const data = typeof json === 'string' ? JSON.parse(json) : json;
    if (!data || !Array.isArray(data.features)) throw new Error('a reference profile is { "features": [{ "name", "edges", "fractions" }] }');
    return new ReferenceProfile(data.features);
  }

  private constructor(public readonly features: FeatureReference[]) {}

  /** Checks edges and fractions; errors name the construct, the feature and the rule. */
  public validate(scope: IConstruct, prop: string): void {
    check(this.features.length > 0, scope, prop, [], 'must hold at least one feature');
    const names = new Set<string>();
    for (const f of this.features) {
      const at = `${prop}.${f.name}`;
      check(/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(f.name) && !names.has(f.name), scope, `${prop}.name`, f.name, 'must be a unique Prometheus label value of letters, digits and \'_\'');
      names.add(f.name);
      check(f.edges.length >= 1 && f.edges.every((e) => Number.isFinite(e)), scope, `${at}.edges`, f.edges, 'must hold at least one finite bucket edge');
      check(f.edges.every((e, i) => i === 0 || e > f.edges[i - 1]), scope, `${at}.edges`, f.edges, 'must be strictly increasing');
      check(f.fractions.length === f.edges.length + 1, scope, `${at}.fractions`, f.fractions,
        `must hold ${f.edges.length + 1} values: one per bucket, the last for values above ${f.edges[f.edges.length - 1]}`);
      check(f.fractions.every((p) => p >= 0 && p <= 1), scope, `${at}.fractions`, f.fractions, 'must each be between 0 and 1');
      const sum = f.fractions.reduce((a, b) => a + b, 0);
      check(Math.abs(sum - 1) <= 1e-6, scope, `${at}.fractions`, f.fractions, `must sum to 1 (they sum to ${Number(sum.toFixed(9))})`);
    }
  }
}

/** Drift thresholds. */
export interface DriftThresholds {
  /** The Population Stability Index above which a feature's drift warning fires. @default 0.1 */
  readonly psiWarning?: number;
  /** The Population Stability Index above which the critical drift alert fires (and the warning is inhibited). @default 0.25 */
  readonly psiCritical?: number;
  /** The Kolmogorov–Smirnov statistic above which a warning fires. @default 0.2 */
  readonly ksWarning?: number;
}

/** The floor applied to bucket shares before taking logarithms, so an empty bucket gives a large but finite PSI. */
export const PSI_EPSILON = 0.0001;

/**
 * Recording rules that compute, in Prometheus, each feature's live bucket shares and CDF over
 * `window` from the live histogram, the reference shares and CDF as constants, and from them the
 * Population Stability Index (Σ (q−p)·ln(q/p)) and the Kolmogorov–Smirnov statistic (max |F_live − F_ref|).
 * With no traffic in the window the shares are NaN and no drift alert can fire.
 */
export function driftRecordingRules(profile: ReferenceProfile, selector: Record<string, string>, labels: Record<string, string>, window: string): PrometheusRuleSpec[] {
  const rules: PrometheusRuleSpec[] = [];
  for (const f of profile.features) {
    const metric = f.name === 'prediction' ? `${DRIFT_METRICS.prediction}_bucket` : `${DRIFT_METRICS.feature}_bucket`;
    const base = matchers({ ...selector, ...(f.name === 'prediction' ? {} : { feature: f.name }) });
    const cum = (edge: number) => `sum(increase(${metric}{${[base, leMatcher(edge)].join(',')}}[${window}]))`;
    const total = cum(Infinity);
    const bounds = [...f.edges, Infinity];
    // How many values the window holds: drift alerts wait for a minimum sample (a PSI of a handful of values is noise).
    rules.push({ record: 'mlops:drift_sample_count', expr: total, labels: { ...labels, feature: f.name } });
    let refCdf = 0;
    bounds.forEach((edge, i) => {
      const l = { ...labels, feature: f.name, bucket: String(i) };
      const below = i === 0 ? '' : ` - ${cum(bounds[i - 1])}`;
      rules.push({ record: 'mlops:drift_live_fraction', expr: `(${cum(edge)}${below}) / ${total}`, labels: l });
      rules.push({ record: 'mlops:drift_reference_fraction', expr: `vector(${f.fractions[i]})`, labels: l });
      refCdf += f.fractions[i];
      if (Number.isFinite(edge)) {
        rules.push({ record: 'mlops:drift_live_cdf', expr: `${cum(edge)} / ${total}`, labels: l });
        rules.push({ record: 'mlops:drift_reference_cdf', expr: `vector(${Number(refCdf.toFixed(12))})`, labels: l });
      }
    });
  }
  const sel = matchers(labels);
  rules.push({
    record: 'mlops:drift_psi',
    expr: `sum by (endpoint, namespace, model, feature) ((mlops:drift_live_fraction{${sel}} - mlops:drift_reference_fraction{${sel}}) * ln(clamp_min(mlops:drift_live_fraction{${sel}}, ${PSI_EPSILON}) / clamp_min(mlops:drift_reference_fraction{${sel}}, ${PSI_EPSILON})))`,
  });
  rules.push({
    record: 'mlops:drift_ks',
    expr: `max by (endpoint, namespace, model, feature) (abs(mlops:drift_live_cdf{${sel}} - mlops:drift_reference_cdf{${sel}}))`,
  });
  return rules;
}

/**
 * Alerts on the drift statistics: PSI warning and critical, KS warning, each held for `forDuration`
 * and only over a window of at least `minSamples` values. The warning has no upper bound (a PSI
 * rising past the critical threshold keeps it active until the critical fires); Alertmanager
 * inhibits it while the critical is active (see MonitoringStack routing).
 */
export function driftAlertRules(labels: Record<string, string>, thresholds: Required<DriftThresholds>, forDuration: string, team: string, minSamples: number): PrometheusRuleSpec[] {
  const sel = matchers(labels);
  const common = { team, mlops_alert_kind: 'drift' };
  const enough = `and on (endpoint, namespace, model, feature) mlops:drift_sample_count{${sel}} >= ${minSamples}`;
  const sample = `over at least ${minSamples} values in the window`;
  return [
    {
      alert: 'ModelDataDriftCritical', expr: `mlops:drift_psi{${sel}} > ${thresholds.psiCritical} ${enough}`, for: forDuration,
      labels: { ...common, severity: 'critical' },
      annotations: {
        summary: `Feature {{ $labels.feature }} of ${labels.endpoint} drifted: PSI {{ $value | printf "%.3f" }} > ${thresholds.psiCritical}`,
        description: `The live distribution's PSI against the training reference stayed above ${thresholds.psiCritical} for ${forDuration} ${sample}. Compare the live and reference distributions; retrain on recent data if the shift is real.`,
      },
    },
    {
      alert: 'ModelDataDriftWarning', expr: `mlops:drift_psi{${sel}} > ${thresholds.psiWarning} ${enough}`, for: forDuration,
      labels: { ...common, severity: 'warning' },
      annotations: {
        summary: `Feature {{ $labels.feature }} of ${labels.endpoint} is shifting: PSI {{ $value | printf "%.3f" }} > ${thresholds.psiWarning}`,
        description: `The live distribution's PSI against the training reference stayed above ${thresholds.psiWarning} for ${forDuration} ${sample}; silenced while the critical drift alert of the feature fires.`,
      },
    },
    {
      alert: 'ModelDistributionShift', expr: `mlops:drift_ks{${sel}} > ${thresholds.ksWarning} ${enough}`, for: forDuration,
      labels: { ...common, severity: 'warning' },
      annotations: {
        summary: `Feature {{ $labels.feature }} of ${labels.endpoint}: KS statistic {{ $value | printf "%.3f" }} > ${thresholds.ksWarning}`,
        description: `The largest CDF gap at the reference bucket edges (a lower bound of the sample KS statistic) stayed above ${thresholds.ksWarning} for ${forDuration} ${sample}; an effect size, not a significance test.`,
      },
    },
  ];
}
