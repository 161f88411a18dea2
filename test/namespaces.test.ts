import * as fs from 'fs';
import * as path from 'path';
import {
  Addon, ARGO_EXECUTOR_SECURITY_CONTEXT, applyOrderCheck, CLUSTER_MANIFEST_FILE, ClusterManifest, ModelRegistry, ModelServer,
  KubernetesStack, MonitoringStack, namespacesCheck, PlatformCheckError, PlatformChart, PlatformModel, PlatformNamespaces, PlatformStack, PlatformTesting, podSecurityCheck,
  podSecurityViolations, POD_SECURITY_VERSION, runPlatformChecks, ServingEndpoint, SynthesizedPlatform, walkOrder,
} from '../src';
import { Construct, k8s } from '../src/engine';
import { resourcesOf, TEST_CLUSTER, testPlatform } from './harness/fixtures';
import { onPath, run, tempDir, describeWithTool } from './harness/tools';

const RESTRICTED = { 'pod-security.kubernetes.io/enforce': 'restricted' };
const ns = (name: string, labels: Record<string, string> = RESTRICTED) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } });
const configMap = (name: string, namespace: string) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace } });
const check = (synth: SynthesizedPlatform, c = namespacesCheck) => runPlatformChecks(new PlatformModel(synth), [c]);

function platformWithEndpoints() {
  const { app, stack, kubernetes } = testPlatform();
  const registry = new ModelRegistry(stack, 'registry', { cluster: TEST_CLUSTER });
  const model = registry.model('fraud-detector').version('3');
  const fraud = new ServingEndpoint(stack, 'fraud', { cluster: TEST_CLUSTER, namespace: 'serving', model, server: ModelServer.mlflow() });
  new ServingEndpoint(stack, 'fraud-shadow', { cluster: TEST_CLUSTER, namespace: 'serving', model, server: ModelServer.mlflow() });
  return { app, stack, kubernetes, registry, fraud };
}

describe('the namespaces check', () => {
  it('refuses an object in a namespace nobody creates', () => {
    // Upstream: NamespaceLifecycle admission (kubernetes plugin/pkg/admission/namespace/lifecycle) answers
    // 'namespaces "serving" not found' to a create in a namespace that does not exist.
    const findings = check({ terraform: {}, manifests: { 'aws/fraud.k8s.yaml': [configMap('a', 'serving'), configMap('b', 'serving')] } });
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ check: 'namespaces', path: 'aws/fraud', problem: expect.stringMatching(/nothing creates .*namespaces "serving" not found/), fix: expect.stringMatching(/PlatformNamespaces\.use\(this, 'serving'\)/) });
    expect(check({ terraform: {}, manifests: { 'a.k8s.yaml': [ns('serving'), configMap('a', 'serving'), configMap('b', 'kube-system')] } })).toEqual([]);
  });

  it('refuses a namespace without a Pod Security enforce label, or with a level admission does not know', () => {
    // Upstream: Pod Security admission reads pod-security.kubernetes.io/enforce; without it the cluster
    // default (privileged on EKS) applies (https://kubernetes.io/docs/concepts/security/pod-security-admission/).
    expect(check({ terraform: {}, manifests: { 'a.k8s.yaml': [ns('serving', {})] } })[0].problem).toMatch(/'serving' has no pod-security\.kubernetes\.io\/enforce label/);
    expect(check({ terraform: {}, manifests: { 'a.k8s.yaml': [ns('serving', { 'pod-security.kubernetes.io/enforce': 'strict' })] } })[0].problem).toMatch(/enforce=strict, which Pod Security admission does not know/);
    expect(check({ terraform: {}, manifests: { 'a.k8s.yaml': [ns('serving', { ...RESTRICTED, 'pod-security.kubernetes.io/enforce-version': '1.30' })] } })[0].problem).toMatch(/enforce-version=1\.30, which is not 'latest' or 'v1\.<minor>'/);
  });

  it('refuses a namespace only Helm creates (no labels) and one with two owners; resolves Terraform references', () => {
    const helm = { name: 'keda', chart: 'keda', namespace: 'keda', create_namespace: true };
    expect(check({ terraform: { k: { resource: { helm_release: { keda: helm } } } }, manifests: {} })[0].problem).toMatch(/created by helm_release\.keda \(create_namespace\), which gives it no labels/);
    const tfNamespace = { metadata: [{ name: 'mlflow', labels: RESTRICTED }] };
    const twice = check({ terraform: { k: { resource: { kubernetes_namespace_v1: { 'namespace-mlflow': tfNamespace } } } }, manifests: { '00-cluster.k8s.yaml': [ns('mlflow')] } });
    expect(twice.map((f) => f.problem)).toEqual([expect.stringMatching(/'mlflow' is created by 00-cluster\.k8s\.yaml and kubernetes_namespace_v1\.namespace-mlflow \(stack k\): two owners/)]);
    const secret = { metadata: [{ name: 'db', namespace: '${kubernetes_namespace_v1.namespace-mlflow.metadata[0].name}' }] };
    expect(check({ terraform: { k: { resource: { kubernetes_namespace_v1: { 'namespace-mlflow': tfNamespace }, kubernetes_secret_v1: { db: secret } } } }, manifests: {} })).toEqual([]);
    expect(check({ terraform: { k: { resource: { kubernetes_secret_v1: { db: { metadata: [{ name: 'db', namespace: 'mlflow' }] } } } } }, manifests: {} })[0].problem).toMatch(/'mlflow', which nothing creates/);
  });
});

describe('the platform creates the namespaces its constructs use', () => {
  it('writes each namespace once, first, with pinned Pod Security labels', () => {
    // GIVEN two endpoints in one namespace, a registry, and a construct of a user with a namespace of its own
    const { app, stack } = platformWithEndpoints();
    const owner = new Construct(stack, 'reports');
    PlatformNamespaces.use(owner, 'reporting');
    new k8s.KubeConfigMap(new PlatformChart(owner, { namespace: 'reporting' }), 'cm', { metadata: { name: 'settings' } });
    const out = PlatformTesting.synth(app);
    // THEN the cluster manifest sorts first and holds the 'reporting' Namespace once, restricted, versions pinned
    expect(Object.keys(out.manifests)[0]).toBe(CLUSTER_MANIFEST_FILE);
    const namespaces = out.manifests[CLUSTER_MANIFEST_FILE].filter((d) => d.kind === 'Namespace');
    expect(namespaces.map((d) => d.metadata.name)).toEqual(['reporting']);
    expect(namespaces[0].metadata.labels).toMatchObject({
      'pod-security.kubernetes.io/enforce': 'restricted', 'pod-security.kubernetes.io/enforce-version': POD_SECURITY_VERSION,
      'pod-security.kubernetes.io/warn': 'restricted', 'pod-security.kubernetes.io/audit': 'restricted',
    });
    // AND Terraform creates 'mlflow' (the database Secret) and 'serving' (the endpoints' registry credentials),
    // where it writes, with the same labels; the manifest does not create them again
    const k = out.terraform.kubernetes;
    for (const name of ['mlflow', 'serving']) {
      expect(resourcesOf(k, 'kubernetes_namespace_v1')[`namespace-${name}`].metadata.labels).toMatchObject({ 'pod-security.kubernetes.io/enforce': 'restricted', 'pod-security.kubernetes.io/enforce-version': POD_SECURITY_VERSION });
    }
    expect(new Set(Object.values(resourcesOf(k, 'kubernetes_secret_v1')).map((s: any) => s.metadata.namespace))).toEqual(new Set([
      '${kubernetes_namespace_v1.namespace-mlflow.metadata[0].name}', '${kubernetes_namespace_v1.namespace-serving.metadata[0].name}',
    ]));
  });

  it('creates add-on namespaces in Terraform with the level the chart meets; Helm does not create them', () => {
    const { app, stack, fraud } = platformWithEndpoints();
    new MonitoringStack(stack, 'monitoring', { endpoints: [fraud], topicSubscriptions: [{ protocol: 'email', endpoint: 'oncall@acme.example' }] });
    const k = PlatformTesting.synth(app).terraform.kubernetes;
    const releases = Object.values(resourcesOf(k, 'helm_release')) as any[];
    expect(releases.every((r) => r.create_namespace === false)).toBe(true);
    expect(releases.find((r) => r.name === 'kube-prometheus-stack').namespace).toBe('${kubernetes_namespace_v1.namespace-monitoring.metadata[0].name}');
    // kube-prometheus-stack's node exporter needs host namespaces and host paths: the namespace is privileged
    expect(resourcesOf(k, 'kubernetes_namespace_v1')['namespace-monitoring'].metadata.labels['pod-security.kubernetes.io/enforce']).toBe('privileged');
    expect(PlatformNamespaces.of(app).find((n) => n.name === 'monitoring')!.reasons[0]).toMatch(/node exporter .* hostNetwork, hostPID and hostPath/);
  });

  it('counts a Namespace that Terraform applies from the manifests (applyManifests) as the same owner, and orders objects after it', () => {
    // GIVEN a KubernetesStack that also applies every manifest
    const app = PlatformTesting.app();
    const stack = new PlatformStack(app, 'aws');
    new KubernetesStack(app, 'kubernetes', { clusterName: TEST_CLUSTER.clusterName, applyManifests: true });
    const registry = new ModelRegistry(stack, 'registry', { cluster: TEST_CLUSTER });
    new ServingEndpoint(stack, 'fraud', { cluster: TEST_CLUSTER, namespace: 'serving', model: registry.model('m').version('1'), server: ModelServer.mlflow() });
    // THEN the platform check passes, and the endpoint's objects wait for the 'serving' Namespace
    expect(PlatformTesting.findings(app)).toEqual([]);
    const manifests = Object.entries(resourcesOf(PlatformTesting.synth(app).terraform.kubernetes, 'kubernetes_manifest')) as Array<[string, any]>;
    // ('serving' is created by the stack itself, which writes the endpoint's registry credentials there)
    expect(manifests.find(([, m]) => m.manifest.kind === 'Namespace' && m.manifest.metadata.name === 'serving')).toBeUndefined();
    const deployment = manifests.find(([, m]) => m.manifest.kind === 'Deployment' && m.manifest.metadata.namespace === 'serving')![1];
    expect(deployment.depends_on).toEqual(['kubernetes_namespace_v1.namespace-serving']);
    // AND a namespace only the cluster manifest creates is applied as a kubernetes_manifest, before what lives in it
    const app2 = PlatformTesting.app();
    const stack2 = new PlatformStack(app2, 'aws');
    new KubernetesStack(app2, 'kubernetes', { clusterName: TEST_CLUSTER.clusterName, applyManifests: true });
    const owner = new Construct(stack2, 'reports');
    PlatformNamespaces.use(owner, 'reporting');
    new k8s.KubeConfigMap(new PlatformChart(owner, { namespace: 'reporting' }), 'cm', { metadata: { name: 'settings' } });
    const manifests2 = Object.entries(resourcesOf(PlatformTesting.synth(app2).terraform.kubernetes, 'kubernetes_manifest')) as Array<[string, any]>;
    const [nsId] = manifests2.find(([, m]) => m.manifest.kind === 'Namespace' && m.manifest.metadata.name === 'reporting')!;
    const configMap = manifests2.find(([, m]) => m.manifest.kind === 'ConfigMap' && m.manifest.metadata.namespace === 'reporting')![1];
    expect(configMap.depends_on).toEqual([`kubernetes_manifest.${nsId}`]);
  });

  it('fails synth naming the construct and the fix when a namespace it uses is not created', () => {
    // GIVEN the platform, its namespaces written (a construct's namespace in the cluster manifest)
    const { app, stack } = platformWithEndpoints();
    const owner = new Construct(stack, 'reports');
    PlatformNamespaces.use(owner, 'reporting');
    new k8s.KubeConfigMap(new PlatformChart(owner, { namespace: 'reporting' }), 'cm', { metadata: { name: 'settings' } });
    expect(PlatformTesting.findings(app)).toEqual([]);
    // WHEN the 'reporting' Namespace is removed from the cluster manifest
    ClusterManifest.chart(app).node.tryRemoveChild('namespace-reporting');
    // THEN synth fails, naming the construct and PlatformNamespaces.use
    expect(() => app.synth()).toThrow(PlatformCheckError);
    expect(() => app.synth()).toThrow(/\[namespaces\] 'aws\/reports': ConfigMap reporting\/settings \(aws\/reports\.k8s\.yaml\): lives in namespace 'reporting', which nothing creates[^\n]*\n {2}Fix: Declare the namespace in the construct with PlatformNamespaces\.use\(this, 'reporting'\)/);
  });

  it('fails synth for a construct of a user that puts objects into a namespace it does not declare', () => {
    const reports = (declare: boolean) => {
      const { app, stack } = testPlatform();
      const owner = new Construct(stack, 'reports');
      if (declare) PlatformNamespaces.use(owner, 'reporting');
      new k8s.KubeConfigMap(new PlatformChart(owner, { namespace: 'reporting' }), 'cm', { metadata: { name: 'settings' } });
      return app;
    };
    expect(() => reports(false).synth()).toThrow(/\[namespaces\] 'aws\/reports': ConfigMap reporting\/settings[^\n]*namespaces "reporting" not found/);
    expect(PlatformTesting.findings(reports(true))).toEqual([]);
    // a declaration after the namespaces are written would be lost: refused
    const late = reports(false);
    PlatformTesting.findings(late);
    expect(() => PlatformNamespaces.use(late.node.findChild('aws'), 'reporting')).toThrow(/'aws': namespace 'reporting' is declared after the platform's namespaces were written/);
  });

  it('refuses a namespace used at two levels, and a non-restricted level without a reason', () => {
    const { stack } = testPlatform();
    PlatformNamespaces.use(new Construct(stack, 'a'), 'shared');
    expect(() => PlatformNamespaces.use(new Construct(stack, 'b'), 'shared', { podSecurity: 'baseline', reason: 'needs NET_RAW for ping' }))
      .toThrow(/'aws\/b': namespace 'shared' is used at Pod Security level 'baseline', but 'aws\/a' uses it at 'restricted'/);
    expect(() => PlatformNamespaces.use(new Construct(stack, 'c'), 'other', { podSecurity: 'privileged' })).toThrow(/'aws\/c': namespace 'other' at Pod Security level 'privileged' needs a reason/);
  });
});

describe('the apply-order check', () => {
  it('refuses an object kubectl reads before the Namespace it lives in', () => {
    // Upstream: kubectl apply -R walks the folder with filepath.Walk (cli-runtime pkg/resource/visitor.go),
    // so platform/fraud-train.k8s.yaml is applied before platform/training.k8s.yaml, whose Namespace it needs.
    const synth = { terraform: {}, manifests: { 'platform/fraud-train.k8s.yaml': [configMap('a', 'fraud'), configMap('b', 'fraud')], 'platform/training.k8s.yaml': [ns('fraud')] } };
    const findings = check(synth, applyOrderCheck);
    expect(findings).toHaveLength(1);
    expect(findings[0].problem).toMatch(/needs Namespace 'fraud', which kubectl apply -f k8s\.out -R reads later \(platform\/training\.k8s\.yaml\); .*namespaces "fraud" not found/);
    expect(check({ terraform: {}, manifests: { '00-cluster.k8s.yaml': [ns('fraud')], 'platform/fraud-train.k8s.yaml': [configMap('a', 'fraud')] } }, applyOrderCheck)).toEqual([]);
  });

  it('refuses a custom resource before its CRD and a pod before its PriorityClass', () => {
    const crd = { apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: 'widgets.acme.io' }, spec: { group: 'acme.io', names: { kind: 'Widget' } } };
    const widget = { apiVersion: 'acme.io/v1', kind: 'Widget', metadata: { name: 'w' } };
    expect(check({ terraform: {}, manifests: { 'a.k8s.yaml': [widget], 'b.k8s.yaml': [crd] } }, applyOrderCheck)[0].problem).toMatch(/the CustomResourceDefinition of Widget.*no matches for kind "Widget"/);
    const job = { apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'j' }, spec: { template: { spec: { priorityClassName: 'mlops-training', containers: [] } } } };
    const pc = { apiVersion: 'scheduling.k8s.io/v1', kind: 'PriorityClass', metadata: { name: 'mlops-training' }, value: 1 };
    expect(check({ terraform: {}, manifests: { 'p/fraud-train.k8s.yaml': [job], 'p/training.k8s.yaml': [pc] } }, applyOrderCheck)[0].problem).toMatch(/PriorityClass 'mlops-training'.*no PriorityClass with name mlops-training was found/);
    expect(check({ terraform: {}, manifests: { 'p/training.k8s.yaml': [pc], 'p/x.k8s.yaml': [job] } }, applyOrderCheck)).toEqual([]);
  });
});

describeWithTool({ available: onPath('kubectl'), reason: 'kubectl is not on the PATH' }, 'the apply order checked by kubectl', () => {
  it('reads files in the order walkOrder says, as kubectl apply -R does', () => {
    // GIVEN files whose names sort differently by plain string order and by folder walk
    const dir = tempDir('walk-');
    const files = ['platform/training.k8s.yaml', 'a.k8s.yaml', 'platform/fraud-train.k8s.yaml', CLUSTER_MANIFEST_FILE, 'a/b.k8s.yaml', 'Z.k8s.yaml', 'a-b.k8s.yaml'];
    files.forEach((f, i) => {
      fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
      fs.writeFileSync(path.join(dir, f), `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-${i}\n`);
    });
    // WHEN kubectl reads the folder recursively (offline: label --local visits every object in order)
    const result = run('kubectl', ['label', '--local', '-f', dir, '-R', '-o', 'name', 'x=y']);
    expect(result.stderr).toBe('');
    // THEN its order is walkOrder's
    const expected = [...files].sort(walkOrder).map((f) => `configmap/cm-${files.indexOf(f)}`);
    expect(result.stdout.trim().split('\n')).toEqual(expected);
    expect([...files].sort(walkOrder)[0]).toBe(CLUSTER_MANIFEST_FILE);
  });
});

describe('the pod-security check', () => {
  const workflowTemplate = { apiVersion: 'argoproj.io/v1alpha1', kind: 'WorkflowTemplate', metadata: { name: 'retrain', namespace: 'fraud' },
    spec: { securityContext: { runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: 'RuntimeDefault' } },
      templates: [{ name: 'train', container: { image: 'i', securityContext: ARGO_EXECUTOR_SECURITY_CONTEXT } }] } };
  const argo = (executor: object) => ({ k: { resource: { helm_release: { argo: { name: 'argo-workflows', chart: 'argo-workflows', namespace: 'kube-system', values: [JSON.stringify({ executor })] } } } } });

  it('refuses Argo Workflows pods whose injected init and wait containers run with the chart\'s empty executor securityContext', () => {
    // Upstream: argo-workflows workflow/controller/workflowpod.go (newExecContainer) gives init and wait the
    // controller's executor.securityContext; Pod Security admission (policy/check_allowPrivilegeEscalation.go,
    // check_capabilities_restricted.go) requires allowPrivilegeEscalation=false and drop ALL on every container.
    const findings = check({ terraform: argo({}), manifests: { '00-cluster.k8s.yaml': [ns('fraud')], 'p/retrain.k8s.yaml': [workflowTemplate] } }, podSecurityCheck);
    expect(findings).toHaveLength(1);
    expect(findings[0].problem).toMatch(/enforce=restricted\) refuses its pods \(template 'train'\): container 'init' \(injected by Argo Workflows .*\) must set allowPrivilegeEscalation=false; .*container 'wait'/);
    expect(findings[0].fix).toMatch(/executor\.securityContext/);
    expect(check({ terraform: argo({ securityContext: ARGO_EXECUTOR_SECURITY_CONTEXT }), manifests: { '00-cluster.k8s.yaml': [ns('fraud')], 'p/retrain.k8s.yaml': [workflowTemplate] } }, podSecurityCheck)).toEqual([]);
    // the same pods in a privileged namespace are admitted
    expect(check({ terraform: argo({}), manifests: { '00-cluster.k8s.yaml': [ns('fraud', { 'pod-security.kubernetes.io/enforce': 'privileged' })], 'p/retrain.k8s.yaml': [workflowTemplate] } }, podSecurityCheck)).toEqual([]);
  });

  it('gives the Argo Workflows add-on a restricted executor securityContext', () => {
    expect((Addon.argoWorkflows().props.values as any).executor.securityContext).toEqual(ARGO_EXECUTOR_SECURITY_CONTEXT);
    // argo-workflows docs/workflow-restrictions.md: with Secure, a Workflow must reference a WorkflowTemplate, which
    // must not change after submission (the retraining trigger and CronWorkflows use workflowTemplateRef)
    expect((Addon.argoWorkflows().props.values as any).controller.workflowRestrictions).toEqual({ templateReferencing: 'Secure' });
    expect(podSecurityViolations('restricted', { securityContext: {} }, [{ name: 'wait', securityContext: ARGO_EXECUTOR_SECURITY_CONTEXT }])).toEqual([]);
  });

  it('applies the baseline rules as Pod Security admission does', () => {
    // Upstream: policy/check_hostNamespaces.go, check_privileged.go, check_capabilities_baseline.go,
    // check_hostPathVolumes.go, check_hostPorts.go, check_sysctls.go, check_seLinuxOptions.go, check_procMount.go.
    const spec = { hostNetwork: true, volumes: [{ name: 'root', hostPath: { path: '/' } }], securityContext: { sysctls: [{ name: 'kernel.msgmax', value: '1' }, { name: 'net.ipv4.tcp_syncookies', value: '1' }] } };
    const c = { name: 'agent', ports: [{ containerPort: 80, hostPort: 80 }], securityContext: { privileged: true, capabilities: { add: ['SYS_ADMIN', 'CHOWN'] }, procMount: 'Unmasked', seLinuxOptions: { type: 'spc_t' } } };
    expect(podSecurityViolations('baseline', spec, [c])).toEqual([
      'hostNetwork=true (host namespaces)', "volume 'root' is a hostPath volume", 'sysctl kernel.msgmax is not a safe sysctl',
      "container 'agent' is privileged", "container 'agent' adds capabilities SYS_ADMIN", "container 'agent' uses hostPort 80",
      "container 'agent' sets seLinuxOptions.type=spc_t", "container 'agent' sets procMount=Unmasked",
    ]);
    expect(podSecurityViolations('privileged', spec, [c])).toEqual([]);
  });

  it('merges pod and container settings for the restricted rules as Pod Security admission does', () => {
    // Upstream: policy/check_runAsNonRoot.go and check_seccompProfile_restricted.go: a container's explicit
    // value wins, an unset container takes the pod's; check_runAsUser.go, check_restrictedVolumes.go.
    const pod = { securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } }, volumes: [{ name: 'data', nfs: { server: 's', path: '/' } }, { name: 'tmp', emptyDir: {} }] };
    const good = { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'], add: ['NET_BIND_SERVICE'] } };
    expect(podSecurityViolations('restricted', { securityContext: pod.securityContext }, [{ name: 'a', securityContext: good }])).toEqual([]);
    expect(podSecurityViolations('restricted', pod, [
      { name: 'a', securityContext: { ...good, runAsNonRoot: false, seccompProfile: { type: 'Unconfined' } } },
      { name: 'b', securityContext: { runAsUser: 0, capabilities: { add: ['NET_RAW'] } } },
    ])).toEqual([
      "container 'a' sets seccompProfile.type=Unconfined", "container 'b' adds capabilities NET_RAW", "volume 'data' has restricted type nfs",
      "container 'a' sets runAsNonRoot=false", "container 'b' must set allowPrivilegeEscalation=false", "container 'b' sets runAsUser=0",
      "container 'b' must drop ALL capabilities", "container 'b' may add only NET_BIND_SERVICE, not NET_RAW",
    ]);
    expect(podSecurityViolations('restricted', {}, [{ name: 'c', securityContext: good }])).toEqual([
      "the pod or container 'c' must set runAsNonRoot=true", "the pod or container 'c' must set seccompProfile.type to RuntimeDefault or Localhost",
    ]);
  });

  it('fails synth for a privileged pod a construct puts into a restricted namespace', () => {
    const { app, stack } = testPlatform();
    const owner = new Construct(stack, 'debug');
    PlatformNamespaces.use(owner, 'tools');
    new k8s.KubeDeployment(new PlatformChart(owner, { namespace: 'tools' }), 'shell', {
      metadata: { name: 'shell' },
      spec: { selector: { matchLabels: { app: 'shell' } }, template: { metadata: { labels: { app: 'shell' } }, spec: { hostPid: true, containers: [{ name: 'sh', image: 'busybox@sha256:abc', securityContext: { privileged: true } }] } } },
    });
    expect(() => app.synth()).toThrow(/\[pod-security\] 'aws\/debug': Deployment tools\/shell \(aws\/debug\.k8s\.yaml\): Pod Security admission \(namespace 'tools', enforce=restricted\) refuses its pods: hostPID=true \(host namespaces\); container 'sh' is privileged/);
  });
});
