import { PolicyRule } from '../rule';

export const K8sProbes: PolicyRule = {
  id: 'MLOPS-K8S3',
  cause: 'A long-running container (or native sidecar) has no readiness or liveness probe.',
  explanation: 'Without a readiness probe traffic reaches pods that cannot answer; without a liveness probe a hung server is never restarted.',
  evaluate(s) {
    if (s.kind !== 'kubernetes' || !['Deployment', 'StatefulSet', 'DaemonSet'].includes(s.object.kind)) return 'not-applicable';
    // Sidecars (init containers with restartPolicy Always) run as long as the pod: they need probes too.
    const spec = s.object.spec?.template?.spec;
    const containers: any[] = [...(spec?.containers ?? []), ...(spec?.initContainers ?? []).filter((c: any) => c.restartPolicy === 'Always')];
    return containers.every((c) => c.readinessProbe && c.livenessProbe) ? 'compliant' : 'non-compliant';
  },
};
