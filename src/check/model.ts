/**
 * The synthesized platform as the platform check reads it: every Terraform stack and every chart
 * together, with the construct path that produced each object.
 */

/** One Kubernetes object of a chart. */
export interface ManifestObject {
  /** The output file, relative to `k8s.out` (e.g. `platform/fraud.k8s.yaml`). */
  readonly file: string;
  /** The construct path of the chart's owner (e.g. `platform/fraud`). */
  readonly path: string;
  /** The object as written. */
  readonly object: any;
}

/** One Terraform resource (or data source) of a stack. */
export interface TerraformObject {
  readonly stack: string;
  /** The resource type, e.g. `aws_eks_addon`. */
  readonly type: string;
  /** The logical name within the stack. */
  readonly name: string;
  /** The construct path (from cdktf's metadata). */
  readonly path: string;
  /** The resource's configuration as synthesized. */
  readonly config: any;
}

/** A Helm release the platform installs, its values parsed. */
export interface HelmReleaseObject extends TerraformObject {
  readonly release: string;
  readonly chart: string;
  readonly namespace: string;
  readonly createNamespace: boolean;
  /** The merged values of the release (every `values` document, then `set` entries are not read). */
  readonly values: Record<string, any>;
}

/** A pod the platform will run, wherever its template lives. */
export interface PodTemplate {
  /** The object holding the template. */
  readonly source: ManifestObject;
  /** For Argo Workflows templates: the template's name. */
  readonly template?: string;
  readonly namespace: string;
  /** The pod's labels. */
  readonly labels: Record<string, string>;
  /** The pod spec as written (`containers`, `initContainers`, `securityContext`, ...). */
  readonly spec: any;
  /** The controller that creates the pod and may add containers to it. */
  readonly controller: 'kubernetes' | 'argo-rollouts' | 'argo-workflows';
}

/** What the platform check reads: the Terraform JSON of each stack and the manifests of each chart. */
export interface SynthesizedPlatform {
  /** Terraform JSON by stack name. */
  readonly terraform: Record<string, any>;
  /** Manifests by output file, in install order. */
  readonly manifests: Record<string, any[]>;
  /**
   * The construct path of each file's chart owner.
   * @default - derived from the file name
   */
  readonly owners?: Record<string, string>;
  /**
   * Node pools of existing clusters, as `EksCluster.fromAttributes({ nodePools })` describes them (the
   * platform declares no node group or NodePool for them).
   * @default - none
   */
  readonly describedNodePools?: Array<{ readonly cluster: string; readonly name: string; readonly labels: Record<string, string>; readonly taints: Array<{ key: string; value?: string; effect: string }>; readonly instanceTypes: string[]; readonly capacityType?: string }>;
  /**
   * Images accepted by tag only, each for the constructs at or under `path`, with the reason
   * (`ImagePinning.allowTag`, or a construct's opt-out prop); the `images` check accepts them there.
   * @default - none
   */
  readonly imageExceptions?: ImageException[];
}

/** An image a platform runs by tag only, where, and why. */
export interface ImageException {
  /** The construct path the exception covers (and everything under it); '' for the whole app. */
  readonly path: string;
  /** The exact image reference accepted by tag. */
  readonly image: string;
  /** Why it may run by tag. */
  readonly reason: string;
}

/** Namespaces that exist in every cluster. */
export const BUILT_IN_NAMESPACES = ['default', 'kube-system', 'kube-public', 'kube-node-lease'];

/** The synthesized platform with the look-ups every check needs. */
export class PlatformModel {
  public readonly objects: ManifestObject[];
  public readonly terraformObjects: TerraformObject[];

  constructor(public readonly synthesis: SynthesizedPlatform) {
    this.objects = [];
    for (const [file, docs] of Object.entries(synthesis.manifests)) {
      const path = synthesis.owners?.[file] ?? file.replace(/\.k8s\.yaml$/, '');
      for (const object of docs) this.objects.push({ file, path, object });
    }
    this.terraformObjects = [];
    for (const [stack, json] of Object.entries<any>(synthesis.terraform)) {
      for (const block of ['resource', 'data'] as const) {
        for (const [type, byName] of Object.entries<any>(json?.[block] ?? {})) {
          for (const [name, config] of Object.entries<any>(byName)) {
            const t = block === 'data' ? `data.${type}` : type;
            this.terraformObjects.push({ stack, type: t, name, config, path: config?.['//']?.metadata?.path ?? `${stack}/${name}` });
          }
        }
      }
    }
  }

  /** Kubernetes objects of a kind (and API group, e.g. `argoproj.io`), optionally in one namespace. */
  public kind(kind: string, options: { group?: string; namespace?: string } = {}): ManifestObject[] {
    return this.objects.filter((o) => o.object?.kind === kind
      && (options.group === undefined || apiGroupOf(o.object) === options.group)
      && (options.namespace === undefined || o.object.metadata?.namespace === options.namespace));
  }

  /** The object of a kind with a name (and namespace), if the platform writes it. */
  public find(kind: string, name: string, namespace?: string): ManifestObject | undefined {
    return this.objects.find((o) => o.object?.kind === kind && o.object.metadata?.name === name
      && (namespace === undefined || o.object.metadata?.namespace === namespace));
  }

  /** Terraform resources of a type (data sources as `data.<type>`). */
  public resources(type: string): TerraformObject[] {
    return this.terraformObjects.filter((r) => r.type === type);
  }

  /**
   * A Terraform string as it will be at apply, where the model can know it: a reference to a
   * Kubernetes resource's name (`${kubernetes_namespace_v1.x.metadata[0].name}`, what a reference to
   * a namespace resource synthesizes to) is that resource's name; other strings are returned as they are.
   */
  public resolve(value: unknown): string | undefined {
    if (typeof value !== 'string') return undefined;
    const m = /^\$\{([a-z0-9_]+)\.([A-Za-z0-9_-]+)\.metadata(?:\[0\]|\.0)?\.name\}$/.exec(value);
    if (!m) return value;
    const target = this.terraformObjects.find((t) => t.type === m[1] && t.name === m[2]);
    const md = [target?.config.metadata].flat()[0];
    return typeof md?.name === 'string' ? md.name : value;
  }

  /** The Helm releases the platform installs (their namespace resolved). */
  public helmReleases(): HelmReleaseObject[] {
    return this.resources('helm_release').map((r) => ({
      ...r,
      release: r.config.name,
      chart: r.config.chart,
      namespace: this.resolve(r.config.namespace) ?? 'default',
      createNamespace: r.config.create_namespace === true,
      values: (r.config.values ?? []).reduce((acc: any, v: string) => deepMerge(acc, safeJson(v)), {}),
    }));
  }

  /** The Helm release of a chart, if installed. */
  public helmRelease(chart: string): HelmReleaseObject | undefined {
    return this.helmReleases().find((r) => r.chart === chart);
  }

  /** The EKS managed add-ons (`aws_eks_addon`), their configuration values parsed. */
  public eksAddons(): Array<TerraformObject & { addon: string; values: Record<string, any> }> {
    return this.resources('aws_eks_addon').map((r) => ({ ...r, addon: r.config.addon_name, values: safeJson(r.config.configuration_values ?? '{}') }));
  }

  /** Every pod template the platform writes, with the controller that creates its pods. */
  public podTemplates(): PodTemplate[] {
    const out: PodTemplate[] = [];
    for (const o of this.objects) {
      const obj = o.object;
      const ns = obj.metadata?.namespace ?? 'default';
      const push = (template: any, controller: PodTemplate['controller'], name?: string) => {
        if (template?.spec) out.push({ source: o, namespace: ns, labels: template.metadata?.labels ?? {}, spec: template.spec, controller, template: name });
      };
      switch (obj.kind) {
        case 'Deployment': case 'DaemonSet': case 'StatefulSet': case 'ReplicaSet': case 'Job':
          push(obj.spec?.template, 'kubernetes'); break;
        case 'CronJob':
          push(obj.spec?.jobTemplate?.spec?.template, 'kubernetes'); break;
        case 'Pod':
          push(obj, 'kubernetes'); break;
        case 'Rollout':
          if (obj.spec?.template) push(obj.spec.template, 'argo-rollouts'); break;
        case 'Workflow': case 'WorkflowTemplate': case 'ClusterWorkflowTemplate': case 'CronWorkflow':
          for (const t of argoTemplates(obj)) out.push({ source: o, namespace: ns, labels: t.labels, spec: t.spec, controller: 'argo-workflows', template: t.name });
          break;
        default:
      }
    }
    return out;
  }

  /** Namespaces created by a manifest, by Terraform or by a Helm release (`create_namespace`), and the built-in ones. */
  public namespaces(): Map<string, { by: string; labels: Record<string, string> }> {
    const out = new Map<string, { by: string; labels: Record<string, string> }>();
    for (const n of BUILT_IN_NAMESPACES) out.set(n, { by: 'Kubernetes', labels: {} });
    for (const r of this.helmReleases()) if (r.createNamespace) out.set(r.namespace, { by: `helm_release ${r.release}`, labels: {} });
    for (const type of ['kubernetes_namespace_v1', 'kubernetes_namespace']) {
      for (const r of this.resources(type)) {
        const md = [r.config.metadata].flat()[0] ?? {};
        out.set(md.name, { by: `${type} ${r.stack}/${r.name}`, labels: md.labels ?? {} });
      }
    }
    for (const o of this.kind('Namespace')) out.set(o.object.metadata.name, { by: `${o.file}`, labels: o.object.metadata?.labels ?? {} });
    return out;
  }
}

/** The API group of an object (`''` for the core group). */
export function apiGroupOf(object: any): string {
  const v: string = object?.apiVersion ?? '';
  return v.includes('/') ? v.split('/')[0] : '';
}

/** A one-line reference to an object, e.g. `Deployment serving/fraud`. */
export function refOf(object: any): string {
  const ns = object?.metadata?.namespace;
  return `${object?.kind} ${ns ? `${ns}/` : ''}${object?.metadata?.name}`;
}

/** Whether a label selector (`matchLabels`/`matchExpressions`, or a plain map) selects the labels. */
export function selects(selector: any, labels: Record<string, string>): boolean {
  if (!selector) return false;
  const plain = selector.matchLabels === undefined && selector.matchExpressions === undefined;
  const matchLabels: Record<string, string> = plain ? selector : selector.matchLabels ?? {};
  if (!Object.entries(matchLabels).every(([k, v]) => labels[k] === v)) return false;
  for (const e of (plain ? [] : selector.matchExpressions ?? []) as Array<{ key: string; operator: string; values?: string[] }>) {
    const has = e.key in labels;
    const value = labels[e.key];
    switch (e.operator) {
      case 'In': if (!has || !(e.values ?? []).includes(value)) return false; break;
      case 'NotIn': if (has && (e.values ?? []).includes(value)) return false; break;
      case 'Exists': if (!has) return false; break;
      case 'DoesNotExist': if (has) return false; break;
      default: return false;
    }
  }
  return true;
}

/** CPU in millicores from a Kubernetes quantity (`500m`, `2`, `1.5`). */
export function cpuMillis(quantity: string | number | undefined): number | undefined {
  if (quantity === undefined) return undefined;
  const s = String(quantity);
  const m = /^([0-9.]+)(m?)$/.exec(s);
  if (!m) return undefined;
  return m[2] ? Number(m[1]) : Number(m[1]) * 1000;
}

const BINARY: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
const DECIMAL: Record<string, number> = { '': 1, 'k': 1e3, 'M': 1e6, 'G': 1e9, 'T': 1e12, 'P': 1e15, 'E': 1e18, 'm': 1e-3 };

/** Bytes from a Kubernetes memory quantity (`512Mi`, `2G`, `1e9`). */
export function bytesOf(quantity: string | number | undefined): number | undefined {
  if (quantity === undefined) return undefined;
  const m = /^([0-9.]+(?:e[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E|m)?$/.exec(String(quantity));
  if (!m) return undefined;
  const unit = m[2] ?? '';
  return Number(m[1]) * (BINARY[unit] ?? DECIMAL[unit]);
}

function argoTemplates(obj: any): Array<{ name: string; labels: Record<string, string>; spec: any }> {
  const wf = obj.kind === 'CronWorkflow' ? obj.spec?.workflowSpec : obj.spec;
  if (!wf) return [];
  const out: Array<{ name: string; labels: Record<string, string>; spec: any }> = [];
  for (const t of wf.templates ?? []) {
    const main = t.container ?? t.script ?? t.containerSet;
    if (!main) continue;
    const containers = t.containerSet ? t.containerSet.containers : [{ name: 'main', ...main }];
    out.push({
      name: t.name,
      labels: { ...(wf.podMetadata?.labels ?? {}), ...(t.metadata?.labels ?? {}) },
      spec: {
        serviceAccountName: t.serviceAccountName ?? wf.serviceAccountName,
        securityContext: t.securityContext ?? wf.securityContext,
        nodeSelector: t.nodeSelector ?? wf.nodeSelector,
        tolerations: t.tolerations ?? wf.tolerations,
        affinity: t.affinity ?? wf.affinity,
        priorityClassName: t.priorityClassName ?? wf.priorityClassName,
        volumes: [...(wf.volumes ?? []), ...(t.volumes ?? [])],
        initContainers: t.initContainers ?? [],
        containers: [...containers, ...(t.sidecars ?? [])],
      },
    });
  }
  return out;
}

function safeJson(text: string): any {
  try {
    return JSON.parse(text);
  } catch {
    return {};
  }
}

function deepMerge(a: any, b: any): any {
  if (!b || typeof b !== 'object' || Array.isArray(b)) return b;
  const out: any = { ...(a && typeof a === 'object' && !Array.isArray(a) ? a : {}) };
  for (const [k, v] of Object.entries(b)) out[k] = deepMerge(out[k], v);
  return out;
}
