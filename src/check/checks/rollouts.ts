import { finding, PlatformCheck, PlatformFinding } from '../check';
import { ManifestObject, PlatformModel, selects } from '../model';

const ID = 'rollouts';
const HASH_LABEL = 'rollouts-pod-template-hash';

/**
 * Argo Rollouts accepts a Rollout only when the objects it references agree with it; otherwise it
 * sets the `InvalidSpec` condition and creates no ReplicaSet, so the endpoint serves nothing. This
 * check mirrors the rules of argo-rollouts `pkg/apis/rollouts/validation/validation.go` and
 * `validation_references.go` that the library relies on:
 *
 * - an analysis a step or a blue-green promotion waits for must end: every metric has a `count`
 *   (or no `interval`), else "AnalysisTemplate ... has metric ... which runs indefinitely. Invalid
 *   value for count" (`ValidateAnalysisTemplateWithType`; only the background analysis may run on);
 * - the templates it names exist in the Rollout's namespace, and their arguments without a value are
 *   supplied by the Rollout (`NewAnalysisRunFromTemplates`);
 * - the Services it names exist, differ (`DuplicatedServices*Message`) and select the Rollout's pods
 *   (`ValidateService`: every selector label but `rollouts-pod-template-hash` is a pod label);
 * - traffic routing names a canary and a stable Service (`InvalidTrafficRoutingMessage`); an ALB or
 *   NGINX Ingress exists and has a rule for the root (or stable) Service (`ValidateIngress`), and for
 *   ALB that rule's port is `use-annotation` (docs/features/traffic-management/alb.md: otherwise the
 *   AWS Load Balancer Controller ignores the weighted action and the canary never gets traffic);
 * - Istio routes named by the Rollout exist in its VirtualService and send to both Services
 *   (`ValidateVirtualService`);
 * - `setCanaryScale` needs traffic routing, `setHeaderRoute` Istio, ALB, APISIX or a plugin,
 *   `setMirrorRoute` Istio or a plugin, and both a `managedRoutes` entry of their name;
 * - the `workloadRef` Deployment exists.
 */
export const rolloutsCheck: PlatformCheck = {
  id: ID,
  description: 'Every Rollout passes the Argo Rollouts validation of its analyses, Services, Ingresses, routes and steps',
  upstream: 'argoproj/argo-rollouts pkg/apis/rollouts/validation/validation.go and validation_references.go; docs/features/traffic-management/alb.md',
  check: (platform) => platform.kind('Rollout', { group: 'argoproj.io' }).flatMap((r) => checkRollout(platform, r)),
};

function checkRollout(platform: PlatformModel, r: ManifestObject): PlatformFinding[] {
  const out: PlatformFinding[] = [];
  const add = (problem: string, fix: string) => out.push(finding(ID, r, problem, fix));
  const rollout = r.object;
  const ns: string | undefined = rollout.metadata?.namespace;
  const spec = rollout.spec ?? {};
  const find = (kind: string, name: string) => platform.objects.find((o) => o.object?.kind === kind && o.object.metadata?.name === name
    && (o.object.metadata?.namespace ?? ns) === ns);

  // The pod labels: the Rollout's own template, or the Deployment it references.
  let podLabels: Record<string, string> | undefined = spec.template?.metadata?.labels;
  if (spec.workloadRef) {
    const d = find(spec.workloadRef.kind ?? 'Deployment', spec.workloadRef.name);
    if (!d) add(`its workloadRef names ${spec.workloadRef.kind} '${spec.workloadRef.name}', which the platform does not create in namespace '${ns}'`, 'Point workloadRef at the endpoint\'s Deployment.');
    podLabels = d?.object.spec?.template?.metadata?.labels ?? podLabels;
  }

  // Analyses: [where, reference, must it end?]
  const canary = spec.strategy?.canary;
  const blueGreen = spec.strategy?.blueGreen;
  const analyses: Array<[string, any, boolean]> = [];
  if (canary?.analysis) analyses.push(['spec.strategy.canary.analysis (background)', canary.analysis, false]);
  (canary?.steps ?? []).forEach((s: any, i: number) => { if (s.analysis) analyses.push([`spec.strategy.canary.steps[${i}].analysis`, s.analysis, true]); });
  if (blueGreen?.prePromotionAnalysis) analyses.push(['spec.strategy.blueGreen.prePromotionAnalysis', blueGreen.prePromotionAnalysis, true]);
  if (blueGreen?.postPromotionAnalysis) analyses.push(['spec.strategy.blueGreen.postPromotionAnalysis', blueGreen.postPromotionAnalysis, true]);
  for (const [where, ref, mustEnd] of analyses) {
    const supplied = new Set<string>((ref.args ?? []).map((a: any) => a.name));
    for (const t of ref.templates ?? []) {
      const template = t.clusterScope ? platform.objects.find((o) => o.object?.kind === 'ClusterAnalysisTemplate' && o.object.metadata?.name === t.templateName) : find('AnalysisTemplate', t.templateName);
      if (!template) {
        add(`${where} names ${t.clusterScope ? 'ClusterAnalysisTemplate' : 'AnalysisTemplate'} '${t.templateName}', which the platform does not create${t.clusterScope ? '' : ` in namespace '${ns}'`}: Argo Rollouts sets InvalidSpec`,
          'Create the template next to the Rollout, or fix the name.');
        continue;
      }
      for (const arg of template.object.spec?.args ?? []) {
        if (arg.value === undefined && arg.valueFrom === undefined && !supplied.has(arg.name)) {
          add(`${where}: AnalysisTemplate '${t.templateName}' takes argument '${arg.name}', which the Rollout does not supply`, `Add { name: '${arg.name}', ... } to the args of ${where}.`);
        }
      }
      if (!mustEnd) continue;
      for (const m of template.object.spec?.metrics ?? []) {
        const count = m.count === undefined ? 0 : Number(m.count);
        if (m.interval !== undefined && !(count > 0)) {
          add(`${where} waits for AnalysisTemplate '${t.templateName}', whose metric '${m.name}' runs indefinitely (interval ${m.interval}, no count): Argo Rollouts refuses it ("runs indefinitely. Invalid value for count") and sets InvalidSpec`,
            `Give metric '${m.name}' a count, or use the template only as background analysis (spec.strategy.canary.analysis).`);
        }
      }
    }
  }

  // Services
  const services: Array<[string, string | undefined]> = canary
    ? [['canaryService', canary.canaryService], ['stableService', canary.stableService]]
    : [['activeService', blueGreen?.activeService], ['previewService', blueGreen?.previewService]];
  const named = services.filter((s): s is [string, string] => !!s[1]);
  if (named.length === 2 && named[0][1] === named[1][1]) {
    add(`${named[0][0]} and ${named[1][0]} are both '${named[0][1]}': Argo Rollouts needs two different Services`, 'Give each role its own Service.');
  }
  for (const [role, name] of named) {
    const svc = find('Service', name);
    if (!svc) {
      add(`its ${role} '${name}' is a Service the platform does not create in namespace '${ns}'`, `Create Service '${name}' selecting the Rollout's pods.`);
      continue;
    }
    const selector: Record<string, string> = { ...(svc.object.spec?.selector ?? {}) };
    delete selector[HASH_LABEL];
    if (podLabels && !selects(selector, podLabels)) {
      add(`its ${role} '${name}' selects ${JSON.stringify(selector)}, which the Rollout's pods (labels ${JSON.stringify(podLabels)}) do not all carry: Argo Rollouts refuses it ("has unmatch label")`,
        'Select the pods by the labels of the Rollout\'s pod template.');
    }
  }

  // Traffic routing
  const routing = canary?.trafficRouting;
  if (routing && !(canary.canaryService && canary.stableService)) {
    add('it routes traffic without both canaryService and stableService: Argo Rollouts refuses it ("Canary service and Stable service must to be set to use Traffic Routing")', 'Name a canary and a stable Service.');
  }
  if (routing?.alb) {
    const root = routing.alb.rootService || canary.stableService;
    if (routing.alb.servicePort === undefined) add('its ALB traffic routing has no servicePort', 'Set trafficRouting.alb.servicePort to the Services\' port.');
    for (const name of [routing.alb.ingress, ...(routing.alb.ingresses ?? [])].filter(Boolean)) {
      const ingress = find('Ingress', name);
      if (!ingress) {
        add(`its ALB traffic routing names Ingress '${name}', which the platform does not create in namespace '${ns}'`, 'Route through the endpoint\'s Ingress.');
        continue;
      }
      const backends = ingressBackends(ingress.object).filter((b) => b.name === root);
      if (!backends.length) {
        add(`Ingress '${name}' has no rule for Service '${root}' (the ALB root service): Argo Rollouts refuses it ("has no rules using service ... backend")`, `Send the Ingress's rule to Service '${root}'.`);
      } else if (backends.some((b) => b.port?.name !== 'use-annotation')) {
        add(`Ingress '${name}' sends to Service '${root}' on port ${JSON.stringify(backends[0].port)}, not on port name 'use-annotation': the AWS Load Balancer Controller ignores the weighted action Argo Rollouts writes, so the canary never gets traffic`,
          'Set the backend\'s port to { name: \'use-annotation\' }.');
      }
    }
  }
  if (routing?.nginx) {
    for (const name of [routing.nginx.stableIngress, ...(routing.nginx.stableIngresses ?? [])].filter(Boolean)) {
      const ingress = find('Ingress', name);
      if (!ingress) add(`its NGINX traffic routing names Ingress '${name}', which the platform does not create in namespace '${ns}'`, 'Route through the endpoint\'s Ingress.');
      else if (!ingressBackends(ingress.object).some((b) => b.name === canary.stableService)) {
        add(`Ingress '${name}' has no rule for the stable Service '${canary.stableService}': Argo Rollouts refuses it`, `Send the Ingress's rule to Service '${canary.stableService}'.`);
      }
    }
  }
  if (routing?.istio?.virtualService) {
    const vs = routing.istio.virtualService;
    const object = find('VirtualService', String(vs.name).split('.')[0]);
    if (!object) add(`its Istio traffic routing names VirtualService '${vs.name}', which the platform does not create`, 'Create the VirtualService with the named routes.');
    else {
      const http: any[] = object.object.spec?.http ?? [];
      for (const routeName of vs.routes ?? []) {
        const route = http.find((h) => h.name === routeName);
        const hosts = (route?.route ?? []).map((d: any) => String(d.destination?.host ?? '').split('.')[0]);
        if (!route) add(`VirtualService '${vs.name}' has no HTTP route '${routeName}', which the Rollout names`, `Name an HTTP route '${routeName}'.`);
        else if (!hosts.includes(canary.canaryService) || !hosts.includes(canary.stableService)) {
          add(`VirtualService '${vs.name}' route '${routeName}' does not send to both '${canary.canaryService}' and '${canary.stableService}' (it sends to ${hosts.join(', ')})`, 'Give the route one destination per Service.');
        }
      }
    }
  }

  // Steps
  const managed = new Set<string>((routing?.managedRoutes ?? []).map((m: any) => m.name));
  (canary?.steps ?? []).forEach((s: any, i: number) => {
    const at = `spec.strategy.canary.steps[${i}]`;
    if (s.setCanaryScale && !routing) add(`${at}.setCanaryScale needs traffic routing ("SetCanaryScale requires TrafficRouting to be set")`, 'Route traffic with a router, or drop the step.');
    if (s.setHeaderRoute && !(routing?.istio || routing?.alb || routing?.apisix || routing?.plugins)) {
      add(`${at}.setHeaderRoute needs Istio, ALB, APISIX or a plugin router ("SetHeaderRoute requires TrafficRouting, supports Istio and ALB and Apisix")`, 'Route with one of them.');
    }
    if (s.setMirrorRoute && !(routing?.istio || routing?.plugins)) {
      add(`${at}.setMirrorRoute needs Istio or a plugin router ("SetMirrorRoute requires TrafficRouting, supports Istio and Plugins")`, 'Route with one of them.');
    }
    for (const route of [s.setHeaderRoute, s.setMirrorRoute].filter(Boolean)) {
      if (routing && !managed.has(route.name)) {
        add(`${at} names route '${route.name}', which is not in spec.strategy.canary.trafficRouting.managedRoutes`, `Add { name: '${route.name}' } to managedRoutes.`);
      }
    }
  });
  return out;
}

function ingressBackends(ingress: any): Array<{ name: string; port?: { name?: string; number?: number } }> {
  return (ingress.spec?.rules ?? []).flatMap((rule: any) => (rule.http?.paths ?? []).map((p: any) => p.backend?.service).filter(Boolean));
}
