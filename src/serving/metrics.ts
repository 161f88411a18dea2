/** How a model server reports request latency. */
type Latency =
  | { readonly kind: 'histogram'; readonly metric: string; readonly toSeconds: number }
  | { readonly kind: 'summary'; readonly metric: string; readonly toSeconds: number; readonly quantiles: number[] }
  | { readonly kind: 'none' };

/** Props of ServerMetrics. */
export interface ServerMetricsProps {
  /** Counters whose sum is every request served (e.g. one for successes, one for failures). */
  readonly requests: string[];
  /** The counter of failed requests, optionally narrowed by a label matcher (e.g. `code=~"5.."`). @default - none: error ratios cannot be computed */
  readonly failures?: { readonly metric: string; readonly matcher?: string };
  /** The latency histogram (base name, without `_bucket`). @default - none */
  readonly latencyHistogram?: { readonly metric: string; readonly toSeconds?: number };
  /** A latency summary with fixed quantiles (Triton). @default - none */
  readonly latencySummary?: { readonly metric: string; readonly toSeconds?: number; readonly quantiles: number[] };
  /** Further metrics the server exports, so queries naming them are accepted. @default - none */
  readonly others?: string[];
}

/**
 * The metrics a model server exports, and the PromQL that derives request rate, error ratio and
 * latency quantiles from them. The canary analysis and the monitoring stack write their queries
 * through this, so every query names only metrics the server really emits; a question the server's
 * metrics cannot answer (a p95 from a server without a histogram) is an error at synth time.
 */
export class ServerMetrics {
  /** Metrics of a server that reports latency as a histogram. */
  public static of(props: ServerMetricsProps): ServerMetrics {
    return new ServerMetrics(props);
  }

  private readonly latency: Latency;

  private constructor(private readonly props: ServerMetricsProps) {
    if (props.latencyHistogram) this.latency = { kind: 'histogram', metric: props.latencyHistogram.metric, toSeconds: props.latencyHistogram.toSeconds ?? 1 };
    else if (props.latencySummary) this.latency = { kind: 'summary', metric: props.latencySummary.metric, toSeconds: props.latencySummary.toSeconds ?? 1, quantiles: props.latencySummary.quantiles };
    else this.latency = { kind: 'none' };
  }

  /** Every metric name the server exports (histograms with their `_bucket`, `_sum` and `_count`). */
  public get metricNames(): string[] {
    const names = [...this.props.requests, ...(this.props.others ?? [])];
    if (this.props.failures) names.push(this.props.failures.metric);
    if (this.latency.kind === 'histogram') names.push(`${this.latency.metric}_bucket`, `${this.latency.metric}_sum`, `${this.latency.metric}_count`);
    if (this.latency.kind === 'summary') names.push(this.latency.metric, `${this.latency.metric}_sum`, `${this.latency.metric}_count`);
    return [...new Set(names)];
  }

  /** Whether error ratios can be computed. */
  public get hasFailures(): boolean {
    return this.props.failures !== undefined;
  }

  /** Whether the given latency quantile can be computed (a reason when it cannot). */
  public latencySupport(quantile: number): string | undefined {
    if (this.latency.kind === 'none') return 'the server exports no latency histogram or summary';
    if (this.latency.kind === 'summary' && !this.latency.quantiles.includes(quantile)) {
      return `the server's latency summary has only the quantiles ${this.latency.quantiles.join(', ')}`;
    }
    return undefined;
  }

  /**
   * Requests per second over `window`, summed over the series matching `selector`. Each counter is a
   * term of its own that reads 0 while it has no series yet (`or vector(0)`): a server creates a
   * status-code or failure series on its first such request, and a sum with a missing term would be
   * empty, not 0. With `by`, one series per group instead (the counters are read together through a
   * `__name__` matcher, so a group with no failures yet is not lost).
   */
  public requestRate(selector: string, window: string, by: string[] = []): string {
    if (by.length) {
      const names = this.props.requests;
      const series = names.length === 1 ? `${names[0]}{${selector}}` : `{${[`__name__=~"${names.join('|')}"`, selector].filter(Boolean).join(',')}}`;
      return `sum by (${by.join(', ')}) (rate(${series}[${window}]))`;
    }
    return this.props.requests.map((m) => orZero(`sum(rate(${m}{${selector}}[${window}]))`)).join(' + ');
  }

  /** Failed requests per second; 0 (not empty) while the failure counter has no series yet. */
  public failureRate(selector: string, window: string): string {
    const f = this.props.failures;
    if (!f) throw new Error('the server exports no failed-request counter');
    const matcher = [selector, f.matcher].filter(Boolean).join(',');
    return orZero(`sum(rate(${f.metric}{${matcher}}[${window}]))`);
  }

  /**
   * Failed over all requests, 0 to 1. A healthy server with no failures yet gives 0; no traffic at
   * all gives NaN (0 / 0), never a fake 0, which an analysis reads as inconclusive.
   */
  public errorRatio(selector: string, window: string): string {
    const requests = this.requestRate(selector, window);
    return `${this.failureRate(selector, window)} / ${this.props.requests.length === 1 ? requests : `(${requests})`}`;
  }

  /** The latency quantile in seconds. */
  public latencyQuantile(quantile: number, selector: string, window: string, by: string[] = []): string {
    const reason = this.latencySupport(quantile);
    if (reason) throw new Error(reason);
    const l = this.latency;
    const byClause = by.length ? ` by (${by.join(', ')})` : '';
    const scale = (q: string) => ('toSeconds' in l && l.toSeconds !== 1 ? `(${q}) * ${l.toSeconds}` : q);
    if (l.kind === 'histogram') {
      return scale(`histogram_quantile(${quantile}, sum by (${['le', ...by].join(', ')}) (rate(${l.metric}_bucket{${selector}}[${window}])))`);
    }
    const s = l as Extract<Latency, { kind: 'summary' }>;
    // A summary's quantiles cannot be aggregated; the worst pod's is the conservative reading.
    return scale(`max${byClause} (${s.metric}{${[selector, `quantile="${quantile}"`].filter(Boolean).join(',')}})`);
  }
}

/** A term that reads 0 while its series do not exist. */
function orZero(term: string): string {
  return `(${term} or vector(0))`;
}
