// Serving on the GPUs of a cluster the platform did not create: another team runs the EKS cluster,
// its GPU node group and the NVIDIA GPU Operator (device plugin, DCGM exporter). The platform describes
// the cluster's pools (labels, taints, instance types), serves a registered model on a GPU there and
// watches it, GPU use included.
import {
  AlertReceiver, EksCluster, Environment, KubernetesStack, ModelRegistry, ModelServer, MonitoringStack, PlatformApp, PlatformStack, ServingEndpoint, ServingMode, StateBackend,
} from '../src';

/** State in S3 (a versioned bucket created once beforehand), encrypted with a KMS key, S3-native locking. */
const state = StateBackend.s3({ bucket: 'terraform-state-555566667777', keyPrefix: 'existing-cluster-gpu-serving', kmsKeyId: 'arn:aws:kms:us-west-2:555566667777:alias/terraform-state' });

export function build(app: PlatformApp) {
  const stack = new PlatformStack(app, 'vision', { backend: state });
  const cluster = EksCluster.fromAttributes({
    clusterName: 'shared-prod', vpcId: 'vpc-0ee55ff66aa77bb88', vpcCidr: '10.40.0.0/16',
    privateSubnetIds: ['subnet-0ee55ff66aa77bb81', 'subnet-0ee55ff66aa77bb82'], workloadSecurityGroupId: 'sg-0ee55ff66aa77bb88',
    // The node groups as the cluster's owner built them: what selects their nodes, what they tolerate, what they run.
    nodePools: [
      {
        name: 'gpu-inference', instanceTypes: ['g6.2xlarge'], capacityType: 'ON_DEMAND', maxSize: 6,
        labels: { 'eks.amazonaws.com/nodegroup': 'gpu-inference' },
        taints: [{ key: 'nvidia.com/gpu', effect: 'NoSchedule' }],
      },
      { name: 'general', instanceTypes: ['m6i.2xlarge'], labels: { 'eks.amazonaws.com/nodegroup': 'general' } },
    ],
  });
  const registry = new ModelRegistry(stack, 'registry', { cluster });
  const detector = new ServingEndpoint(stack, 'defects', {
    cluster, namespace: 'vision-serving', team: 'vision',
    model: registry.model('defect-detector').version('5'),
    server: ModelServer.triton(),
    resources: { gpus: 1, pool: 'gpu-inference', cpu: '4', memory: '16Gi' },
    mode: ServingMode.realtime({ minReplicas: 2, maxReplicas: 6 }),
  });
  const monitoring = new MonitoringStack(stack, 'monitoring', {
    endpoints: [detector],
    // GPU rules (utilisation, idle GPUs) from the DCGM exporter the GPU Operator runs on the cluster.
    cluster,
    objectives: [{ endpoint: detector, availability: 0.995, latencyMs: 150 }],
    alerting: {
      receivers: [AlertReceiver.sns('platform-alerts'), AlertReceiver.webhook('vision-oncall', 'https://oncall.vision.example/alerts')],
      routes: [{ receiver: 'vision-oncall', team: 'vision' }],
      defaultReceiver: 'platform-alerts',
    },
    topicSubscriptions: [{ protocol: 'email', endpoint: 'vision-oncall@example.com' }],
  });
  new KubernetesStack(app, 'kubernetes', { clusterName: cluster.clusterName, backend: state });
  return { stack, registry, detector, monitoring };
}

export const context = {
  name: 'vision',
  environment: Environment.production(),
  region: 'us-west-2',
  accountId: '555566667777',
  team: 'vision',
};

if (require.main === module) {
  const app = new PlatformApp({ platform: context });
  build(app);
  app.synth();
}
