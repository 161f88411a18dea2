import { finding, PlatformCheck, PlatformFinding } from '../check';
import { PlatformModel, PodTemplate, selects } from '../model';

const ID = 'references';

/** A Secret, ConfigMap, ServiceAccount or PersistentVolume the platform writes, from a manifest or from Terraform. */
interface Written {
  readonly kind: string;
  readonly namespace?: string;
  readonly name: string;
  /** The keys, when known at synth (`undefined`: not known, e.g. a Helm-made or token-built object). */
  readonly keys?: string[];
}

/** The Terraform resource types that write objects into the cluster, by the kind they write. */
const TERRAFORM_KINDS: Record<string, string> = {
  kubernetes_secret_v1: 'Secret', kubernetes_secret: 'Secret',
  kubernetes_config_map_v1: 'ConfigMap', kubernetes_config_map: 'ConfigMap',
  kubernetes_service_account_v1: 'ServiceAccount', kubernetes_service_account: 'ServiceAccount',
  kubernetes_persistent_volume_v1: 'PersistentVolume', kubernetes_persistent_volume: 'PersistentVolume',
  kubernetes_storage_class_v1: 'StorageClass', kubernetes_storage_class: 'StorageClass',
};

/** Priority classes every cluster has (the API server creates them at start). */
const BUILT_IN_PRIORITY_CLASSES = ['system-cluster-critical', 'system-node-critical'];
/** Storage classes an EKS cluster has without anyone creating them. */
const BUILT_IN_STORAGE_CLASSES = ['gp2'];

/**
 * Every object a manifest names by reference exists, the way the API server's admission, the kubelet
 * and the controllers look it up:
 *
 * - a pod's `serviceAccountName` (ServiceAccount admission, kubernetes `plugin/pkg/admission/serviceaccount/admission.go`:
 *   "error looking up service account"; the ReplicaSet or Job controller then creates no pod);
 * - Secrets and ConfigMaps of `env[].valueFrom`, `envFrom`, `volumes` and projected volumes, and their keys, unless
 *   `optional` (kubelet `pkg/kubelet/kubelet_pods.go` makeEnvironmentVariables: CreateContainerConfigError; volume
 *   mounts fail), and the Secret keys of an AlertmanagerConfig's receivers (prometheus-operator
 *   `pkg/alertmanager/operator.go` selectAlertmanagerConfigs → checkAlertmanagerConfigResource: the whole
 *   AlertmanagerConfig is skipped — "skipping alertmanagerconfig" — when one key cannot be read);
 * - a PersistentVolumeClaim's `volumeName` and `storageClassName`, and a pod's claims (the claim stays Pending; the
 *   scheduler refuses the pod: "persistentvolumeclaim not found");
 * - a Service's selector selects some pod template and its named `targetPort`s are container port names (endpoints
 *   controller, `pkg/controller/endpointslice`: no endpoints, so nothing answers);
 * - a ServiceMonitor selects a Service (its `namespaceSelector`, by default its own namespace) that has the endpoint's
 *   port name (prometheus-operator `pkg/prometheus/promcfg.go`: keep `__meta_kubernetes_endpoint_port_name`; no target);
 * - an Ingress backend's Service and port (name or number) exist (the ingress controllers resolve each backend;
 *   the AWS Load Balancer Controller fails the reconcile, ingress-nginx answers 503);
 * - an HPA's or a KEDA ScaledObject's `scaleTargetRef` exists (HPA controller: FailedGetScale; KEDA: ScaleTargetNotFound);
 * - a Rollout's Services, AnalysisTemplates (with every argument they need), Ingress and VirtualService routes, and
 *   its `workloadRef` (Argo Rollouts `pkg/apis/rollouts/validation/validation_references.go`: ValidateService,
 *   ValidateAnalysisTemplatesWithType, ValidateIngress, ValidateVirtualService; the Rollout goes InvalidSpec);
 * - a PodDisruptionBudget selects some pod (disruption controller: "No matching pods found", protecting nothing);
 * - a pod's `priorityClassName` exists (Priority admission, `plugin/pkg/admission/priority/admission.go`:
 *   "no PriorityClass with name ... was found").
 *
 * Objects Terraform writes (`kubernetes_secret_v1`, `kubernetes_config_map_v1`, `kubernetes_service_account_v1`,
 * `kubernetes_persistent_volume_v1`, ...) count as existing.
 */
export const referencesCheck: PlatformCheck = {
  id: ID,
  description: 'Every ServiceAccount, Secret, ConfigMap, volume, Service, port, scale target, AnalysisTemplate, Ingress, VirtualService and PriorityClass a manifest names exists',
  upstream: 'kubernetes ServiceAccount and Priority admission, kubelet, endpoints controller; prometheus-operator operator.go and promcfg.go; Argo Rollouts validation_references.go',
  check(p: PlatformModel): PlatformFinding[] {
    const written = writtenObjects(p);
    return [
      ...podReferences(p, written),
      ...alertmanagerSecrets(p, written),
      ...claimReferences(p, written),
      ...serviceReferences(p),
      ...serviceMonitorReferences(p),
      ...ingressReferences(p),
      ...scalerReferences(p),
      ...rolloutReferences(p),
      ...disruptionBudgetReferences(p),
    ];
  },
};

/** Objects the manifests and Terraform write, with namespaces resolved from Terraform references. */
export function writtenObjects(p: PlatformModel): Written[] {
  const out: Written[] = p.objects.map(({ object: o }) => ({
    kind: o.kind, namespace: o.metadata?.namespace, name: o.metadata?.name,
    keys: o.kind === 'Secret' || o.kind === 'ConfigMap' ? [...Object.keys(o.data ?? {}), ...Object.keys(o.stringData ?? {}), ...Object.keys(o.binaryData ?? {})] : undefined,
  }));
  for (const r of p.terraformObjects) {
    const kind = TERRAFORM_KINDS[r.type];
    if (!kind) continue;
    const md = [r.config.metadata].flat()[0] ?? {};
    // Keys are known when the data are written as maps; a whole map from a Terraform expression is not known.
    const maps = [r.config.data, r.config.binary_data].filter((d) => d !== undefined);
    const keys = maps.every((d) => d && typeof d === 'object' && !Array.isArray(d)) ? maps.flatMap((d) => Object.keys(d)) : undefined;
    const clusterScoped = kind === 'PersistentVolume' || kind === 'StorageClass';
    out.push({ kind, namespace: clusterScoped ? undefined : p.resolve(md.namespace ?? 'default'), name: p.resolve(md.name) ?? '', keys });
  }
  return out;
}

function exists(written: Written[], kind: string, name: string, namespace?: string): Written | undefined {
  return written.find((w) => w.kind === kind && w.name === name && (namespace === undefined || (w.namespace ?? 'default') === namespace));
}

function where(t: PodTemplate): string {
  return t.template ? ` (template '${t.template}')` : '';
}

function podReferences(p: PlatformModel, written: Written[]): PlatformFinding[] {
  const out: PlatformFinding[] = [];
  const priorityClasses = new Set([...BUILT_IN_PRIORITY_CLASSES, ...written.filter((w) => w.kind === 'PriorityClass').map((w) => w.name)]);
  for (const t of p.podTemplates()) {
    const ns = t.namespace;
    const sa = t.spec.serviceAccountName ?? t.spec.serviceAccount;
    if (sa && sa !== 'default' && !exists(written, 'ServiceAccount', sa, ns)) {
      out.push(finding(ID, t.source, `pods${where(t)} run as ServiceAccount '${sa}', which nothing creates in namespace '${ns}': ServiceAccount admission refuses every pod ("error looking up service account ${ns}/${sa}").`,
        `Create ServiceAccount ${ns}/${sa} in a chart (or with Terraform), or use one that exists.`));
    }
    const pc = t.spec.priorityClassName;
    if (pc && !priorityClasses.has(pc)) {
      out.push(finding(ID, t.source, `pods${where(t)} name PriorityClass '${pc}', which nothing creates: Priority admission refuses them ("no PriorityClass with name ${pc} was found").`,
        `Create PriorityClass '${pc}', or use one of ${[...priorityClasses].map((c) => `'${c}'`).join(', ')}.`));
    }
    const ref = (kind: 'Secret' | 'ConfigMap', name: string | undefined, key: string | undefined, optional: boolean | undefined, use: string) => {
      if (!name || optional) return;
      const w = exists(written, kind, name, ns);
      if (!w) {
        out.push(finding(ID, t.source, `${use}${where(t)} reads ${kind} '${name}', which neither a manifest nor Terraform writes in namespace '${ns}': the kubelet does not start the container (CreateContainerConfigError or a failed mount).`,
          `Write ${kind} ${ns}/${name} (a manifest, or ClusterValues.${kind === 'Secret' ? 'secret' : 'configMap'}(...) for values Terraform knows), or mark the reference optional.`));
      } else if (key !== undefined && w.keys !== undefined && !w.keys.includes(key)) {
        out.push(finding(ID, t.source, `${use}${where(t)} reads key '${key}' of ${kind} ${ns}/${name}, which has only ${w.keys.map((k) => `'${k}'`).join(', ') || 'no keys'}: the kubelet does not start the container ("couldn't find key ${key}").`,
          `Add key '${key}' to ${kind} ${ns}/${name}, or read one of its keys.`));
      }
    };
    for (const c of [...(t.spec.initContainers ?? []), ...(t.spec.containers ?? [])]) {
      const use = `container '${c.name}'`;
      for (const e of c.env ?? []) {
        const s = e.valueFrom?.secretKeyRef;
        const m = e.valueFrom?.configMapKeyRef;
        if (s) ref('Secret', s.name, s.key, s.optional, `${use} (env ${e.name})`);
        if (m) ref('ConfigMap', m.name, m.key, m.optional, `${use} (env ${e.name})`);
      }
      for (const f of c.envFrom ?? []) {
        if (f.secretRef) ref('Secret', f.secretRef.name, undefined, f.secretRef.optional, `${use} (envFrom)`);
        if (f.configMapRef) ref('ConfigMap', f.configMapRef.name, undefined, f.configMapRef.optional, `${use} (envFrom)`);
      }
    }
    for (const v of t.spec.volumes ?? []) {
      const use = `volume '${v.name}'`;
      if (v.secret) {
        ref('Secret', v.secret.secretName, undefined, v.secret.optional, use);
        for (const i of v.secret.items ?? []) ref('Secret', v.secret.secretName, i.key, v.secret.optional, use);
      }
      if (v.configMap) {
        ref('ConfigMap', v.configMap.name, undefined, v.configMap.optional, use);
        for (const i of v.configMap.items ?? []) ref('ConfigMap', v.configMap.name, i.key, v.configMap.optional, use);
      }
      for (const s of v.projected?.sources ?? []) {
        if (s.secret) ref('Secret', s.secret.name, undefined, s.secret.optional, `${use} (projected)`);
        if (s.configMap) ref('ConfigMap', s.configMap.name, undefined, s.configMap.optional, `${use} (projected)`);
      }
      const claim = v.persistentVolumeClaim?.claimName;
      if (claim && !exists(written, 'PersistentVolumeClaim', claim, ns)) {
        out.push(finding(ID, t.source, `${use}${where(t)} mounts PersistentVolumeClaim '${claim}', which nothing creates in namespace '${ns}': the scheduler leaves the pods Pending ("persistentvolumeclaim \\"${claim}\\" not found").`,
          `Create PersistentVolumeClaim ${ns}/${claim}, or mount one that exists.`));
      }
    }
  }
  return out;
}

/** The Secret key references of an AlertmanagerConfig's receivers: every `{ name, key }` object under `receivers`. */
function secretKeySelectors(value: unknown, path: string, out: Array<{ path: string; name: string; key: string; optional?: boolean }>): void {
  if (Array.isArray(value)) {
    value.forEach((v, i) => secretKeySelectors(v, `${path}[${i}]`, out));
  } else if (value && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    const keys = Object.keys(o).filter((k) => k !== 'optional');
    if (keys.length === 2 && typeof o.name === 'string' && typeof o.key === 'string') {
      out.push({ path, name: o.name, key: o.key, optional: o.optional === true });
      return;
    }
    for (const [k, v] of Object.entries(o)) secretKeySelectors(v, `${path}.${k}`, out);
  }
}

function alertmanagerSecrets(p: PlatformModel, written: Written[]): PlatformFinding[] {
  const out: PlatformFinding[] = [];
  for (const o of p.kind('AlertmanagerConfig', { group: 'monitoring.coreos.com' })) {
    const ns = o.object.metadata?.namespace ?? 'default';
    const refs: Array<{ path: string; name: string; key: string; optional?: boolean }> = [];
    secretKeySelectors(o.object.spec?.receivers ?? [], 'spec.receivers', refs);
    for (const r of refs) {
      const w = exists(written, 'Secret', r.name, ns);
      const missing = !w ? `Secret ${ns}/${r.name}, which neither a manifest nor Terraform writes` : w.keys !== undefined && !w.keys.includes(r.key) ? `key '${r.key}' of Secret ${ns}/${r.name}, which has only ${w.keys.map((k) => `'${k}'`).join(', ') || 'no keys'}` : undefined;
      if (!missing) continue;
      out.push(finding(ID, o, `${r.path} reads ${missing}: prometheus-operator skips the whole AlertmanagerConfig ("skipping alertmanagerconfig"), so none of its routes or receivers reach Alertmanager.`,
        `Give the receiver its secret from AWS Secrets Manager (e.g. AlertReceiver.slack(name, { webhookUrl: ClusterValue.fromSecretsManager(arn, jsonKey) })), which the KubernetesStack writes as a Secret in '${ns}', or write Secret ${ns}/${r.name} with key '${r.key}'.`));
    }
  }
  return out;
}

function claimReferences(p: PlatformModel, written: Written[]): PlatformFinding[] {
  const out: PlatformFinding[] = [];
  const classes = new Set([...BUILT_IN_STORAGE_CLASSES, ...written.filter((w) => w.kind === 'StorageClass').map((w) => w.name)]);
  for (const o of p.kind('PersistentVolumeClaim')) {
    const spec = o.object.spec ?? {};
    if (spec.volumeName && !exists(written, 'PersistentVolume', spec.volumeName)) {
      out.push(finding(ID, o, `spec.volumeName names PersistentVolume '${spec.volumeName}', which neither a manifest nor Terraform writes: the claim stays Pending and its pods never start.`,
        `Write PersistentVolume '${spec.volumeName}' (ClusterValues.persistentVolume(...) for a volume made at apply), or bind to one that exists.`));
    }
    const sc = spec.storageClassName;
    if (typeof sc === 'string' && sc !== '' && !classes.has(sc)) {
      out.push(finding(ID, o, `spec.storageClassName names StorageClass '${sc}', which nothing creates: no volume is provisioned and the claim stays Pending.`,
        `Create StorageClass '${sc}', or use one of ${[...classes].map((c) => `'${c}'`).join(', ')}.`));
    }
  }
  return out;
}

/** The pod templates in a namespace that a selector selects. */
function selected(p: PlatformModel, namespace: string, selector: unknown): PodTemplate[] {
  return p.podTemplates().filter((t) => t.namespace === namespace && selects(selector, t.labels));
}

function serviceReferences(p: PlatformModel): PlatformFinding[] {
  const out: PlatformFinding[] = [];
  for (const o of p.kind('Service', { group: '' })) {
    const selector = o.object.spec?.selector;
    if (!selector || Object.keys(selector).length === 0) continue;
    const ns = o.object.metadata?.namespace ?? 'default';
    const pods = selected(p, ns, selector);
    if (pods.length === 0) {
      out.push(finding(ID, o, `spec.selector ${JSON.stringify(selector)} selects no pod template in namespace '${ns}': the Service has no endpoints and every call to it fails.`,
        'Make the selector match the labels of the pods that serve it.'));
      continue;
    }
    for (const port of o.object.spec?.ports ?? []) {
      if (typeof port.targetPort !== 'string') continue;
      const named = pods.some((t) => [...(t.spec.containers ?? []), ...(t.spec.initContainers ?? [])].some((c: any) => (c.ports ?? []).some((cp: any) => cp.name === port.targetPort)));
      if (!named) {
        out.push(finding(ID, o, `port '${port.name ?? port.port}' targets container port '${port.targetPort}', which no selected pod names: the endpoints controller lists no address for it.`,
          `Name a container port '${port.targetPort}' in the selected pods, or target a port they name.`));
      }
    }
  }
  return out;
}

function serviceMonitorReferences(p: PlatformModel): PlatformFinding[] {
  const out: PlatformFinding[] = [];
  const services = p.kind('Service', { group: '' });
  for (const o of p.kind('ServiceMonitor', { group: 'monitoring.coreos.com' })) {
    const ns = o.object.metadata?.namespace ?? 'default';
    const nsSel = o.object.spec?.namespaceSelector ?? {};
    const inScope = (svcNs: string) => nsSel.any === true || (Array.isArray(nsSel.matchNames) ? nsSel.matchNames.includes(svcNs) : svcNs === ns);
    const matched = services.filter((s) => inScope(s.object.metadata?.namespace ?? 'default') && selects(o.object.spec?.selector ?? {}, s.object.metadata?.labels ?? {}));
    if (matched.length === 0) {
      out.push(finding(ID, o, `selects no Service (selector ${JSON.stringify(o.object.spec?.selector ?? {})} in ${nsSel.any ? 'any namespace' : `namespace(s) ${(nsSel.matchNames ?? [ns]).join(', ')}`}): Prometheus scrapes nothing for it.`,
        'Label the Service with what the ServiceMonitor selects, or fix the selector or namespaceSelector.'));
      continue;
    }
    for (const [i, e] of (o.object.spec?.endpoints ?? []).entries()) {
      if (typeof e.port !== 'string') continue;
      if (!matched.some((s) => (s.object.spec?.ports ?? []).some((sp: any) => sp.name === e.port))) {
        out.push(finding(ID, o, `spec.endpoints[${i}].port '${e.port}' is not a port name of the Service(s) it selects (${matched.map((s) => s.object.metadata.name).join(', ')}): prometheus-operator keeps only endpoints of that port name, so there is no target.`,
          `Name the Service port '${e.port}', or use one of its port names.`));
      }
    }
  }
  return out;
}

function servicePortProblem(p: PlatformModel, ns: string, name: string, port: { name?: string; number?: number } | undefined): string | undefined {
  const svc = p.find('Service', name, ns);
  if (!svc) return `Service ${ns}/${name}, which nothing creates`;
  if (!port) return undefined;
  const ports: any[] = svc.object.spec?.ports ?? [];
  if (port.name !== undefined && !ports.some((sp) => sp.name === port.name)) return `port '${port.name}' of Service ${ns}/${name}, which has ports ${ports.map((sp) => `'${sp.name ?? sp.port}'`).join(', ')}`;
  if (port.number !== undefined && !ports.some((sp) => sp.port === port.number)) return `port ${port.number} of Service ${ns}/${name}, which has ports ${ports.map((sp) => sp.port).join(', ')}`;
  return undefined;
}

function ingressBackends(ingress: any): Array<{ path: string; service: string; port?: { name?: string; number?: number } }> {
  const out: Array<{ path: string; service: string; port?: { name?: string; number?: number } }> = [];
  const add = (path: string, b: any) => {
    if (b?.service?.name) out.push({ path, service: b.service.name, port: b.service.port });
  };
  add('spec.defaultBackend', ingress.spec?.defaultBackend);
  (ingress.spec?.rules ?? []).forEach((r: any, i: number) => (r.http?.paths ?? []).forEach((pa: any, j: number) => add(`spec.rules[${i}].http.paths[${j}].backend`, pa.backend)));
  return out;
}

function ingressReferences(p: PlatformModel): PlatformFinding[] {
  const out: PlatformFinding[] = [];
  for (const o of p.kind('Ingress', { group: 'networking.k8s.io' })) {
    const ns = o.object.metadata?.namespace ?? 'default';
    for (const b of ingressBackends(o.object)) {
      // A port named `use-annotation` is an AWS Load Balancer Controller action, not a Service port.
      if (b.port?.name === 'use-annotation') continue;
      const problem = servicePortProblem(p, ns, b.service, b.port);
      if (problem) {
        out.push(finding(ID, o, `${b.path} sends to ${problem}: the ingress controller cannot build the route (the AWS Load Balancer Controller fails the reconcile; ingress-nginx answers 503).`,
          'Point the backend at a Service and port that exist.'));
      }
    }
  }
  return out;
}

/** Where a scale target lives: kind and name in the scaler's namespace. */
function scaleTargetExists(p: PlatformModel, ns: string, ref: any): boolean {
  const group = typeof ref?.apiVersion === 'string' && ref.apiVersion.includes('/') ? ref.apiVersion.split('/')[0] : '';
  return p.kind(ref?.kind ?? 'Deployment', { namespace: ns }).some((o) => o.object.metadata?.name === ref?.name
    && (ref?.apiVersion === undefined || (o.object.apiVersion ?? '').split('/')[0] === group || (group === '' && !(o.object.apiVersion ?? '').includes('/'))));
}

function scalerReferences(p: PlatformModel): PlatformFinding[] {
  const out: PlatformFinding[] = [];
  const scalers = [
    ...p.kind('HorizontalPodAutoscaler', { group: 'autoscaling' }).map((o) => ({ o, who: 'the HPA controller reports FailedGetScale and never scales' })),
    ...p.kind('ScaledObject', { group: 'keda.sh' }).map((o) => ({ o, who: 'KEDA reports ScaleTargetNotFound and never scales' })),
  ];
  for (const { o, who } of scalers) {
    const ns = o.object.metadata?.namespace ?? 'default';
    const ref = o.object.spec?.scaleTargetRef ?? {};
    if (!scaleTargetExists(p, ns, { kind: 'Deployment', apiVersion: 'apps/v1', ...ref })) {
      out.push(finding(ID, o, `spec.scaleTargetRef names ${ref.kind ?? 'Deployment'} ${ns}/${ref.name}, which nothing creates: ${who}.`,
        'Point scaleTargetRef at the workload that runs the pods (the Rollout, once a CanaryRollout runs them).'));
    }
  }
  return out;
}

function rolloutReferences(p: PlatformModel): PlatformFinding[] {
  const out: PlatformFinding[] = [];
  for (const o of p.kind('Rollout', { group: 'argoproj.io' })) {
    const ns = o.object.metadata?.namespace ?? 'default';
    const spec = o.object.spec ?? {};
    const canary = spec.strategy?.canary;
    const blueGreen = spec.strategy?.blueGreen;
    const add = (problem: string, fix: string) => out.push(finding(ID, o, `${problem}: Argo Rollouts refuses the Rollout (InvalidSpec, validation_references.go).`, fix));

    // workloadRef → Deployment; the pod labels the Services must match are the referenced template's.
    let templateLabels: Record<string, string> = spec.template?.metadata?.labels ?? {};
    if (spec.workloadRef) {
      const w = spec.workloadRef;
      const target = p.kind(w.kind ?? 'Deployment', { namespace: ns }).find((d) => d.object.metadata?.name === w.name);
      if (!target) add(`spec.workloadRef names ${w.kind} ${ns}/${w.name}, which nothing creates`, `Create ${w.kind} ${ns}/${w.name}, or reference the workload that holds the pod template.`);
      else templateLabels = target.object.spec?.template?.metadata?.labels ?? {};
    }

    // Services (ValidateService): they exist, and their selectors match the pod labels (or the role's metadata labels).
    const services: Array<[string, string | undefined, Record<string, string>]> = [
      ['spec.strategy.canary.canaryService', canary?.canaryService, canary?.canaryMetadata?.labels ?? {}],
      ['spec.strategy.canary.stableService', canary?.stableService, canary?.stableMetadata?.labels ?? {}],
      ['spec.strategy.blueGreen.activeService', blueGreen?.activeService, blueGreen?.activeMetadata?.labels ?? {}],
      ['spec.strategy.blueGreen.previewService', blueGreen?.previewService, blueGreen?.previewMetadata?.labels ?? {}],
    ];
    for (const [field, name, roleLabels] of services) {
      if (!name) continue;
      const svc = p.find('Service', name, ns);
      if (!svc) {
        add(`${field} names Service '${name}', which nothing creates in namespace '${ns}'`, `Create Service ${ns}/${name}, or name one that exists.`);
        continue;
      }
      for (const [k, v] of Object.entries<string>(svc.object.spec?.selector ?? {})) {
        if (k === 'rollouts-pod-template-hash') continue;
        if (templateLabels[k] !== v && roleLabels[k] !== v) add(`${field}: Service '${name}' has selector label ${k}=${v}, which the Rollout's pods do not carry`, 'Select on labels of the Rollout\'s pod template.');
      }
    }

    // AnalysisTemplates (ValidateAnalysisTemplatesWithType): each exists, and each argument without a value is given by the Rollout.
    const refs: Array<{ field: string; analysis: any }> = [];
    if (canary?.analysis) refs.push({ field: 'spec.strategy.canary.analysis', analysis: canary.analysis });
    (canary?.steps ?? []).forEach((s: any, i: number) => { if (s.analysis) refs.push({ field: `spec.strategy.canary.steps[${i}].analysis`, analysis: s.analysis }); });
    for (const k of ['prePromotionAnalysis', 'postPromotionAnalysis']) if (blueGreen?.[k]) refs.push({ field: `spec.strategy.blueGreen.${k}`, analysis: blueGreen[k] });
    for (const { field, analysis } of refs) {
      const given = new Set<string>((analysis.args ?? []).map((a: any) => a.name));
      for (const t of analysis.templates ?? []) {
        const kind = t.clusterScope ? 'ClusterAnalysisTemplate' : 'AnalysisTemplate';
        const template = p.find(kind, t.templateName, t.clusterScope ? undefined : ns);
        if (!template) {
          add(`${field} names ${kind} '${t.templateName}', which nothing creates${t.clusterScope ? '' : ` in namespace '${ns}'`}`, `Create ${kind} '${t.templateName}', or name one that exists.`);
          continue;
        }
        for (const a of template.object.spec?.args ?? []) {
          if (a.value === undefined && a.valueFrom === undefined && !given.has(a.name)) {
            add(`${field}: ${kind} '${t.templateName}' needs argument '${a.name}', which the Rollout does not give ("args.${a.name} was not resolved")`, `Give argument '${a.name}' in ${field}.args, or give it a default value in the template.`);
          }
        }
      }
    }

    // Traffic routers (ValidateIngress, ValidateVirtualService).
    const tr = canary?.trafficRouting;
    const ingressRule = (field: string, name: string | undefined, service: string | undefined) => {
      if (!name) return;
      const ingress = p.find('Ingress', name, ns);
      if (!ingress) add(`${field} names Ingress '${name}', which nothing creates in namespace '${ns}'`, `Create Ingress ${ns}/${name}, or name the endpoint's Ingress.`);
      else if (service && !ingressBackends(ingress.object).some((b) => b.service === service)) add(`${field}: Ingress '${name}' has no rule using Service '${service}' as its backend`, `Send the Ingress to Service '${service}'.`);
    };
    if (tr?.alb) ingressRule('spec.strategy.canary.trafficRouting.alb.ingress', tr.alb.ingress, tr.alb.rootService || canary.stableService);
    if (tr?.nginx) ingressRule('spec.strategy.canary.trafficRouting.nginx.stableIngress', tr.nginx.stableIngress, canary.stableService);
    const virtualServices: any[] = tr?.istio ? (tr.istio.virtualServices ?? (tr.istio.virtualService ? [tr.istio.virtualService] : [])) : [];
    for (const vs of virtualServices) {
      const [vsNs, vsName] = String(vs.name).includes('.') ? [String(vs.name).split('.')[1], String(vs.name).split('.')[0]] : [ns, vs.name];
      const field = 'spec.strategy.canary.trafficRouting.istio.virtualService';
      const obj = p.kind('VirtualService', { group: 'networking.istio.io', namespace: vsNs }).find((v) => v.object.metadata?.name === vsName);
      if (!obj) {
        add(`${field} names VirtualService '${vs.name}', which nothing creates in namespace '${vsNs}'`, `Create VirtualService ${vsNs}/${vsName}.`);
        continue;
      }
      const http: any[] = obj.object.spec?.http ?? [];
      const names = http.map((h) => h.name);
      for (const r of vs.routes ?? []) {
        if (!names.includes(r)) add(`${field}.routes names HTTP route '${r}', which VirtualService '${vsName}' does not have (it has ${names.map((n) => `'${n}'`).join(', ') || 'no named routes'})`, `Name an HTTP route '${r}' in the VirtualService.`);
      }
      if ((vs.routes ?? []).length === 0 && http.length > 1) add(`${field} names no route, and VirtualService '${vsName}' has ${http.length} HTTP routes`, 'Name the route(s) Argo Rollouts sets weights on.');
      for (const r of http.filter((h) => (vs.routes ?? [names[0]]).includes(h.name))) {
        const hosts = (r.route ?? []).map((d: any) => d.destination?.host);
        for (const s of [canary.stableService, canary.canaryService]) {
          if (s && !hosts.includes(s)) add(`${field}: HTTP route '${r.name}' has no destination host '${s}'`, `Route to both '${canary.stableService}' and '${canary.canaryService}'.`);
        }
      }
    }
  }
  return out;
}

function disruptionBudgetReferences(p: PlatformModel): PlatformFinding[] {
  const out: PlatformFinding[] = [];
  for (const o of p.kind('PodDisruptionBudget', { group: 'policy' })) {
    const ns = o.object.metadata?.namespace ?? 'default';
    if (selected(p, ns, o.object.spec?.selector ?? { matchLabels: {} }).length === 0) {
      out.push(finding(ID, o, `spec.selector selects no pod template in namespace '${ns}': the disruption controller finds no pods ("No matching pods found") and the budget protects nothing.`,
        'Select the labels of the pods the budget protects.'));
    }
  }
  return out;
}
