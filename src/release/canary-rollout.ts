import { ApiObject, Construct, JsonPatch, k8s } from '../engine';
import { Addon, Addons } from '../core/addons';
import { check, checkIntegerRange, PlatformValidationError } from '../core/errors';
import { NameRules } from '../core/names';
import { PlatformNamespaces } from '../core/namespaces';
import { fromNamespaces } from '../core/workloads';
import { PlatformChart } from '../core/kubernetes';
import { PrometheusInstance } from '../core/prometheus';
import { CostAttribution } from '../core/tags';
import { DRIFT_METRICS } from '../monitoring/drift';
import { durationSeconds, metricNamesIn } from '../monitoring/promql';
import { QUALITY_METRIC } from '../monitoring/rules';
import type { ModelRegistry, RegistryCredentials } from '../registry/model-registry';
import type { ServingEndpoint } from '../serving/serving-endpoint';
import { rawResources, restrictedContainerSecurityContext, restrictedPodSecurityContext } from '../core/workloads';
import { AnalysisOptions, NoDataPolicy, PromotionOptions, ReleaseStrategy, TrafficRouting } from './options';

/** Props of a CanaryRollout. */
export interface CanaryRolloutProps {
  /** The real-time endpoint whose new versions are released. */
  readonly endpoint: ServingEndpoint;
  /** How a new version takes over: canary steps, blue-green, shadow (mirrored traffic) or A/B. @default ReleaseStrategy.canary() */
  readonly strategy?: ReleaseStrategy;
  /** How traffic is split between the versions (replica count, NGINX, ALB, Istio, Gateway API). @default TrafficRouting.replicaCount() */
  readonly routing?: TrafficRouting;
  /** The metrics each step's analysis measures, and how many measurements may fail. @default - success rate 99%, the endpoint's latency objective at p95, 4 measurements 30s apart per step, one failure tolerated */
  readonly analysis?: AnalysisOptions;
  /**
   * The registry alias that moves to the released version once the release succeeded (a last
   * analysis step, a Job that calls the registry's promotion endpoint); `false` leaves aliases alone.
   * An aborted release never reaches it: the alias stays on the previous version.
   * @default - `champion` moves to the released version
   */
  readonly promotion?: PromotionOptions | false;
  /** The Prometheus the analyses query. @default - the endpoint's Prometheus */
  readonly prometheus?: PrometheusInstance;
}

/** One generated analysis query, in the form the tests feed promtool. */
export interface AnalysisQuery {
  /** The metric's name in the AnalysisTemplate (`success-rate`, `latency-p95`, a custom metric's name). */
  readonly metric: string;
  /** The PromQL, with `{{args.canary-hash}}` (and `{{args.stable-hash}}`) left for Argo Rollouts to fill in. */
  readonly query: string;
  /** How the result must compare with `threshold` for the measurement to pass. */
  readonly comparison: '>=' | '<=';
  /** The bound the result is compared with. */
  readonly threshold: number;
}

const CANARY_HASH = '{{args.canary-hash}}';
const STABLE_HASH = '{{args.stable-hash}}';

/**
 * Releases new model versions of an endpoint safely with Argo Rollouts: canary (default
 * 5% → 25% → 100%), blue-green, shadow (mirrored traffic) or A/B, with Prometheus analysis of the new
 * version's own series under real traffic (success rate, latency, custom metrics), automatic
 * rollback when it fails, and the registry's `champion` alias moved to the new version when it
 * succeeds.
 *
 * A release starts when the endpoint's pinned model version changes in code: that changes the pod
 * template, and only it. The endpoint's Deployment stays as the pod template (`workloadRef`) with
 * zero replicas; the Rollout runs the pods and the endpoint's autoscaler is pointed at the Rollout
 * (argo-rollouts#2857).
 */
export class CanaryRollout extends Construct {
  /** The Argo Rollouts `Rollout`, which runs the endpoint's pods from its Deployment's template. */
  public readonly rollout: ApiObject;
  /** The Rollout's name: the construct id. */
  public readonly name: string;
  /** The chart of the release's objects, in the endpoint's namespace. */
  public readonly chart: PlatformChart;
  /** Every analysis query the release runs, with its pass condition. */
  public readonly queries: AnalysisQuery[] = [];
  /** The names of the release's AnalysisTemplates. */
  public readonly templateNames: string[] = [];
  /** The alias the release moves to the new version on success, if any. */
  public readonly promotedAlias?: string;
  /** The worst-case seconds from the first canary traffic to an abort when every measurement fails. */
  public readonly detectionSeconds: number;

  constructor(scope: Construct, id: string, props: CanaryRolloutProps) {
    super(scope, id);
    const e = props.endpoint;
    this.name = NameRules.dnsLabel(this, 'id', id);
    check(e.mode.kind === 'realtime' && !!e.deployment, this, 'endpoint', e.node.path, `is a ${e.mode.kind} endpoint; releases are for real-time endpoints that serve traffic`);
    const strategy = props.strategy ?? ReleaseStrategy.canary();
    const routing = props.routing ?? TrafficRouting.replicaCount();
    const prometheus = props.prometheus ?? e.prometheus;
    const monitorLabels: Record<string, string> = e.serviceMonitor?.metadata.toJson().labels ?? {};
    check(prometheus.selects('ServiceMonitor', monitorLabels), this, 'prometheus', prometheus.props.serviceMonitorSelector,
      `does not select the ServiceMonitor of '${e.node.path}' (labels ${JSON.stringify(monitorLabels)}): every analysis query would return no data`);
    this.checkRouting(strategy, routing, e);

    const a = props.analysis ?? {};
    const interval = a.interval ?? '30s';
    const intervalSeconds = durationSeconds(interval);
    check(intervalSeconds !== undefined && intervalSeconds >= 10, this, 'analysis.interval', interval, 'must be a duration of at least 10s');
    const failureLimit = a.failureLimit ?? 1;
    checkIntegerRange(this, 'analysis.failureLimit', failureLimit, 0, 20);
    const inconclusiveLimit = a.inconclusiveLimit ?? 1;
    checkIntegerRange(this, 'analysis.inconclusiveLimit', inconclusiveLimit, 0, 100);
    // Argo Rollouts counts a finished analysis as successful when failures and inconclusive
    // measurements stay within their limits, even if none succeeded: require two successes.
    const count = a.count ?? 4;
    checkIntegerRange(this, 'analysis.count', count, failureLimit + inconclusiveLimit + 2, 1000);
    this.detectionSeconds = intervalSeconds! * (failureLimit + 1);
    const noData = a.onNoData ?? NoDataPolicy.INCONCLUSIVE;

    CostAttribution.team(this, e.team);
    CostAttribution.model(this, e.model.model.name);
    this.chart = new PlatformChart(this, { namespace: e.namespace });
    PlatformNamespaces.use(this, e.namespace);
    Addons.require(this, Addon.argoRollouts({ gatewayApiPluginLocation: routing.gateway?.pluginLocation }));
    const track = strategy.kind === 'shadow' ? 'mlops_io_track="shadow"' : `rollouts_pod_template_hash="${CANARY_HASH}"`;
    const canarySelector = `${e.metricsSelector},${track}`;
    const stableSelector = `${e.metricsSelector},rollouts_pod_template_hash="${STABLE_HASH}"`;

    // Analysis templates
    const metrics: Array<Record<string, unknown>> = [];
    const addMetric = (name: string, query: string, comparison: '>=' | '<=', threshold: number) => {
      this.queries.push({ metric: name, query, comparison, threshold });
      const ok = `len(result) > 0 && !isNaN(result[0]) && result[0] ${comparison} ${threshold}`;
      const bad = `len(result) > 0 && !isNaN(result[0]) && result[0] ${comparison === '>=' ? '<' : '>'} ${threshold}`;
      metrics.push({
        name, interval, count, failureLimit, inconclusiveLimit, consecutiveErrorLimit: 4,
        successCondition: ok,
        failureCondition: noData === NoDataPolicy.FAIL ? `len(result) == 0 || isNaN(result[0]) || (${bad})` : bad,
        provider: { prometheus: { address: prometheus.url, query, timeout: 20 } },
      });
    };
    if (strategy.kind !== 'ab-test') {
      const successRate = a.successRate ?? 0.99;
      if (successRate !== false) {
        check(successRate > 0 && successRate <= 1, this, 'analysis.successRate', successRate, 'must be a share in (0, 1], e.g. 0.99');
        check(e.metrics.hasFailures, this, 'analysis.successRate', successRate, `cannot be measured: the ${e.server.name} server exports no failed-request counter; set successRate: false or add a custom metric`);
        addMetric('success-rate', `1 - (${e.metrics.errorRatio(canarySelector, '1m')})`, '>=', successRate);
      }
      const latencyMs = a.latencyMs ?? (e.metrics.latencySupport(a.latencyQuantile ?? 0.95) ? false : e.latencyClass.objectiveMs);
      if (latencyMs !== false) {
        check(typeof latencyMs === 'number' && latencyMs > 0 && Number.isFinite(latencyMs), this, 'analysis.latencyMs', latencyMs, 'must be a positive number of milliseconds');
        const q = a.latencyQuantile ?? 0.95;
        const reason = e.metrics.latencySupport(q);
        check(!reason, this, 'analysis.latencyMs', latencyMs, `cannot be measured at p${Math.round(q * 100)}: ${reason}`);
        addMetric(`latency-p${Math.round(q * 100)}`, e.metrics.latencyQuantile(q, canarySelector, '1m'), '<=', latencyMs / 1000);
      }
      // Canary against stable under the same live traffic: a drop beyond the tolerance fails even
      // above the absolute threshold. Not for blue-green, whose previous version gets no traffic after the switch.
      const drop = a.maxSuccessRateDrop ?? 0.01;
      if (successRate !== false && drop !== false && strategy.kind !== 'blue-green') {
        check(drop >= 0 && drop < 1, this, 'analysis.maxSuccessRateDrop', drop, 'must be a share in [0, 1), e.g. 0.01');
        addMetric('success-rate-vs-stable', `(${e.metrics.errorRatio(stableSelector, '1m')}) - (${e.metrics.errorRatio(canarySelector, '1m')})`, '>=', -drop);
      }
    }
    const known = new Set([...e.metrics.metricNames, `${DRIFT_METRICS.feature}_bucket`, `${DRIFT_METRICS.prediction}_bucket`, QUALITY_METRIC]);
    const checkQuery = (prop: string, query: string) => {
      const unknown = metricNamesIn(query).filter((m) => !known.has(m));
      check(unknown.length === 0, this, prop, unknown, `are not metrics the ${e.server.name} server emits or the platform's metric contract defines (${[...known].join(', ')})`);
      check(query.includes('{{selector}}'), this, prop, query, 'must use {{selector}} so that it reads only the new version\'s series');
    };
    (a.customMetrics ?? []).forEach((m, i) => {
      NameRules.dnsLabel(this, `analysis.customMetrics[${i}].name`, m.name);
      checkQuery(`analysis.customMetrics[${i}].query`, m.query);
      check((m.min === undefined) !== (m.max === undefined), this, `analysis.customMetrics[${i}]`, m.name, 'needs exactly one of min or max');
      addMetric(m.name, m.query.split('{{selector}}').join(canarySelector), m.min !== undefined ? '>=' : '<=', (m.min ?? m.max)!);
    });
    if (strategy.kind === 'ab-test') {
      const ab = strategy.abTest!;
      checkQuery('strategy.comparisonQuery', ab.comparisonQuery);
      const minRatio = ab.minRatio ?? 1;
      check(minRatio > 0, this, 'strategy.minRatio', minRatio, 'must be positive');
      addMetric('challenger-vs-champion', `(${ab.comparisonQuery.split('{{selector}}').join(canarySelector)}) / (${ab.comparisonQuery.split('{{selector}}').join(stableSelector)})`, '>=', minRatio);
    }
    check(metrics.length > 0, this, 'analysis', a, 'measures nothing; keep the success rate or latency check, or add a custom metric');
    // Steps and promotions wait for their analysis to finish, so its metrics must end (`count`,
    // argo-rollouts validation_references.go: "runs indefinitely. Invalid value for count"); the
    // background analysis runs until the release ends, so its copy has no count.
    const templateName = `${this.name}-analysis`;
    const args = [{ name: 'canary-hash' }, { name: 'stable-hash' }];
    this.analysisTemplate('analysis-template', templateName, { args, metrics });
    const analysisArgs = [
      { name: 'canary-hash', valueFrom: { podTemplateHashValue: 'Latest' } },
      { name: 'stable-hash', valueFrom: { podTemplateHashValue: 'Stable' } },
    ];
    const analysisRef = { templates: [{ templateName }], args: analysisArgs };
    const backgroundName = `${this.name}-background`;
    const backgroundRef = { templates: [{ templateName: backgroundName }], args: analysisArgs };
    if (strategy.kind !== 'blue-green') {
      this.analysisTemplate('background-template', backgroundName, { args, metrics: metrics.map(({ count: _count, ...m }) => m) });
    }
    const analysisSeconds = count * intervalSeconds!;

    // Promotion: a last analysis whose only metric is a Job that moves the alias. An aborted release
    // never runs it; in a blue-green post-promotion analysis it waits until the metrics are done,
    // and a failed or inconclusive metric ends the run before it starts (IsTerminating, utils/analysis/helpers.go).
    this.promotedAlias = props.promotion === false ? undefined : props.promotion?.alias ?? 'champion';
    let promoteRef: { templates: Array<{ templateName: string }> } | undefined;
    if (this.promotedAlias !== undefined) {
      const registry = e.model.registry;
      check(registry.protectedAliases.includes(this.promotedAlias) ? registry.promoterNamespaces.includes(e.namespace) : true, this, 'promotion', this.promotedAlias,
        `is moved only through the promotion endpoint of registry '${registry.node.path}', which namespace '${e.namespace}' may not reach: add it to the registry's governance.promoterNamespaces, or set promotion: false`);
      check(/^[A-Za-z_][A-Za-z0-9_-]{0,254}$/.test(this.promotedAlias), this, 'promotion.alias', this.promotedAlias, 'must be an MLflow alias');
      const promoteName = `${this.name}-promote`;
      const initialDelay = strategy.kind === 'blue-green' ? `${analysisSeconds + intervalSeconds!}s` : undefined;
      this.analysisTemplate('promote-template', promoteName, { metrics: [this.promoteMetric(e, this.promotedAlias, initialDelay)] });
      promoteRef = { templates: [{ templateName: promoteName }] };
    }

    // Services the router splits between, and the Rollout
    const service = (suffix: string) => {
      const name = `${e.name}-${suffix}`;
      // No mlops.io/endpoint label: the endpoint's ServiceMonitor must not scrape these twice.
      new k8s.KubeService(this.chart, `service-${suffix}`, {
        metadata: { name, labels: { 'mlops.io/release': this.name } },
        spec: { selector: e.selectorLabels, ports: e.server.props.ports.map((p) => ({ name: p.name, port: p.port, targetPort: k8s.IntOrString.fromString(p.name) })) },
      });
      return name;
    };
    const strategySpec = strategy.kind === 'blue-green'
      ? this.blueGreen(strategy, e, service('preview'), analysisRef, promoteRef, analysisSeconds + 2 * intervalSeconds!)
      : this.canary(strategy, routing, e,
        // Without a router the split is by replicas and needs no Services of its own; NGINX keeps the
        // Ingress's own backend (the endpoint's Service) as the stable one.
        routing.kind === 'replica-count' ? '' : service('canary'),
        routing.kind === 'replica-count' ? '' : routing.kind === 'nginx' ? e.serviceName : service('stable'),
        { step: analysisRef, background: backgroundRef, promote: promoteRef }, intervalSeconds!, failureLimit);

    this.rollout = new ApiObject(this.chart, 'rollout', {
      apiVersion: 'argoproj.io/v1alpha1', kind: 'Rollout',
      metadata: {
        name: this.name,
        // Nothing here names the model version: a new version changes the pod template only.
        annotations: {
          'mlops.io/promote': `kubectl argo rollouts promote ${this.name} -n ${e.namespace}`,
          'mlops.io/abort': `kubectl argo rollouts abort ${this.name} -n ${e.namespace}`,
          'mlops.io/status': `kubectl argo rollouts status ${this.name} -n ${e.namespace} --timeout 30m`,
        },
      },
      spec: {
        replicas: e.minReplicas,
        revisionHistoryLimit: 5,
        selector: { matchLabels: e.selectorLabels },
        workloadRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: e.name, scaleDown: 'never' },
        strategy: strategySpec,
      },
    } as any);
    // The Deployment is only the template now: zero replicas, and the autoscaler scales the Rollout.
    e.deployment!.addJsonPatch(JsonPatch.replace('/spec/replicas', 0));
    e.retargetScaler({ apiVersion: 'argoproj.io/v1alpha1', kind: 'Rollout', name: this.name });
    // ALB routing: the Ingress's backend must be `use-annotation`, so that the AWS Load Balancer
    // Controller reads the weighted action Argo Rollouts writes (argo-rollouts docs/features/traffic-management/alb.md).
    if (routing.kind === 'alb') {
      e.ingressPaths.forEach((_path, i) => e.ingress!.addJsonPatch(JsonPatch.replace(`/spec/rules/0/http/paths/${i}/backend/service/port`, { name: 'use-annotation' })));
    }
    if (routing.kind === 'istio') {
      this.istioVirtualService(e);
      this.joinMesh(e);
    }
    if (routing.kind === 'gateway-api') this.httpRoute(e, routing);
  }

  private checkRouting(strategy: ReleaseStrategy, routing: TrafficRouting, e: ServingEndpoint): void {
    if (strategy.kind === 'shadow') {
      check(routing.mirroring, this, 'routing', routing.kind, 'cannot mirror traffic, which shadow mode needs; use TrafficRouting.istio() or TrafficRouting.gatewayApi(...) (Argo Rollouts\' setMirrorRoute)');
    }
    if (strategy.kind === 'ab-test') {
      check(routing.headerRoutes, this, 'routing', routing.kind, 'cannot route by header or cookie, which A/B tests need; use TrafficRouting.istio() or TrafficRouting.gatewayApi(...) (Argo Rollouts\' setHeaderRoute)');
    }
    const ingress = e.mode.realtime?.ingress;
    if (routing.kind === 'nginx' || routing.kind === 'alb') {
      check(!!ingress && (ingress.className ?? 'alb') === routing.kind, this, 'routing', routing.kind,
        `needs the endpoint to have an Ingress of class '${routing.kind}' (ServingMode.realtime({ ingress: { className: '${routing.kind}' } }))`);
    }
    if (strategy.kind === 'blue-green') {
      check(routing.kind === 'replica-count', this, 'routing', routing.kind, 'is not used by blue-green, which switches Services; leave routing out');
    }
  }

  private canary(strategy: ReleaseStrategy, routing: TrafficRouting, e: ServingEndpoint, canaryService: string, stableService: string,
    refs: { step: object; background: object; promote?: object }, intervalSeconds: number, failureLimit: number): object {
    const analysisRef = refs.step;
    const steps: object[] = [];
    const managedRoutes: object[] = [];
    const verdictSeconds = intervalSeconds * (failureLimit + 1);
    const pauseFor = (prop: string, value: string) => {
      const s = durationSeconds(value);
      check(s !== undefined, this, prop, value, 'must be a duration such as 2m');
      check(s! >= verdictSeconds, this, prop, value, `is shorter than the analysis it waits for: ${failureLimit + 1} measurements every ${intervalSeconds}s take ${verdictSeconds}s`);
      return value;
    };
    if (strategy.kind === 'canary') {
      const weights = strategy.canary?.weights ?? [5, 25, 100];
      check(weights.length > 0 && weights.every((w) => Number.isFinite(w) && w > 0 && w <= 100), this, 'strategy.weights', weights, 'must each be in (0, 100]');
      check(weights.every((w, i) => i === 0 || w > weights[i - 1]), this, 'strategy.weights', weights, 'must be strictly increasing');
      const pause = pauseFor('strategy.pause', strategy.canary?.pause ?? '2m');
      for (const w of weights) {
        steps.push({ setWeight: w });
        if (w < 100) steps.push({ pause: { duration: pause } }, { analysis: analysisRef });
      }
    } else if (strategy.kind === 'shadow') {
      const s = strategy.shadow!;
      const duration = pauseFor('strategy.duration', s.duration ?? '30m');
      const percent = s.mirrorPercent ?? 100;
      check(percent > 0 && percent <= 100, this, 'strategy.mirrorPercent', percent, 'must be in (0, 100]');
      checkIntegerRange(this, 'strategy.replicas', s.replicas ?? 2, 1, 100);
      managedRoutes.push({ name: 'shadow' });
      steps.push(
        { setCanaryScale: { replicas: s.replicas ?? 2 } },
        { setMirrorRoute: { name: 'shadow', percentage: percent, match: [{ path: { prefix: '/' } }] } },
        { pause: { duration } },
        { analysis: analysisRef },
        // A human or CI promotes the shadow (kubectl argo rollouts promote); then it continues as a canary.
        { pause: {} },
        { setMirrorRoute: { name: 'shadow' } },
        { setCanaryScale: { matchTrafficWeight: true } },
        { setWeight: 5 }, { pause: { duration: '2m' } }, { analysis: analysisRef },
        { setWeight: 25 }, { pause: { duration: '2m' } }, { analysis: analysisRef },
        { setWeight: 100 },
      );
    } else {
      const ab = strategy.abTest!;
      const duration = pauseFor('strategy.duration', ab.duration ?? '1h');
      const match = 'header' in ab.match
        ? { headerName: ab.match.header, headerValue: { exact: ab.match.value } }
        : { headerName: 'Cookie', headerValue: { regex: `.*\\b${ab.match.cookie}=${ab.match.value}\\b.*` } };
      managedRoutes.push({ name: 'ab-test' });
      steps.push(
        { setCanaryScale: { replicas: Math.max(1, Math.ceil(e.minReplicas / 2)) } },
        { setHeaderRoute: { name: 'ab-test', match: [match] } },
        { pause: { duration } },
        { analysis: analysisRef },
        { setHeaderRoute: { name: 'ab-test' } },
        // The challenger won: scale it with its traffic before it takes all of it.
        { setCanaryScale: { matchTrafficWeight: true } },
        { setWeight: 100 },
      );
    }
    if (refs.promote) steps.push({ analysis: refs.promote });
    const trafficRouting = this.trafficRouting(routing, e, managedRoutes);
    return {
      canary: {
        ...(routing.kind === 'replica-count' ? {} : { canaryService, stableService, trafficRouting }),
        // A failed analysis aborts: all traffic back to the stable version, canary pods scaled down.
        abortScaleDownDelaySeconds: 30,
        canaryMetadata: { labels: { 'mlops.io/track': strategy.kind === 'shadow' ? 'shadow' : 'canary' } },
        stableMetadata: { labels: { 'mlops.io/track': 'stable' } },
        analysis: { ...refs.background, startingStep: 1 },
        steps,
      },
    };
  }

  private trafficRouting(routing: TrafficRouting, e: ServingEndpoint, managedRoutes: object[]): object | undefined {
    const withRoutes = managedRoutes.length ? { managedRoutes } : {};
    switch (routing.kind) {
      case 'nginx': return { nginx: { stableIngress: e.name } };
      // The endpoint's Ingress sends to its own Service, which ALB routing keeps as the root service.
      case 'alb': return { alb: { ingress: e.name, servicePort: e.port, rootService: e.serviceName } };
      case 'istio': return { istio: { virtualService: { name: e.name, routes: ['primary'] } }, ...withRoutes };
      case 'gateway-api': return { plugins: { 'argoproj-labs/gatewayAPI': { httpRoute: e.name, namespace: e.namespace } }, ...withRoutes };
      default: return undefined;
    }
  }

  private blueGreen(strategy: ReleaseStrategy, e: ServingEndpoint, previewService: string, analysisRef: { templates: object[]; args: object[] },
    promoteRef: { templates: object[] } | undefined, analysisSeconds: number): object {
    const b = strategy.blueGreen!;
    if (b.autoPromotionSeconds !== undefined) checkIntegerRange(this, 'strategy.autoPromotionSeconds', b.autoPromotionSeconds, 30, 86400);
    // The preview gets no traffic, so its metrics would only ever be empty: the analysis runs after
    // the switch, under all traffic, while the previous version stays up; a failure switches back.
    // Argo Rollouts cancels the analysis when the old version is scaled down, so it must outlast it.
    const scaleDownDelay = b.scaleDownDelaySeconds ?? Math.max(600, analysisSeconds);
    check(scaleDownDelay >= analysisSeconds, this, 'strategy.scaleDownDelaySeconds', scaleDownDelay,
      `is shorter than the post-promotion analysis (${analysisSeconds}s): Argo Rollouts would cancel it when the previous version is scaled down`);
    return {
      blueGreen: {
        activeService: e.serviceName,
        previewService,
        autoPromotionEnabled: b.autoPromote ?? false,
        ...(b.autoPromotionSeconds !== undefined ? { autoPromotionSeconds: b.autoPromotionSeconds } : {}),
        // The old version stays up this long after the switch, so switching back is instant.
        scaleDownDelaySeconds: scaleDownDelay,
        postPromotionAnalysis: { templates: [...analysisRef.templates, ...(promoteRef?.templates ?? [])], args: analysisRef.args },
        previewMetadata: { labels: { 'mlops.io/track': 'preview' } },
        activeMetadata: { labels: { 'mlops.io/track': 'stable' } },
      },
    };
  }

  /**
   * Istio routes (and mirrors) at the callers' sidecars and the endpoint's: its control plane is installed, with
   * the CNI agent so that meshed pods stay within Pod Security `restricted`, and the endpoint's and callers'
   * namespaces are labelled for sidecar injection. The endpoint's sidecars reach istiod for their configuration.
   */
  private joinMesh(e: ServingEndpoint): void {
    Addons.require(this, Addon.istioBase());
    Addons.require(this, Addon.istioCni());
    Addons.require(this, Addon.istiod());
    for (const ns of [e.namespace, ...e.allowedNamespaces]) {
      PlatformNamespaces.use(this, ns, { labels: { 'istio-injection': 'enabled' } });
    }
    new k8s.KubeNetworkPolicy(this.chart, 'mesh-network-policy', {
      metadata: { name: `${e.name}-mesh` },
      spec: {
        podSelector: { matchLabels: e.selectorLabels },
        policyTypes: ['Egress'],
        // xDS and certificates from istiod.
        egress: [{ to: fromNamespaces(['istio-system']), ports: [{ protocol: 'TCP', port: k8s.IntOrString.fromNumber(15012) }] }],
      },
    });
  }

  private analysisTemplate(id: string, name: string, spec: { args?: object[]; metrics: object[] }): void {
    this.templateNames.push(name);
    new ApiObject(this.chart, id, { apiVersion: 'argoproj.io/v1alpha1', kind: 'AnalysisTemplate', metadata: { name }, spec } as any);
  }

  /**
   * A Job metric that moves `alias` to the endpoint's version through the registry's promotion
   * endpoint and reads it back; it fails (and the release with it) when the registry refuses.
   */
  private promoteMetric(e: ServingEndpoint, alias: string, initialDelay: string | undefined): object {
    const registry = e.model.registry;
    return {
      name: 'promote', ...(initialDelay ? { initialDelay } : {}), failureLimit: 0,
      provider: {
        job: {
          metadata: { labels: { 'mlops.io/release': this.name } },
          spec: {
            backoffLimit: 2, activeDeadlineSeconds: 300, ttlSecondsAfterFinished: 86400,
            template: {
              metadata: { labels: { 'mlops.io/release': this.name, 'mlops.io/role': 'promoter' } },
              spec: {
                restartPolicy: 'Never', automountServiceAccountToken: false,
                securityContext: restrictedPodSecurityContext(1000),
                containers: [{
                  name: 'promote', image: registry.serverImage,
                  command: ['python', '-c', PROMOTE_SCRIPT],
                  env: [
                    // The gate admits only the promoter credential of this namespace on the promotion port.
                    ...promoterCredentials(registry, e.namespace, this).env,
                    { name: 'PROMOTION_URI', value: registry.promotionUri }, { name: 'MODEL_NAME', value: e.model.model.name },
                    { name: 'MODEL_VERSION', value: e.model.version! }, { name: 'ALIAS', value: alias },
                  ],
                  resources: rawResources({ cpu: '100m', memory: '128Mi', cpuLimit: '500m', memoryLimit: '256Mi' }),
                  securityContext: restrictedContainerSecurityContext(),
                }],
              },
            },
          },
        },
      },
    };
  }

  private istioVirtualService(e: ServingEndpoint): void {
    const host = `${e.serviceName}.${e.namespace}.svc.cluster.local`;
    new ApiObject(this.chart, 'virtual-service', {
      apiVersion: 'networking.istio.io/v1beta1', kind: 'VirtualService',
      metadata: { name: e.name },
      spec: {
        hosts: [host, e.serviceName],
        http: [{
          name: 'primary',
          route: [
            { destination: { host: `${e.name}-stable`, port: { number: e.port } }, weight: 100 },
            { destination: { host: `${e.name}-canary`, port: { number: e.port } }, weight: 0 },
          ],
        }],
      },
    } as any);
  }

  private httpRoute(e: ServingEndpoint, routing: TrafficRouting): void {
    const g = routing.gateway!;
    new ApiObject(this.chart, 'http-route', {
      apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute',
      metadata: { name: e.name },
      spec: {
        parentRefs: [{ name: g.gateway, ...(g.gatewayNamespace ? { namespace: g.gatewayNamespace } : {}) }],
        rules: [{
          backendRefs: [
            { name: `${e.name}-stable`, port: e.port, weight: 100 },
            { name: `${e.name}-canary`, port: e.port, weight: 0 },
          ],
        }],
      },
    } as any);
  }
}

/** Moves an alias through the registry's promotion endpoint (MLflow SetRegisteredModelAlias) and reads it back. */
const PROMOTE_SCRIPT = `
import base64, json, os, urllib.parse, urllib.request
base = os.environ["PROMOTION_URI"] + "/api/2.0/mlflow/registered-models/alias"
name, version, alias = os.environ["MODEL_NAME"], os.environ["MODEL_VERSION"], os.environ["ALIAS"]
token = base64.b64encode((os.environ["MLFLOW_TRACKING_USERNAME"] + ":" + os.environ["MLFLOW_TRACKING_PASSWORD"]).encode()).decode()
auth = {"Authorization": "Basic " + token}
body = json.dumps({"name": name, "alias": alias, "version": version}).encode()
urllib.request.urlopen(urllib.request.Request(base, data=body, method="POST", headers={"Content-Type": "application/json", **auth}), timeout=30).read()
query = urllib.parse.urlencode({"name": name, "alias": alias})
got = json.load(urllib.request.urlopen(urllib.request.Request(base + "?" + query, headers=auth), timeout=30))["model_version"]["version"]
assert got == version, f"{alias} points to {got}, not {version}"
print(f"{name}@{alias} -> version {version}")
`;

/** The promoter credential the registry writes into a promoter namespace (checked at synth to exist). */
function promoterCredentials(registry: ModelRegistry, namespace: string, scope: Construct): RegistryCredentials {
  const found = registry.promoterCredentials.find((c) => c.username === `${namespace}.promoter`);
  if (!found) {
    throw new PlatformValidationError(scope, 'promotion', namespace, `needs the promoter credential of namespace '${namespace}', which registry '${registry.node.path}' does not write: add the namespace to its governance.promoterNamespaces`);
  }
  return found;
}
