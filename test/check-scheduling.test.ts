import { ClusterNetwork, GpuTrainingCluster, InstanceType, ModelRegistry, ModelServer, PlatformCheckError, PlatformModel, PlatformTesting, ServingEndpoint, ServingMode } from '../src';
import { allocatableOf, kubeReservedCpuMillis, kubeReservedMemoryBytes, schedulingCheck } from '../src/check/checks/scheduling';
import { TEST_CLUSTER, testPlatform } from './harness/fixtures';

/** A platform of one managed node group and one workload, as Terraform JSON and manifests. */
function model(pod: any, group: any = {}, extra: any[] = []) {
  return new PlatformModel({
    terraform: { aws: { resource: { aws_eks_node_group: { system: { node_group_name: 'system', instance_types: ['m6i.large'], labels: { 'mlops.io/pool': 'system' }, ...group } } } } },
    manifests: { 'app.k8s.yaml': [{ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'app', namespace: 'serving' }, spec: { template: { metadata: { labels: { app: 'a' } }, spec: pod } } }, ...extra] },
  });
}
const container = (cpu: string, memory = '1Gi') => ({ name: 'c', image: 'x:1', resources: { requests: { cpu, memory } } });

describe('the scheduling check', () => {
  it('reserves CPU and memory for the kubelet as the EKS AMI does', () => {
    // awslabs/amazon-eks-ami: 6% of the first core, 1% of the second, 0.5% of cores 3-4, 0.25% beyond; 11 MiB × maxPods + 255 MiB.
    expect(kubeReservedCpuMillis(2)).toBe(70);
    expect(kubeReservedCpuMillis(8)).toBe(90);
    expect(kubeReservedMemoryBytes(29)).toBe(574 * 2 ** 20);
    // m6i.large: 2 vCPUs, 8 GiB, 29 pods → 1930m CPU and 8192 − 574 − 100 MiB allocatable.
    expect(allocatableOf('m6i.large')).toEqual({ cpu: 1930, memory: (8192 - 574 - 100) * 2 ** 20, gpu: 0 });
  });

  it('refuses a pod whose requests exceed every admitting node (NodeResourcesFit), and admits one that fits', () => {
    expect(schedulingCheck.check(model({ containers: [container('2')] }))[0].problem).toMatch(/request 2000m CPU.*too small: 'system' \(m6i\.large: 1930m CPU/);
    expect(schedulingCheck.check(model({ containers: [container('1500m')] }))).toEqual([]);
  });

  it('sums containers and takes the largest init container as the scheduler does', () => {
    // kubernetes/kubernetes resource.PodRequests: max(sum(containers), max(initContainers)).
    expect(schedulingCheck.check(model({ containers: [container('1'), container('1')] }))).toHaveLength(1);
    expect(schedulingCheck.check(model({ initContainers: [container('3')], containers: [container('100m')] }))).toHaveLength(1);
    expect(schedulingCheck.check(model({ initContainers: [container('1')], containers: [container('1')] }))).toEqual([]);
  });

  it('counts native sidecars with the app containers and with the init containers after them', () => {
    // Kubernetes docs, "Effective Pod requests and limits" (concepts/resource-management): a sidecar
    // (initContainers[].restartPolicy: Always) keeps running, so the pod needs
    // max(sum(app containers) + sum(sidecars), max over init containers of (its request + sidecars before it)).
    const sidecar = (cpu: string) => ({ ...container(cpu), restartPolicy: 'Always' });
    // 1 (sidecar) + 1 (app) = 2 cores: more than an m6i.large's 1930m, though neither alone is.
    expect(schedulingCheck.check(model({ initContainers: [sidecar('1')], containers: [container('1')] }))[0].problem).toMatch(/request 2000m CPU/);
    // An init container after the sidecar runs beside it: 1 + 1.
    expect(schedulingCheck.check(model({ initContainers: [sidecar('1'), container('1')], containers: [container('100m')] }))[0].problem).toMatch(/request 2000m CPU/);
    // One before it does not.
    expect(schedulingCheck.check(model({ initContainers: [container('1'), sidecar('500m')], containers: [container('500m')] }))).toEqual([]);
  });

  it('subtracts the DaemonSets that run on the node', () => {
    const ds = { apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'agent', namespace: 'kube-system' }, spec: { template: { metadata: { labels: {} }, spec: { containers: [container('500m', '64Mi')] } } } };
    expect(schedulingCheck.check(model({ containers: [container('1500m')] }, {}, [ds]))[0].problem).toMatch(/1430m CPU/);
  });

  it('refuses a pod that tolerates no pool\'s taint (TaintToleration) or selects no pool\'s labels (NodeAffinity)', () => {
    const tainted = { instance_types: ['g5.2xlarge'], taint: [{ key: 'nvidia.com/gpu', value: 'true', effect: 'NO_SCHEDULE' }] };
    expect(schedulingCheck.check(model({ containers: [container('1')] }, tainted))[0].problem).toMatch(/taint nvidia\.com\/gpu=true:NoSchedule not tolerated/);
    expect(schedulingCheck.check(model({ containers: [container('1')], tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists' }] }, tainted))).toEqual([]);
    expect(schedulingCheck.check(model({ containers: [container('1')], nodeSelector: { 'mlops.io/pool': 'gpu' } }))[0].problem).toMatch(/labels do not match/);
    const affinity = { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'node.kubernetes.io/instance-type', operator: 'In', values: ['m6i.large'] }] }] } } };
    expect(schedulingCheck.check(model({ containers: [container('1')], affinity }))).toEqual([]);
  });

  it('reads Karpenter NodePools: their instance types, labels and taints', () => {
    const nodePool = (types: string[]) => ({
      apiVersion: 'karpenter.sh/v1', kind: 'NodePool', metadata: { name: 'cpu' },
      spec: { template: { metadata: { labels: { 'mlops.io/pool': 'cpu' } }, spec: { requirements: [{ key: 'node.kubernetes.io/instance-type', operator: 'In', values: types }], taints: [{ key: 'mlops.io/pool', value: 'cpu', effect: 'NoSchedule' }] } } },
    });
    const m = (types: string[]) => new PlatformModel({
      terraform: {},
      manifests: { 'a.k8s.yaml': [nodePool(types), { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'a', namespace: 's' }, spec: { template: { metadata: { labels: {} }, spec: { containers: [container('4')], nodeSelector: { 'mlops.io/pool': 'cpu' }, tolerations: [{ key: 'mlops.io/pool', operator: 'Equal', value: 'cpu', effect: 'NoSchedule' }] } } } }] },
    });
    expect(schedulingCheck.check(m(['m6i.xlarge']))[0].problem).toMatch(/too small: 'cpu' \(m6i\.xlarge: 3920m CPU/);
    expect(schedulingCheck.check(m(['m6i.xlarge', 'm6i.2xlarge']))).toEqual([]);
  });

  it('says nothing when the platform declares no node pools (an existing cluster)', () => {
    const m = new PlatformModel({ terraform: {}, manifests: { 'a.k8s.yaml': [{ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'a' }, spec: { template: { spec: { containers: [container('64')] } } } }] } });
    expect(schedulingCheck.check(m)).toEqual([]);
  });

  it('fails synth naming the endpoint and the fix when it asks for more CPU than a node of any pool offers', () => {
    // GIVEN a cluster whose only untainted nodes are m6i.large, and a CPU endpoint asking for 4 CPUs without a pool
    const { app, stack } = testPlatform();
    const cluster = new GpuTrainingCluster(stack, 'training', {
      network: ClusterNetwork.create({ availabilityZones: ['eu-west-1a', 'eu-west-1b'] }),
      gpuPools: [{ name: 'g6', instanceTypes: [InstanceType.g6('xlarge')], maxSize: 2 }],
    });
    const registry = new ModelRegistry(stack, 'registry', { cluster });
    new ServingEndpoint(stack, 'churn', {
      cluster, namespace: 'serving', model: registry.model('churn').version('1'), server: ModelServer.mlflow(),
      resources: { cpu: '4', memory: '8Gi' }, mode: ServingMode.realtime({ minReplicas: 2 }),
    });
    // THEN synth fails naming the construct, the object and the fix
    expect(() => app.synth()).toThrow(PlatformCheckError);
    expect(() => app.synth()).toThrow(/\[scheduling\] 'aws\/churn': Deployment serving\/churn .*request 4000m CPU.*too small: 'system'.*\n {2}Fix: Add a pool with nodes large enough \(GpuTrainingCluster cpuPools/);
  });

  it('places an endpoint on a CPU pool, whose taint it tolerates and whose nodes are large enough', () => {
    const { app, stack } = testPlatform();
    const cluster = new GpuTrainingCluster(stack, 'training', {
      network: ClusterNetwork.create({ availabilityZones: ['eu-west-1a', 'eu-west-1b'] }),
      gpuPools: [{ name: 'g6', instanceTypes: [InstanceType.g6('xlarge')], maxSize: 2 }],
      cpuPools: [{ name: 'cpu', instanceTypes: [InstanceType.of('m6i.2xlarge')], maxSize: 3 }],
    });
    const registry = new ModelRegistry(stack, 'registry', { cluster });
    new ServingEndpoint(stack, 'churn', {
      cluster, namespace: 'serving', model: registry.model('churn').version('1'), server: ModelServer.mlflow(),
      resources: { cpu: '4', memory: '8Gi', pool: 'cpu' }, mode: ServingMode.realtime({ minReplicas: 2 }),
    });
    expect(PlatformTesting.findings(app).filter((f) => f.check === 'scheduling')).toEqual([]);
    const group = Object.values<any>(PlatformTesting.synth(app).terraform.aws.resource.aws_eks_node_group).find((g) => g.node_group_name === 'cpu');
    expect(group.taint).toEqual([{ key: 'mlops.io/pool', value: 'cpu', effect: 'NO_SCHEDULE' }]);
    expect(() => new ServingEndpoint(stack, 'x', {
      cluster, namespace: 'serving', model: registry.model('churn').version('1'), server: ModelServer.mlflow(), resources: { pool: 'nope' },
    })).toThrow(/ServingEndpoint 'aws\/x': resources.pool \('nope'\) is not a CPU pool of the cluster \(and resources.gpus is 0\); its CPU pools are 'cpu'/);
  });

  it('says nothing about an endpoint on an existing cluster', () => {
    const { app, stack } = testPlatform();
    const registry = new ModelRegistry(stack, 'registry', { cluster: TEST_CLUSTER });
    new ServingEndpoint(stack, 'big', { cluster: TEST_CLUSTER, namespace: 'serving', model: registry.model('m').version('1'), server: ModelServer.mlflow(), resources: { cpu: '64' } });
    expect(PlatformTesting.findings(app).filter((f) => f.check === 'scheduling')).toEqual([]);
  });
});
