import { ADDON_CATALOG, BUILT_IN_API_GROUPS } from '../../core/addon-catalog';
import { finding, PlatformCheck, PlatformFinding } from '../check';
import { apiGroupOf, HelmReleaseObject, PlatformModel } from '../model';

const ID = 'addons';

function valueAt(values: Record<string, any>, path: string): unknown {
  return path.split('.').reduce<any>((v, k) => (v && typeof v === 'object' ? v[k] : undefined), values);
}

function present(v: unknown): boolean {
  return v !== undefined && v !== null && v !== '' && !(Array.isArray(v) && v.length === 0);
}

/**
 * Every controller the manifests rely on is installed, and every add-on can start and work:
 *
 * - each API group (or kind) a manifest uses is served by the API server itself, by a CRD among the manifests,
 *   or by a declared Helm add-on that installs its CRDs and controller (`ADDON_CATALOG`); otherwise the API
 *   server refuses the object ("no matches for kind ... in version ...") or nothing acts on it;
 * - each Ingress's class has its controller (`alb` → aws-load-balancer-controller, `nginx` → ingress-nginx):
 *   an Ingress no controller claims is never served;
 * - an HPA with Resource (or ContainerResource) metrics has `metrics.k8s.io` served (metrics-server, as a chart
 *   or as the EKS add-on): the HPA controller (kubernetes `pkg/controller/podautoscaler/metrics`, resource
 *   metrics client) reports FailedGetResourceMetric and never scales;
 * - each add-on gets the values it cannot work without (aws-load-balancer-controller `clusterName`: its deployment
 *   template `required`s it; karpenter `settings.clusterName`: its options validation refuses to start; cluster-autoscaler
 *   `autoDiscovery.clusterName` or `autoscalingGroups`: otherwise it manages no node group); the releases are atomic, so
 *   a chart that does not render or start fails `terraform apply`;
 * - each object an add-on's values name is among the manifests, in the release's namespace (kube-prometheus-stack
 *   `alertmanagerConfiguration.name`: prometheus-operator fails the whole Alertmanager configuration without it);
 * - each add-on that calls AWS APIs has an identity for its service account: an `aws_eks_pod_identity_association`
 *   in a Terraform stack for its namespace and service account, or an IRSA role annotation in its values
 *   (EKS user guide, "Learn how EKS Pod Identity grants pods access to AWS services").
 */
export const addonsCheck: PlatformCheck = {
  id: ID,
  description: 'Every API group, ingress class and metrics API the manifests use has its controller installed, and every add-on has its required values and AWS identity',
  upstream: 'API server discovery (no matches for kind), ingress class matching, HPA resource metrics client, the charts\' required values, EKS Pod Identity',
  check(p: PlatformModel): PlatformFinding[] {
    const releases = p.helmReleases();
    const charts = new Set(releases.map((r) => r.chart));
    const eks = new Set(p.eksAddons().map((a) => a.addon));
    const out: PlatformFinding[] = [];

    // API groups
    const crds = new Set(p.kind('CustomResourceDefinition').map((o) => o.object.spec?.group));
    const provided = (group: string, kind: string) => [...charts].some((c) => {
      const e = ADDON_CATALOG[c];
      return !!e?.provides?.some((x) => x === group || x === `${group}/${kind}`) && (e.with ?? []).every((w) => charts.has(w));
    });
    const providers = (group: string, kind: string) => [...new Set(Object.entries(ADDON_CATALOG)
      .filter(([, e]) => e.provides?.some((x) => x === group || x === `${group}/${kind}`))
      .map(([c, e]) => [c, ...(e.with ?? [])].filter((x) => !charts.has(x)).sort().join(' + ')))];
    const reported = new Set<string>();
    for (const o of p.objects) {
      const group = apiGroupOf(o.object);
      const kind = o.object.kind;
      if (BUILT_IN_API_GROUPS.includes(group) || crds.has(group) || provided(group, kind)) continue;
      const key = `${o.path}|${group}/${kind}`;
      if (reported.has(key)) continue;
      reported.add(key);
      const missing = providers(group, kind).filter((x) => x);
      out.push(finding(ID, o, `is a ${kind} of API group '${group}', which no installed add-on provides: the API server refuses it ("no matches for kind ${kind} in version ${o.object.apiVersion}") and no controller would act on it.`,
        missing.length ? `Require the add-on that provides it (chart ${missing.map((m) => `'${m}'`).join(' or ')}) with Addons.require(scope, Addon....) in the construct that writes it.` : `Install a chart that provides '${group}' and add it to the add-on catalog, or suppress with the reason it is installed another way.`));
    }

    // Ingress classes
    const classes = new Map<string, string>();
    for (const ic of p.kind('IngressClass', { group: 'networking.k8s.io' })) classes.set(ic.object.metadata?.name, ic.object.spec?.controller);
    const served = (cls: string) => [...charts].some((c) => (ADDON_CATALOG[c]?.ingressClasses ?? []).includes(cls));
    for (const o of p.kind('Ingress', { group: 'networking.k8s.io' })) {
      const cls: string | undefined = o.object.spec?.ingressClassName ?? o.object.metadata?.annotations?.['kubernetes.io/ingress.class'];
      if (!cls) continue;
      const controller = classes.get(cls);
      if (served(cls) || (controller && served(controller))) continue;
      const chart = Object.entries(ADDON_CATALOG).find(([, e]) => e.ingressClasses?.includes(controller ?? cls))?.[0];
      out.push(finding(ID, o, `has ingress class '${cls}', whose controller${chart ? ` (${chart})` : ''} is not installed: no controller claims the Ingress and nothing serves it.`,
        chart ? `Require the '${chart}' add-on in the construct that writes the Ingress.` : `Install the controller of class '${cls}'.`));
    }

    // Resource metrics for HPAs
    const metricsApi = eks.has('metrics-server') || [...charts].some((c) => ADDON_CATALOG[c]?.resourceMetrics);
    if (!metricsApi) {
      for (const o of p.kind('HorizontalPodAutoscaler', { group: 'autoscaling' })) {
        const resource = (o.object.spec?.metrics ?? []).filter((m: any) => m.type === 'Resource' || m.type === 'ContainerResource');
        if (resource.length === 0) continue;
        out.push(finding(ID, o, `scales on ${resource.map((m: any) => (m.resource ?? m.containerResource)?.name).join(', ')} (Resource metrics), but nothing serves metrics.k8s.io: the HPA controller reports FailedGetResourceMetric and never scales.`,
          'Install metrics-server (Addons.require(scope, Addon.metricsServer()) where the HPA is made, or the EKS metrics-server add-on).'));
      }
      // KEDA's cpu and memory scalers make an HPA on Resource metrics too.
      for (const o of p.kind('ScaledObject', { group: 'keda.sh' })) {
        const resource = (o.object.spec?.triggers ?? []).filter((t: any) => t.type === 'cpu' || t.type === 'memory');
        if (resource.length === 0) continue;
        out.push(finding(ID, o, `scales on ${resource.map((t: any) => t.type).join(', ')} (KEDA makes an HPA on Resource metrics), but nothing serves metrics.k8s.io: the HPA controller reports FailedGetResourceMetric and never scales.`,
          'Install metrics-server (Addons.require(scope, Addon.metricsServer()), or the EKS metrics-server add-on).'));
      }
    }

    // Each add-on's required values and AWS identity
    const associations = p.resources('aws_eks_pod_identity_association').map((a) => ({ namespace: a.config.namespace, serviceAccount: a.config.service_account }));
    for (const r of releases) out.push(...releaseProblems(r, associations));
    // Objects the releases' values name
    for (const r of releases) {
      for (const n of ADDON_CATALOG[r.chart]?.namedObjects ?? []) {
        const name = valueAt(r.values, n.path);
        if (typeof name !== 'string' || p.kind(n.kind).some((o) => o.object.metadata?.name === name && (o.object.metadata?.namespace ?? 'default') === r.namespace)) continue;
        out.push(finding(ID, r, `chart ${r.chart} value '${n.path}' names ${n.kind} ${r.namespace}/${name}, which no manifest writes: ${n.rule}.`,
          `Write ${n.kind} '${name}' in namespace '${r.namespace}' (MonitoringStack with alerting does), or leave the value unset.`));
      }
    }
    return out;
  },
};

function releaseProblems(r: HelmReleaseObject, associations: Array<{ namespace: string; serviceAccount: string }>): PlatformFinding[] {
  const e = ADDON_CATALOG[r.chart];
  if (!e) return [];
  const out: PlatformFinding[] = [];
  for (const v of e.requiredValues ?? []) {
    const alternatives = v.path.split('|');
    if (alternatives.some((a) => present(valueAt(r.values, a)))) continue;
    out.push(finding(ID, r, `chart ${r.chart} needs value ${alternatives.map((a) => `'${a}'`).join(' or ')}: ${v.rule}.`,
      `Give the add-on ${alternatives.join(' or ')} in its values (its Addon factory takes them).`));
  }
  if (e.awsIdentity) {
    const sa = String(valueAt(r.values, e.awsIdentity.serviceAccountValue) ?? e.awsIdentity.defaultServiceAccount);
    const parent = e.awsIdentity.serviceAccountValue.split('.').slice(0, -1).join('.');
    const irsa = present(valueAt(r.values, `${parent ? `${parent}.` : ''}annotations`) && (valueAt(r.values, `${parent ? `${parent}.` : ''}annotations`) as any)['eks.amazonaws.com/role-arn']);
    const podIdentity = associations.some((a) => a.namespace === r.namespace && a.serviceAccount === sa);
    if (!irsa && !podIdentity) {
      out.push(finding(ID, r, `${r.chart} calls AWS APIs (${e.awsIdentity.rule}) as service account ${r.namespace}/${sa}, which has no IAM role: no EKS Pod Identity association names it and its values carry no IRSA role annotation, so every AWS call is denied.`,
        `Give ${r.namespace}/${sa} a WorkloadIdentity (an EKS Pod Identity association) with the controller's documented policy.`));
    }
  }
  return out;
}
