import { imageReference, IMAGES } from '../core/images';
import { ApiObject, Chart, k8s } from '../engine';
import type { PlatformChart } from '../core/kubernetes';
import { ClusterManifest, PlatformNamespaces } from '../core/namespaces';
import type { PrometheusInstance } from '../core/prometheus';
import { suppress } from '../policy/rule';
import { baseEgressRules, fromNamespaces, resources } from '../core/workloads';
import type { CpuPool, GpuPool } from './gpu-cluster';
import { SHARED_STORAGE_CLAIM, SharedDatasetStorage } from './storage';
import type { TeamOptions } from './options';

/** Priority classes: serving preempts training, training preempts nothing. */
export const PRIORITY_CLASSES = { serving: 'mlops-serving', training: 'mlops-training' } as const;

const GPU_NAMESPACE = 'nvidia-system';
/** Why the GPU node agents' namespace is privileged; nothing else runs there. */
const GPU_NAMESPACE_REASON = 'The NVIDIA device plugin and the DCGM exporter mount the kubelet\'s host folders (hostPath) and DCGM needs SYS_ADMIN to read GPU profiling counters; both are forbidden from baseline up, so they run alone in this namespace.';
/** The NVIDIA device plugin image the GPU nodes run, pinned by digest (`IMAGES.devicePlugin`). */
export const DEVICE_PLUGIN_IMAGE = imageReference(IMAGES.devicePlugin);
/** The NVIDIA DCGM exporter image (GPU metrics) the GPU nodes run (`IMAGES.dcgmExporter`: by tag, a documented exception). */
export const DCGM_EXPORTER_IMAGE = imageReference(IMAGES.dcgmExporter);
const GPU_TOLERATION: k8s.Toleration = { key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' };
/** Where the GPU node agents run: every GPU node, despite its taint, before anything else. */
const ON_EVERY_GPU_NODE = {
  priorityClassName: 'system-node-critical',
  nodeSelector: { 'nvidia.com/gpu.present': 'true' },
  tolerations: [GPU_TOLERATION],
  automountServiceAccountToken: false,
};

/**
 * The NVIDIA device plugin (advertises `nvidia.com/gpu`) and the DCGM exporter (GPU metrics for the
 * monitoring stack) on every GPU node, tolerating the GPU taint; the priority classes.
 */
export function addGpuSystemWorkloads(chart: PlatformChart, prometheus: PrometheusInstance, images: { devicePlugin: string; dcgmExporter: string } = { devicePlugin: DEVICE_PLUGIN_IMAGE, dcgmExporter: DCGM_EXPORTER_IMAGE }): void {
  // Cluster-scoped and needed by every pod that names them: in the cluster manifest, applied first.
  const cluster = ClusterManifest.chart(chart.owner);
  new k8s.KubePriorityClass(cluster, 'priority-serving', {
    metadata: { name: PRIORITY_CLASSES.serving }, value: 100000, preemptionPolicy: 'PreemptLowerPriority', globalDefault: false,
    description: 'Model serving: preempts training when capacity is short.',
  });
  new k8s.KubePriorityClass(cluster, 'priority-training', {
    metadata: { name: PRIORITY_CLASSES.training }, value: 1000, preemptionPolicy: 'Never', globalDefault: false,
    description: 'Training: waits for capacity and never preempts serving.',
  });
  PlatformNamespaces.use(chart.owner, GPU_NAMESPACE, { podSecurity: 'privileged', reason: GPU_NAMESPACE_REASON });

  const pluginLabels = { 'app.kubernetes.io/name': 'nvidia-device-plugin' };
  new k8s.KubeDaemonSet(chart, 'device-plugin', {
    metadata: {
      name: 'nvidia-device-plugin', namespace: GPU_NAMESPACE, labels: pluginLabels,
      annotations: suppress(
        { id: 'MLOPS-K8S1', reason: 'The device plugin writes its socket into the kubelet\'s root-owned device-plugin folder.' },
        { id: 'MLOPS-K8S3', reason: 'The device plugin serves no health endpoint; the kubelet re-registers it when its socket goes away.' },
      ),
    },
    spec: {
      selector: { matchLabels: pluginLabels },
      updateStrategy: { type: 'RollingUpdate' },
      template: {
        metadata: { labels: pluginLabels },
        spec: {
          ...ON_EVERY_GPU_NODE,
          containers: [{
            name: 'device-plugin', image: images.devicePlugin,
            env: [{ name: 'FAIL_ON_INIT_ERROR', value: 'false' }],
            // Writes its socket into the kubelet's device-plugin folder, which only root may do.
            securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, readOnlyRootFilesystem: true, seccompProfile: { type: 'RuntimeDefault' } },
            resources: resources({ cpu: '50m', memory: '64Mi', cpuLimit: '200m', memoryLimit: '256Mi' }),
            volumeMounts: [{ name: 'device-plugins', mountPath: '/var/lib/kubelet/device-plugins' }],
          }],
          volumes: [{ name: 'device-plugins', hostPath: { path: '/var/lib/kubelet/device-plugins', type: 'Directory' } }],
        },
      },
    },
  });

  const dcgmLabels = { 'app.kubernetes.io/name': 'dcgm-exporter' };
  new k8s.KubeDaemonSet(chart, 'dcgm-exporter', {
    metadata: {
      name: 'dcgm-exporter', namespace: GPU_NAMESPACE, labels: dcgmLabels,
      annotations: suppress({ id: 'MLOPS-K8S1', reason: 'DCGM reads GPU profiling counters, which needs root and SYS_ADMIN.' }),
    },
    spec: {
      selector: { matchLabels: dcgmLabels },
      template: {
        metadata: { labels: dcgmLabels },
        spec: {
          ...ON_EVERY_GPU_NODE,
          containers: [{
            name: 'dcgm-exporter', image: images.dcgmExporter,
            env: [{ name: 'DCGM_EXPORTER_KUBERNETES', value: 'true' }, { name: 'DCGM_EXPORTER_LISTEN', value: ':9400' },
              // The exporter labels series `Hostname` from NODE_NAME, else its own pod name.
              { name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } }],
            ports: [{ name: 'metrics', containerPort: 9400, protocol: 'TCP' }],
            securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'], add: ['SYS_ADMIN'] }, readOnlyRootFilesystem: false, seccompProfile: { type: 'RuntimeDefault' } },
            readinessProbe: { httpGet: { path: '/health', port: k8s.IntOrString.fromNumber(9400) }, initialDelaySeconds: 15, periodSeconds: 10 },
            livenessProbe: { httpGet: { path: '/health', port: k8s.IntOrString.fromNumber(9400) }, initialDelaySeconds: 45, periodSeconds: 20 },
            resources: resources({ cpu: '100m', memory: '256Mi', cpuLimit: '500m', memoryLimit: '512Mi' }),
            volumeMounts: [{ name: 'pod-resources', mountPath: '/var/lib/kubelet/pod-resources', readOnly: true }],
          }],
          volumes: [{ name: 'pod-resources', hostPath: { path: '/var/lib/kubelet/pod-resources', type: 'Directory' } }],
        },
      },
    },
  });
  new k8s.KubeService(chart, 'dcgm-service', {
    metadata: { name: 'dcgm-exporter', namespace: GPU_NAMESPACE, labels: dcgmLabels },
    spec: { selector: dcgmLabels, ports: [{ name: 'metrics', port: 9400, targetPort: k8s.IntOrString.fromString('metrics') }] },
  });
  // The node agents talk to the kubelet over its sockets and need no network, save Prometheus
  // scraping DCGM: nothing else reaches them, and they reach nothing but DNS.
  new k8s.KubeNetworkPolicy(chart, 'gpu-namespace-isolation', {
    metadata: { name: 'node-agents', namespace: GPU_NAMESPACE },
    spec: {
      podSelector: {}, policyTypes: ['Ingress', 'Egress'],
      ingress: [{ from: fromNamespaces([prometheus.namespace]), ports: [{ protocol: 'TCP', port: k8s.IntOrString.fromNumber(9400) }] }],
      egress: baseEgressRules().slice(0, 1),
    },
  });
  new ApiObject(chart, 'dcgm-service-monitor', {
    apiVersion: 'monitoring.coreos.com/v1', kind: 'ServiceMonitor',
    metadata: { name: 'dcgm-exporter', namespace: GPU_NAMESPACE, labels: { ...dcgmLabels, ...prometheus.labelsFor('ServiceMonitor') } },
    spec: { selector: { matchLabels: dcgmLabels }, endpoints: [{ port: 'metrics', interval: '15s', honorLabels: true }] },
  } as any);
}

/** A team's namespace: restricted pod security, GPU/CPU/memory quota, default limits, the shared storage claim. */
export function addTeam(chart: PlatformChart, team: TeamOptions, storage?: SharedDatasetStorage): void {
  const ns = team.name;
  // The namespace itself is in the cluster manifest (restricted, labelled with its team), applied before this chart.
  PlatformNamespaces.use(chart.owner, ns, { labels: { 'mlops.io/team': ns } });
  new k8s.KubeResourceQuota(chart, `team-${ns}-quota`, {
    metadata: { name: 'compute', namespace: ns },
    spec: {
      hard: {
        'requests.nvidia.com/gpu': k8s.Quantity.fromNumber(team.gpus),
        'requests.cpu': k8s.Quantity.fromString(team.cpu ?? '64'),
        'requests.memory': k8s.Quantity.fromString(team.memory ?? '256Gi'),
        'limits.memory': k8s.Quantity.fromString(team.memory ?? '256Gi'),
      },
    },
  });
  new k8s.KubeLimitRange(chart, `team-${ns}-limits`, {
    metadata: { name: 'defaults', namespace: ns },
    spec: {
      limits: [{
        type: 'Container',
        defaultRequest: { cpu: k8s.Quantity.fromString('250m'), memory: k8s.Quantity.fromString('512Mi') },
        default: { cpu: k8s.Quantity.fromString('1'), memory: k8s.Quantity.fromString('2Gi') },
      }],
    },
  });
  new k8s.KubeNetworkPolicy(chart, `team-${ns}-isolation`, {
    metadata: { name: 'same-namespace-only', namespace: ns },
    spec: { podSelector: {}, policyTypes: ['Ingress'], ingress: [{ from: [{ podSelector: {} }] }] },
  });
  if (storage) {
    new k8s.KubePersistentVolumeClaim(chart, `team-${ns}-shared`, {
      metadata: { name: SHARED_STORAGE_CLAIM, namespace: ns },
      spec: {
        accessModes: ['ReadWriteMany'], storageClassName: '', volumeName: storage.volumeName(ns),
        resources: { requests: { storage: k8s.Quantity.fromString(storage.capacity) } },
      },
    });
  }
}

/**
 * A Karpenter EC2NodeClass: AL2023, the cluster's subnets and security groups by discovery tag,
 * IMDSv2 with one hop, an encrypted gp3 root volume, and the cost-attribution `tags`, which Karpenter
 * puts on the instances, volumes and launch templates it creates.
 */
function addNodeClass(chart: Chart, name: string, clusterName: string, nodeRoleName: string, volumeSize: string, tags: Record<string, string>): void {
  new ApiObject(chart, `nodeclass-${name}`, {
    apiVersion: 'karpenter.k8s.aws/v1', kind: 'EC2NodeClass',
    metadata: { name },
    spec: {
      role: nodeRoleName,
      amiSelectorTerms: [{ alias: 'al2023@latest' }],
      subnetSelectorTerms: [{ tags: { 'karpenter.sh/discovery': clusterName } }],
      securityGroupSelectorTerms: [{ tags: { 'karpenter.sh/discovery': clusterName } }],
      metadataOptions: { httpTokens: 'required', httpPutResponseHopLimit: 1, httpEndpoint: 'enabled' },
      blockDeviceMappings: [{ deviceName: '/dev/xvda', ebs: { volumeSize, volumeType: 'gp3', encrypted: true, deleteOnTermination: true } }],
      tags,
    },
  } as any);
}

/**
 * A GPU pool under Karpenter: a NodePool whose `nvidia.com/gpu` limit is what the pool may run,
 * tainted for GPU work, and its EC2NodeClass (AL2023; Karpenter picks the NVIDIA variant) with the
 * cost-attribution `tags` for what it launches.
 */
export function addKarpenterPool(chart: Chart, pool: GpuPool, clusterName: string, nodeRoleName: string, tags: Record<string, string> = {}): void {
  addNodeClass(chart, pool.name, clusterName, nodeRoleName, '200Gi', tags);
  new ApiObject(chart, `nodepool-${pool.name}`, {
    apiVersion: 'karpenter.sh/v1', kind: 'NodePool',
    metadata: { name: pool.name },
    spec: {
      template: {
        metadata: { labels: { 'mlops.io/pool': pool.name, 'nvidia.com/gpu.present': 'true' } },
        spec: {
          nodeClassRef: { group: 'karpenter.k8s.aws', kind: 'EC2NodeClass', name: pool.name },
          requirements: [
            { key: 'node.kubernetes.io/instance-type', operator: 'In', values: pool.instanceTypes.map((t) => t.name) },
            { key: 'karpenter.sh/capacity-type', operator: 'In', values: [pool.capacityType === 'SPOT' ? 'spot' : 'on-demand'] },
          ],
          taints: [{ key: 'nvidia.com/gpu', value: 'true', effect: 'NoSchedule' }],
          expireAfter: '720h',
        },
      },
      limits: { 'nvidia.com/gpu': pool.maxGpus },
      disruption: { consolidationPolicy: 'WhenEmpty', consolidateAfter: '5m' },
    },
  } as any);
}


/** A CPU pool under Karpenter: a NodePool labelled and tainted with its name, and its EC2NodeClass. */
export function addKarpenterCpuPool(chart: Chart, pool: CpuPool, clusterName: string, nodeRoleName: string, tags: Record<string, string> = {}): void {
  addNodeClass(chart, pool.name, clusterName, nodeRoleName, '100Gi', tags);
  new ApiObject(chart, `nodepool-${pool.name}`, {
    apiVersion: 'karpenter.sh/v1', kind: 'NodePool',
    metadata: { name: pool.name },
    spec: {
      template: {
        metadata: { labels: { 'mlops.io/pool': pool.name } },
        spec: {
          nodeClassRef: { group: 'karpenter.k8s.aws', kind: 'EC2NodeClass', name: pool.name },
          requirements: [
            { key: 'node.kubernetes.io/instance-type', operator: 'In', values: pool.instanceTypes.map((t) => t.name) },
            { key: 'karpenter.sh/capacity-type', operator: 'In', values: [pool.capacityType === 'SPOT' ? 'spot' : 'on-demand'] },
          ],
          taints: [{ key: pool.taint.key, value: pool.taint.value, effect: pool.taint.effect }],
          expireAfter: '720h',
        },
      },
      limits: { cpu: pool.maxSize * Math.max(...pool.instanceTypes.map((t) => t.vcpus ?? 0)) || undefined },
      disruption: { consolidationPolicy: 'WhenEmptyOrUnderutilized', consolidateAfter: '5m' },
    },
  } as any);
}
