import { containersOf, PolicyRule, podTemplateOf } from '../rule';

export const K8sNonRoot: PolicyRule = {
  id: 'MLOPS-K8S1',
  cause: 'A container of a workload may run as root.',
  explanation: 'Containers run as non-root (runAsNonRoot on the pod or every container), so a compromised process cannot act as root on the node.',
  evaluate(s) {
    if (s.kind !== 'kubernetes') return 'not-applicable';
    const template = podTemplateOf(s.object);
    if (!template) return 'not-applicable';
    const podNonRoot = template.spec?.securityContext?.runAsNonRoot === true;
    return containersOf(template.spec).every((c) => c.securityContext?.runAsNonRoot ?? podNonRoot) ? 'compliant' : 'non-compliant';
  },
};
