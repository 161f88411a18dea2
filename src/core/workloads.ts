import type { IConstruct } from '../engine';
import { k8s } from '../engine';
import type { ImageException } from '../check/model';
import { check, PlatformValidationError } from './errors';
import { isDigestPinned, unpinnedCatalogImages } from './images';

/**
 * Secure defaults shared by every workload the library writes (the restricted Pod Security
 * Standard): non-root, no privilege escalation, read-only root filesystem, no capabilities,
 * the runtime's seccomp profile.
 */
export function restrictedContainerSecurityContext(): k8s.SecurityContext {
  return {
    runAsNonRoot: true,
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    privileged: false,
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

/** The pod-level half of the restricted defaults, for a given non-root uid. */
export function restrictedPodSecurityContext(uid = 1000): k8s.PodSecurityContext {
  return { runAsNonRoot: true, runAsUser: uid, runAsGroup: uid, fsGroup: uid, seccompProfile: { type: 'RuntimeDefault' } };
}

/** CPU and memory requests and limits as Kubernetes quantities. */
export function resources(r: { cpu: string; memory: string; cpuLimit?: string; memoryLimit?: string; extra?: Record<string, string> }): k8s.ResourceRequirements {
  const extra = Object.fromEntries(Object.entries(r.extra ?? {}).map(([k, v]) => [k, k8s.Quantity.fromString(v)]));
  return {
    requests: { cpu: k8s.Quantity.fromString(r.cpu), memory: k8s.Quantity.fromString(r.memory), ...extra },
    limits: { cpu: k8s.Quantity.fromString(r.cpuLimit ?? r.cpu), memory: k8s.Quantity.fromString(r.memoryLimit ?? r.memory), ...extra },
  };
}

/**
 * A Kubernetes quantity, as the API server parses it (the grammar in the doc comment of
 * k8s.io/apimachinery/pkg/api/resource/quantity.go): a signed decimal number, then a binary suffix
 * (Ki..Ei), a decimal one (n, u, m, k, M..E) or an exponent (e3).
 */
const QUANTITY = /^[+-]?(\d+(\.\d*)?|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?\d+)?$/;

/**
 * Checks a CPU or memory quantity from props: a valid Kubernetes quantity, above zero, and, for
 * memory, not in millibytes (`512m` is half a byte, not 512 MiB). Undefined passes (the default applies).
 */
export function checkQuantity(scope: IConstruct, prop: string, value: string | undefined, kind: 'cpu' | 'memory'): void {
  if (value === undefined) return;
  const allowed = kind === 'cpu'
    ? 'use cores (\'2\', \'0.5\') or millicores (\'500m\')'
    : 'use bytes with a binary suffix (\'512Mi\', \'8Gi\') or a decimal one (\'2G\')';
  const unit = /^(\d+(?:\.\d+)?)\s*([KMGTPE])i?B$/i.exec(value);
  const hint = kind === 'memory' && unit ? `; '${unit[1]}${unit[2].toUpperCase()}i' is what '${value}' most likely means` : '';
  check(QUANTITY.test(value), scope, prop, value, `is not a Kubernetes ${kind} quantity; ${allowed}${hint}`);
  check(!/^[+-]?0*(\.0*)?([a-zA-Z]+|[eE].*)?$/.test(value) && !value.startsWith('-'), scope, prop, value, `must be above zero; ${allowed}`);
  check(kind !== 'memory' || !/[0-9.]m$/.test(value), scope, prop, value, `is in millibytes ('m'); ${allowed}`);
}

/** The same as `resources`, as plain strings, for objects written without typed bindings (custom resources). */
export function rawResources(r: Parameters<typeof resources>[0]): { requests: Record<string, string>; limits: Record<string, string> } {
  return {
    requests: { cpu: r.cpu, memory: r.memory, ...(r.extra ?? {}) },
    limits: { cpu: r.cpuLimit ?? r.cpu, memory: r.memoryLimit ?? r.memory, ...(r.extra ?? {}) },
  };
}

/** Egress every workload needs: DNS, and the EKS Pod Identity agent on the node. */
export function baseEgressRules(): k8s.NetworkPolicyEgressRule[] {
  return [
    { ports: [{ protocol: 'UDP', port: k8s.IntOrString.fromNumber(53) }, { protocol: 'TCP', port: k8s.IntOrString.fromNumber(53) }] },
    { to: [{ ipBlock: { cidr: '169.254.170.23/32' } }], ports: [{ protocol: 'TCP', port: k8s.IntOrString.fromNumber(80) }] },
  ];
}

/** A `from` clause admitting the given namespaces, by their immutable name label. */
export function fromNamespaces(namespaces: string[]): k8s.NetworkPolicyPeer[] {
  return namespaces.map((ns) => ({ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ns } } }));
}

const exceptions = new WeakMap<object, ImageException[]>();

/**
 * The opt-out from digest pinning: an image the constructs under a scope may run by tag only, with
 * the reason, in the manner of a cdk-nag suppression. Without it every image a construct is given must
 * be pinned by digest (`<repository>:<tag>@sha256:<64 hex digits>`) and a tag-only image fails synth.
 *
 * For example `ImagePinning.allowTag(stack, 'acme/train:2024.06', 'built and scanned nightly; promoted by digest in CI')`.
 */
export class ImagePinning {
  /**
   * Lets the constructs at or under `scope` run `image` (exactly this reference) by tag, and the
   * `images` platform check accept it there. Call it before creating them. Every exception is
   * listed, with its reason, by `ImagePinning.exceptionsOf(app)`.
   */
  public static allowTag(scope: IConstruct, image: string, reason: string): void {
    if (reason.trim().length < 10) {
      throw new PlatformValidationError(scope, 'reason', reason, `must say, in at least 10 characters, why '${image}' may run by tag only`);
    }
    ImagePinning.record(scope, { path: scope.node.path, image, reason });
  }

  /** Every image the app accepts by tag only: where, and why (`allowTag`, and constructs' opt-out props). */
  public static exceptionsOf(scope: IConstruct): ImageException[] {
    return [...(exceptions.get(scope.node.root) ?? [])];
  }

  /** The exception that covers `image` for `scope`, if any. */
  public static exceptionFor(scope: IConstruct, image: string): ImageException | undefined {
    const path = scope.node.path;
    return (exceptions.get(scope.node.root) ?? []).find((a) => a.image === image && (a.path === '' || path === a.path || path.startsWith(`${a.path}/`)));
  }

  /** @internal Records an exception (a construct's opt-out prop uses it). */
  public static record(scope: IConstruct, exception: ImageException): void {
    let list = exceptions.get(scope.node.root);
    if (!list) exceptions.set(scope.node.root, (list = []));
    if (!list.some((e) => e.path === exception.path && e.image === exception.image)) list.push(exception);
  }
}

/**
 * Checks that a container image is pinned by digest (`<repository>:<tag>@sha256:<64 hex>`; the tag may
 * stay for people). A tag-only image (never `latest`, never without a tag) passes only when
 * `requireDigest` is false (a construct's documented opt-out prop, recorded as an exception for the
 * construct), when `ImagePinning.allowTag` covers it, or when it is one of the library's catalog images
 * with a documented exception (`IMAGES` in core/images.ts). Returns whether the image is pinned by digest.
 */
export function checkPinnedImage(scope: IConstruct, prop: string, image: string, requireDigest = true): boolean {
  if (isDigestPinned(image)) return true;
  const last = image.split('/').pop() ?? '';
  const tagged = /^[a-z0-9._-]+:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(last) && !last.endsWith(':latest') && !/\s/.test(image);
  check(tagged, scope, prop, image, 'must be pinned by digest: \'<repository>:<tag>@sha256:<64 hex digits>\' (a tag other than \'latest\' may stay beside the digest)');
  if (!requireDigest) {
    ImagePinning.record(scope, { path: scope.node.path, image, reason: `${prop} runs by tag: the construct's opt-out prop is set` });
    return false;
  }
  check(ImagePinning.exceptionFor(scope, image) !== undefined || unpinnedCatalogImages().has(image), scope, prop, image,
    'must be referenced by digest (\'<repository>:<tag>@sha256:<64 hex digits>\') so that what runs can be reproduced and a re-pushed tag cannot change it; '
    + 'pin the digest, or opt out for this image with ImagePinning.allowTag(scope, image, reason)');
  return false;
}
