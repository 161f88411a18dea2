import { execFile } from 'child_process';
import * as fs from 'fs';
import * as http from 'http';
import * as os from 'os';
import * as path from 'path';
import { promisify } from 'util';
import {
  Addon, Addons, CanaryRollout, CanaryRolloutProps, ModelRegistry, ModelServer, NoDataPolicy, PlatformModel, PlatformTesting, PrometheusInstance, ReleaseStrategy,
  rolloutsCheck, ServingEndpoint, ServingEndpointProps, ServingMode, TrafficRouting,
} from '../src';
import { manifestErrors } from './harness/kubernetes';
import { promtoolTool, testRules } from './harness/promtool';
import { describeWithTool } from './harness/tools';
import { TEST_CLUSTER, testPlatform } from './harness/fixtures';
import { buildReferencePlatform, REFERENCE_CONTEXT } from '../stacks/platform';

function setup(props: (e: ServingEndpoint) => Partial<CanaryRolloutProps> = () => ({}), endpointProps: Partial<ServingEndpointProps> = {}, version = '8', promoters = ['serving']) {
  const { app, stack } = testPlatform();
  const registry = new ModelRegistry(stack, 'registry', { cluster: TEST_CLUSTER, governance: { promoterNamespaces: promoters } });
  const endpoint = new ServingEndpoint(stack, 'fraud', {
    cluster: TEST_CLUSTER, namespace: 'serving', model: registry.model('fraud-detector').version(version), server: ModelServer.mlflow(), ...endpointProps,
  });
  const release = new CanaryRollout(stack, 'fraud-release', { endpoint, ...props(endpoint) });
  const out = PlatformTesting.synth(app);
  const docs = out.manifests['aws/fraud-release.k8s.yaml'];
  const find = (kind: string, name?: string) => docs.find((d) => d.kind === kind && (name === undefined || d.metadata.name === name));
  return { release, endpoint, out, docs, find, endpointDocs: out.manifests['aws/fraud.k8s.yaml'] };
}

describe('CanaryRollout defaults', () => {
  const { find, endpointDocs, out, release, docs } = setup();
  const rollout = find('Rollout');
  const canary = rollout.spec.strategy.canary;

  it('moves traffic 5% → 25% → 100% with a pause and an analysis at each step, then moves champion', () => {
    const step = { analysis: { templates: [{ templateName: 'fraud-release-analysis' }], args: expect.any(Array) } };
    expect(canary.steps).toEqual([
      { setWeight: 5 }, { pause: { duration: '2m' } }, step,
      { setWeight: 25 }, { pause: { duration: '2m' } }, step,
      { setWeight: 100 }, { analysis: { templates: [{ templateName: 'fraud-release-promote' }] } },
    ]);
    expect(canary.analysis).toMatchObject({ startingStep: 1, templates: [{ templateName: 'fraud-release-background' }] });
  });

  it('gives step analyses a count and keeps the open-ended one for the background (Argo Rollouts refuses steps that never end)', () => {
    // argo-rollouts validation_references.go ValidateAnalysisTemplateWithType: a non-background
    // analysis whose metric has an interval and no count "runs indefinitely" and is refused.
    const templates = Object.fromEntries(docs.filter((d) => d.kind === 'AnalysisTemplate').map((d) => [d.metadata.name, d.spec]));
    expect(templates['fraud-release-analysis'].metrics.map((m: any) => [m.name, m.count, m.interval])).toEqual([['success-rate', 4, '30s'], ['latency-p95', 4, '30s'], ['success-rate-vs-stable', 4, '30s']]);
    expect(templates['fraud-release-background'].metrics.every((m: any) => m.count === undefined && m.interval === '30s')).toBe(true);
    expect(rolloutsCheck.check(new PlatformModel({ terraform: {}, manifests: out.manifests }))).toEqual([]);
  });

  it('moves champion to the released version through the registry\'s promotion endpoint, in a restricted Job', () => {
    const [promote] = find('AnalysisTemplate', 'fraud-release-promote').spec.metrics;
    const pod = promote.provider.job.spec.template.spec;
    expect(pod.containers[0].env).toEqual([
      // the promoter credential the registry writes into this namespace: the gate admits only it on the promotion port
      { name: 'MLFLOW_TRACKING_USERNAME', valueFrom: { secretKeyRef: { name: 'mlflow-registry-promoter', key: 'username' } } },
      { name: 'MLFLOW_TRACKING_PASSWORD', valueFrom: { secretKeyRef: { name: 'mlflow-registry-promoter', key: 'password' } } },
      { name: 'PROMOTION_URI', value: 'http://mlflow-promotion.mlflow.svc.cluster.local:5003' }, { name: 'MODEL_NAME', value: 'fraud-detector' },
      { name: 'MODEL_VERSION', value: '8' }, { name: 'ALIAS', value: 'champion' },
    ]);
    expect(pod.containers[0].command.join(' ')).toContain('/api/2.0/mlflow/registered-models/alias');
    expect(pod.containers[0].securityContext).toMatchObject({ runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false });
    expect(pod.containers[0].resources.limits).toEqual({ cpu: '500m', memory: '256Mi' });
    expect(promote.failureLimit).toBe(0);
    expect(release.promotedAlias).toBe('champion');
  });

  it('analyses the new version\'s own series: success rate and p95 latency', () => {
    const template = find('AnalysisTemplate');
    const [success, latency] = template.spec.metrics;
    expect(success.name).toBe('success-rate');
    expect(success.provider.prometheus.query).toContain('rollouts_pod_template_hash="{{args.canary-hash}}"');
    expect(success.successCondition).toBe('len(result) > 0 && !isNaN(result[0]) && result[0] >= 0.99');
    expect(latency).toMatchObject({ name: 'latency-p95', successCondition: 'len(result) > 0 && !isNaN(result[0]) && result[0] <= 0.1' });
    expect(success.provider.prometheus.address).toBe('http://kube-prometheus-stack-prometheus.monitoring.svc.cluster.local:9090');
  });

  it('treats no data as inconclusive, by an explicit rule, and detects a bad canary within two minutes', () => {
    const [success] = find('AnalysisTemplate').spec.metrics;
    expect(success.failureCondition).toBe('len(result) > 0 && !isNaN(result[0]) && result[0] < 0.99');
    expect(success).toMatchObject({ interval: '30s', count: 4, failureLimit: 1, inconclusiveLimit: 1 });
    expect(release.detectionSeconds).toBeLessThanOrEqual(120);
  });

  it('runs the pods under the Rollout: the Deployment is the template, the autoscaler scales the Rollout', () => {
    expect(rollout.spec.workloadRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: 'fraud', scaleDown: 'never' });
    expect(endpointDocs.find((d) => d.kind === 'Deployment').spec.replicas).toBe(0);
    expect(endpointDocs.find((d) => d.kind === 'HorizontalPodAutoscaler').spec.scaleTargetRef).toEqual({ apiVersion: 'argoproj.io/v1alpha1', kind: 'Rollout', name: 'fraud-release' });
  });

  it('records the commands CI calls, and leaves the model version to the pod template', () => {
    expect(rollout.metadata.annotations).toEqual({
      'mlops.io/promote': 'kubectl argo rollouts promote fraud-release -n serving',
      'mlops.io/abort': 'kubectl argo rollouts abort fraud-release -n serving',
      'mlops.io/status': 'kubectl argo rollouts status fraud-release -n serving --timeout 30m',
    });
    expect(canary.canaryMetadata.labels).toEqual({ 'mlops.io/track': 'canary' });
    const template = endpointDocs.find((d) => d.kind === 'Deployment').spec.template;
    expect(template.metadata.labels['mlops.io/model-version']).toBe('8');
    expect(template.metadata.annotations).toEqual({ 'mlops.io/model-uri': 'models:/fraud-detector/8' });
  });

  it('uses replica counts without a router and passes the Argo Rollouts schema check', () => {
    expect(canary.trafficRouting).toBeUndefined();
    expect(manifestErrors(out.manifests)).toEqual([]);
  });
});

describe('CanaryRollout with routers and strategies', () => {
  it('routes through the endpoint\'s ALB Ingress, whose backend port becomes use-annotation', () => {
    const { find, out, endpointDocs } = setup(() => ({ routing: TrafficRouting.alb() }), { mode: ServingMode.realtime({ ingress: { host: 'fraud.acme.example' } }) });
    expect(find('Rollout').spec.strategy.canary).toMatchObject({ canaryService: 'fraud-canary', stableService: 'fraud-stable', trafficRouting: { alb: { ingress: 'fraud', rootService: 'fraud', servicePort: 8080 } } });
    // docs/features/traffic-management/alb.md: "servicePort must be the value: use-annotation".
    expect(endpointDocs.find((d) => d.kind === 'Ingress').spec.rules[0].http.paths[0].backend.service).toEqual({ name: 'fraud', port: { name: 'use-annotation' } });
    expect(manifestErrors(out.manifests)).toEqual([]);
  });

  it('shadows with Istio mirroring, labelling the shadow\'s series', () => {
    const { find, out } = setup(() => ({ strategy: ReleaseStrategy.shadow({ duration: '20m' }), routing: TrafficRouting.istio() }));
    const canary = find('Rollout').spec.strategy.canary;
    expect(canary.trafficRouting).toEqual({ istio: { virtualService: { name: 'fraud', routes: ['primary'] } }, managedRoutes: [{ name: 'shadow' }] });
    expect(canary.steps.slice(0, 5)).toEqual([
      { setCanaryScale: { replicas: 2 } }, { setMirrorRoute: { name: 'shadow', percentage: 100, match: [{ path: { prefix: '/' } }] } },
      { pause: { duration: '20m' } }, { analysis: expect.any(Object) }, { pause: {} },
    ]);
    // After the shadow, every live-traffic step is analysed too, and the last one moves champion.
    expect(canary.steps.filter((st: any) => st.analysis).map((st: any) => st.analysis.templates[0].templateName))
      .toEqual(['fraud-release-analysis', 'fraud-release-analysis', 'fraud-release-analysis', 'fraud-release-promote']);
    expect(canary.canaryMetadata.labels['mlops.io/track']).toBe('shadow');
    expect(find('AnalysisTemplate').spec.metrics[0].provider.prometheus.query).toContain('mlops_io_track="shadow"');
    expect(find('VirtualService').spec.http[0].name).toBe('primary');
    expect(manifestErrors(out.manifests)).toEqual([]);
  });

  it('runs an A/B test by header on the Gateway API, comparing challenger with champion', () => {
    const { find, out } = setup((e) => {
      // An HTTPRoute needs a Gateway API implementation (its CRDs and controller) in the cluster: the addons check refuses one without.
      Addons.require(e, Addon.custom({ name: 'envoy-gateway', namespace: 'envoy-gateway-system', repository: 'oci://docker.io/envoyproxy', chart: 'gateway-helm', version: 'v1.4.1' }));
      return {
        strategy: ReleaseStrategy.abTest({ match: { header: 'x-variant', value: 'challenger' }, comparisonQuery: 'sum(rate(mlops_feedback_total{{{selector}},outcome="correct"}[1h]))', minRatio: 0.98 }),
        routing: TrafficRouting.gatewayApi({ gateway: 'public', gatewayNamespace: 'gateways', pluginLocation: 'https://mirror.acme.example/gatewayapi-plugin-v0.5.0' }),
      };
    });
    const canary = find('Rollout').spec.strategy.canary;
    expect(canary.steps[1]).toEqual({ setHeaderRoute: { name: 'ab-test', match: [{ headerName: 'x-variant', headerValue: { exact: 'challenger' } }] } });
    // The winner is scaled with its traffic before it takes all of it, then champion moves.
    expect(canary.steps.slice(-3)).toEqual([{ setCanaryScale: { matchTrafficWeight: true } }, { setWeight: 100 }, { analysis: { templates: [{ templateName: 'fraud-release-promote' }] } }]);
    const [metric] = find('AnalysisTemplate').spec.metrics;
    expect(metric.provider.prometheus.query).toContain('rollouts_pod_template_hash="{{args.stable-hash}}"');
    expect(find('HTTPRoute').spec.parentRefs).toEqual([{ name: 'public', namespace: 'gateways' }]);
    const argo = (Object.values(out.terraform.kubernetes.resource.helm_release) as any[]).find((r) => r.name === 'argo-rollouts');
    expect(argo.values[0]).toContain('argoproj-labs/gatewayAPI');
    expect(manifestErrors(out.manifests)).toEqual([]);
  });

  it('releases blue-green with analysis under live traffic after the switch, the old version kept up to switch back', () => {
    const { find, out, docs } = setup(() => ({ strategy: ReleaseStrategy.blueGreen({ autoPromote: true }), analysis: { onNoData: NoDataPolicy.FAIL } }));
    const bg = find('Rollout').spec.strategy.blueGreen;
    expect(bg).toMatchObject({ activeService: 'fraud', previewService: 'fraud-preview', autoPromotionEnabled: true, scaleDownDelaySeconds: 600 });
    // The preview gets no traffic: an analysis of it would only ever read empty series.
    expect(bg.prePromotionAnalysis).toBeUndefined();
    expect(bg.postPromotionAnalysis.templates).toEqual([{ templateName: 'fraud-release-analysis' }, { templateName: 'fraud-release-promote' }]);
    // The promotion waits until the 4 measurements 30s apart are done; a failed one ends the run before it starts.
    expect(find('AnalysisTemplate', 'fraud-release-promote').spec.metrics[0].initialDelay).toBe('150s');
    // After the switch the previous version gets no traffic: nothing to compare with.
    expect(find('AnalysisTemplate', 'fraud-release-analysis').spec.metrics.map((m: any) => m.name)).toEqual(['success-rate', 'latency-p95']);
    expect(docs.filter((d) => d.kind === 'AnalysisTemplate').map((d) => d.metadata.name)).toEqual(['fraud-release-analysis', 'fraud-release-promote']);
    expect(find('AnalysisTemplate').spec.metrics[0].failureCondition).toBe('len(result) == 0 || isNaN(result[0]) || (len(result) > 0 && !isNaN(result[0]) && result[0] < 0.99)');
    expect(manifestErrors(out.manifests)).toEqual([]);
  });
});

describe('CanaryRollout bad input', () => {
  const bad = (props: (e: ServingEndpoint) => Partial<CanaryRolloutProps>, endpointProps: Partial<ServingEndpointProps> = {}) => () => setup(props, endpointProps);

  it.each([
    [() => ({ strategy: ReleaseStrategy.canary({ weights: [5, 5, 100] }) }), /CanaryRollout 'aws\/fraud-release': strategy\.weights \(\[5,5,100\]\) must be strictly increasing/],
    [() => ({ strategy: ReleaseStrategy.canary({ weights: [0, 50] }) }), /strategy\.weights \(\[0,50\]\) must each be in \(0, 100\]/],
    [() => ({ strategy: ReleaseStrategy.canary({ weights: [50, 150] }) }), /strategy\.weights \(\[50,150\]\) must each be in \(0, 100\]/],
    [() => ({ strategy: ReleaseStrategy.canary({ pause: '30s' }) }), /strategy\.pause \('30s'\) is shorter than the analysis it waits for: 2 measurements every 30s take 60s/],
    [() => ({ analysis: { successRate: 1.2 } }), /analysis\.successRate \(1\.2\) must be a share in \(0, 1\]/],
    [() => ({ analysis: { successRate: 0 } }), /analysis\.successRate \(0\) must be a share in \(0, 1\]/],
    [() => ({ analysis: { latencyMs: -100 } }), /analysis\.latencyMs \(-100\) must be a positive number of milliseconds/],
    [() => ({ strategy: ReleaseStrategy.shadow() }), /routing \('replica-count'\) cannot mirror traffic, which shadow mode needs; use TrafficRouting\.istio\(\)/],
    [() => ({ strategy: ReleaseStrategy.shadow(), routing: TrafficRouting.nginx() }), /routing \('nginx'\) cannot mirror traffic/],
    [() => ({ routing: TrafficRouting.nginx() }), /routing \('nginx'\) needs the endpoint to have an Ingress of class 'nginx'/],
    [() => ({ analysis: { customMetrics: [{ name: 'scores', query: 'avg(model_score{{{selector}}})', min: 0.1 }] } }), /analysis\.customMetrics\[0\]\.query \(\["model_score"\]\) are not metrics the mlflow server emits/],
    [() => ({ analysis: { count: 3 } }), /analysis\.count \(3\) must be a whole number from 4 to 1000/],
    [() => ({ promotion: { alias: 'bad alias' } }), /promotion\.alias \('bad alias'\) must be an MLflow alias/],
    [() => ({ strategy: ReleaseStrategy.blueGreen({ scaleDownDelaySeconds: 60 }) }), /strategy\.scaleDownDelaySeconds \(60\) is shorter than the post-promotion analysis \(180s\): Argo Rollouts would cancel it/],
    [() => ({ prometheus: PrometheusInstance.existing({ url: 'http://p:9090', namespace: 'obs', serviceMonitorSelector: { matchLabels: { team: 'obs' } }, podMonitorSelector: {}, ruleSelector: {}, alertmanagerConfigSelector: {} }) }), /prometheus .* does not select the ServiceMonitor of 'aws\/fraud'/],
  ])('rejects %#', (props, message) => {
    expect(bad(props as any)).toThrow(message);
  });

  it('refuses to move champion from a namespace the registry does not admit to its promotion endpoint', () => {
    expect(() => setup(() => ({}), {}, '8', [])).toThrow(
      /CanaryRollout 'aws\/fraud-release': promotion \('champion'\) is moved only through the promotion endpoint of registry 'aws\/registry', which namespace 'serving' may not reach: add it to the registry's governance\.promoterNamespaces, or set promotion: false/);
    const { find } = setup(() => ({ promotion: false }), {}, '8', []);
    expect(find('Rollout').spec.strategy.canary.steps.at(-1)).toEqual({ setWeight: 100 });
  });

  it('rejects a batch-only endpoint', () => {
    expect(bad(() => ({}), { mode: ServingMode.batch({ inputUri: 's3://in-b/', outputUri: 's3://out-b/', command: ['x'] }) }))
      .toThrow(/endpoint \('aws\/fraud'\) is a batch endpoint; releases are for real-time endpoints/);
  });

  it('rejects a latency analysis a server cannot measure', () => {
    expect(bad(() => ({ analysis: { latencyMs: 100 } }), { server: ModelServer.torchServe() }))
      .toThrow(/analysis\.latencyMs \(100\) cannot be measured at p95: the server exports no latency histogram or summary/);
  });
});

describe('The reference platform\'s releases', () => {
  it('pass the Argo Rollouts rules, route the ALB canary through use-annotation and move champion from the serving namespace', () => {
    const app = PlatformTesting.app({ platform: REFERENCE_CONTEXT });
    const platform = buildReferencePlatform(app);
    const out = PlatformTesting.synth(app);
    expect(rolloutsCheck.check(new PlatformModel({ terraform: out.terraform, manifests: out.manifests }))).toEqual([]);
    const fraud = out.manifests['platform/fraud.k8s.yaml'];
    expect(fraud.find((d) => d.kind === 'Ingress').spec.rules[0].http.paths[0].backend.service.port).toEqual({ name: 'use-annotation' });
    expect(fraud.find((d) => d.kind === 'Deployment').spec.template.metadata.annotations).toMatchObject({
      'mlops.io/model-uri': 'models:/fraud-detector/8', 'mlops.io/lineage.code-commit': '4f9c2e1a7b3d5c6e8f0a1b2c3d4e5f6a7b8c9d0e',
    });
    expect([platform.fraudRelease.promotedAlias, platform.recsysRelease.promotedAlias]).toEqual(['champion', 'champion']);
    // The churn job runs the team's scoring program in its own image, not in the MLServer image.
    const churn = out.manifests['platform/churn-batch.k8s.yaml'].find((d) => d.kind === 'CronJob').spec.jobTemplate.spec.template.spec.containers[0];
    expect(churn.image).toMatch(/acme-ml-prod\/serving:churn-batch-2024\.06\.1@sha256:/);
  });
});

describe('A new model version in code', () => {
  // GIVEN the same platform with version 8, then 9
  const before = setup(() => ({ routing: TrafficRouting.alb() }), { mode: ServingMode.realtime({ ingress: { host: 'fraud.acme.example' } }) }, '8').out;
  const after = setup(() => ({ routing: TrafficRouting.alb() }), { mode: ServingMode.realtime({ ingress: { host: 'fraud.acme.example' } }) }, '9').out;
  const diff = (a: any, b: any, at = ''): string[] => {
    if (JSON.stringify(a) === JSON.stringify(b)) return [];
    if (a && b && typeof a === 'object' && typeof b === 'object') {
      return [...new Set([...Object.keys(a), ...Object.keys(b)])].flatMap((k) => diff(a[k], b[k], `${at}/${k}`));
    }
    return [at];
  };

  it('changes the Deployment\'s pod template, which starts a rollout, and the version the promotion sets; nothing else', () => {
    // THEN no Terraform resource changes (no tag names the version) ...
    expect(diff(before.terraform, after.terraform).filter((p) => !p.includes('/metadata/path'))).toEqual([]);
    // ... and in the cluster only the pod template and the promotion Job's MODEL_VERSION differ.
    const changed = Object.keys(before.manifests).flatMap((file) => before.manifests[file].flatMap((doc, i) =>
      diff(doc, after.manifests[file][i]).map((p) => `${doc.kind} ${doc.metadata.name}${p}`)));
    expect(changed.sort()).toEqual([
      'AnalysisTemplate fraud-release-promote/spec/metrics/0/provider/job/spec/template/spec/containers/0/env/4/value',
      'Deployment fraud/spec/template/metadata/annotations/mlops.io/model-uri',
      'Deployment fraud/spec/template/metadata/labels/mlops.io/model-version',
      'Deployment fraud/spec/template/spec/containers/0/env/8/value',
      'Deployment fraud/spec/template/spec/initContainers/0/command/3',
    ]);
  });
});

describe('The rollouts platform check (Argo Rollouts validation)', () => {
  const { out } = setup(() => ({ routing: TrafficRouting.alb() }), { mode: ServingMode.realtime({ ingress: { host: 'fraud.acme.example' } }) });
  /** The check over the release, after `edit` broke a copy of it. */
  const problems = (edit: (docs: Record<string, any>) => void) => {
    const manifests = JSON.parse(JSON.stringify(out.manifests));
    const all = Object.values(manifests).flat() as any[];
    const named = (kind: string, name: string) => all.find((d) => d.kind === kind && d.metadata.name === name);
    edit({ rollout: named('Rollout', 'fraud-release'), step: named('AnalysisTemplate', 'fraud-release-analysis'), ingress: named('Ingress', 'fraud'), canary: named('Service', 'fraud-canary'), manifests });
    return rolloutsCheck.check(new PlatformModel({ terraform: {}, manifests })).map((f) => `${f.object}: ${f.problem}`);
  };

  it('passes what the library writes', () => {
    expect(problems(() => undefined)).toEqual([]);
  });

  it.each([
    // validation_references.go ValidateAnalysisTemplateWithType: "runs indefinitely. Invalid value for count"
    ['a step analysis whose metric never ends', (d: any) => { delete d.step.spec.metrics[0].count; },
      /Rollout serving\/fraud-release \(aws\/fraud-release\.k8s\.yaml\): spec\.strategy\.canary\.steps\[2\]\.analysis waits for AnalysisTemplate 'fraud-release-analysis', whose metric 'success-rate' runs indefinitely/],
    // docs/features/traffic-management/alb.md: "servicePort must be the value: use-annotation"
    ['an ALB Ingress whose backend is not use-annotation', (d: any) => { d.ingress.spec.rules[0].http.paths[0].backend.service.port = { name: 'http' }; },
      /Ingress 'fraud' sends to Service 'fraud' on port \{"name":"http"\}, not on port name 'use-annotation'/],
    // validation_references.go ValidateIngress/reportErrors: "has no rules using service ... backend"
    ['an ALB Ingress without a rule for the root service', (d: any) => { for (const p of d.ingress.spec.rules[0].http.paths) p.backend.service.name = 'other'; },
      /Ingress 'fraud' has no rule for Service 'fraud' \(the ALB root service\)/],
    // validation_references.go ValidateService: "has unmatch label"
    ['a Service selecting labels the pods do not carry', (d: any) => { d.canary.spec.selector = { app: 'x' }; }, /canaryService 'fraud-canary' selects \{"app":"x"\}/],
    ['a Service that does not exist', (d: any) => { d.rollout.spec.strategy.canary.canaryService = 'nope'; }, /its canaryService 'nope' is a Service the platform does not create/],
    // validation.go DuplicatedServicesCanaryMessage
    ['the same Service twice', (d: any) => { d.rollout.spec.strategy.canary.canaryService = 'fraud-stable'; }, /canaryService and stableService are both 'fraud-stable'/],
    // validation.go InvalidTrafficRoutingMessage
    ['routing without a canary Service', (d: any) => { delete d.rollout.spec.strategy.canary.canaryService; }, /without both canaryService and stableService/],
    // validation.go InvalidSetMirrorRouteTrafficPolicy and managedRoutes
    ['a mirror step on ALB', (d: any) => { d.rollout.spec.strategy.canary.steps.unshift({ setMirrorRoute: { name: 'm' } }); }, /setMirrorRoute needs Istio or a plugin router[\s\S]*route 'm', which is not in .*managedRoutes/],
    ['a template that does not exist', (d: any) => { d.rollout.spec.strategy.canary.analysis.templates[0].templateName = 'gone'; }, /names AnalysisTemplate 'gone', which the platform does not create in namespace 'serving'/],
    ['an argument the Rollout does not supply', (d: any) => { d.step.spec.args.push({ name: 'region' }); }, /AnalysisTemplate 'fraud-release-analysis' takes argument 'region', which the Rollout does not supply/],
    ['a workloadRef to nothing', (d: any) => { d.rollout.spec.workloadRef.name = 'gone'; }, /its workloadRef names Deployment 'gone'/],
  ])('refuses %s', (_name, edit, message) => {
    expect(problems(edit).join('\n')).toMatch(message);
  });

  it('leaves the background analysis open-ended', () => {
    // The same template, referenced only as background analysis, may run until the release ends.
    expect(problems((d) => {
      for (const m of d.step.spec.metrics) delete m.count;
      d.rollout.spec.strategy.canary.steps = d.rollout.spec.strategy.canary.steps.filter((st: any) => !st.analysis);
      d.rollout.spec.strategy.canary.analysis.templates = [{ templateName: 'fraud-release-analysis' }];
    })).toEqual([]);
  });
});

describeWithTool(promtoolTool, 'CanaryRollout analysis queries checked by promtool', () => {
  const { release } = setup();
  const S = 'namespace="serving",service="fraud"';
  const HASH = '7d9f8c6b5';
  // An analysis query passes when `query <comparison> threshold` holds: promtool evaluates exactly that.
  const verdict = (q: { query: string; comparison: string; threshold: number }) => `(${q.query.split('{{args.canary-hash}}').join(HASH)}) ${q.comparison} bool ${q.threshold}`;
  const requests = (code: string, perMinute: number) => ({ series: `rest_server_requests_total{${S},rollouts_pod_template_hash="${HASH}",status_code="${code}"}`, values: `0+${perMinute}x10` });
  const latency = (scale: number) => ['0.025', '0.05', '0.1', '+Inf'].map((le, i) => ({
    // Healthy: p95 lands at 0.0875 s (under 100 ms); scale 2 doubles every bound, so p95 is 0.175 s.
    series: `rest_server_request_duration_seconds_bucket{${S},rollouts_pod_template_hash="${HASH}",le="${scale === 1 ? le : le === '+Inf' ? le : String(Number(le) * scale)}"}`,
    values: `0+${[600, 900, 1000, 1000][i]}x10`,
  }));
  const run = (series: object[], expectations: Array<[string, number]>) => testRules({ groups: [] }, {
    evaluation_interval: '30s',
    tests: [{
      interval: '30s', input_series: series,
      promql_expr_test: expectations.map(([metric, value]) => ({
        expr: verdict(release.queries.find((q) => q.metric === metric)!), eval_time: '4m', exp_samples: [{ labels: '{}', value }],
      })),
    }],
  });

  it('passes a healthy canary', () => {
    const result = run([requests('200', 1000), requests('500', 2), ...latency(1)], [['success-rate', 1], ['latency-p95', 1]]);
    expect(result.output).toMatch(/SUCCESS/);
  });

  it('fails a canary with 5% errors', () => {
    const result = run([requests('200', 950), requests('500', 50), ...latency(1)], [['success-rate', 0], ['latency-p95', 1]]);
    expect(result.output).toMatch(/SUCCESS/);
  });

  it('fails a canary whose p95 latency doubled', () => {
    const result = run([requests('200', 1000), ...latency(2)], [['latency-p95', 0]]);
    expect(result.output).toMatch(/SUCCESS/);
  });
});

describeWithTool(promtoolTool, 'Every preset\'s analysis on a healthy server with no failures yet (promtool)', () => {
  // Servers create a failure (or status-code) series on the first such response: before that, a sum
  // over it is empty, and without `or vector(0)` per term the analysis would read "no data" and pause.
  const S = 'namespace="serving",service="fraud"';
  const HASH = '5c4b3a291';
  const STABLE = '8d7e6f5a4';
  // Every series twice: the canary's and the stable version's, both healthy.
  const series = (metric: string, labels: string, perMinute: number, hashes = [HASH, STABLE]) => hashes.map((h) => ({
    series: `${metric}{${S},rollouts_pod_template_hash="${h}"${labels ? `,${labels}` : ''}}`, values: `0+${perMinute}x10`,
  }));
  const histogram = (metric: string) => ['0.025', '0.05', '+Inf'].flatMap((le, i) => series(`${metric}_bucket`, `le="${le}"`, [900, 1000, 1000][i]));
  const summary = (metric: string) => [HASH, STABLE].map((h) => ({ series: `${metric}{${S},rollouts_pod_template_hash="${h}",quantile="0.95"}`, values: '20000x10' }));
  const presets: Array<[string, ModelServer, Partial<CanaryRolloutProps>, object[], object[]]> = [
    ['MLServer (mlflow)', ModelServer.mlflow(), {},
      [...series('rest_server_requests_total', 'status_code="200"', 1000), ...histogram('rest_server_request_duration_seconds')],
      series('rest_server_requests_total', 'status_code="500"', 100, [HASH])],
    ['Triton', ModelServer.triton(), {},
      [...series('nv_inference_request_success', 'model="fraud",version="8"', 1000), ...summary('nv_inference_request_summary_us')],
      series('nv_inference_request_failure', 'model="fraud",version="8",reason="BACKEND"', 100, [HASH])],
    ['TorchServe', ModelServer.torchServe(), {},
      series('Requests2XX', 'Level="Host"', 1000),
      series('Requests5XX', 'Level="Host"', 100, [HASH])],
    ['a KServe runtime', ModelServer.kserveRuntime({ image: 'kserve/sklearnserver:v0.14.1@sha256:0d5f3c8e9a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d' }), { analysis: { successRate: false } },
      [...histogram('request_predict_seconds')], []],
  ];

  const verdicts = (release: CanaryRollout, input: object[]) => {
    const tests = release.queries.map((q) => ({
      expr: `(${q.query.split('{{args.canary-hash}}').join(HASH).split('{{args.stable-hash}}').join(STABLE)}) ${q.comparison} bool ${q.threshold}`,
      eval_time: '4m',
    }));
    return (expected: number[]) => testRules({ groups: [] }, {
      evaluation_interval: '30s',
      tests: [{ interval: '30s', input_series: input, promql_expr_test: tests.map((t, i) => ({ ...t, exp_samples: [{ labels: '{}', value: expected[i] }] })) }],
    });
  };

  it.each(presets)('%s: every analysis query returns a passing value', (_name, server, props, healthy) => {
    const { release } = setup(() => props, { server });
    expect(release.queries.length).toBeGreaterThan(0);
    const result = verdicts(release, healthy)(release.queries.map(() => 1));
    expect(result.output).toMatch(/SUCCESS/);
  });

  it.each(presets.filter((p) => p[4].length))('%s: the success rate, alone and against stable, fails once 10%% of the canary\'s requests fail', (_name, server, props, healthy, failing) => {
    const { release } = setup(() => props, { server });
    const result = verdicts(release, [...healthy, ...failing])(release.queries.map((q) => (q.metric.startsWith('success-rate') ? 0 : 1)));
    expect(result.output).toMatch(/SUCCESS/);
  });

  it('compares canary with stable: 3% errors pass a 95% threshold but not a 1-point drop, unless stable fails as much', () => {
    const { release } = setup(() => ({ analysis: { successRate: 0.95, latencyMs: false } }));
    const ok = series('rest_server_requests_total', 'status_code="200"', 970);
    const canaryErrors = series('rest_server_requests_total', 'status_code="500"', 30, [HASH]);
    const stableHealthy = series('rest_server_requests_total', 'status_code="204"', 30, [STABLE]);
    const stableErrors = series('rest_server_requests_total', 'status_code="500"', 30, [STABLE]);
    expect(release.queries.map((q) => q.metric)).toEqual(['success-rate', 'success-rate-vs-stable']);
    expect(verdicts(release, [...ok, ...canaryErrors, ...stableHealthy])([1, 0]).output).toMatch(/SUCCESS/);
    expect(verdicts(release, [...ok, ...canaryErrors, ...stableErrors])([1, 1]).output).toMatch(/SUCCESS/);
  });
});

describe('Pinning a version from the registry (scripts/pin-model-version.mjs)', () => {
  it('reads an alias from MLflow\'s API and writes the version, its S3 source and lineage for model.version(...)', async () => {
    // GIVEN a stub MLflow answering GetModelVersionByAlias as MLflow does
    const requests: string[] = [];
    const server = http.createServer((req, res) => {
      requests.push(req.url ?? '');
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify({ model_version: {
        name: 'fraud-detector', version: '9', source: 's3://acme-dev-registry-123456789012/models/fraud-detector/3f2a/artifacts/model',
        tags: [{ key: 'mlops.lineage.code_commit', value: '4f9c2e1a7b3d5c6e8f0a1b2c3d4e5f6a7b8c9d0e' }, { key: 'mlops.lineage.data_version', value: 'v42' },
          { key: 'mlops.lineage.config_hash', value: `sha256:${'a'.repeat(64)}` }, { key: 'team', value: 'fraud' }],
      } }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    const outFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'mlops-pin-')), 'releases', 'fraud-detector.json');
    try {
      // WHEN the command runs
      await promisify(execFile)(process.execPath, [path.join(__dirname, '..', 'scripts', 'pin-model-version.mjs'),
        '--tracking-uri', `http://127.0.0.1:${port}`, '--model', 'fraud-detector', '--alias', 'staging', '--out', outFile]);
    } finally {
      server.close();
    }
    // THEN it asked for the alias and wrote what the endpoint pins
    expect(requests).toEqual(['/api/2.0/mlflow/registered-models/alias?name=fraud-detector&alias=staging']);
    const pin = JSON.parse(fs.readFileSync(outFile, 'utf8'));
    expect(pin).toEqual({
      model: 'fraud-detector', version: '9', source: 's3://acme-dev-registry-123456789012/models/fraud-detector/3f2a/artifacts/model/',
      lineage: { codeCommit: '4f9c2e1a7b3d5c6e8f0a1b2c3d4e5f6a7b8c9d0e', dataVersion: 'v42', configHash: `sha256:${'a'.repeat(64)}` },
    });
    const { stack } = testPlatform();
    const registry = new ModelRegistry(stack, 'registry', { cluster: TEST_CLUSTER });
    expect(registry.model(pin.model).version(pin.version, pin).annotations).toEqual({
      'mlops.io/model-uri': 'models:/fraud-detector/9', 'mlops.io/model-source': pin.source,
      'mlops.io/lineage.code-commit': pin.lineage.codeCommit, 'mlops.io/lineage.data-version': 'v42', 'mlops.io/lineage.config-hash': pin.lineage.configHash,
    });
  });
});
