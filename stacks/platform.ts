import { EksCluster, Environment, IEksCluster, KubernetesStack, ModelRegistry, ObjectLock, PlatformApp, PlatformContextProps, PlatformStack } from '../src';

/** The reference platform's context: a production platform in one account and region. */
export const REFERENCE_CONTEXT: PlatformContextProps = {
  name: 'acme-ml',
  environment: Environment.production(),
  region: 'eu-west-1',
  accountId: '111122223333',
  team: 'ml-platform',
  costTags: { 'cost-center': 'cc-4711' },
};

/** The stacks and constructs of the reference platform. */
export interface ReferencePlatform {
  /** Every AWS resource: planned offline by the tests with terraform and the aws provider alone. */
  readonly aws: PlatformStack;
  /** What Terraform writes into the cluster: add-ons, Secrets and ConfigMaps. */
  readonly kubernetes: KubernetesStack;
  readonly cluster: IEksCluster;
  readonly registry: ModelRegistry;
}

/**
 * The reference platform that `cdktf synth` builds: what a platform team declares with this library.
 * It grows as each construct lands.
 */
export function buildReferencePlatform(app: PlatformApp): ReferencePlatform {
  const aws = new PlatformStack(app, 'platform');
  // The cluster the platform runs on, until the GpuTrainingCluster construct creates it here.
  const cluster = EksCluster.fromAttributes({
    clusterName: 'acme-ml-prod',
    vpcId: 'vpc-0a1b2c3d4e5f60718',
    vpcCidr: '10.40.0.0/16',
    privateSubnetIds: ['subnet-0a1b2c3d4e5f60001', 'subnet-0a1b2c3d4e5f60002', 'subnet-0a1b2c3d4e5f60003'],
    workloadSecurityGroupId: 'sg-0a1b2c3d4e5f60718',
  });
  const registry = new ModelRegistry(aws, 'registry', {
    cluster,
    objectLock: ObjectLock.governance(30),
    server: { allowedNamespaces: ['training', 'serving', 'pipelines'] },
  });
  const kubernetes = new KubernetesStack(app, 'kubernetes', { clusterName: cluster.clusterName });
  return { aws, kubernetes, cluster, registry };
}
