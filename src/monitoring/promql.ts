/** A Prometheus rule (recording or alerting) as a rule file holds it. */
export interface PrometheusRuleSpec {
  readonly record?: string;
  readonly alert?: string;
  readonly expr: string;
  readonly for?: string;
  readonly labels?: Record<string, string>;
  readonly annotations?: Record<string, string>;
}

/** A rule group. */
export interface RuleGroup {
  readonly name: string;
  readonly interval?: string;
  readonly rules: PrometheusRuleSpec[];
}

const UNITS: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400, w: 604800, y: 31536000 };

/** Seconds in a Prometheus duration (`30s`, `5m`, `1h30m`), or undefined when it is not one. */
export function durationSeconds(duration: string): number | undefined {
  if (!/^(\d+(ms|s|m|h|d|w|y))+$/.test(duration)) return undefined;
  let total = 0;
  for (const [, n, unit] of duration.matchAll(/(\d+)(ms|s|m|h|d|w|y)/g)) total += Number(n) * UNITS[unit];
  return total;
}

/** A PromQL label matcher list from labels: `a="x",b="y"`. */
export function matchers(labels: Record<string, string>): string {
  return Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`).join(',');
}

/** A regex that matches a histogram bucket bound however a client formats it (`10`, `10.0`). */
export function leMatcher(edge: number): string {
  if (!Number.isFinite(edge)) return 'le="+Inf"';
  const text = String(edge);
  const escaped = text.replace(/\./g, '\\\\.');
  return Number.isInteger(edge) ? `le=~"${escaped}(\\\\.0)?"` : `le=~"${escaped}0*"`;
}

const FUNCTIONS = new Set([
  'abs', 'absent', 'absent_over_time', 'avg', 'avg_over_time', 'bottomk', 'ceil', 'changes', 'clamp', 'clamp_max', 'clamp_min', 'count',
  'count_over_time', 'count_values', 'delta', 'deriv', 'exp', 'floor', 'group', 'histogram_quantile', 'idelta', 'increase', 'irate',
  'label_join', 'label_replace', 'ln', 'log10', 'log2', 'max', 'max_over_time', 'min', 'min_over_time', 'quantile', 'quantile_over_time',
  'rate', 'resets', 'round', 'scalar', 'sort', 'sort_desc', 'sqrt', 'stddev', 'stdvar', 'sum', 'sum_over_time', 'time', 'timestamp',
  'topk', 'vector', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'offset', 'bool', 'inf', 'nan',
  'last_over_time', 'present_over_time', 'sgn',
]);

/**
 * The metric names a PromQL expression reads (identifiers that are not functions, keywords,
 * label names inside braces or `by (...)` lists, or strings).
 */
export function metricNamesIn(expr: string): string[] {
  // Template placeholders ({{selector}}, {{args.canary-hash}}) are not PromQL: set them aside first.
  const withoutTemplates = expr.replace(/\{\{[^{}]*\}\}/g, '');
  const withoutStrings = withoutTemplates.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  const withoutMatchers = withoutStrings.replace(/\{[^}]*\}/g, '{}');
  const withoutGrouping = withoutMatchers.replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '');
  const withoutDurations = withoutGrouping.replace(/\[[^\]]*\]/g, '[]');
  const names = withoutDurations.match(/[a-zA-Z_:][a-zA-Z0-9_:]*/g) ?? [];
  return [...new Set(names.filter((n) => !FUNCTIONS.has(n) && !/^\d/.test(n) && !/^e\d+$/.test(n)))];
}
