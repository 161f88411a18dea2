import {
  Addon, Addons, addonsCheck, CanaryRollout, EksCluster, IdentityMechanism, loadBalancerControllerStatements, ModelRegistry, ModelServer, PlatformModel, PlatformNamespaces, PlatformTesting,
  ReleaseStrategy, runPlatformChecks, ServingEndpoint, ServingMode, TrafficRouting,
} from '../src';
import { buildReferencePlatform, REFERENCE_CONTEXT } from '../stacks/platform';
import { grantedActions, TEST_CLUSTER, testPlatform } from './harness/fixtures';

/** A helm_release as the KubernetesStack writes it. */
function release(name: string, chart: string, namespace: string, values: object = {}) {
  return { [name]: { name, chart, namespace, values: [JSON.stringify(values)] } };
}

function problems(manifests: any[], releases: object = {}, more: Record<string, any> = {}): string[] {
  const model = new PlatformModel({ terraform: { kubernetes: { resource: { helm_release: releases, ...more } } }, manifests: { 'aws/x.k8s.yaml': manifests } });
  return addonsCheck.check(model).map((f) => `${f.object}: ${f.problem}`);
}

const virtualService = { apiVersion: 'networking.istio.io/v1beta1', kind: 'VirtualService', metadata: { name: 'api', namespace: 'serving' }, spec: { hosts: ['api'] } };
const hpa = { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', metadata: { name: 'api', namespace: 'serving' }, spec: { maxReplicas: 3, metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } }] } };
const ingress = (className: string) => ({ apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name: 'api', namespace: 'serving' }, spec: { ingressClassName: className, rules: [] } });

describe('addons check (pure)', () => {
  it('refuses an object of an API group no installed add-on provides; Istio needs both its CRDs and istiod', () => {
    // The API server refuses a kind it does not serve ("no matches for kind VirtualService in version networking.istio.io/v1beta1").
    expect(problems([virtualService])).toEqual([expect.stringMatching(/VirtualService serving\/api .*API group 'networking.istio.io', which no installed add-on provides/)]);
    expect(problems([virtualService], release('istio-base', 'base', 'istio-system'))).toHaveLength(1);
    expect(problems([virtualService], { ...release('istio-base', 'base', 'istio-system'), ...release('istiod', 'istiod', 'istio-system') })).toEqual([]);
    // Several charts share argoproj.io: a Rollout needs argo-rollouts, not argo-workflows.
    const rollout = { apiVersion: 'argoproj.io/v1alpha1', kind: 'Rollout', metadata: { name: 'api', namespace: 'serving' } };
    expect(problems([rollout], release('argo-workflows', 'argo-workflows', 'argo'))).toEqual([expect.stringMatching(/Rollout of API group 'argoproj.io'/)]);
    // A CRD among the manifests serves its group.
    const crd = { apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: 'widgets.acme.example' }, spec: { group: 'acme.example' } };
    expect(problems([crd, { apiVersion: 'acme.example/v1', kind: 'Widget', metadata: { name: 'w' } }])).toEqual([]);
  });

  it('refuses an Ingress whose class has no controller', () => {
    // An Ingress no controller claims (by spec.ingressClassName) is never served.
    expect(problems([ingress('alb')])).toEqual([expect.stringMatching(/ingress class 'alb', whose controller \(aws-load-balancer-controller\) is not installed/)]);
    expect(problems([ingress('nginx')], release('ingress-nginx', 'ingress-nginx', 'ingress-nginx'))).toEqual([]);
  });

  it('refuses an HPA on CPU when nothing serves metrics.k8s.io; metrics-server as a chart or as the EKS add-on serves it', () => {
    // HPA controller (pkg/controller/podautoscaler): FailedGetResourceMetric without the resource metrics API.
    expect(problems([hpa])).toEqual([expect.stringMatching(/scales on cpu \(Resource metrics\), but nothing serves metrics.k8s.io/)]);
    expect(problems([hpa], release('metrics-server', 'metrics-server', 'kube-system'))).toEqual([]);
    expect(problems([hpa], {}, { aws_eks_addon: { m: { addon_name: 'metrics-server', cluster_name: 'c' } } })).toEqual([]);
    const scaledObject = { apiVersion: 'keda.sh/v1alpha1', kind: 'ScaledObject', metadata: { name: 'api', namespace: 'serving' }, spec: { triggers: [{ type: 'memory', metricType: 'Utilization', metadata: { value: '80' } }] } };
    expect(problems([scaledObject], release('keda', 'keda', 'keda'))).toEqual([expect.stringMatching(/ScaledObject serving\/api .*scales on memory \(KEDA makes an HPA on Resource metrics\)/)]);
  });

  it('refuses a global Alertmanager configuration that names an AlertmanagerConfig no manifest writes', () => {
    // prometheus-operator pkg/alertmanager/operator.go provisionAlertmanagerConfiguration: "failed to get global
    // AlertmanagerConfig", and no configuration is generated at all.
    const values = { alertmanager: { alertmanagerSpec: { alertmanagerConfiguration: { name: 'mlops-alert-routing' } } } };
    const kps = release('kube-prometheus-stack', 'kube-prometheus-stack', 'monitoring', values);
    const config = (namespace: string) => ({ apiVersion: 'monitoring.coreos.com/v1alpha1', kind: 'AlertmanagerConfig', metadata: { name: 'mlops-alert-routing', namespace }, spec: {} });
    expect(problems([], kps)).toEqual([expect.stringMatching(/^helm_release kubernetes\/kube-prometheus-stack: chart kube-prometheus-stack value 'alertmanager.alertmanagerSpec.alertmanagerConfiguration.name' names AlertmanagerConfig monitoring\/mlops-alert-routing, which no manifest writes: prometheus-operator/)]);
    // in another namespace it is not the Alertmanager's
    expect(problems([config('fraud')], kps)).toHaveLength(1);
    expect(problems([config('monitoring')], kps)).toEqual([]);
  });

  it('refuses an add-on without the values its chart requires, or without an AWS identity for its service account', () => {
    // aws-load-balancer-controller templates/deployment.yaml: required "Chart cannot be installed without a valid clusterName!"
    expect(problems([], release('aws-load-balancer-controller', 'aws-load-balancer-controller', 'kube-system'))).toEqual([
      expect.stringMatching(/helm_release kubernetes\/aws-load-balancer-controller: chart aws-load-balancer-controller needs value 'clusterName'/),
      expect.stringMatching(/calls AWS APIs .* as service account kube-system\/aws-load-balancer-controller, which has no IAM role/),
    ]);
    const association = { aws_eks_pod_identity_association: { a: { cluster_name: 'c', namespace: 'kube-system', service_account: 'aws-load-balancer-controller', role_arn: 'r' } } };
    expect(problems([], release('aws-load-balancer-controller', 'aws-load-balancer-controller', 'kube-system', { clusterName: 'c' }), association)).toEqual([]);
    // An IRSA annotation is an identity too.
    const irsa = { clusterName: 'c', serviceAccount: { name: 'lbc', annotations: { 'eks.amazonaws.com/role-arn': 'arn:aws:iam::1:role/lbc' } } };
    expect(problems([], release('aws-load-balancer-controller', 'aws-load-balancer-controller', 'kube-system', irsa))).toEqual([]);
    // karpenter requires settings.clusterName; cluster-autoscaler autoDiscovery.clusterName or autoscalingGroups.
    expect(problems([], release('karpenter', 'karpenter', 'kube-system'), association)).toEqual([
      expect.stringMatching(/chart karpenter needs value 'settings.clusterName'/), expect.stringMatching(/kube-system\/karpenter, which has no IAM role/),
    ]);
    const ca = { aws_eks_pod_identity_association: { a: { namespace: 'kube-system', service_account: 'ca' } } };
    expect(problems([], release('cluster-autoscaler', 'cluster-autoscaler', 'kube-system', { autoscalingGroups: [{ name: 'g' }], rbac: { serviceAccount: { name: 'ca' } } }), ca)).toEqual([]);
  });
});

describe('add-ons the constructs declare', () => {
  function endpoint(mode: ServingMode) {
    const { app, stack } = testPlatform();
    const registry = new ModelRegistry(stack, 'registry', { cluster: TEST_CLUSTER });
    const e = new ServingEndpoint(stack, 'fraud', { cluster: TEST_CLUSTER, namespace: 'serving', model: registry.model('fraud').version('1'), server: ModelServer.mlflow(), mode, allowedNamespaces: ['payments'] });
    return { app, stack, registry, endpoint: e };
  }
  const releases = (out: any) => Object.values<any>(out.terraform.kubernetes.resource.helm_release);

  it('gives the AWS Load Balancer Controller the values its chart requires and, once per cluster, a Pod Identity role without wildcard actions', () => {
    // GIVEN two endpoints with ALB ingresses in one cluster
    const { app, stack, registry } = endpoint(ServingMode.realtime({ ingress: { host: 'fraud.acme.example' } }));
    new ServingEndpoint(stack, 'churn', { cluster: TEST_CLUSTER, namespace: 'serving', model: registry.model('churn').version('1'), server: ModelServer.mlflow(), mode: ServingMode.realtime({ ingress: { host: 'churn.acme.example' } }) });
    // WHEN synthesized
    const out = PlatformTesting.synth(app);
    // THEN the release has clusterName, region, vpcId and the service account the association names
    const lbc = releases(out).find((r) => r.chart === 'aws-load-balancer-controller');
    expect(JSON.parse(lbc.values[0])).toEqual({ clusterName: 'acme-dev', region: 'eu-west-1', vpcId: TEST_CLUSTER.vpcId, serviceAccount: { create: true, name: 'aws-load-balancer-controller' } });
    const associations = Object.values<any>(out.terraform.aws.resource.aws_eks_pod_identity_association).filter((a) => a.service_account === 'aws-load-balancer-controller');
    expect(associations).toEqual([expect.objectContaining({ cluster_name: 'acme-dev', namespace: 'kube-system' })]);
    // AND its policy is the documented one, action by action (MLOPS-AWS1 refuses wildcards)
    expect(grantedActions(out.terraform.aws).filter((a) => a.includes('*'))).toEqual([]);
    expect(grantedActions(out.terraform.aws)).toEqual(expect.arrayContaining(['elasticloadbalancing:CreateLoadBalancer', 'ec2:AuthorizeSecurityGroupIngress', 'elasticloadbalancing:RegisterTargets']));
    const scoped = loadBalancerControllerStatements('eu-west-1', '123456789012').find((s) => s.sid === 'ManageOwnBalancers')!;
    expect(scoped.conditions).toEqual({ Null: { 'aws:ResourceTag/elbv2.k8s.aws/cluster': 'false' } });
  });

  it('installs the AWS Load Balancer Controller, with its identity, for the registry\'s ALB Ingress too', () => {
    // The addons check found this one: the registry wrote an alb Ingress that no controller would serve.
    const { app, stack } = testPlatform();
    new ModelRegistry(stack, 'registry', { cluster: TEST_CLUSTER, server: { ingress: { host: 'mlflow.acme.example' } } });
    const out = PlatformTesting.synth(app);
    expect(releases(out).map((r) => r.chart)).toContain('aws-load-balancer-controller');
    expect(Object.values<any>(out.terraform.aws.resource.aws_eks_pod_identity_association).map((a) => `${a.namespace}/${a.service_account}`)).toContain('kube-system/aws-load-balancer-controller');
  });

  it('annotates the controller\'s service account with its role on an IRSA cluster', () => {
    const { app, stack } = testPlatform();
    const cluster = EksCluster.fromAttributes({ ...TEST_CLUSTER, identityMechanism: IdentityMechanism.irsa({ oidcProviderArn: 'arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/ABC', issuer: 'oidc.eks.eu-west-1.amazonaws.com/id/ABC' }) });
    new ModelRegistry(stack, 'registry', { cluster, server: { ingress: { host: 'mlflow.acme.example' } } });
    const lbc = releases(PlatformTesting.synth(app)).find((r) => r.chart === 'aws-load-balancer-controller');
    expect(JSON.parse(lbc.values[0]).serviceAccount.annotations).toEqual({ 'eks.amazonaws.com/role-arn': 'arn:aws:iam::123456789012:role/acme-dev-aws-load-balancer-controller' });
  });

  it('installs ingress-nginx for an nginx Ingress, and metrics-server for an HPA on CPU', () => {
    const { app } = endpoint(ServingMode.realtime({ ingress: { host: 'fraud.acme.example', className: 'nginx' } }));
    const charts = releases(PlatformTesting.synth(app)).map((r) => r.chart);
    expect(charts).toEqual(expect.arrayContaining(['ingress-nginx', 'metrics-server']));
    expect(charts).not.toContain('aws-load-balancer-controller');
  });

  it('red without the fix: an HPA on CPU without metrics-server, an ALB Ingress without its controller', () => {
    // GIVEN what the endpoint synthesizes, without the add-ons it now requires
    const { app } = endpoint(ServingMode.realtime({ ingress: { host: 'fraud.acme.example' } }));
    app.synthAndCheck();
    const synthesized = app.synthesized();
    const k = synthesized.terraform.kubernetes.resource;
    delete k.helm_release['addon-metrics-server'];
    delete k.helm_release['addon-aws-load-balancer-controller'];
    // THEN the check refuses both
    expect(runPlatformChecks(synthesized, [addonsCheck]).map((f) => f.problem)).toEqual([
      expect.stringMatching(/ingress class 'alb', whose controller \(aws-load-balancer-controller\) is not installed/),
      expect.stringMatching(/scales on cpu \(Resource metrics\), but nothing serves metrics.k8s.io/),
    ]);
  });

  it('installs Istio (CRDs, CNI agent, istiod, in that order) for a shadow release, and labels the endpoint\'s and callers\' namespaces for injection', () => {
    const { app, endpoint: e } = endpoint(ServingMode.realtime());
    new CanaryRollout(e, 'shadow', { endpoint: e, strategy: ReleaseStrategy.shadow(), routing: TrafficRouting.istio(), promotion: false });
    const out = PlatformTesting.synth(app);
    const istio = releases(out).filter((r) => ['base', 'cni', 'istiod'].includes(r.chart));
    expect(istio.map((r) => [r.chart, r.version, r.depends_on ?? []])).toEqual([
      ['base', '1.27.1', []],
      ['cni', '1.27.1', ['helm_release.addon-istio-base']],
      ['istiod', '1.27.1', ['helm_release.addon-istio-base', 'helm_release.addon-istio-cni']],
    ]);
    expect(JSON.parse(istio[2].values[0]).cni).toEqual({ enabled: true });
    const declared = PlatformNamespaces.of(app).filter((n) => n.labels['istio-injection'] === 'enabled').map((n) => [n.name, n.podSecurity]);
    expect(declared).toEqual([['payments', 'restricted'], ['serving', 'restricted']]);
    // The sidecars reach istiod for their configuration.
    const policy = out.manifests['aws/fraud-shadow.k8s.yaml'].find((d) => d.kind === 'NetworkPolicy' && d.metadata.name === 'fraud-mesh');
    expect(policy.spec.egress).toEqual([{ to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'istio-system' } } }], ports: [{ protocol: 'TCP', port: 15012 }] }]);
  });

  it('refuses an add-on that depends on one nobody requires', () => {
    const { app, stack } = testPlatform();
    Addons.require(stack, Addon.istiod());
    expect(() => app.synth()).toThrow(/'kubernetes': add-on 'istiod' needs add-on 'istio-base' installed first, but no construct requires it; require both./);
  });

  it('passes on the reference platform; without the Istio add-ons its VirtualService is refused', () => {
    const app = PlatformTesting.app({ platform: REFERENCE_CONTEXT });
    buildReferencePlatform(app);
    expect(PlatformTesting.findings(app).filter((f) => f.check === 'addons')).toEqual([]);
    const synthesized = app.synthesized();
    for (const name of ['addon-istio-base', 'addon-istio-cni', 'addon-istiod']) delete synthesized.terraform.kubernetes.resource.helm_release[name];
    expect(runPlatformChecks(synthesized, [addonsCheck]).map((f) => `${f.path} ${f.object}`)).toEqual(['platform/recsys-shadow VirtualService recsys-serving/recsys (platform/recsys-shadow.k8s.yaml)']);
  });
});
