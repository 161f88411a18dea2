// Staging and production from one definition: the same platform at different sizes, each in its own
// account with its own stacks, state and manifest folders (cdktf.out/<env>, k8s.out/<env>). Production
// keeps every safeguard (checked at synth); the parity report lists what differs beyond the sizes.
import {
  EksCluster, Environment, EnvironmentScope, KubernetesStack, ModelRegistry, ModelServer, PlatformApp, PlatformEnvironments, PlatformStack, ServingEndpoint, ServingMode, StateBackend,
} from '../src';

/** The one definition: what every environment runs. */
export function definition(app: PlatformApp, env: EnvironmentScope) {
  const { accountId, region } = app.context;
  const state = StateBackend.s3({ bucket: `terraform-state-${accountId}`, keyPrefix: `scoring/${env.name}`, kmsKeyId: `arn:aws:kms:${region}:${accountId}:alias/terraform-state` });
  const stack = new PlatformStack(app, 'scoring', { backend: state });
  // Each environment's cluster belongs to its account's platform team.
  const cluster = EksCluster.fromAttributes({
    clusterName: `ml-${env.name}`, vpcId: 'vpc-0123456789abcdef0', vpcCidr: '10.20.0.0/16',
    privateSubnetIds: ['subnet-0123456789abcdef1', 'subnet-0123456789abcdef2'], workloadSecurityGroupId: 'sg-0123456789abcdef0',
  });
  const registry = new ModelRegistry(stack, 'registry', { cluster, database: { instanceClass: String(env.sizes.databaseClass) } });
  const scorer = new ServingEndpoint(stack, 'scorer', {
    cluster, namespace: 'scoring', model: registry.model('credit-scorer').version('12'), server: ModelServer.mlflow(),
    resources: { cpu: '1', memory: '2Gi' },
    mode: ServingMode.realtime({ minReplicas: Number(env.sizes.minReplicas), maxReplicas: Number(env.sizes.maxReplicas) }),
  });
  new KubernetesStack(app, 'kubernetes', { clusterName: cluster.clusterName, backend: state });
  return { registry, scorer };
}

const platform = { name: 'credit', team: 'risk-ml', region: 'eu-west-1' };

/** The environments: the same definition at two sizes, in two accounts. */
export const environments = {
  staging: {
    context: { ...platform, environment: Environment.staging(), accountId: '210987654321' },
    sizes: { databaseClass: 'db.t4g.medium', minReplicas: 2, maxReplicas: 4 },
  },
  prod: {
    context: { ...platform, environment: Environment.production(), accountId: '123456789012' },
    sizes: { databaseClass: 'db.m7g.large', minReplicas: 3, maxReplicas: 20 },
  },
};

if (require.main === module) {
  const envs = new PlatformEnvironments({ environments, definition });
  // `MLOPS_ENVIRONMENT=prod cdktf deploy` writes and deploys one environment; without it, all are written.
  envs.synth(process.env.MLOPS_ENVIRONMENT);
  if (!process.env.MLOPS_ENVIRONMENT) console.log(PlatformEnvironments.markdown(envs.parity('staging', 'prod')));
}
