// Serving a registered model in real time, releasing new versions by canary, and watching it:
// latency and error objectives, data drift against the training profile, alerts to Slack.
// The cluster and registry exist already (created by another team's stacks).
import {
  AlertReceiver, CanaryRollout, ClusterValue, EksCluster, Environment, KubernetesStack, ModelRegistry, ModelServer, MonitoringStack, PlatformApp, PlatformStack, ReferenceProfile, ServingEndpoint, ServingMode, StateBackend, TrafficRouting,
} from '../src';

/** State in S3 (a versioned bucket created once beforehand), encrypted with a KMS key, S3-native locking: the state holds secrets, never a local file. */
const state = StateBackend.s3({ bucket: 'terraform-state-777788889999', keyPrefix: 'serve-release-monitor', kmsKeyId: 'arn:aws:kms:eu-central-1:777788889999:alias/terraform-state' });

export function build(app: PlatformApp) {
  const stack = new PlatformStack(app, 'ranking', { backend: state });
  const cluster = EksCluster.fromAttributes({
    clusterName: 'shop-prod', vpcId: 'vpc-0aa11bb22cc33dd44', vpcCidr: '10.8.0.0/16',
    privateSubnetIds: ['subnet-0aa11bb22cc33dd41', 'subnet-0aa11bb22cc33dd42'], workloadSecurityGroupId: 'sg-0aa11bb22cc33dd44',
  });
  const registry = new ModelRegistry(stack, 'registry', {
    cluster, database: { instanceClass: 'db.m7g.large' },
    // A successful release in `ranking` moves `champion` to the version it released.
    governance: { promoterNamespaces: ['ranking'] },
  });

  const ranker = new ServingEndpoint(stack, 'ranker', {
    cluster, namespace: 'ranking', team: 'search',
    model: registry.model('ranker').version('14'),
    server: ModelServer.mlflow(),
    resources: { cpu: '2', memory: '4Gi' },
    mode: ServingMode.realtime({ minReplicas: 3, maxReplicas: 20, ingress: { host: 'ranker.shop.example', className: 'nginx', tlsSecretName: 'ranker-tls' } }),
    allowedNamespaces: ['storefront'],
  });
  const release = new CanaryRollout(stack, 'ranker-release', {
    endpoint: ranker,
    routing: TrafficRouting.nginx(),
    analysis: { successRate: 0.995, latencyMs: 80 },
  });
  const monitoring = new MonitoringStack(stack, 'monitoring', {
    endpoints: [ranker],
    objectives: [{ endpoint: ranker, availability: 0.999, latencyMs: 80 }],
    drift: [{
      endpoint: ranker,
      profile: ReferenceProfile.fromJson({ features: [
        { name: 'query_length', edges: [2, 5, 10], fractions: [0.3, 0.45, 0.2, 0.05] },
        { name: 'prediction', edges: [0.25, 0.5, 0.75], fractions: [0.4, 0.3, 0.2, 0.1] },
      ] }),
    }],
    alerting: {
      // The webhook URL stays in Secrets Manager; the KubernetesStack writes it into a Secret at apply.
      receivers: [AlertReceiver.slack('search-alerts', {
        channel: '#search-ml',
        webhookUrl: ClusterValue.fromSecretsManager('arn:aws:secretsmanager:eu-central-1:777788889999:secret:shop/search-alerts-Zx81Qa', 'slack-webhook-url'),
      }), AlertReceiver.sns('platform-alerts')],
      routes: [{ receiver: 'search-alerts', team: 'search' }],
      defaultReceiver: 'platform-alerts',
    },
    topicSubscriptions: [{ protocol: 'email', endpoint: 'platform-oncall@shop.example' }],
    budgets: [{ name: 'ranker', model: 'ranker', monthlyLimitUsd: 3000 }],
  });
  new KubernetesStack(app, 'kubernetes', { clusterName: cluster.clusterName, backend: state });
  return { stack, registry, ranker, release, monitoring };
}

export const context = {
  name: 'shop',
  environment: Environment.production(),
  region: 'eu-central-1',
  accountId: '777788889999',
  team: 'search',
};

if (require.main === module) {
  const app = new PlatformApp({ platform: context });
  build(app);
  app.synth();
}
