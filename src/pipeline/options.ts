/** A check the data must pass before training starts. */
export class DataCheck {
  /** The column exists and has this kind of values. */
  public static type(column: string, type: 'number' | 'string' | 'bool' | 'datetime'): DataCheck {
    return new DataCheck({ kind: 'type', column, type });
  }

  /** At most `max` (0 to 1) of the column's values are missing. */
  public static nullRate(column: string, max: number): DataCheck {
    return new DataCheck({ kind: 'null-rate', column, max });
  }

  /** Every value of the column lies in [min, max]. */
  public static range(column: string, bounds: { readonly min?: number; readonly max?: number }): DataCheck {
    return new DataCheck({ kind: 'range', column, ...bounds });
  }

  /** The dataset has at least `min` rows. */
  public static minRows(min: number): DataCheck {
    return new DataCheck({ kind: 'min-rows', min });
  }

  private constructor(public readonly spec: { kind: string; column?: string; type?: string; min?: number; max?: number }) {}
}

/** Per-group options of a fairness gate. */
export interface GroupGateOptions {
  /**
   * The sensitive attribute the evaluation step splits the held-out data by (a key of `groups` in its
   * report, e.g. `region`): letters, digits, `_`, `.` and `-`.
   */
  readonly groups: string;
  /**
   * Evaluation examples a group's metric must be computed on (the report's `count` of the group; for
   * recall, the group's positives) for the gate to trust it. A metric of a handful of examples is noise.
   * @default 100
   */
  readonly minCount?: number;
  /**
   * What the gate does with a group under `minCount`: `false` rejects the candidate (the group must not
   * pass unseen); `true` reports the group as insufficient (on the gate's log and in the version's
   * fairness tag) and leaves it out of the comparison. Either way a gate with no group (a floor) or
   * fewer than two groups (a disparity or ratio) left to compare rejects the candidate.
   * @default false - a group with too few examples rejects the candidate
   */
  readonly excludeSmallGroups?: boolean;
}

/** A gate's specification, as the gate step reads it (JSON in its `GATES` variable). */
export interface MetricGateSpec {
  /** `at-least`, `at-most`, `better-than-champion`, `lower-than-champion`, or a fairness kind (`fairness-...`). */
  readonly kind: string;
  /** The metric the evaluation step reports. */
  readonly metric: string;
  /** The floor (`at-least`) or ceiling (`at-most`). */
  readonly value?: number;
  /** The margin over the champion. */
  readonly min_delta?: number;
  /** Fairness gates: the sensitive attribute whose groups are compared. */
  readonly groups?: string;
  /** Fairness gates: the largest allowed gap (`fairness-max-disparity`). */
  readonly max?: number;
  /** Fairness gates: the per-group floor (`fairness-group-floor`) or the smallest allowed ratio (`fairness-min-ratio`). */
  readonly min?: number;
  /** Fairness gates: evaluation examples a group needs. */
  readonly min_count?: number;
  /** Fairness gates: `fail` or `exclude` a group with fewer than `min_count` examples. */
  readonly small_groups?: 'fail' | 'exclude';
  /** Fairness gates: the model-version tag the registration records the gate's result in. */
  readonly tag?: string;
}

/**
 * The evaluation step's per-group report, which a pipeline with fairness gates reads: the step splits
 * the held-out data by each attribute in `GROUP_BY` (comma-separated, the gates' `groups`) and writes
 * each metric of `GROUP_METRICS` per group, with the number of examples it was computed on, as
 * `{"groups": {"region": {"eu": {"recall": 0.91, "count": 1200}, "us": {...}}, ...}}`. Overall metrics
 * stay where they are (`/tmp/outputs/candidate-<metric>`).
 */
export const GROUP_REPORT_FILE = '/tmp/outputs/candidate-groups.json';

/** The kinds of the fairness gates (the model card lists gates whose kind starts with `fairness`). */
export const FAIRNESS_GATE_KINDS = ['fairness-max-disparity', 'fairness-min-ratio', 'fairness-group-floor'] as const;

/** A gate the candidate must pass to be registered. */
export class MetricGate {
  /** The candidate's metric is at least `value` (an absolute floor). */
  public static atLeast(metric: string, value: number): MetricGate {
    return new MetricGate({ kind: 'at-least', metric, value });
  }

  /** The candidate's metric is at most `value` (a ceiling, e.g. a loss). */
  public static atMost(metric: string, value: number): MetricGate {
    return new MetricGate({ kind: 'at-most', metric, value });
  }

  /** The candidate beats the champion (the version aliased `champion`) by at least `minDelta`. */
  public static betterThanChampion(metric: string, minDelta = 0): MetricGate {
    return new MetricGate({ kind: 'better-than-champion', metric, min_delta: minDelta });
  }

  /** The candidate's metric is lower than the champion's by at least `minDelta` (losses, latencies). */
  public static lowerThanChampion(metric: string, minDelta = 0): MetricGate {
    return new MetricGate({ kind: 'lower-than-champion', metric, min_delta: minDelta });
  }

  /**
   * Fairness: the gap between the best and the worst group's metric, max − min over the groups of
   * `options.groups` (fairlearn's `MetricFrame.difference(method='between_groups')`), is at most `max`.
   * E.g. `MetricGate.maxDisparity('recall', { groups: 'region', max: 0.05 })` (equal opportunity
   * difference): no region's recall lies more than 5 points below another's.
   */
  public static maxDisparity(metric: string, options: GroupGateOptions & { readonly max: number }): MetricGate {
    return MetricGate.fairness('fairness-max-disparity', metric, options, { max: options.max });
  }

  /**
   * Fairness: the worst group's metric divided by the best group's, min / max over the groups of
   * `options.groups` (fairlearn's `MetricFrame.ratio(method='between_groups')`), is at least `min`
   * (0.8 is the "four-fifths rule"). Two groups at 0 have a ratio of 1.
   */
  public static minRatio(metric: string, options: GroupGateOptions & { readonly min: number }): MetricGate {
    return MetricGate.fairness('fairness-min-ratio', metric, options, { min: options.min });
  }

  /**
   * Fairness: every group of `options.groups` has the metric at least `min` (an absolute floor per
   * group, e.g. `MetricGate.groupFloor('recall', { groups: 'region', min: 0.8 })`).
   */
  public static groupFloor(metric: string, options: GroupGateOptions & { readonly min: number }): MetricGate {
    return MetricGate.fairness('fairness-group-floor', metric, options, { min: options.min });
  }

  private static fairness(kind: typeof FAIRNESS_GATE_KINDS[number], metric: string, options: GroupGateOptions, limit: { max?: number; min?: number }): MetricGate {
    const short = kind.replace(/^fairness-/, '');
    return new MetricGate({
      kind, metric, groups: options.groups, ...limit,
      min_count: options.minCount ?? 100, small_groups: options.excludeSmallGroups ? 'exclude' : 'fail',
      tag: `mlops.fairness.${metric}.${options.groups}.${short}`,
    });
  }

  private constructor(
    /** What the gate step checks (the JSON of its `GATES` variable); model cards list it. */
    public readonly spec: MetricGateSpec,
  ) {}

  /** The metric the gate reads. */
  public get metric(): string {
    return this.spec.metric;
  }

  /** True for a gate on per-group metrics (a fairness gate). */
  public get isFairness(): boolean {
    return this.spec.kind.startsWith('fairness');
  }
}

/** What starts a run. */
export interface PipelineTriggers {
  /** A cron schedule (CronWorkflow). @default - none */
  readonly schedule?: string;
  /** New objects under the data prefix (S3 → EventBridge → SQS → the trigger service). @default false */
  readonly onNewData?: boolean;
  /** Drift and quality alerts of the MonitoringStack (a webhook Alertmanager calls). @default false */
  readonly onAlert?: boolean;
}
