import type { PlatformSynthesis } from '../testing/snapshot';
import { PolicyRule, Subject, SUPPRESSIONS_ANNOTATION } from './rule';
import { AwsEncryption } from './rules/aws-encryption';
import { AwsNoPublicAccess } from './rules/aws-no-public-access';
import { AwsNoWildcardActions } from './rules/aws-no-wildcard-actions';
import { AwsStatefulProtected } from './rules/aws-stateful-protected';
import { K8sNetworkPolicy } from './rules/k8s-network-policy';
import { K8sNonRoot } from './rules/k8s-non-root';
import { K8sPinnedImages } from './rules/k8s-pinned-images';
import { K8sProbes } from './rules/k8s-probes';
import { K8sResources } from './rules/k8s-resources';

export * from './rule';
export { STATEFUL_TYPES } from './rules/aws-stateful-protected';

/** The platform's rules. */
export const PLATFORM_RULES: PolicyRule[] = [
  K8sNonRoot, K8sResources, K8sProbes, K8sPinnedImages, K8sNetworkPolicy,
  AwsNoWildcardActions, AwsStatefulProtected, AwsEncryption, AwsNoPublicAccess,
];

/** A rule a resource breaks. */
export interface PolicyFinding {
  readonly rule: string;
  readonly resource: string;
  readonly cause: string;
}

/** A suppression: which rule, and why (a reason is required). */
export interface PolicySuppression {
  readonly id: string;
  readonly reason: string;
}

/** The suppressions a Kubernetes object carries (annotation `mlops.io/policy-suppressions`). */
export function suppressionsOf(object: any): PolicySuppression[] {
  const raw = object?.metadata?.annotations?.[SUPPRESSIONS_ANNOTATION];
  if (!raw) return [];
  const list: PolicySuppression[] = JSON.parse(raw);
  for (const s of list) {
    if (!s.reason || s.reason.trim().length < 10) throw new Error(`${object.kind} '${object.metadata?.name}': the suppression of ${s.id} needs a reason of at least 10 characters`);
  }
  return list;
}

/** Checks everything a platform synthesized against the rules; returns what breaks them and is not suppressed. */
export function checkPolicies(synthesis: Pick<PlatformSynthesis, 'terraform' | 'manifests'>, rules: PolicyRule[] = PLATFORM_RULES): PolicyFinding[] {
  const subjects: Array<{ subject: Subject; id: string; suppressed: string[] }> = [];
  for (const [stack, json] of Object.entries(synthesis.terraform)) {
    for (const [type, resources] of Object.entries<any>(json.resource ?? {})) {
      for (const [name, config] of Object.entries<any>(resources)) {
        subjects.push({ subject: { kind: 'terraform', stack, type, name, config, stackJson: json }, id: `${stack}/${type}.${name}`, suppressed: [] });
      }
    }
  }
  for (const [file, docs] of Object.entries(synthesis.manifests)) {
    for (const object of docs) {
      subjects.push({
        subject: { kind: 'kubernetes', file, object, all: docs }, id: `${file}: ${object.kind}/${object.metadata?.name}`,
        suppressed: suppressionsOf(object).map((s) => s.id),
      });
    }
  }
  const findings: PolicyFinding[] = [];
  for (const { subject, id, suppressed } of subjects) {
    for (const rule of rules) {
      if (!suppressed.includes(rule.id) && rule.evaluate(subject) === 'non-compliant') findings.push({ rule: rule.id, resource: id, cause: rule.cause });
    }
  }
  return findings;
}
