import {
  AlertReceiver, ClusterValue, ModelRegistry, ModelServer, MonitoringStack, PlatformCheckError, PlatformModel, PlatformTesting, referencesCheck,
  ServingEndpoint,
} from '../src';
import { buildReferencePlatform, REFERENCE_CONTEXT } from '../stacks/platform';
import { TEST_CLUSTER, testPlatform } from './harness/fixtures';

/** The references check over hand-written manifests (and Terraform JSON), as a pure function. */
function problems(manifests: any[], terraform: Record<string, any> = {}): string[] {
  return referencesCheck.check(new PlatformModel({ terraform, manifests: { 'aws/x.k8s.yaml': manifests } })).map((f) => `${f.object}: ${f.problem}`);
}

const labels = { app: 'api' };
function deployment(spec: Record<string, any> = {}, container: Record<string, any> = {}) {
  return {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'api', namespace: 'serving' },
    spec: { selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [{ name: 'api', image: 'api:1', ports: [{ name: 'http', containerPort: 8080 }], ...container }], ...spec } } },
  };
}
const service = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'api', namespace: 'serving', labels }, spec: { selector: labels, ports: [{ name: 'http', port: 80, targetPort: 'http' }] } };

describe('references check: what pods name', () => {
  it('refuses a service account nobody creates, and accepts default, a manifest one or a Terraform one', () => {
    // ServiceAccount admission (kubernetes plugin/pkg/admission/serviceaccount/admission.go) refuses pods whose account does not exist.
    expect(problems([deployment({ serviceAccountName: 'api' }), service])).toEqual([expect.stringMatching(/Deployment serving\/api .*run as ServiceAccount 'api', which nothing creates in namespace 'serving'/)]);
    expect(problems([deployment({ serviceAccountName: 'default' }), service])).toEqual([]);
    expect(problems([deployment({ serviceAccountName: 'api' }), service, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'api', namespace: 'serving' } }])).toEqual([]);
    const tf = { k: { resource: { kubernetes_service_account_v1: { sa: { metadata: { name: 'api', namespace: 'serving' } } } } } };
    expect(problems([deployment({ serviceAccountName: 'api' }), service], tf)).toEqual([]);
  });

  it('refuses Secrets and ConfigMaps nobody writes, and missing keys, unless optional', () => {
    // kubelet (pkg/kubelet/kubelet_pods.go, makeEnvironmentVariables): CreateContainerConfigError when a referenced Secret, ConfigMap or key is missing.
    const env = { env: [{ name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: 'db', key: 'password' } } }], envFrom: [{ configMapRef: { name: 'settings' } }] };
    expect(problems([deployment({}, env), service])).toEqual([
      expect.stringMatching(/container 'api' \(env DB_PASSWORD\) reads Secret 'db', which neither a manifest nor Terraform writes in namespace 'serving'/),
      expect.stringMatching(/container 'api' \(envFrom\) reads ConfigMap 'settings'/),
    ]);
    const optional = { env: [{ name: 'X', valueFrom: { secretKeyRef: { name: 'db', key: 'password', optional: true } } }] };
    expect(problems([deployment({}, optional), service])).toEqual([]);
    // GIVEN the Secret written by Terraform into a namespace resource (the namespace is a reference), with another key
    const tf = { k: { resource: {
      kubernetes_namespace_v1: { ns: { metadata: { name: 'serving' } } },
      kubernetes_secret_v1: { db: { metadata: { name: 'db', namespace: '${kubernetes_namespace_v1.ns.metadata[0].name}' }, data: { username: 'x' } } },
      kubernetes_config_map_v1: { s: { metadata: { name: 'settings', namespace: 'serving' }, data: {} } },
    } } };
    // THEN only the missing key is refused
    expect(problems([deployment({}, env), service], tf)).toEqual([expect.stringMatching(/reads key 'password' of Secret serving\/db, which has only 'username'/)]);
  });

  it('refuses volumes of Secrets, ConfigMaps and claims nobody writes, and unknown priority classes', () => {
    // Volume mounts fail (kubelet); the scheduler leaves pods with a missing claim Pending; Priority admission
    // (plugin/pkg/admission/priority/admission.go) refuses an unknown PriorityClass.
    const volumes = [
      { name: 'tls', secret: { secretName: 'tls' } },
      { name: 'all', projected: { sources: [{ configMap: { name: 'ca' } }] } },
      { name: 'data', persistentVolumeClaim: { claimName: 'data' } },
    ];
    expect(problems([deployment({ volumes, priorityClassName: 'gold' }), service])).toEqual([
      expect.stringMatching(/PriorityClass 'gold', which nothing creates/),
      expect.stringMatching(/volume 'tls' reads Secret 'tls'/),
      expect.stringMatching(/volume 'all' \(projected\) reads ConfigMap 'ca'/),
      expect.stringMatching(/volume 'data' mounts PersistentVolumeClaim 'data', which nothing creates/),
    ]);
    expect(problems([deployment({ priorityClassName: 'system-cluster-critical' }), service])).toEqual([]);
  });

  it('refuses a claim bound to a volume or a storage class nobody creates', () => {
    const claim = (spec: object) => ({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'data', namespace: 'serving' }, spec });
    expect(problems([claim({ volumeName: 'pv-1', storageClassName: '' })])).toEqual([expect.stringMatching(/spec.volumeName names PersistentVolume 'pv-1', which neither a manifest nor Terraform writes/)]);
    expect(problems([claim({ volumeName: 'pv-1', storageClassName: '' })], { k: { resource: { kubernetes_persistent_volume_v1: { v: { metadata: { name: 'pv-1' } } } } } })).toEqual([]);
    expect(problems([claim({ storageClassName: 'fast' })])).toEqual([expect.stringMatching(/StorageClass 'fast', which nothing creates/)]);
    expect(problems([claim({ storageClassName: 'gp2' })])).toEqual([]);
  });
});

describe('references check: Services, monitors, ingresses, scalers and budgets', () => {
  it('refuses a Service that selects no pod, or targets a port name no pod has', () => {
    // Endpoints controller: no matching pod, no endpoints; a named targetPort resolves only against container port names.
    expect(problems([deployment(), { ...service, spec: { selector: { app: 'other' }, ports: [{ port: 80 }] } }])).toEqual([expect.stringMatching(/selects no pod template in namespace 'serving'/)]);
    expect(problems([deployment(), { ...service, spec: { selector: labels, ports: [{ name: 'http', port: 80, targetPort: 'web' }] } }])).toEqual([expect.stringMatching(/targets container port 'web', which no selected pod names/)]);
  });

  it('refuses a ServiceMonitor that selects no Service or names a port it does not have', () => {
    // prometheus-operator (pkg/prometheus/promcfg.go) keeps only endpoints of the Service port name the monitor names.
    const monitor = (spec: object) => ({ apiVersion: 'monitoring.coreos.com/v1', kind: 'ServiceMonitor', metadata: { name: 'api', namespace: 'monitoring' }, spec });
    expect(problems([deployment(), service, monitor({ selector: { matchLabels: labels }, endpoints: [{ port: 'http' }] })])).toEqual([expect.stringMatching(/selects no Service .* in namespace\(s\) monitoring/)]);
    expect(problems([deployment(), service, monitor({ selector: { matchLabels: labels }, namespaceSelector: { matchNames: ['serving'] }, endpoints: [{ port: 'metrics' }] })]))
      .toEqual([expect.stringMatching(/spec.endpoints\[0\].port 'metrics' is not a port name of the Service\(s\) it selects \(api\)/)]);
    expect(problems([deployment(), service, monitor({ selector: { matchLabels: labels }, namespaceSelector: { any: true }, endpoints: [{ port: 'http' }] })])).toEqual([]);
  });

  it('refuses an Ingress whose backend Service or port does not exist', () => {
    const ingress = (port: object) => ({ apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name: 'api', namespace: 'serving' }, spec: { ingressClassName: 'alb', rules: [{ http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'api', port } } }] } }] } });
    expect(problems([deployment(), service, ingress({ name: 'grpc' })])).toEqual([expect.stringMatching(/sends to port 'grpc' of Service serving\/api, which has ports 'http'/)]);
    expect(problems([deployment(), service, ingress({ number: 8080 })])).toEqual([expect.stringMatching(/sends to port 8080 of Service serving\/api, which has ports 80/)]);
    expect(problems([deployment(), ingress({ number: 80 })])).toEqual([expect.stringMatching(/sends to Service serving\/api, which nothing creates/)]);
    expect(problems([deployment(), service, ingress({ name: 'http' })])).toEqual([]);
  });

  it('refuses an HPA or ScaledObject whose target does not exist, and a PDB that selects no pod', () => {
    // HPA controller: FailedGetScale; KEDA: ScaleTargetNotFound; disruption controller: "No matching pods found".
    const hpa = { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', metadata: { name: 'api', namespace: 'serving' }, spec: { scaleTargetRef: { apiVersion: 'argoproj.io/v1alpha1', kind: 'Rollout', name: 'api' }, maxReplicas: 3 } };
    const pdb = { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: { name: 'api', namespace: 'serving' }, spec: { minAvailable: 1, selector: { matchLabels: { app: 'gone' } } } };
    expect(problems([deployment(), service, hpa, pdb])).toEqual([
      expect.stringMatching(/HorizontalPodAutoscaler serving\/api .*names Rollout serving\/api, which nothing creates: the HPA controller reports FailedGetScale/),
      expect.stringMatching(/PodDisruptionBudget serving\/api .*selects no pod template/),
    ]);
  });
});

describe('references check: Argo Rollouts (pkg/apis/rollouts/validation/validation_references.go)', () => {
  const rollout = (canary: object) => ({
    apiVersion: 'argoproj.io/v1alpha1', kind: 'Rollout', metadata: { name: 'api', namespace: 'serving' },
    spec: { selector: { matchLabels: labels }, workloadRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'api' }, strategy: { canary } },
  });
  const canaryService = { ...service, metadata: { name: 'api-canary', namespace: 'serving' } };
  const template = { apiVersion: 'argoproj.io/v1alpha1', kind: 'AnalysisTemplate', metadata: { name: 'checks', namespace: 'serving' }, spec: { args: [{ name: 'canary-hash' }], metrics: [] } };

  it('refuses missing Services, a workloadRef to nothing, a selector the pods do not match, and missing templates or arguments', () => {
    const broken = rollout({
      canaryService: 'api-canary', stableService: 'api-stable',
      steps: [{ analysis: { templates: [{ templateName: 'checks' }] } }, { analysis: { templates: [{ templateName: 'gone' }] } }],
    });
    const mismatched = { ...canaryService, spec: { ...canaryService.spec, selector: { ...labels, tier: 'gold' } } };
    expect(problems([deployment(), service, mismatched, template, broken])).toEqual([
      expect.stringMatching(/Service serving\/api-canary .*selects no pod template/),
      expect.stringMatching(/spec.strategy.canary.canaryService: Service 'api-canary' has selector label tier=gold, which the Rollout's pods do not carry/),
      expect.stringMatching(/spec.strategy.canary.stableService names Service 'api-stable', which nothing creates/),
      expect.stringMatching(/steps\[0\].analysis: AnalysisTemplate 'checks' needs argument 'canary-hash', which the Rollout does not give/),
      expect.stringMatching(/steps\[1\].analysis names AnalysisTemplate 'gone', which nothing creates/),
    ]);
    const noWorkload = { ...rollout({}), spec: { ...rollout({}).spec, workloadRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'old' } } };
    expect(problems([deployment(), service, noWorkload])).toEqual([expect.stringMatching(/spec.workloadRef names Deployment serving\/old, which nothing creates/)]);
  });

  it('refuses an ALB Ingress without a rule to the root Service, and a VirtualService without the named route', () => {
    const stable = { ...service, metadata: { name: 'api-stable', namespace: 'serving' } };
    const ingress = { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name: 'api', namespace: 'serving' }, spec: { rules: [{ http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'api-stable', port: { number: 80 } } } }] } }] } };
    const alb = rollout({ canaryService: 'api-canary', stableService: 'api-stable', trafficRouting: { alb: { ingress: 'api', servicePort: 80, rootService: 'api' } } });
    expect(problems([deployment(), service, stable, canaryService, ingress, alb])).toEqual([expect.stringMatching(/alb.ingress: Ingress 'api' has no rule using Service 'api' as its backend/)]);
    const vs = { apiVersion: 'networking.istio.io/v1beta1', kind: 'VirtualService', metadata: { name: 'api', namespace: 'serving' }, spec: { hosts: ['api'], http: [{ name: 'main', route: [{ destination: { host: 'api-stable' } }, { destination: { host: 'api-canary' } }] }] } };
    const istio = rollout({ canaryService: 'api-canary', stableService: 'api-stable', trafficRouting: { istio: { virtualService: { name: 'api', routes: ['primary'] } } } });
    expect(problems([deployment(), service, stable, canaryService, vs, istio])).toEqual([expect.stringMatching(/routes names HTTP route 'primary', which VirtualService 'api' does not have \(it has 'main'\)/)]);
    expect(problems([deployment(), service, stable, canaryService, istio])).toEqual([expect.stringMatching(/virtualService names VirtualService 'api', which nothing creates in namespace 'serving'/)]);
  });
});

describe('references check on constructs', () => {
  function monitored(receiver: AlertReceiver) {
    const { app, stack } = testPlatform();
    const registry = new ModelRegistry(stack, 'registry', { cluster: TEST_CLUSTER });
    const endpoint = new ServingEndpoint(stack, 'fraud', { cluster: TEST_CLUSTER, namespace: 'serving', model: registry.model('fraud').version('1'), server: ModelServer.mlflow() });
    new MonitoringStack(stack, 'monitoring', { endpoints: [endpoint], topicSubscriptions: [{ protocol: 'email', endpoint: 'oncall@acme.example' }], alerting: { receivers: [receiver, AlertReceiver.sns('aws')], routes: [{ receiver: receiver.name, team: 'ml-platform' }] } });
    return app;
  }

  it('refuses an alert receiver whose Secret nobody writes: prometheus-operator would drop the whole AlertmanagerConfig', () => {
    // prometheus-operator pkg/alertmanager/operator.go: checkAlertmanagerConfigResource fails on a missing secret key → "skipping alertmanagerconfig".
    const app = monitored(AlertReceiver.slack('ml', { channel: '#ml', webhookUrl: { name: 'slack', key: 'url' } }));
    expect(PlatformTesting.findings(app).map((f) => `${f.check} ${f.path} ${f.problem}`)).toEqual([
      expect.stringMatching(/^references aws\/monitoring spec.receivers\[0\].slackConfigs\[0\].apiURL reads Secret monitoring\/slack, which neither a manifest nor Terraform writes: prometheus-operator skips the whole AlertmanagerConfig/),
    ]);
    expect(() => app.synth()).toThrow(PlatformCheckError);
  });

  it('writes a receiver credential from Secrets Manager into a Secret the AlertmanagerConfig reads', () => {
    const app = monitored(AlertReceiver.pagerDuty('oncall', { routingKey: ClusterValue.fromSecretsManager('arn:aws:secretsmanager:eu-west-1:123456789012:secret:alerts-AbCdEf', 'pagerduty') }));
    const out = PlatformTesting.synth(app);
    const config = out.manifests['aws/monitoring.k8s.yaml'].find((d) => d.kind === 'AlertmanagerConfig');
    expect(config.spec.receivers[0].pagerdutyConfigs[0].routingKey).toEqual({ name: 'monitoring-alert-receivers', key: 'oncall-routing-key' });
    const secret = out.terraform.kubernetes.resource.kubernetes_secret_v1['secret-monitoring-monitoring-alert-receivers'];
    expect(secret.metadata).toEqual({ name: 'monitoring-alert-receivers', namespace: '${kubernetes_namespace_v1.namespace-monitoring.metadata[0].name}' });
    expect(secret.data['oncall-routing-key']).toMatch(/^\$\{jsondecode\(data\.aws_secretsmanager_secret_version\.secret-\d+\.secret_string\)\.pagerduty\}$/);
    // The namespace is Terraform's (created once, labelled), where the kube-prometheus-stack release installs too.
    expect(secret.depends_on).toBeUndefined();
  });

  it('passes on the reference platform', () => {
    const app = PlatformTesting.app({ platform: REFERENCE_CONTEXT });
    buildReferencePlatform(app);
    expect(PlatformTesting.findings(app).filter((f) => f.check === 'references')).toEqual([]);
  });
});
