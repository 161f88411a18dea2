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

  private constructor(public readonly spec: { kind: string; metric: string; value?: number; min_delta?: number }) {}

  public get metric(): string {
    return this.spec.metric;
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
