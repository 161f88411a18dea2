/** What a rule says of one resource. */
export type RuleResult = 'compliant' | 'non-compliant' | 'not-applicable';

/** A synthesized thing a rule looks at: a Terraform resource or a Kubernetes object. */
export type Subject =
  | { readonly kind: 'terraform'; readonly stack: string; readonly type: string; readonly name: string; readonly config: any; readonly stackJson: any }
  | { readonly kind: 'kubernetes'; readonly file: string; readonly object: any; readonly all: any[] };

/** One policy rule: a pure function over a synthesized resource (in the manner of cdk-nag). */
export interface PolicyRule {
  readonly id: string;
  /** What is checked. */
  readonly cause: string;
  /** Why it matters. */
  readonly explanation: string;
  evaluate(subject: Subject): RuleResult;
}

/** The annotation on a Kubernetes object that suppresses rules for it, with a reason each. */
export const SUPPRESSIONS_ANNOTATION = 'mlops.io/policy-suppressions';

/** The pod template of a workload object, if it is one. */
export function podTemplateOf(o: any): any | undefined {
  switch (o?.kind) {
    case 'Deployment': case 'DaemonSet': case 'StatefulSet': case 'Job': return o.spec?.template;
    case 'CronJob': return o.spec?.jobTemplate?.spec?.template;
    default: return undefined;
  }
}

/** Every container of a pod spec (init containers included). */
export function containersOf(podSpec: any): any[] {
  return [...(podSpec?.initContainers ?? []), ...(podSpec?.containers ?? [])];
}

/** The annotations that suppress rules on a Kubernetes object; each suppression needs a reason. */
export function suppress(...suppressions: Array<{ id: string; reason: string }>): Record<string, string> {
  for (const s of suppressions) {
    if (s.reason.trim().length < 10) throw new Error(`the suppression of ${s.id} needs a reason of at least 10 characters`);
  }
  return { [SUPPRESSIONS_ANNOTATION]: JSON.stringify(suppressions) };
}
