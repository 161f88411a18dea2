import { ALERTMANAGER_WEB_PORT, KUBE_PROMETHEUS_STACK_PODS } from '../../core/prometheus';
import { finding, PlatformCheck, PlatformFinding } from '../check';
import { ManifestObject, PlatformModel, PodTemplate, selects } from '../model';

/** One end of a flow: a pod (namespace and labels, with its container ports) or an address in the VPC. */
type Endpoint = { pod: { namespace: string; labels: Record<string, string>; ports?: any[] } } | { address: 'vpc' };

function ipv4(cidr: string): [number, number] | undefined {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(cidr ?? '');
  if (!m) return undefined;
  return [((+m[1] << 24) >>> 0) + (+m[2] << 16) + (+m[3] << 8) + +m[4], +m[5]];
}

/** Whether CIDR `outer` contains all of `inner`. */
function contains(outer: string, inner: string): boolean {
  const o = ipv4(outer);
  const i = ipv4(inner);
  if (!o || !i || i[1] < o[1]) return false;
  const mask = o[1] === 0 ? 0 : (~0 << (32 - o[1])) >>> 0;
  return ((o[0] & mask) >>> 0) === ((i[0] & mask) >>> 0);
}

/**
 * The NetworkPolicy semantics of the Kubernetes API (networking.k8s.io/v1, "Network Policies"
 * concept page and the NetworkPolicySpec reference): a pod is isolated for ingress (egress) when some
 * policy in its namespace selects it and lists Ingress (Egress) in policyTypes; an isolated pod admits
 * a connection only when some rule of such a policy admits the peer (podSelector within the policy's
 * namespace, namespaceSelector, both together, or ipBlock) and the port (number, name of the
 * destination's container port, endPort; no ports = all; no from/to = every peer).
 */
export class PolicyEvaluator {
  private readonly policies: any[];
  private readonly nsLabels: Map<string, Record<string, string>>;

  constructor(model: PlatformModel, private readonly vpcCidr?: string) {
    this.policies = model.kind('NetworkPolicy', { group: 'networking.k8s.io' }).map((o) => o.object);
    this.nsLabels = new Map([...model.namespaces()].map(([n, v]) => [n, v.labels]));
  }

  public namespaceLabels(ns: string): Record<string, string> {
    return { ...(this.nsLabels.get(ns) ?? {}), 'kubernetes.io/metadata.name': ns };
  }

  /** The policies that select a pod for a direction. */
  public isolating(pod: { namespace: string; labels: Record<string, string> }, direction: 'Ingress' | 'Egress'): any[] {
    return this.policies.filter((p) => (p.metadata?.namespace ?? 'default') === pod.namespace
      && matchesAll(p.spec?.podSelector ?? {}, pod.labels)
      // policyTypes defaults to Ingress, plus Egress when the policy has egress rules.
      && (p.spec?.policyTypes ?? ['Ingress', ...(p.spec?.egress ? ['Egress'] : [])]).includes(direction));
  }

  /** Whether a connection from `from` to `to` on `port`/`protocol` is admitted by both ends' policies. */
  public allowed(from: Endpoint, to: Endpoint, port: number, protocol = 'TCP'): boolean {
    if ('pod' in from) {
      const egress = this.isolating(from.pod, 'Egress');
      if (egress.length && !egress.some((p) => (p.spec.egress ?? []).some((r: any) => this.ruleAdmits(r.to, r.ports, p.metadata?.namespace ?? 'default', to, port, protocol)))) return false;
    }
    if ('pod' in to) {
      const ingress = this.isolating(to.pod, 'Ingress');
      if (ingress.length && !ingress.some((p) => (p.spec.ingress ?? []).some((r: any) => this.ruleAdmits(r.from, r.ports, p.metadata?.namespace ?? 'default', from, port, protocol, to)))) return false;
    }
    return true;
  }

  private ruleAdmits(peers: any[] | undefined, ports: any[] | undefined, policyNs: string, peer: Endpoint, port: number, protocol: string, target?: Endpoint): boolean {
    const portTarget = target ?? peer;
    const portOk = !ports?.length || ports.some((p) => (p.protocol ?? 'TCP') === protocol && (p.port === undefined || this.portMatches(p.port, p.endPort, port, portTarget)));
    if (!portOk) return false;
    if (!peers?.length) return true;
    return peers.some((q) => {
      if (q.ipBlock) {
        const all = q.ipBlock.cidr === '0.0.0.0/0';
        // Pods and the ALB take VPC addresses (VPC CNI); an ipBlock admits them when it holds the VPC CIDR.
        const covers = all || (this.vpcCidr ? contains(q.ipBlock.cidr, this.vpcCidr) : true);
        return covers && !(q.ipBlock.except ?? []).some((e: string) => this.vpcCidr && contains(e, this.vpcCidr));
      }
      if (!('pod' in peer)) return false;
      const nsOk = q.namespaceSelector ? matchesAll(q.namespaceSelector, this.namespaceLabels(peer.pod.namespace)) : peer.pod.namespace === policyNs;
      const podOk = q.podSelector ? matchesAll(q.podSelector, peer.pod.labels) : true;
      return nsOk && podOk;
    });
  }

  private portMatches(rulePort: any, endPort: number | undefined, port: number, target: Endpoint): boolean {
    if (typeof rulePort === 'number' || /^\d+$/.test(String(rulePort))) {
      const n = Number(rulePort);
      return endPort ? port >= n && port <= endPort : port === n;
    }
    // A named port is the destination pod's container port of that name.
    return 'pod' in target && (target.pod.ports ?? []).some((p: any) => p.name === rulePort && p.containerPort === port);
  }
}

/** An empty selector selects everything; otherwise labels must match. */
function matchesAll(selector: any, labels: Record<string, string>): boolean {
  const empty = !selector || (Object.keys(selector.matchLabels ?? {}).length === 0 && !(selector.matchExpressions ?? []).length);
  return empty || selects(selector, labels);
}

function containerPorts(pod: PodTemplate): any[] {
  return [...(pod.spec.containers ?? []), ...(pod.spec.initContainers ?? [])].flatMap((c: any) => c.ports ?? []);
}

function asPod(pod: PodTemplate): Endpoint {
  return { pod: { namespace: pod.namespace, labels: pod.labels, ports: containerPorts(pod) } };
}

/** The pods behind a Service and the container port a Service port (by name or number) reaches on each. */
function serviceTargets(model: PlatformModel, ns: string, name: string, servicePort: string | number): Array<{ pod: PodTemplate; port: number }> {
  const svc = model.find('Service', name, ns)?.object;
  if (!svc?.spec?.selector) return [];
  const sp = (svc.spec.ports ?? []).find((p: any) => p.name === servicePort || p.port === Number(servicePort));
  if (!sp) return [];
  const target = sp.targetPort ?? sp.port;
  return model.podTemplates().filter((p) => p.namespace === ns && p.source.object.kind !== 'Service' && selects(svc.spec.selector, p.labels))
    .map((pod) => ({ pod, port: typeof target === 'number' || /^\d+$/.test(String(target)) ? Number(target) : containerPorts(pod).find((c) => c.name === target)?.containerPort }))
    .filter((t): t is { pod: PodTemplate; port: number } => typeof t.port === 'number');
}

/** The Services an ALB Ingress on `use-annotation` forwards to: those of the Rollout that routes through it. */
function albRolloutBackends(model: PlatformModel, ns: string, ingress: string): Array<{ name: string; port: string | number }> {
  return model.kind('Rollout', { group: 'argoproj.io', namespace: ns }).flatMap((r) => {
    const canary = r.object.spec?.strategy?.canary;
    const alb = canary?.trafficRouting?.alb;
    if (alb?.ingress !== ingress && !(alb?.ingresses ?? []).includes(ingress)) return [];
    return [canary.stableService, canary.canaryService].filter(Boolean).map((name: string) => ({ name, port: alb.servicePort }));
  });
}

/** `namespace.svc...:port` of an in-cluster URL. */
function serviceOfUrl(url: string): { name: string; namespace: string; port: number } | undefined {
  const m = /^https?:\/\/([a-z0-9-]+)\.([a-z0-9-]+)\.svc(?:\.cluster\.local)?(?::(\d+))?/.exec(url ?? '');
  if (!m) return undefined;
  return { name: m[1], namespace: m[2], port: Number(m[3] ?? (url.startsWith('https') ? 443 : 80)) };
}

function describe(pod: PodTemplate): string {
  return `${pod.source.object.kind} ${pod.namespace}/${pod.source.object.metadata?.name}${pod.template ? ` (template '${pod.template}')` : ''}`;
}

/**
 * `network`: the NetworkPolicies the platform writes are enforced, and they admit the flows the
 * platform itself depends on. (a) Enforcement: on EKS the VPC CNI enforces NetworkPolicies only with
 * `enableNetworkPolicy: "true"` in the vpc-cni add-on's configuration values (EKS user guide,
 * "Configure your cluster for Kubernetes network policies"; aws/amazon-vpc-cni-k8s). (b) Reachability,
 * evaluated with the NetworkPolicy semantics of the Kubernetes API (kubernetes.io/docs/concepts/
 * services-networking/network-policies): Prometheus → every port a ServiceMonitor/PodMonitor scrapes;
 * the ALB (VPC addresses, target type ip) or the ingress-nginx namespace → the pods behind every
 * Ingress; every pod with an MLflow tracking URI → the MLflow Service's pods; Alertmanager → every
 * in-cluster webhook receiver; every egress-isolated pod → DNS in kube-system (UDP and TCP 53).
 */
export const networkCheck: PlatformCheck = {
  id: 'network',
  description: 'NetworkPolicies are enforced and admit the flows the platform relies on (scrapes, ALB, MLflow, webhooks, DNS)',
  upstream: 'Kubernetes NetworkPolicy API semantics (networking.k8s.io/v1); EKS user guide "Configure your cluster for Kubernetes network policies" (vpc-cni enableNetworkPolicy)',
  check(model: PlatformModel): PlatformFinding[] {
    const out: PlatformFinding[] = [];
    const policies = model.kind('NetworkPolicy', { group: 'networking.k8s.io' });
    // (a) enforcement
    const cni = model.eksAddons().find((a) => a.addon === 'vpc-cni');
    if (cni && policies.length && String(cni.values.enableNetworkPolicy) !== 'true') {
      out.push(finding('network', cni, `the platform writes ${policies.length} NetworkPolicies, but the vpc-cni add-on does not set enableNetworkPolicy: "true" in its configuration values, so none is enforced and every pod reaches every other.`,
        'Set configuration_values {"enableNetworkPolicy": "true"} on the vpc-cni add-on (EKS user guide, "Configure your cluster for Kubernetes network policies").'));
    }
    // (b) reachability
    const vpcs = model.resources('aws_vpc').map((v) => v.config.cidr_block).filter((c) => ipv4(c));
    const net = new PolicyEvaluator(model, vpcs.length === 1 ? vpcs[0] : undefined);
    const pods = model.podTemplates();
    const kps = model.helmRelease(KUBE_PROMETHEUS_STACK_PODS.chart);
    const flow = (on: ManifestObject, from: Endpoint, fromName: string, targets: Array<{ pod: PodTemplate; port: number }>, why: string) => {
      for (const t of targets) {
        if (net.allowed(from, asPod(t.pod), t.port)) continue;
        out.push(finding('network', on, `${fromName} cannot reach ${describe(t.pod)} on port ${t.port} (${why}): a NetworkPolicy isolates one end and no rule admits the other.`,
          `Admit ${fromName} on port ${t.port} in the NetworkPolicy of ${t.pod.namespace} (ingress) and of the caller (egress).`));
      }
    };
    if (kps) {
      const prometheus: Endpoint = { pod: { namespace: kps.namespace, labels: KUBE_PROMETHEUS_STACK_PODS.prometheus } };
      for (const sm of model.kind('ServiceMonitor', { group: 'monitoring.coreos.com' })) {
        const ns = sm.object.metadata?.namespace ?? 'default';
        const namespaces: string[] = sm.object.spec?.namespaceSelector?.matchNames ?? [ns];
        for (const svcNs of namespaces) {
          for (const svc of model.kind('Service', { namespace: svcNs }).filter((s) => selects(sm.object.spec?.selector ?? {}, s.object.metadata?.labels ?? {}))) {
            for (const ep of sm.object.spec?.endpoints ?? []) {
              flow(sm, prometheus, `Prometheus (${kps.namespace})`, serviceTargets(model, svcNs, svc.object.metadata.name, ep.port ?? ep.targetPort), `ServiceMonitor ${ns}/${sm.object.metadata.name}`);
            }
          }
        }
      }
      for (const pm of model.kind('PodMonitor', { group: 'monitoring.coreos.com' })) {
        const ns = pm.object.metadata?.namespace ?? 'default';
        const namespaces: string[] = pm.object.spec?.namespaceSelector?.matchNames ?? [ns];
        for (const ep of pm.object.spec?.podMetricsEndpoints ?? []) {
          const targets = pods.filter((p) => namespaces.includes(p.namespace) && selects(pm.object.spec?.selector ?? {}, p.labels))
            .map((pod) => ({ pod, port: ep.portNumber ?? containerPorts(pod).find((c) => c.name === ep.port)?.containerPort }))
            .filter((t): t is { pod: PodTemplate; port: number } => typeof t.port === 'number');
          flow(pm, prometheus, `Prometheus (${kps.namespace})`, targets, `PodMonitor ${ns}/${pm.object.metadata.name}`);
        }
      }
      const alertmanager: Endpoint = { pod: { namespace: kps.namespace, labels: KUBE_PROMETHEUS_STACK_PODS.alertmanager } };
      // Prometheus pushes every firing alert to Alertmanager's web port (its alerting.alertmanagers endpoints).
      if (!net.allowed(prometheus, alertmanager, ALERTMANAGER_WEB_PORT)) {
        out.push(finding('network', kps, `Prometheus (${kps.namespace}) cannot deliver alerts to Alertmanager on port ${ALERTMANAGER_WEB_PORT}: a NetworkPolicy isolates Alertmanager's pods and no rule admits Prometheus's, so no alert reaches a receiver.`,
          `Admit the Prometheus pods (${Object.entries(KUBE_PROMETHEUS_STACK_PODS.prometheus).map(([k, v]) => `${k}=${v}`).join(', ')}) on port ${ALERTMANAGER_WEB_PORT} in the NetworkPolicy of the Alertmanager pods.`));
      }
      for (const amc of model.kind('AlertmanagerConfig', { group: 'monitoring.coreos.com' })) {
        for (const r of amc.object.spec?.receivers ?? []) {
          for (const w of r.webhookConfigs ?? []) {
            const s = serviceOfUrl(w.url);
            if (s) flow(amc, alertmanager, `Alertmanager (${kps.namespace})`, serviceTargets(model, s.namespace, s.name, s.port), `webhook receiver '${r.name}'`);
          }
        }
      }
    }
    for (const ing of model.kind('Ingress', { group: 'networking.k8s.io' })) {
      const o = ing.object;
      const cls = o.spec?.ingressClassName ?? o.metadata?.annotations?.['kubernetes.io/ingress.class'];
      const from: Endpoint | undefined = cls === 'alb' ? { address: 'vpc' }
        : cls === 'nginx' ? { pod: { namespace: model.helmRelease('ingress-nginx')?.namespace ?? 'ingress-nginx', labels: { 'app.kubernetes.io/name': 'ingress-nginx', 'app.kubernetes.io/component': 'controller' } } } : undefined;
      if (!from) continue;
      const ns = o.metadata?.namespace ?? 'default';
      for (const rule of o.spec?.rules ?? []) {
        for (const path of rule.http?.paths ?? []) {
          const b = path.backend?.service;
          if (!b) continue;
          // An ALB backend on port `use-annotation` forwards by the action annotation Argo Rollouts writes: to the
          // Rollout's stable and canary Services on its servicePort (argo-rollouts docs/features/traffic-management/alb.md).
          const backends = b.port?.name === 'use-annotation' ? albRolloutBackends(model, ns, o.metadata.name) : [{ name: b.name, port: b.port?.name ?? b.port?.number }];
          for (const backend of backends) {
            flow(ing, from, cls === 'alb' ? 'The ALB (VPC addresses, target type ip)' : 'The ingress-nginx controller', serviceTargets(model, ns, backend.name, backend.port), `Ingress ${ns}/${o.metadata.name}`);
          }
        }
      }
    }
    const seen = new Set<string>();
    for (const pod of pods) {
      const key = `${pod.source.file}|${describe(pod)}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const env = [...(pod.spec.containers ?? []), ...(pod.spec.initContainers ?? [])].flatMap((c: any) => c.env ?? []);
      const uri = env.find((e: any) => e.name === 'MLFLOW_TRACKING_URI')?.value;
      const mlflow = uri ? serviceOfUrl(uri) : undefined;
      if (mlflow) flow(pod.source, asPod(pod), describe(pod), serviceTargets(model, mlflow.namespace, mlflow.name, mlflow.port), `MLflow tracking URI ${uri}`);
      if (net.isolating(pod, 'Egress').length) {
        const dns: Endpoint = { pod: { namespace: 'kube-system', labels: { 'k8s-app': 'kube-dns' } } };
        const missing = ['UDP', 'TCP'].filter((proto) => !net.allowed(asPod(pod), dns, 53, proto));
        if (missing.length) {
          out.push(finding('network', pod.source, `${describe(pod)} is isolated for egress and may not reach DNS (kube-system, ${missing.join(' and ')} 53): every name lookup fails.`,
            'Admit egress to UDP and TCP port 53 (kube-system) in the NetworkPolicy that isolates it.'));
        }
      }
    }
    return out;
  },
};
