import { containersOf, PolicyRule, podTemplateOf } from '../rule';

export const K8sResources: PolicyRule = {
  id: 'MLOPS-K8S2',
  cause: 'A container has no CPU or memory request or limit.',
  explanation: 'Requests let the scheduler place pods and quotas count them; limits keep one workload from starving the node.',
  evaluate(s) {
    if (s.kind !== 'kubernetes') return 'not-applicable';
    const template = podTemplateOf(s.object);
    if (!template) return 'not-applicable';
    const ok = containersOf(template.spec).every((c) => ['requests', 'limits'].every((k) => c.resources?.[k]?.cpu !== undefined && c.resources?.[k]?.memory !== undefined));
    return ok ? 'compliant' : 'non-compliant';
  },
};
