import type { IConstruct } from '../engine';
import { ManifestObject, PlatformModel, refOf, SynthesizedPlatform, TerraformObject } from './model';

/** Something that would keep the platform from deploying or from working once deployed. */
export interface PlatformFinding {
  /** The id of the check that found it, e.g. `namespaces`. */
  readonly check: string;
  /** The construct path that produced the object. */
  readonly path: string;
  /** The object: `Deployment serving/fraud (platform/fraud.k8s.yaml)` or `helm_release kubernetes/addon-x`. */
  readonly object: string;
  /** What breaks, and who refuses it. */
  readonly problem: string;
  /** How to fix it. */
  readonly fix: string;
}

/**
 * A platform check: a pure function over the whole synthesized platform (every stack's Terraform
 * JSON and every chart together) that returns what would keep it from deploying or working. Where
 * it mirrors a controller's or an API's rule, `upstream` names that rule.
 */
export interface PlatformCheck {
  /** A short, stable id, e.g. `namespaces`. */
  readonly id: string;
  /** What the check verifies. */
  readonly description: string;
  /** The upstream rule or source the check mirrors (API server, admission, controller, AWS API). */
  readonly upstream: string;
  check(platform: PlatformModel): PlatformFinding[];
}

/** Builds findings with the object's reference and construct path filled in. */
export function finding(check: string, on: ManifestObject | TerraformObject, problem: string, fix: string): PlatformFinding {
  const object = 'file' in on ? `${refOf(on.object)} (${on.file})` : `${on.type} ${on.stack}/${on.name}`;
  return { check, path: on.path, object, problem, fix };
}

/** A suppression of a check for a construct and everything under it; a reason is required. */
export interface PlatformCheckSuppression {
  readonly check: string;
  /** The construct path the suppression covers (and everything under it). */
  readonly path: string;
  readonly reason: string;
}

const registered = new WeakMap<object, { checks: PlatformCheck[]; suppressions: PlatformCheckSuppression[] }>();

function stateOf(root: object) {
  let s = registered.get(root);
  if (!s) {
    s = { checks: [], suppressions: [] };
    registered.set(root, s);
  }
  return s;
}

/** Adds checks and suppressions to the platform check of an app. */
export class PlatformChecks {
  /** Adds a check of your own; it runs with the library's at every synth. */
  public static add(scope: IConstruct, check: PlatformCheck): void {
    const s = stateOf(scope.node.root);
    if (s.checks.some((c) => c.id === check.id)) {
      throw new Error(`'${scope.node.path}': a platform check with id '${check.id}' is added already; give the check another id.`);
    }
    s.checks.push(check);
  }

  /**
   * Suppresses a check's findings on `scope` and every construct under it, in the manner of cdk-nag:
   * the reason (at least 10 characters) says why the platform still deploys and works.
   */
  public static suppress(scope: IConstruct, check: string, reason: string): void {
    if (reason.trim().length < 10) {
      throw new Error(`'${scope.node.path}': the suppression of platform check '${check}' needs a reason of at least 10 characters saying why the platform still works (got '${reason}').`);
    }
    stateOf(scope.node.root).suppressions.push({ check, path: scope.node.path, reason });
  }

  /** The checks added to an app with `add`. */
  public static addedTo(root: IConstruct): PlatformCheck[] {
    return [...stateOf(root.node.root).checks];
  }

  /** The suppressions of an app. */
  public static suppressionsOf(root: IConstruct): PlatformCheckSuppression[] {
    return [...stateOf(root.node.root).suppressions];
  }
}

/** Runs checks over a synthesized platform and returns every finding that is not suppressed. */
export function runPlatformChecks(platform: SynthesizedPlatform | PlatformModel, checks: PlatformCheck[], suppressions: PlatformCheckSuppression[] = []): PlatformFinding[] {
  const model = platform instanceof PlatformModel ? platform : new PlatformModel(platform);
  const covered = (f: PlatformFinding) => suppressions.some((s) => s.check === f.check && (f.path === s.path || f.path.startsWith(`${s.path}/`)));
  return checks.flatMap((c) => c.check(model)).filter((f) => !covered(f));
}

/** Synth stopped: the platform would not deploy or would not work. */
export class PlatformCheckError extends Error {
  constructor(public readonly findings: PlatformFinding[]) {
    super(formatFindings(findings));
    this.name = 'PlatformCheckError';
  }
}

/** The findings as a report: one paragraph each, with the construct path, the object, the problem and the fix. */
export function formatFindings(findings: PlatformFinding[]): string {
  const lines = [`The platform check found ${findings.length} problem${findings.length === 1 ? '' : 's'} that would keep the platform from deploying or working:`];
  for (const f of findings) {
    lines.push(`- [${f.check}] '${f.path}': ${f.object}: ${f.problem}`, `  Fix: ${f.fix}`);
  }
  lines.push('A construct that knowingly breaks a check says why with PlatformChecks.suppress(scope, check, reason).');
  return lines.join('\n');
}
