import type { IConstruct } from '../engine';
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
  readonly name: string;
  readonly podSecurity: PodSecurityLevel;
  readonly labels: Record<string, string>;
  /** The constructs that use it. */
  readonly usedBy: IConstruct[];
  /** Why it is not `restricted`, when it is not. */
  readonly reasons: string[];
}

const declared = new WeakMap<PlatformApp, Map<string, { name: string; podSecurity: PodSecurityLevel; labels: Record<string, string>; usedBy: IConstruct[]; reasons: string[] }>>();

/**
 * The namespaces of a platform. Every construct declares the namespaces its objects live in; the
 * platform creates each once, with the Pod Security labels of its level, and the platform check
 * refuses an object whose namespace nobody creates.
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
    const app = PlatformApp.of(scope);
    const map = declared.get(app) ?? new Map();
    declared.set(app, map);
    const existing = map.get(name);
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
    return [...(declared.get(app)?.values() ?? [])].sort((a, b) => a.name.localeCompare(b.name));
  }
}
