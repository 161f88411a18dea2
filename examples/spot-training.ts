// Training on spot GPUs: a cluster whose g5 pool scales from zero on spot capacity, a team with a
// GPU quota, and a two-node data-parallel TrainingJob that writes its model to the registry and
// resumes from its last checkpoint when a spot node is taken away.
import {
  ClusterNetwork, DeployLocation, Environment, GpuTrainingCluster, InstanceType, KubernetesStack, ModelRegistry, PlatformApp, PlatformStack, StateBackend, TrainingJob,
} from '../src';

/** State in S3 (a versioned bucket created once beforehand), encrypted with a KMS key, S3-native locking: the state holds secrets, never a local file. */
const state = StateBackend.s3({ bucket: 'terraform-state-123456789012', keyPrefix: 'spot-training', kmsKeyId: 'arn:aws:kms:us-east-1:123456789012:alias/terraform-state' });

export function build(app: PlatformApp) {
  const stack = new PlatformStack(app, 'training', { backend: state });
  const cluster = new GpuTrainingCluster(stack, 'gpu', {
    network: ClusterNetwork.create({ availabilityZones: ['us-east-1a', 'us-east-1b'] }),
    gpuPools: [{ name: 'g5-spot', instanceTypes: [InstanceType.g5('12xlarge')], maxSize: 4 }],
    teams: [{ name: 'vision', gpus: 8 }],
    // The only principal that can authenticate (EKS access entries; the creator gets no access).
    adminRoleArns: ['arn:aws:iam::123456789012:role/ml-platform-deploy'],
  });
  const registry = new ModelRegistry(stack, 'registry', { cluster });
  const job = new TrainingJob(stack, 'resnet-finetune', {
    cluster,
    team: 'vision',
    pool: 'g5-spot',
    workers: 2,
    gpusPerWorker: 4,
    image: '123456789012.dkr.ecr.us-east-1.amazonaws.com/ml-dev/training@sha256:3f1c5e2b9a7d4c6e8f0a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a6',
    command: ['train.py', '--epochs=30', '--resume-from=$(CHECKPOINT_DIR)'],
    registry,
    model: 'resnet-defects',
  });
  // The endpoint is private: deploy this stack from a runner in the VPC, as the admin role.
  new KubernetesStack(app, 'kubernetes', {
    clusterName: cluster.clusterName, backend: state,
    cluster, deployer: { roleArn: 'arn:aws:iam::123456789012:role/ml-platform-deploy', location: DeployLocation.insideVpc('a CodeBuild project in the cluster VPC') },
  });
  return { stack, cluster, registry, job };
}

export const context = {
  name: 'ml',
  environment: Environment.development(),
  region: 'us-east-1',
  accountId: '123456789012',
  team: 'vision',
};

if (require.main === module) {
  const app = new PlatformApp({ platform: context });
  build(app);
  app.synth();
}
