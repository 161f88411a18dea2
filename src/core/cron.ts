const FIELDS: Array<{ name: string; min: number; max: number; names?: string[] }> = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'] },
  { name: 'day of week', min: 0, max: 7, names: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] },
];
const MACROS = ['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly'];

/**
 * Why `expression` is not a Kubernetes CronJob schedule (five fields, or a macro such as
 * `@daily`), or undefined when it is one.
 */
export function cronProblem(expression: string): string | undefined {
  const expr = expression.trim();
  if (MACROS.includes(expr)) return undefined;
  const parts = expr.split(/\s+/);
  if (parts.length !== 5) return `has ${parts.length} fields; a cron schedule has 5 (minute hour day-of-month month day-of-week) or is a macro such as @daily`;
  for (let i = 0; i < 5; i++) {
    const f = FIELDS[i];
    const value = (v: string): number | undefined => {
      const named = f.names?.indexOf(v.toLowerCase()) ?? -1;
      if (named >= 0) return named + (f.name === 'month' ? 1 : 0);
      return /^\d+$/.test(v) ? Number(v) : undefined;
    };
    for (const item of parts[i].split(',')) {
      const [range, step] = item.split('/');
      if (step !== undefined && !/^[1-9]\d*$/.test(step)) return `has a bad step '${step}' in the ${f.name} field`;
      if (range === '*' || (range === '?' && (i === 2 || i === 4))) continue;
      const [a, b] = range.split('-');
      const lo = value(a);
      const hi = b === undefined ? lo : value(b);
      if (lo === undefined || hi === undefined || lo < f.min || hi > f.max || lo > hi) {
        return `has '${item}' in the ${f.name} field, which takes ${f.min}-${f.max}${f.names ? ' or names' : ''}, lists, ranges and steps`;
      }
    }
  }
  return undefined;
}
