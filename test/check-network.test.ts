import { KUBE_PROMETHEUS_STACK_PODS, ModelRegistry, ModelServer, PlatformModel, PlatformTesting, ServingEndpoint, ServingMode } from '../src';
import { networkCheck, PolicyEvaluator } from '../src/check/checks/network';
import { buildReferencePlatform, REFERENCE_CONTEXT } from '../stacks/platform';
import { TEST_CLUSTER, testPlatform } from './harness/fixtures';

const KPS = { helm_release: { kps: { name: 'kube-prometheus-stack', chart: 'kube-prometheus-stack', namespace: 'monitoring', create_namespace: true } } };
const deployment = (name: string, ns: string, labels: Record<string, string>, ports: any[] = [], env: any[] = []) => ({
  apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace: ns },
  spec: { template: { metadata: { labels }, spec: { containers: [{ name: 'c', image: 'x:1', ports, env }] } } },
});
const service = (name: string, ns: string, selector: Record<string, string>, port: number, targetPort: any = port) => ({
  apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: ns, labels: selector }, spec: { selector, ports: [{ name: 'http', port, targetPort }] },
});
const policy = (ns: string, spec: any) => ({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'p', namespace: ns }, spec });
const model = (manifests: any[], resource: any = KPS) => new PlatformModel({ terraform: { aws: { resource } }, manifests: { 'a.k8s.yaml': manifests } });

describe('the network check', () => {
  it('refuses NetworkPolicies on a vpc-cni add-on that does not enforce them', () => {
    // EKS user guide, "Configure your cluster for Kubernetes network policies": enableNetworkPolicy "true" in the add-on's configuration values.
    const cni = (values?: string) => ({ aws_eks_addon: { cni: { addon_name: 'vpc-cni', configuration_values: values } } });
    const pol = [policy('a', { podSelector: {}, policyTypes: ['Ingress'] })];
    expect(networkCheck.check(model(pol, cni()))[0].problem).toMatch(/does not set enableNetworkPolicy: "true".*none is enforced/);
    expect(networkCheck.check(model(pol, cni('{"enableNetworkPolicy":"true"}')))).toEqual([]);
  });

  it('reads NetworkPolicy semantics: isolation by policyTypes, peers by namespace and pod selectors, named ports', () => {
    // kubernetes.io/docs/concepts/services-networking/network-policies: a pod is isolated for a direction when a policy selecting it lists it.
    const m = model([
      policy('b', { podSelector: { matchLabels: { app: 'b' } }, policyTypes: ['Ingress'], ingress: [{ from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'a' } }, podSelector: { matchLabels: { app: 'a' } } }], ports: [{ port: 'http' }] }] }),
    ]);
    const net = new PolicyEvaluator(m, '10.0.0.0/16');
    const b = { pod: { namespace: 'b', labels: { app: 'b' }, ports: [{ name: 'http', containerPort: 8080 }] } };
    expect(net.allowed({ pod: { namespace: 'a', labels: { app: 'a' } } }, b, 8080)).toBe(true);
    expect(net.allowed({ pod: { namespace: 'a', labels: { app: 'x' } } }, b, 8080)).toBe(false);
    expect(net.allowed({ pod: { namespace: 'a', labels: { app: 'a' } } }, b, 9090)).toBe(false);
    expect(net.allowed({ pod: { namespace: 'a', labels: { app: 'a' } } }, { pod: { namespace: 'b', labels: { app: 'other' } } }, 1)).toBe(true);
    expect(net.allowed({ address: 'vpc' }, b, 8080)).toBe(false);
  });

  it('refuses a scrape target whose policy does not admit Prometheus (ServiceMonitor → pods)', () => {
    const base = [
      deployment('dcgm', 'nvidia-system', { app: 'dcgm' }, [{ name: 'metrics', containerPort: 9400 }]),
      service('dcgm', 'nvidia-system', { app: 'dcgm' }, 9400),
      { apiVersion: 'monitoring.coreos.com/v1', kind: 'ServiceMonitor', metadata: { name: 'dcgm', namespace: 'nvidia-system' }, spec: { selector: { matchLabels: { app: 'dcgm' } }, endpoints: [{ port: 'http' }] } },
    ];
    const deny = policy('nvidia-system', { podSelector: {}, policyTypes: ['Ingress'] });
    expect(networkCheck.check(model([...base, deny]))[0].problem).toMatch(/Prometheus \(monitoring\) cannot reach Deployment nvidia-system\/dcgm on port 9400 \(ServiceMonitor nvidia-system\/dcgm\)/);
    const admit = policy('nvidia-system', { podSelector: {}, policyTypes: ['Ingress'], ingress: [{ from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }], ports: [{ port: 9400 }] }] });
    expect(networkCheck.check(model([...base, admit]))).toEqual([]);
  });

  it('refuses an egress-isolated pod that may not reach DNS, and a caller that may not reach MLflow', () => {
    const mlflow = [deployment('mlflow', 'mlflow', { app: 'mlflow' }, [{ containerPort: 5000 }]), service('mlflow', 'mlflow', { app: 'mlflow' }, 5000)];
    const caller = deployment('job', 'team', { app: 'job' }, [], [{ name: 'MLFLOW_TRACKING_URI', value: 'http://mlflow.mlflow.svc.cluster.local:5000' }]);
    const egressOnlyMlflow = policy('team', { podSelector: {}, policyTypes: ['Egress'], egress: [{ to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'mlflow' } } }], ports: [{ port: 5000 }] }] });
    const problems = networkCheck.check(model([...mlflow, caller, egressOnlyMlflow])).map((f) => f.problem);
    expect(problems).toEqual([expect.stringMatching(/isolated for egress and may not reach DNS \(kube-system, UDP and TCP 53\)/)]);
    const closedMlflow = policy('mlflow', { podSelector: {}, policyTypes: ['Ingress'], ingress: [{ from: [{ podSelector: {} }] }] });
    expect(networkCheck.check(model([...mlflow, caller, closedMlflow]))[0].problem).toMatch(/Deployment team\/job cannot reach Deployment mlflow\/mlflow on port 5000 \(MLflow tracking URI/);
  });

  it('refuses an ALB Ingress whose backend pods admit no VPC address', () => {
    const ing = { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name: 'web', namespace: 's', annotations: { 'alb.ingress.kubernetes.io/target-type': 'ip' } }, spec: { ingressClassName: 'alb', rules: [{ http: { paths: [{ backend: { service: { name: 'web', port: { name: 'http' } } } }] } }] } };
    const base = [deployment('web', 's', { app: 'web' }, [{ containerPort: 8080 }]), service('web', 's', { app: 'web' }, 80, 8080), ing];
    const vpc = { ...KPS, aws_vpc: { v: { cidr_block: '10.40.0.0/16' } } };
    const sameNs = policy('s', { podSelector: {}, policyTypes: ['Ingress'], ingress: [{ from: [{ podSelector: {} }] }] });
    expect(networkCheck.check(model([...base, sameNs], vpc))[0].problem).toMatch(/The ALB \(VPC addresses, target type ip\) cannot reach Deployment s\/web on port 8080/);
    const fromVpc = policy('s', { podSelector: {}, policyTypes: ['Ingress'], ingress: [{ from: [{ ipBlock: { cidr: '10.40.0.0/16' } }], ports: [{ port: 8080 }] }] });
    expect(networkCheck.check(model([...base, fromVpc], vpc))).toEqual([]);
  });

  it('admits the ALB to an endpoint whose Ingress defaults to the ALB class', () => {
    // GIVEN an endpoint with an Ingress and no className (the Ingress defaults to alb, target type ip)
    const { app, stack } = testPlatform();
    const registry = new ModelRegistry(stack, 'registry', { cluster: TEST_CLUSTER });
    new ServingEndpoint(stack, 'fraud', {
      cluster: TEST_CLUSTER, namespace: 'serving', model: registry.model('fraud').version('1'), server: ModelServer.mlflow(),
      mode: ServingMode.realtime({ ingress: { host: 'fraud.example.com' } }),
    });
    // THEN the endpoint's own NetworkPolicy admits the VPC, and the check finds nothing
    const policyDoc = PlatformTesting.synth(app).manifests['aws/fraud.k8s.yaml'].find((d: any) => d.kind === 'NetworkPolicy');
    expect(policyDoc.spec.ingress).toEqual(expect.arrayContaining([expect.objectContaining({ from: [{ ipBlock: { cidr: TEST_CLUSTER.vpcCidr } }] })]));
    expect(PlatformTesting.findings(app).filter((f) => f.check === 'network')).toEqual([]);
  });

  it('finds the reference platform enforcing its policies and admitting its own flows', () => {
    const app = PlatformTesting.app({ platform: REFERENCE_CONTEXT });
    buildReferencePlatform(app);
    const out = PlatformTesting.synth(app);
    const cni = Object.values<any>(out.terraform.platform.resource.aws_eks_addon).find((a) => a.addon_name === 'vpc-cni');
    expect(JSON.parse(cni.configuration_values)).toEqual({ enableNetworkPolicy: 'true' });
    // The GPU node agents are isolated, and Prometheus still scrapes DCGM.
    const gpuPolicy = Object.values(out.manifests).flat().find((d: any) => d.kind === 'NetworkPolicy' && d.metadata.namespace === 'nvidia-system');
    expect(gpuPolicy).toBeDefined();
    expect(PlatformTesting.findings(app)).toEqual([]);
  });

  it('lets only Prometheus, Grafana and its peers reach Alertmanager\'s API, and refuses a policy that would keep Prometheus\'s alerts out', () => {
    // Alertmanager's v2 API (POST /api/v2/silences) takes silences without authentication from whoever reaches port 9093.
    const app = PlatformTesting.app({ platform: REFERENCE_CONTEXT });
    buildReferencePlatform(app);
    const out = PlatformTesting.synth(app);
    const m = new PlatformModel({ terraform: out.terraform, manifests: out.manifests });
    const net = new PolicyEvaluator(m, '10.40.0.0/16');
    const alertmanager = { pod: { namespace: 'monitoring', labels: KUBE_PROMETHEUS_STACK_PODS.alertmanager } };
    expect(net.allowed({ pod: { namespace: 'monitoring', labels: KUBE_PROMETHEUS_STACK_PODS.prometheus } }, alertmanager, 9093)).toBe(true);
    expect(net.allowed({ pod: { namespace: 'monitoring', labels: { 'app.kubernetes.io/name': 'grafana' } } }, alertmanager, 9093)).toBe(true);
    expect(net.allowed(alertmanager, alertmanager, 9094, 'UDP')).toBe(true);
    // a team's pod, another pod of the monitoring namespace, the VPC: no silences
    expect(net.allowed({ pod: { namespace: 'serving', labels: { 'app.kubernetes.io/name': 'fraud' } } }, alertmanager, 9093)).toBe(false);
    expect(net.allowed({ pod: { namespace: 'monitoring', labels: { app: 'other' } } }, alertmanager, 9093)).toBe(false);
    expect(net.allowed({ address: 'vpc' }, alertmanager, 9093)).toBe(false);
    // the same policy without its Prometheus rule: no alert would be delivered, and the check says so
    const broken = JSON.parse(JSON.stringify(out.manifests));
    const policyDoc = Object.values<any[]>(broken).flat().find((d) => d.kind === 'NetworkPolicy' && d.metadata.name === 'alertmanager-api');
    policyDoc.spec.ingress = policyDoc.spec.ingress.slice(1);
    expect(networkCheck.check(new PlatformModel({ terraform: out.terraform, manifests: broken })).map((f) => f.problem))
      .toContainEqual(expect.stringMatching(/^Prometheus \(monitoring\) cannot deliver alerts to Alertmanager on port 9093: a NetworkPolicy isolates Alertmanager's pods/));
  });

  it('finds what the reference platform broke before its fix (unenforced policies, the ALB shut out, DCGM unscraped), and every other flow it relies on', () => {
    // GIVEN the reference platform as it was: no enableNetworkPolicy, the fraud endpoint's policy without the VPC rule,
    // and an nvidia-system policy that admits nobody
    const app = PlatformTesting.app({ platform: REFERENCE_CONTEXT });
    buildReferencePlatform(app);
    const out = JSON.parse(JSON.stringify(PlatformTesting.synth(app)));
    for (const a of Object.values<any>(out.terraform.platform.resource.aws_eks_addon)) if (a.addon_name === 'vpc-cni') delete a.configuration_values;
    const docs = Object.values<any[]>(out.manifests).flat();
    const fraud = docs.find((d) => d.kind === 'NetworkPolicy' && d.metadata.namespace === 'serving' && d.metadata.name === 'fraud');
    fraud.spec.ingress = fraud.spec.ingress.filter((r: any) => !r.from?.some((p: any) => p.ipBlock));
    docs.find((d) => d.kind === 'NetworkPolicy' && d.metadata.namespace === 'nvidia-system').spec.ingress = [];
    // ... and, to show the other flows are evaluated too, a retraining trigger and an MLflow that admit nobody
    for (const d of docs.filter((x) => x.kind === 'NetworkPolicy' && (x.metadata.name.endsWith('-trigger') || x.metadata.namespace === 'mlflow'))) d.spec.ingress = [];
    // THEN the check names each
    const problems = networkCheck.check(new PlatformModel({ terraform: out.terraform, manifests: out.manifests })).map((f) => f.problem);
    expect(problems).toEqual(expect.arrayContaining([
      expect.stringMatching(/vpc-cni add-on does not set enableNetworkPolicy/),
      expect.stringMatching(/^The ALB \(VPC addresses, target type ip\) cannot reach \w+ serving\/fraud\S* on port 8000/),
      expect.stringMatching(/^Prometheus \(monitoring\) cannot reach DaemonSet nvidia-system\/dcgm-exporter on port 9400/),
      expect.stringMatching(/^Alertmanager \(monitoring\) cannot reach Deployment \S+\/fraud-retrain-trigger on port 12000/),
      expect.stringMatching(/^Job fraud\/fraud-train cannot reach Deployment mlflow\/mlflow on port \d+ \(MLflow tracking URI/),
    ]));
  });
});
