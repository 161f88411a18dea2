import { imageReference, IMAGES, isDigestPinned, unpinnedCatalogImages } from '../../core/images';
import { finding, PlatformCheck, PlatformFinding } from '../check';
import { PlatformModel } from '../model';

/**
 * Every container image the platform runs is pinned by digest: containers and init containers of
 * Deployments, DaemonSets, StatefulSets, Jobs, CronJobs, Pods, Argo Rollouts and every container,
 * script and sidecar of Argo Workflows templates. A tag names whatever was pushed last under it
 * (the OCI distribution spec lets a tag be moved; a digest is the content's hash), so a tag-only
 * image can change under a running platform without any change to its manifests.
 *
 * An image from an ECR repository in a namespace of the platform's own repositories (`<platform>-<env>/...`)
 * must name one the platform creates: otherwise the kubelet's pull fails.
 *
 * The exceptions are the library's catalog images that say why they have no digest yet (`IMAGES`,
 * core/images.ts) and the app's image exceptions (`ImagePinning.allowTag`, or a construct's opt-out
 * prop), each for the constructs under its path, with its reason.
 */
export const imagesCheck: PlatformCheck = {
  id: 'images',
  description: 'Every container image is pinned by digest (<repository>:<tag>@sha256:<64 hex>).',
  upstream: 'OCI distribution spec (opencontainers/distribution-spec spec.md: a manifest is fetched by tag or by digest; only a digest names immutable content); Kubernetes docs concepts/containers/images ("Image names": pin by digest)',
  check(model: PlatformModel): PlatformFinding[] {
    const out: PlatformFinding[] = [];
    const excepted = unpinnedCatalogImages();
    const exceptions = model.synthesis.imageExceptions ?? [];
    const covered = (image: string, path: string) => exceptions.some((e) => e.image === image && (e.path === '' || path === e.path || path.startsWith(`${e.path}/`)));
    // The platform's own ECR repositories, by name: an image in one of their namespaces (`acme-ml-prod/...`)
    // must name one of them, or the kubelet's pull fails (ImagePullBackOff: the repository does not exist).
    const repositories = new Set(model.resources('aws_ecr_repository').map((r) => String(r.config.name)));
    const namespaces = new Set([...repositories].map((n) => n.split('/')[0]));
    for (const t of model.podTemplates()) {
      for (const c of [...(t.spec?.initContainers ?? []), ...(t.spec?.containers ?? [])]) {
        const image: unknown = c?.image;
        const ecr = typeof image === 'string' ? /^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com\/([^:@]+)/.exec(image) : null;
        if (ecr && namespaces.has(ecr[1].split('/')[0]) && !repositories.has(ecr[1])) {
          out.push(finding('images', t.source, `${t.template ? `template '${t.template}', ` : ''}container '${c?.name}' runs image '${String(image)}' from ECR repository '${ecr[1]}', which the platform does not create (it creates ${[...repositories].sort().map((r) => `'${r}'`).join(', ')}): the pull fails (ImagePullBackOff)`,
            'use a repository the platform creates (GpuTrainingCluster ecrRepositories, PlatformImageBuilds recipes), or create this one'));
        }
        if (typeof image === 'string' && (isDigestPinned(image) || excepted.has(image) || covered(image, t.source.path))) continue;
        const where = `${t.template ? `template '${t.template}', ` : ''}container '${c?.name}'`;
        out.push(finding('images', t.source, `${where} runs image '${String(image)}', which is not pinned by digest: the tag can be moved to other content, so what runs is neither reproducible nor the image that was reviewed`,
          `reference the image by digest ('<repository>:<tag>@sha256:<64 hex digits>'; e.g. ${imageReference(IMAGES.nginxUnprivileged)}), or accept the tag with a reason: ImagePinning.allowTag(scope, image, reason)`));
      }
    }
    return out;
  },
};
