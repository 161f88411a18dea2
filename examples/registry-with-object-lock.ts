// A model registry for a regulated team: artifacts under S3 Object Lock (compliance mode, one year),
// noncurrent versions kept for two years, and a second team's serving workload granted read access
// to one model only.
import {
  EksCluster, Environment, KubernetesStack, ModelRegistry, ObjectLock, PlatformApp, PlatformStack, StateBackend, WorkloadIdentity,
} from '../src';

/** State in S3 (a versioned bucket created once beforehand), encrypted with a KMS key, S3-native locking: the state holds secrets, never a local file. */
const state = StateBackend.s3({ bucket: 'terraform-state-444455556666', keyPrefix: 'registry-with-object-lock', kmsKeyId: 'arn:aws:kms:eu-central-1:444455556666:alias/terraform-state' });

export function build(app: PlatformApp) {
  const stack = new PlatformStack(app, 'registry', { backend: state });
  const cluster = EksCluster.fromAttributes({
    clusterName: 'risk-prod',
    vpcId: 'vpc-0fedcba9876543210',
    vpcCidr: '10.20.0.0/16',
    privateSubnetIds: ['subnet-0fedcba9876543211', 'subnet-0fedcba9876543212'],
    workloadSecurityGroupId: 'sg-0fedcba9876543210',
  });
  const registry = new ModelRegistry(stack, 'registry', {
    cluster,
    objectLock: ObjectLock.compliance(365),
    noncurrentVersionExpirationDays: 730,
    database: { instanceClass: 'db.m7g.large', backupRetentionDays: 14 },
    server: { allowedNamespaces: ['fraud-serving'] },
  });

  // The fraud team's serving workload reads the champion of its own model, nothing else.
  const fraudServing = new WorkloadIdentity(stack, 'fraud-serving', { cluster, namespace: 'fraud-serving', serviceAccount: 'fraud-detector' });
  registry.model('fraud-detector').alias('champion').grantRead(fraudServing);

  new KubernetesStack(app, 'kubernetes', { clusterName: cluster.clusterName, backend: state });
  return { stack, registry };
}

export const context = {
  name: 'risk',
  environment: Environment.production(),
  region: 'eu-central-1',
  accountId: '444455556666',
  team: 'risk-ml',
};

if (require.main === module) {
  const app = new PlatformApp({ platform: context });
  build(app);
  app.synth();
}
