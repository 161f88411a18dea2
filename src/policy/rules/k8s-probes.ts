import { PolicyRule } from '../rule';

export const K8sProbes: PolicyRule = {
  id: 'MLOPS-K8S3',
  cause: 'A long-running container has no readiness or liveness probe.',
  explanation: 'Without a readiness probe traffic reaches pods that cannot answer; without a liveness probe a hung server is never restarted.',
  evaluate(s) {
    if (s.kind !== 'kubernetes' || !['Deployment', 'StatefulSet', 'DaemonSet'].includes(s.object.kind)) return 'not-applicable';
    const containers: any[] = s.object.spec?.template?.spec?.containers ?? [];
    return containers.every((c) => c.readinessProbe && c.livenessProbe) ? 'compliant' : 'non-compliant';
  },
};
