import type { IConstruct } from '../engine';
import { Chart, k8s } from '../engine';
import { PlatformApp } from './app';
import { NameRules } from './names';

/** A Pod Security Standards level, enforced per namespace by Pod Security admission. */
export type PodSecurityLevel = 'restricted' | 'baseline' | 'privileged';

/** What a construct needs of a namespace it uses. */
export interface NamespaceUse {
  /**
   * The Pod Security level the construct's pods meet and that the namespace enforces.
   * @default 'restricted'
   */
  readonly podSecurity?: PodSecurityLevel;
  /** Why pods here cannot meet `restricted`; required for any other level. @default - none */
  readonly reason?: string;
  /** Labels the namespace must carry (e.g. `istio-injection: enabled`). @default - none */
  readonly labels?: Record<string, string>;
}

/** A namespace the platform creates, merged from every construct that uses it. */
export interface DeclaredNamespace {
  /** The namespace's name. */
  readonly name: string;
  /** The Pod Security level it enforces, on which every construct using it agrees. */
  readonly podSecurity: PodSecurityLevel;
  /** The labels constructs asked for (e.g. Istio injection), beside the Pod Security labels. */
  readonly labels: Record<string, string>;
  /** The constructs that use it. */
  readonly usedBy: IConstruct[];
  /** Why it is not `restricted`, when it is not. */
  readonly reasons: string[];
  /** The Terraform stack that creates it, when Terraform writes into it; else the cluster manifest does. */
  readonly createdBy?: IConstruct;
}

/**
 * The Pod Security Standards version the namespaces pin (`pod-security.kubernetes.io/<mode>-version`):
 * the oldest Kubernetes version the library supports, so the policy a namespace enforces does not
 * change under it when the cluster is upgraded.
 */
export const POD_SECURITY_VERSION = 'v1.30';

/**
 * The file, relative to `k8s.out`, that holds the cluster-level objects every other manifest needs
 * (Namespaces, PriorityClasses). `kubectl apply -f k8s.out -R` walks the folder in lexical order
 * (cli-runtime's `ExpandPathsToFileVisitors` uses `filepath.Walk`), and `00-` sorts before every
 * stack folder, so these objects are applied first.
 */
export const CLUSTER_MANIFEST_FILE = '00-cluster.k8s.yaml';
const CLUSTER_CHART_ID = CLUSTER_MANIFEST_FILE.replace(/\.k8s\.yaml$/, '');

interface State {
  readonly namespaces: Map<string, { name: string; podSecurity: PodSecurityLevel; labels: Record<string, string>; usedBy: IConstruct[]; reasons: string[]; createdBy?: IConstruct }>;
  written: boolean;
}

const states = new WeakMap<PlatformApp, State>();

function stateOf(app: PlatformApp): State {
  let s = states.get(app);
  if (!s) {
    s = { namespaces: new Map(), written: false };
    states.set(app, s);
  }
  return s;
}

/**
 * The namespaces of a platform. Every construct declares the namespaces its objects live in; the
 * platform creates each once, with the Pod Security labels of its level:
 *
 * - Terraform (the `KubernetesStack`) creates a namespace it writes into (a Secret, a ConfigMap, a
 *   Helm release), so that it exists before Terraform writes there;
 * - every other namespace is a Namespace object in `k8s.out/00-cluster.k8s.yaml`, which `kubectl apply
 *   -R` and GitOps tools apply before the objects that live in it.
 *
 * One owner per namespace: the cluster manifest never holds a namespace Terraform creates.
 */
export class PlatformNamespaces {
  /**
   * Declares that `scope` puts objects into namespace `name`. Several constructs may use one
   * namespace; they must agree on its Pod Security level and labels.
   */
  public static use(scope: IConstruct, name: string, use: NamespaceUse = {}): void {
    NameRules.dnsLabel(scope, 'namespace', name);
    const level = use.podSecurity ?? 'restricted';
    if (level !== 'restricted' && !(use.reason && use.reason.trim().length >= 10)) {
      throw new Error(`'${scope.node.path}': namespace '${name}' at Pod Security level '${level}' needs a reason of at least 10 characters saying why its pods cannot meet 'restricted'.`);
    }
    const state = stateOf(PlatformApp.of(scope));
    const map = state.namespaces;
    const existing = map.get(name);
    if (state.written && (!existing || Object.keys(use.labels ?? {}).some((k) => !(k in existing.labels)))) {
      throw new Error(`'${scope.node.path}': namespace '${name}' is declared after the platform's namespaces were written; declare it with PlatformNamespaces.use() in the construct's constructor.`);
    }
    if (!existing) {
      map.set(name, { name, podSecurity: level, labels: { ...(use.labels ?? {}) }, usedBy: [scope], reasons: use.reason ? [use.reason] : [] });
      return;
    }
    if (existing.podSecurity !== level) {
      throw new Error(`'${scope.node.path}': namespace '${name}' is used at Pod Security level '${level}', but '${existing.usedBy[0].node.path}' uses it at '${existing.podSecurity}'; a namespace enforces one level, so put these workloads in separate namespaces or use one level.`);
    }
    for (const [key, value] of Object.entries(use.labels ?? {})) {
      if (key in existing.labels && existing.labels[key] !== value) {
        throw new Error(`'${scope.node.path}': namespace '${name}' needs label ${key}=${value}, but '${existing.usedBy[0].node.path}' gives it ${key}=${existing.labels[key]}; use separate namespaces.`);
      }
      existing.labels[key] = value;
    }
    existing.usedBy.push(scope);
    if (use.reason) existing.reasons.push(use.reason);
  }

  /** Every namespace the platform's constructs use, by name. */
  public static of(app: PlatformApp): DeclaredNamespace[] {
    return [...stateOf(app).namespaces.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  /** The labels a declared namespace carries: its own, then the Pod Security labels of its level. */
  public static labelsOf(namespace: DeclaredNamespace): Record<string, string> {
    return { ...namespace.labels, ...podSecurityLabels(namespace.podSecurity) };
  }

  /**
   * Records that the Terraform stack `creator` creates namespace `name` (declared already), so that
   * the cluster manifest does not create it too.
   * @internal
   */
  public static createdByTerraform(creator: IConstruct, name: string): DeclaredNamespace {
    const state = stateOf(PlatformApp.of(creator));
    const ns = state.namespaces.get(name);
    if (!ns) throw new Error(`'${creator.node.path}': namespace '${name}' is created by Terraform but no construct declares it; declare it with PlatformNamespaces.use(scope, '${name}').`);
    if (state.written) throw new Error(`'${creator.node.path}': namespace '${name}' is claimed by Terraform after the cluster manifest was written; create it in the KubernetesStack's synth hook.`);
    if (ns.createdBy && ns.createdBy !== creator) {
      throw new Error(`'${creator.node.path}': namespace '${name}' is created by '${ns.createdBy.node.path}' already; a namespace has one owner.`);
    }
    ns.createdBy = creator;
    return ns;
  }

  /**
   * Writes a Namespace object into the cluster manifest for every declared namespace that Terraform
   * does not create. Runs once, at synth, after the KubernetesStack has claimed its namespaces.
   * @internal
   */
  public static writeClusterNamespaces(app: PlatformApp): void {
    const state = stateOf(app);
    if (state.written) return;
    state.written = true;
    const created = PlatformNamespaces.of(app).filter((ns) => !ns.createdBy);
    if (created.length === 0) return;
    const chart = ClusterManifest.chart(app);
    for (const ns of created) {
      new k8s.KubeNamespace(chart, `namespace-${ns.name}`, {
        metadata: { name: ns.name, labels: { ...app.context.baseTags, ...PlatformNamespaces.labelsOf(ns) } },
      });
    }
  }
}

/** The Pod Security admission labels of a level: enforce it, warn and audit at `restricted`, versions pinned. */
export function podSecurityLabels(level: PodSecurityLevel): Record<string, string> {
  const out: Record<string, string> = {};
  // Warn and audit at `restricted` everywhere, so what keeps a namespace from `restricted` stays visible.
  for (const [mode, value] of [['enforce', level], ['warn', 'restricted'], ['audit', 'restricted']] as const) {
    out[`pod-security.kubernetes.io/${mode}`] = value;
    out[`pod-security.kubernetes.io/${mode}-version`] = POD_SECURITY_VERSION;
  }
  return out;
}

/**
 * The cluster-level manifest, `k8s.out/00-cluster.k8s.yaml`: objects every other manifest needs and
 * that belong to no one construct (Namespaces, PriorityClasses).
 */
export class ClusterManifest {
  /** The chart of the cluster-level manifest, created on first use. */
  public static chart(scope: IConstruct): Chart {
    const app = PlatformApp.of(scope);
    const existing = app.kubernetes.node.tryFindChild(CLUSTER_CHART_ID);
    if (existing instanceof Chart) return existing;
    return new Chart(app.kubernetes, CLUSTER_CHART_ID, { disableResourceNameHashes: true });
  }
}
