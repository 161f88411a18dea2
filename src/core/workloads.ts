import type { IConstruct } from '../engine';
import { k8s } from '../engine';
import { check } from './errors';

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

/**
 * Checks that a container image is pinned: an `@sha256` digest, or (unless `requireDigest`) a tag
 * other than `latest`. Returns whether it is pinned by digest.
 */
export function checkPinnedImage(scope: IConstruct, prop: string, image: string, requireDigest = false): boolean {
  const digest = /^[^\s@]+@sha256:[0-9a-f]{64}$/.test(image);
  const last = image.split('/').pop() ?? '';
  const tagged = /^[a-z0-9._-]+:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(last) && !last.endsWith(':latest') && !/\s/.test(image);
  if (requireDigest) {
    check(digest, scope, prop, image, 'must be referenced by digest (<image>@sha256:<64 hex digits>) so that a run can be reproduced');
  } else {
    check(digest || tagged, scope, prop, image, 'must be pinned: a tag other than \'latest\' or an @sha256 digest');
  }
  return digest;
}
