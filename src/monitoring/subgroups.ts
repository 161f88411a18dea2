import type { IConstruct } from '../engine';
import { check, checkIntegerRange } from '../core/errors';
import type { ServingEndpoint } from '../serving/serving-endpoint';
import { matchers, PrometheusRuleSpec } from './promql';
import { endpointLabels, QUALITY_METRIC } from './rules';

/** The specification of a SubgroupMetric: a ratio of two sums of a labelled-outcome counter. */
export interface SubgroupMetricSpec {
  /** The metric's name, recorded as the `subgroup_metric` label (e.g. `accuracy`, `recall`). */
  readonly name: string;
  /** The counter of labelled outcomes, carrying the group label. */
  readonly counter: string;
  /** The counter's label that holds the outcome. */
  readonly outcomeLabel: string;
  /** The outcomes counted in the numerator. */
  readonly numerator: string[];
  /** The outcomes counted in the denominator; empty for every outcome. */
  readonly denominator: string[];
}

/** A quality metric computed per group from a labelled-outcome counter (model quality from feedback). */
export class SubgroupMetric {
  /**
   * Accuracy from labelled feedback: `outcome="correct"` over every outcome of `mlops_feedback_total`
   * (QUALITY_METRIC, the same contract as the quality monitoring), per group.
   */
  public static accuracy(): SubgroupMetric {
    return new SubgroupMetric({ name: 'accuracy', counter: QUALITY_METRIC, outcomeLabel: 'outcome', numerator: ['correct'], denominator: [] });
  }

  /**
   * A ratio of outcomes of a counter, e.g. recall from a counter of confusion outcomes:
   * `SubgroupMetric.ratio({ name: 'recall', counter: 'fraud_outcomes_total', numerator: ['true_positive'], denominator: ['true_positive', 'false_negative'] })`.
   */
  public static ratio(options: {
    /** The metric's name (the `subgroup_metric` label): lower-case letters, digits and `_`. */
    readonly name: string;
    /** The counter's metric name. */
    readonly counter: string;
    /** The outcome label. @default 'outcome' */
    readonly outcomeLabel?: string;
    /** The outcomes of the numerator. */
    readonly numerator: string[];
    /** The outcomes of the denominator; they must include the numerator's. */
    readonly denominator: string[];
  }): SubgroupMetric {
    return new SubgroupMetric({ name: options.name, counter: options.counter, outcomeLabel: options.outcomeLabel ?? 'outcome', numerator: [...options.numerator], denominator: [...options.denominator] });
  }

  private constructor(
    /** The counter, outcome label and outcomes of the ratio. */
    public readonly spec: SubgroupMetricSpec,
  ) {}
}

/**
 * Watching a quality metric per group of users (the labelled series' `groupLabel`, e.g. `region`):
 * an alert when one group's metric falls below the mean of the other groups by more than `maxGap`,
 * counting only groups with at least `minSamples` labelled outcomes in the window.
 */
export interface SubgroupMonitoring {
  /** The endpoint whose labelled outcomes are watched (one of the stack's endpoints). */
  readonly endpoint: ServingEndpoint;
  /** The label of the outcome counter that names the group (e.g. `region`). */
  readonly groupLabel: string;
  /** The metric compared across groups. @default SubgroupMetric.accuracy() */
  readonly metric?: SubgroupMetric;
  /** The window each group's metric is computed over. @default '6h' */
  readonly window?: string;
  /** How far (0 to 1) a group's metric may lie below the mean of the other groups. @default 0.05 */
  readonly maxGap?: number;
  /**
   * Labelled outcomes (the denominator's count) a group needs in the window before it is compared or
   * counted in the others' mean: the metric of a handful of labels is noise. @default 200
   */
  readonly minSamples?: number;
  /** How long the gap must last before the alert fires. @default '1h' */
  readonly for?: string;
}

/** Labels a group label must not be: the endpoint selector's, the outcome's, and those the recorded series carry. */
const RESERVED = ['namespace', 'service', 'endpoint', 'model', 'pod', 'job', 'instance', 'le', 'subgroup_metric', 'group_label'];

/** Checks one subgroup monitoring entry; errors name the construct and the prop. */
export function validateSubgroupMonitoring(scope: IConstruct, prop: string, s: SubgroupMonitoring): Required<Pick<SubgroupMonitoring, 'maxGap' | 'minSamples'>> & { metric: SubgroupMetricSpec } {
  const metric = (s.metric ?? SubgroupMetric.accuracy()).spec;
  const label = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
  check(label.test(s.groupLabel) && !s.groupLabel.startsWith('__'), scope, `${prop}.groupLabel`, s.groupLabel, 'must be a Prometheus label name (letters, digits and \'_\', not starting with \'__\')');
  check(!RESERVED.includes(s.groupLabel) && s.groupLabel !== metric.outcomeLabel, scope, `${prop}.groupLabel`, s.groupLabel,
    `is a label the rules already use (${[...RESERVED, metric.outcomeLabel].map((l) => `'${l}'`).join(', ')}); name the label that holds the group, e.g. 'region'`);
  check(/^[a-z][a-z0-9_]{0,62}$/.test(metric.name), scope, `${prop}.metric.name`, metric.name, 'must be lower-case letters, digits and \'_\'');
  check(/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(metric.counter), scope, `${prop}.metric.counter`, metric.counter, 'must be a Prometheus metric name');
  check(label.test(metric.outcomeLabel), scope, `${prop}.metric.outcomeLabel`, metric.outcomeLabel, 'must be a Prometheus label name');
  check(metric.numerator.length > 0, scope, `${prop}.metric.numerator`, metric.numerator, 'must name at least one outcome');
  check(metric.numerator.every((o) => metric.denominator.length === 0 || metric.denominator.includes(o)), scope, `${prop}.metric.numerator`, metric.numerator,
    `must be outcomes of the denominator (${metric.denominator.map((o) => `'${o}'`).join(', ')}): the metric is a share of it`);
  for (const o of [...metric.numerator, ...metric.denominator]) check(/^[A-Za-z0-9_.:-]+$/.test(o), scope, `${prop}.metric`, o, 'is not an outcome label value (letters, digits, \'_\', \'.\', \':\', \'-\')');
  const maxGap = s.maxGap ?? 0.05;
  check(Number.isFinite(maxGap) && maxGap > 0 && maxGap < 1, scope, `${prop}.maxGap`, maxGap, 'must be a gap from 0 to 1, exclusive (0.05 for 5 points)');
  const minSamples = s.minSamples ?? 200;
  checkIntegerRange(scope, `${prop}.minSamples`, minSamples, 1, 100000000);
  return { maxGap, minSamples, metric };
}

/** The labels that identify one watched metric of one endpoint: what `on (...)` matches the groups on. */
const SUBGROUP_KEY = 'endpoint, namespace, model, subgroup_metric, group_label';

/**
 * Recording and alerting rules of subgroup monitoring. Per group (the counter's `groupLabel`,
 * recorded as label `group`): the labelled outcomes in the window (`mlops:subgroup_samples:window`),
 * the metric (`mlops:subgroup_metric:window`), the metric of groups with at least `minSamples`
 * outcomes (`mlops:subgroup_metric:eligible`), the mean of the *other* eligible groups
 * (`mlops:subgroup_metric:others_mean`, only with two eligible groups or more) and the gap, others'
 * mean minus the group's (`mlops:subgroup_metric:gap`). `ModelSubgroupMetricGap` fires when a
 * group's gap stays above `maxGap` for `forDuration`. Without labelled outcomes there is no series
 * and nothing fires; a group under `minSamples` is neither alerted on nor counted in the others' mean.
 */
export function subgroupRules(e: ServingEndpoint, s: { groupLabel: string; metric: SubgroupMetricSpec; window: string; maxGap: number; minSamples: number; forDuration: string }, team: string): PrometheusRuleSpec[] {
  const m = s.metric;
  const labels = { ...endpointLabels(e), subgroup_metric: m.name, group_label: s.groupLabel };
  const sel = matchers(labels);
  const outcomes = (values: string[]) => (values.length ? `,${m.outcomeLabel}=~"${values.map((v) => v.replace(/[.]/g, '\\\\.')).join('|')}"` : '');
  // Per group, with the group's value moved to the `group` label so every watched label records alike.
  const byGroup = (values: string[]) =>
    `sum by (group) (label_replace(increase(${m.counter}{${e.metricsSelector},${s.groupLabel}!=""${outcomes(values)}}[${s.window}]), "group", "$1", "${s.groupLabel}", "(.*)"))`;
  const eligible = `mlops:subgroup_metric:eligible{${sel}}`;
  // Every rule carries the labels it watches (which its series hold already), so that two metrics or
  // group labels of one endpoint are distinct rules (promtool check rules refuses duplicates).
  const common = { team, endpoint: e.name, subgroup_metric: m.name, group_label: s.groupLabel, mlops_alert_kind: 'fairness' };
  return [
    { record: 'mlops:subgroup_samples:window', expr: byGroup(m.denominator), labels },
    // A group with outcomes but none in the numerator has the metric 0, not no metric.
    { record: 'mlops:subgroup_metric:window', expr: `(${byGroup(m.numerator)} or ${byGroup(m.denominator)} * 0) / ${byGroup(m.denominator)}`, labels },
    { record: 'mlops:subgroup_metric:eligible', expr: `mlops:subgroup_metric:window{${sel}} and mlops:subgroup_samples:window{${sel}} >= ${s.minSamples}`, labels },
    {
      record: 'mlops:subgroup_metric:others_mean',
      expr: `(sum without (group) (${eligible}) - on (${SUBGROUP_KEY}) group_right ${eligible}) / on (${SUBGROUP_KEY}) group_left () (count without (group) (${eligible}) - 1)`
        + ` and on (${SUBGROUP_KEY}) count without (group) (${eligible}) > 1`,
      labels,
    },
    { record: 'mlops:subgroup_metric:gap', expr: `mlops:subgroup_metric:others_mean{${sel}} - ${eligible}`, labels },
    {
      alert: 'ModelSubgroupMetricGap', expr: `mlops:subgroup_metric:gap{${sel}} > ${s.maxGap}`, for: s.forDuration,
      labels: { ...common, severity: 'warning' },
      annotations: {
        summary: `${e.name} ${m.name} for ${s.groupLabel}={{ $labels.group }} is {{ $value | printf "%.3f" }} below the other groups' mean`,
        description: `Over ${s.window}, the ${m.name} of group ${s.groupLabel}={{ $labels.group }} stayed more than ${s.maxGap} below the mean of the other groups for ${s.forDuration};`
          + ` only groups with at least ${s.minSamples} labelled outcomes in the window are compared. Look for a shift in that group's data or labels, and check the model's fairness gates.`,
      },
    },
  ];
}
