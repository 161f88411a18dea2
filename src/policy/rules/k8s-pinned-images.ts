import { isDigestPinned, unpinnedCatalogImages } from '../../core/images';
import { containersOf, PolicyRule, podTemplateOf } from '../rule';

export const K8sPinnedImages: PolicyRule = {
  id: 'MLOPS-K8S4',
  cause: 'A container image is not pinned by digest (`<repository>:<tag>@sha256:<64 hex>`).',
  explanation: 'A tag can be moved to other content: what ran yesterday cannot be run again, and what runs is not what was reviewed. '
    + 'The library\'s own defaults without a verified digest (IMAGES in core/images.ts) say why and are accepted.',
  evaluate(s) {
    if (s.kind !== 'kubernetes') return 'not-applicable';
    const template = podTemplateOf(s.object);
    if (!template) return 'not-applicable';
    const excepted = unpinnedCatalogImages();
    const pinned = (image: string) => isDigestPinned(image) || excepted.has(image);
    return containersOf(template.spec).every((c) => pinned(c.image ?? '')) ? 'compliant' : 'non-compliant';
  },
};
