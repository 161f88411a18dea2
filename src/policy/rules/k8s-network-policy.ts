import { PolicyRule } from '../rule';

const selects = (selector: any, labels: Record<string, string>) => Object.entries(selector?.matchLabels ?? {}).every(([k, v]) => labels[k] === v);

export const K8sNetworkPolicy: PolicyRule = {
  id: 'MLOPS-K8S5',
  cause: 'A Deployment\'s pods are not selected by any NetworkPolicy of their namespace (in the same file).',
  explanation: 'Pods without a NetworkPolicy accept traffic from every pod in the cluster.',
  evaluate(s) {
    if (s.kind !== 'kubernetes' || s.object.kind !== 'Deployment') return 'not-applicable';
    const labels = s.object.spec?.template?.metadata?.labels ?? {};
    const ns = s.object.metadata?.namespace;
    const covered = s.all.some((o) => o.kind === 'NetworkPolicy' && o.metadata?.namespace === ns && selects(o.spec?.podSelector, labels));
    return covered ? 'compliant' : 'non-compliant';
  },
};
