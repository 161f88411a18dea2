import { Environment, KubernetesStack, PlatformApp, PlatformContextProps, PlatformStack } from '../src';

/** The reference platform's context: a production platform in one account and region. */
export const REFERENCE_CONTEXT: PlatformContextProps = {
  name: 'acme-ml',
  environment: Environment.production(),
  region: 'eu-west-1',
  accountId: '111122223333',
  team: 'ml-platform',
  costTags: { 'cost-center': 'cc-4711' },
};

/** The stacks of the reference platform. */
export interface ReferencePlatform {
  /** Every AWS resource: planned offline by the tests with terraform and the aws provider alone. */
  readonly aws: PlatformStack;
  /** What Terraform writes into the cluster: add-ons, Secrets and ConfigMaps. */
  readonly kubernetes: KubernetesStack;
}

/**
 * The reference platform that `cdktf synth` builds: what a platform team declares with this library.
 * It grows as each construct lands.
 */
export function buildReferencePlatform(app: PlatformApp): ReferencePlatform {
  const aws = new PlatformStack(app, 'platform');
  const kubernetes = new KubernetesStack(app, 'kubernetes', { clusterName: 'acme-ml-prod' });
  return { aws, kubernetes };
}
