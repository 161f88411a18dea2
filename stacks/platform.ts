import {
  AlertReceiver, Autoscaling, DeployLocation, FeatureStore, ImageRecipe, PlatformImageBuilds, FeatureView, ModelCards, OnlineStore, CanaryRollout, CapacityType, ClusterNetwork, ClusterValue, DataCheck, Environment, GpuTrainingCluster, InstanceType,
  KubernetesStack, MetricGate, ModelRegistry, ModelServer, MonitoringStack, ObjectLock, PlatformApp, PlatformContextProps, PlatformStack,
  ReferenceProfile, ReleaseStrategy, ServingEndpoint, ServingMode, StateBackend, TrafficRouting, TrainingJob, TrainingPipeline,
} from '../src';

/** The reference platform's context: a production platform in one account and region. */
export const REFERENCE_CONTEXT: PlatformContextProps = {
  name: 'acme-ml',
  environment: Environment.production(),
  region: 'eu-west-1',
  accountId: '111122223333',
  team: 'ml-platform',
  costTags: { 'cost-center': 'cc-4711' },
};

/** The Secrets Manager secret (JSON) that holds the alert receivers' credentials, kept by the on-call team. */
export const ALERTING_SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:acme-ml/prod/alert-receivers-Q1w2E3';

/**
 * Where the reference platform keeps its Terraform state: an S3 bucket the platform team creates
 * once (bootstrap), encrypted with its own key, S3-native locking. The state holds secrets (the
 * registry's credentials are generated at apply), so it never lives in a local plain-text file.
 */
export const REFERENCE_STATE = StateBackend.s3({
  bucket: 'acme-ml-terraform-state-111122223333',
  keyPrefix: 'acme-ml/prod',
  kmsKeyId: 'arn:aws:kms:eu-west-1:111122223333:alias/acme-ml-terraform-state',
});

/** The stacks and constructs of the reference platform. */
export interface ReferencePlatform {
  /** Every AWS resource: planned offline by the tests with terraform and the aws provider alone. */
  readonly aws: PlatformStack;
  /** What Terraform writes into the cluster: add-ons, Secrets and ConfigMaps. */
  readonly kubernetes: KubernetesStack;
  readonly cluster: GpuTrainingCluster;
  readonly registry: ModelRegistry;
  readonly trainingJob: TrainingJob;
  /** Real-time fraud scoring on a GPU. */
  readonly fraud: ServingEndpoint;
  /** Nightly churn scoring on CPU. */
  readonly churn: ServingEndpoint;
  /** Real-time recommendations on CPU. */
  readonly recsys: ServingEndpoint;
  readonly monitoring: MonitoringStack;
  /** Retrains the fraud model weekly, on new data and on drift or quality alerts. */
  readonly fraudRetrain: TrainingPipeline;
  /** Fraud model versions go out by canary, 5% → 25% → 100%, through the ALB. */
  readonly fraudRelease: CanaryRollout;
  /** Recommender versions are first shadowed (Istio mirroring). */
  readonly recsysRelease: CanaryRollout;
  /** Fraud features: the fraud pipeline trains on the offline store, the fraud endpoint reads the online store. */
  readonly features: FeatureStore;
  /** A card for every served model version. */
  readonly modelCards: ModelCards;
  /** MLflow and the Feast feature server, built from official images into the platform's ECR. */
  readonly images: PlatformImageBuilds;
}

/** The fraud model's training-data profile, as its training run writes it. */
export const FRAUD_REFERENCE_PROFILE = ReferenceProfile.of([
  { name: 'amount', edges: [10, 50, 200, 1000], fractions: [0.22, 0.38, 0.25, 0.11, 0.04] },
  { name: 'merchant_risk', edges: [0.2, 0.5, 0.8], fractions: [0.55, 0.3, 0.12, 0.03] },
  { name: 'prediction', edges: [0.1, 0.5, 0.9], fractions: [0.91, 0.06, 0.02, 0.01] },
]);

/**
 * The reference platform that `cdktf synth` builds: what a platform team declares with this library.
 * It grows as each construct lands.
 */
export function buildReferencePlatform(app: PlatformApp): ReferencePlatform {
  const aws = new PlatformStack(app, 'platform', { backend: REFERENCE_STATE });
  const cluster = new GpuTrainingCluster(aws, 'training', {
    network: ClusterNetwork.create({ availabilityZones: ['eu-west-1a', 'eu-west-1b', 'eu-west-1c'], cidr: '10.40.0.0/16' }),
    adminRoleArns: ['arn:aws:iam::111122223333:role/platform-admins'],
    gpuPools: [
      // Single-GPU experiments and fine-tuning: spot, from zero.
      // One shape per pool: the Cluster Autoscaler scales a node group as if all its nodes were alike.
      { name: 'g5-single', instanceTypes: [InstanceType.g5('xlarge')], maxSize: 8 },
      // Multi-node data-parallel training, 4 × A10G per node.
      // Dedicated to the fraud model's training: its nodes count towards the fraud budgets.
      { name: 'g5-multi', instanceTypes: [InstanceType.g5('12xlarge')], maxSize: 4, costAttribution: { team: 'fraud', model: 'fraud-detector' } },
      // Serving-grade capacity that is not interrupted.
      { name: 'g6-ondemand', instanceTypes: [InstanceType.g6('xlarge')], capacityType: CapacityType.ON_DEMAND, maxSize: 4, costAttribution: { team: 'fraud', model: 'fraud-detector' } },
    ],
    // CPU serving and batch scoring: the system nodes (m6i.large, about 1.9 allocatable CPUs) have no room for them.
    cpuPools: [{ name: 'cpu-serving', instanceTypes: [InstanceType.of('m6i.2xlarge')], minSize: 1, maxSize: 8 }],
    teams: [{ name: 'fraud', gpus: 16 }, { name: 'recsys', gpus: 8 }],
  });
  // The official MLflow image with psycopg2 and boto3, and Feast's feature server from the official Python
  // image, built into the platform's own ECR repositories (scripts/images.mjs build, after the first apply).
  // Until images.lock.json records them, image() is undefined and the constructs run their catalog defaults.
  const images = new PlatformImageBuilds(aws, 'images', { recipes: [ImageRecipe.mlflow(), ImageRecipe.feastFeatureServer()] });
  const registry = new ModelRegistry(aws, 'registry', {
    cluster,
    objectLock: ObjectLock.governance(30),
    server: { allowedNamespaces: ['fraud', 'recsys', 'serving', 'recsys-serving', 'pipelines'], image: images.image('mlflow') },
    // Releases in the serving namespaces move `champion` to the version they released, once its analysis passed.
    governance: { promoterNamespaces: ['serving', 'recsys-serving'] },
  });
  const trainingJob = new TrainingJob(aws, 'fraud-train', {
    cluster, team: 'fraud', pool: 'g5-multi', workers: 2,
    // The team's own training image in its ECR repository (example account), by tag and digest: the
    // same image the retraining pipeline runs.
    image: '111122223333.dkr.ecr.eu-west-1.amazonaws.com/acme-ml-prod/training:fraud-2024.06.1@sha256:9b2f4c1d7e8a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c',
    command: ['train.py', '--config=configs/fraud.yaml'],
    registry, model: 'fraud-detector',
  });
  const fraud = new ServingEndpoint(aws, 'fraud', {
    cluster, namespace: 'serving', team: 'fraud',
    // The version in production: a new number here (reviewed in a pull request) is a release.
    model: registry.model('fraud-detector').version('8', {
      source: 's3://acme-ml-prod-registry-111122223333/models/fraud-detector/7c1e9a4b2d8f4e6a9b3c5d7e1f2a4b6c/artifacts/model/',
      lineage: {
        codeCommit: '4f9c2e1a7b3d5c6e8f0a1b2c3d4e5f6a7b8c9d0e', dataVersion: 'fraud-data-2024.06.1',
        configHash: 'sha256:2b7e151628aed2a6abf7158809cf4f3c762e7160f38b4da56a784d9045190cfe', pipelineRun: 'fraud-retrain-8xk2p', trigger: 'schedule',
      },
    }),
    server: ModelServer.triton(),
    resources: { cpu: '2', memory: '8Gi', gpus: 1, pool: 'g6-ondemand' },
    mode: ServingMode.realtime({ minReplicas: 2, maxReplicas: 6, autoscaling: Autoscaling.requestsPerSecond(200), ingress: { host: 'fraud.ml.acme.example' } }),
    allowedNamespaces: ['payments'],
  });
  const churn = new ServingEndpoint(aws, 'churn-batch', {
    cluster, namespace: 'batch-scoring', team: 'recsys',
    model: registry.model('churn').version('12'),
    server: ModelServer.mlflow(),
    resources: { cpu: '4', memory: '16Gi', pool: 'cpu-serving' },
    mode: ServingMode.batch({
      schedule: '0 2 * * *', parallelism: 4,
      inputUri: 's3://acme-ml-prod-customer-features/daily/', outputUri: 's3://acme-ml-prod-predictions/churn/',
      // The team's scoring program, in its own image (the MLServer image has no batch_score module), pushed to
      // the cluster's serving repository (an image from a repository the platform does not create fails the images check).
      image: '111122223333.dkr.ecr.eu-west-1.amazonaws.com/acme-ml-prod/serving:churn-batch-2024.06.1@sha256:5d1c2b3a4f5e6d7c8b9a0f1e2d3c4b5a6f7e8d9c0b1a2f3e4d5c6b7a8f9e0d1c',
      command: ['python', '-m', 'batch_score'],
    }),
  });
  const recsys = new ServingEndpoint(aws, 'recsys', {
    // A namespace of its own: pod-create rights in `serving` must not yield the recommender's role.
    cluster, namespace: 'recsys-serving', team: 'recsys',
    model: registry.model('recommender').version('31'),
    server: ModelServer.mlflow(),
    resources: { cpu: '2', memory: '4Gi', pool: 'cpu-serving' },
    mode: ServingMode.realtime({ minReplicas: 3, maxReplicas: 12 }),
    allowedNamespaces: ['storefront'],
  });
  const fraudRelease = new CanaryRollout(aws, 'fraud-release', { endpoint: fraud, routing: TrafficRouting.alb() });
  const recsysRelease = new CanaryRollout(aws, 'recsys-shadow', {
    endpoint: recsys, strategy: ReleaseStrategy.shadow({ duration: '30m' }), routing: TrafficRouting.istio(),
  });
  const fraudRetrain = new TrainingPipeline(aws, 'fraud-retrain', {
    cluster, team: 'fraud', registry, model: 'fraud-detector', dataPrefix: 'fraud/transactions/',
    image: '111122223333.dkr.ecr.eu-west-1.amazonaws.com/acme-ml-prod/training@sha256:9b2f4c1d7e8a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c',
    codeCommit: '4f9c2e1a7b3d5c6e8f0a1b2c3d4e5f6a7b8c9d0e',
    dataChecks: [
      DataCheck.minRows(100000),
      DataCheck.type('amount', 'number'), DataCheck.range('amount', { min: 0, max: 1000000 }), DataCheck.nullRate('amount', 0),
      DataCheck.type('merchant_risk', 'number'), DataCheck.range('merchant_risk', { min: 0, max: 1 }), DataCheck.nullRate('merchant_risk', 0.01),
      DataCheck.type('is_fraud', 'bool'),
    ],
    training: { pool: 'g5-multi', command: ['python', '-m', 'fraud.train'], parameters: { epochs: '20', learning_rate: '0.0003', batch_size: '4096' } },
    evaluation: { command: ['python', '-m', 'fraud.evaluate'], metrics: ['auc', 'precision_at_1pct', 'recall'] },
    gates: [
      MetricGate.atLeast('auc', 0.9), MetricGate.betterThanChampion('auc', 0.002), MetricGate.atLeast('precision_at_1pct', 0.6),
      // Fairness: fraud caught in one region must not be missed in another. Recall per region (on each
      // region's held-out frauds, at least 200 of them) within 5 points of each other, and never under 0.8.
      MetricGate.maxDisparity('recall', { groups: 'region', max: 0.05, minCount: 200 }),
      MetricGate.groupFloor('recall', { groups: 'region', min: 0.8, minCount: 200 }),
    ],
    promoteTo: 'staging',
    triggers: { schedule: '0 3 * * 1', onNewData: true, onAlert: true },
  });
  const monitoring = new MonitoringStack(aws, 'monitoring', {
    endpoints: [fraud, recsys], cluster, registry,
    drift: [{ endpoint: fraud, profile: FRAUD_REFERENCE_PROFILE }],
    quality: [{ endpoint: fraud, floor: 0.9 }],
    // The fraud model's accuracy per region from labelled feedback (the counter's `region` label): a
    // warning when a region lies 5 points below the others' mean for an hour, regions with 200 labels in 6h.
    subgroups: [{ endpoint: fraud, groupLabel: 'region' }],
    alerting: {
      receivers: [
        // Credentials stay in Secrets Manager; the KubernetesStack writes them into a Secret at apply.
        AlertReceiver.pagerDuty('fraud-oncall', { routingKey: ClusterValue.fromSecretsManager(ALERTING_SECRET_ARN, 'pagerduty-fraud-routing-key') }),
        AlertReceiver.slack('ml-alerts', { channel: '#ml-alerts', webhookUrl: ClusterValue.fromSecretsManager(ALERTING_SECRET_ARN, 'slack-ml-alerts-webhook-url') }),
        AlertReceiver.sns('aws-alerts'),
      ],
      // Each team's alerts reach that team; the rest (platform-wide GPU alerts) go to the SNS topic.
      routes: [
        { receiver: 'fraud-oncall', severity: 'critical', team: 'fraud' },
        { receiver: 'ml-alerts', team: 'fraud' },
        { receiver: 'ml-alerts', team: 'recsys' },
      ],
      defaultReceiver: 'aws-alerts',
      retraining: fraudRetrain.retraining,
    },
    topicSubscriptions: [{ protocol: 'email', endpoint: 'ml-platform-oncall@acme.example' }],
    budgets: [
      { name: 'fraud-team', team: 'fraud', monthlyLimitUsd: 25000 },
      { name: 'fraud-detector', model: 'fraud-detector', monthlyLimitUsd: 8000, thresholdsPercent: [50, 80, 100] },
    ],
  });
  const features = new FeatureStore(aws, 'features', {
    cluster,
    onlineStore: OnlineStore.dynamodb(),
    server: { image: images.image('feast-feature-server') },
    features: [
      FeatureView.of({
        name: 'merchant_stats', entity: { name: 'merchant', joinKey: 'merchant_id' }, source: 'merchant_stats/', ttlSeconds: 7 * 86400,
        features: [{ name: 'merchant_risk', type: 'Float32' }, { name: 'chargeback_rate_30d', type: 'Float32' }, { name: 'transactions_7d', type: 'Int64' }],
      }),
      FeatureView.of({
        name: 'card_activity', entity: { name: 'card', joinKey: 'card_id' }, source: 'card_activity/', ttlSeconds: 86400,
        features: [{ name: 'amount_mean_24h', type: 'Float64' }, { name: 'transactions_1h', type: 'Int64' }, { name: 'countries_24h', type: 'Int32' }],
      }),
    ],
  });
  features.grantOfflineRead(fraudRetrain);
  features.grantOnlineRead(fraud);
  const modelCards = new ModelCards(aws, 'model-cards', {
    descriptions: [{
      endpoint: fraud,
      purpose: 'Scores card payments for fraud in real time, before authorisation; payments above the threshold go to manual review.',
      limitations: ['Trained on EU card-present and e-commerce payments only.', 'Not evaluated on merchants younger than 30 days (no merchant_stats history).'],
    }],
  });
  const kubernetes = new KubernetesStack(app, 'kubernetes', {
    clusterName: cluster.clusterName, backend: REFERENCE_STATE,
    // The API endpoint is private: CI deploys this stack from runners in the platform's VPC, as the admin role.
    cluster, deployer: { roleArn: 'arn:aws:iam::111122223333:role/platform-admins', location: DeployLocation.insideVpc('CI runners in the platform VPC') },
  });
  // It writes into the cluster the AWS stack creates, so it deploys after it.
  kubernetes.addDependency(aws);
  return { aws, kubernetes, cluster, registry, trainingJob, fraud, churn, recsys, monitoring, fraudRetrain, fraudRelease, recsysRelease, features, modelCards, images };
}
