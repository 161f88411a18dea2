import { containersOf, PolicyRule, podTemplateOf } from '../rule';

export const K8sPinnedImages: PolicyRule = {
  id: 'MLOPS-K8S4',
  cause: 'A container image is not pinned (no tag, or `latest`).',
  explanation: 'An unpinned image changes under a running platform; what ran yesterday cannot be run again.',
  evaluate(s) {
    if (s.kind !== 'kubernetes') return 'not-applicable';
    const template = podTemplateOf(s.object);
    if (!template) return 'not-applicable';
    const pinned = (image: string) => /@sha256:[0-9a-f]{64}$/.test(image) || (/:[\w][\w.-]*$/.test(image.split('/').pop() ?? '') && !image.endsWith(':latest'));
    return containersOf(template.spec).every((c) => pinned(c.image ?? '')) ? 'compliant' : 'non-compliant';
  },
};
