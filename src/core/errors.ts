import type { IConstruct } from '../engine';

/**
 * The one error type for bad input. Its message names the construct, its path, the prop, the value
 * and what is allowed, e.g. `ServingEndpoint 'platform/fraud': minReplicas (5) must not exceed maxReplicas (3).`
 */
export class PlatformValidationError extends Error {
  /** The path of the construct that rejected its input. */
  public readonly constructPath: string;
  /** The prop that holds the bad value. */
  public readonly prop: string;
  /** The rejected value. */
  public readonly value: unknown;

  constructor(scope: IConstruct, prop: string, value: unknown, problem: string) {
    const kind = scope.constructor?.name ?? 'Construct';
    const text = problem.endsWith('.') ? problem : `${problem}.`;
    super(`${kind} '${scope.node.path}': ${prop} (${formatValue(value)}) ${text}`);
    this.name = 'PlatformValidationError';
    this.constructPath = scope.node.path;
    this.prop = prop;
    this.value = value;
  }
}

/** Renders a value for an error message: strings quoted, objects as JSON. */
export function formatValue(value: unknown): string {
  if (typeof value === 'string') return `'${value}'`;
  if (value === undefined) return 'undefined';
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  const json = JSON.stringify(value);
  return json && json.length > 120 ? `${json.slice(0, 117)}...` : String(json);
}

/** Throws a PlatformValidationError unless `condition` holds. */
export function check(condition: boolean, scope: IConstruct, prop: string, value: unknown, problem: string): void {
  if (!condition) throw new PlatformValidationError(scope, prop, value, problem);
}

/** Checks that a number is an integer within [min, max]; tokens (deploy-time values) are skipped by callers. */
export function checkIntegerRange(scope: IConstruct, prop: string, value: number | undefined, min: number, max: number): void {
  if (value === undefined) return;
  check(Number.isInteger(value) && value >= min && value <= max, scope, prop, value, `must be a whole number from ${min} to ${max}`);
}
