import * as os from 'os';
import * as path from 'path';
import {
  Autoscaling, ClusterNetwork, GpuTrainingCluster, IngressAuthentication, InstanceType, KafkaSource, LatencyClass, ModelRegistry, ModelServer, PlatformTesting,
  ServerMetrics, ServingEndpoint, ServingEndpointProps, ServingMode,
} from '../src';
import { manifestErrors } from './harness/kubernetes';
import { checkWithTerraform, expectTerraformOk, terraformTool } from './harness/terraform';
import { describeWithTool } from './harness/tools';
import { policyStatements, resourcesOf, TEST_CLUSTER, testPlatform } from './harness/fixtures';

function setup(withGpuCluster = false) {
  const { app, stack } = testPlatform();
  const cluster = withGpuCluster
    ? new GpuTrainingCluster(stack, 'training', {
      network: ClusterNetwork.create({ availabilityZones: ['eu-west-1a', 'eu-west-1b'] }),
      gpuPools: [{ name: 'g6', instanceTypes: [InstanceType.g6('xlarge')], maxSize: 4 }],
    })
    : TEST_CLUSTER;
  const registry = new ModelRegistry(stack, 'registry', { cluster });
  return { app, stack, cluster, registry };
}

function synthEndpoint(props: (r: ModelRegistry) => Partial<ServingEndpointProps>, options: { gpu?: boolean } = {}) {
  const { app, stack, cluster, registry } = setup(options.gpu);
  const endpoint = new ServingEndpoint(stack, 'fraud', {
    cluster, namespace: 'serving', model: registry.model('fraud-detector').version('8'), server: ModelServer.mlflow(), ...props(registry),
  });
  const out = PlatformTesting.synth(app);
  const docs = out.manifests['aws/fraud.k8s.yaml'];
  return { endpoint, out, docs, aws: out.terraform.aws, kind: (k: string) => docs.filter((d) => d.kind === k) };
}

describe('ServingEndpoint real-time defaults', () => {
  const { endpoint, out, kind, aws } = synthEndpoint(() => ({}));
  const deployment = kind('Deployment')[0];
  const pod = deployment.spec.template.spec;
  const server = pod.containers[0];

  it('runs at least two replicas spread across zones and nodes, with a disruption budget', () => {
    expect(deployment.spec.replicas).toBe(2);
    expect(pod.topologySpreadConstraints.map((t: any) => t.topologyKey)).toEqual(['topology.kubernetes.io/zone', 'kubernetes.io/hostname']);
    expect(kind('PodDisruptionBudget')[0].spec.minAvailable).toBe(1);
    expect(endpoint.latencyClass).toBe(LatencyClass.REAL_TIME);
  });

  it('probes the server where the preset says, with a startup budget for model loading', () => {
    expect(server.readinessProbe.httpGet).toEqual({ path: '/v2/health/ready', port: 'http' });
    expect(server.livenessProbe.httpGet).toEqual({ path: '/v2/health/live', port: 'http' });
    expect(server.startupProbe.failureThreshold * server.startupProbe.periodSeconds).toBe(600);
    expect(server.lifecycle.preStop.exec.command).toEqual(['sleep', '10']);
    expect(pod.terminationGracePeriodSeconds).toBe(60);
  });

  it('downloads the registered version in an init container and runs non-root with limits', () => {
    const init = pod.initContainers[0];
    expect(init.command).toEqual(['mlflow', 'artifacts', 'download', '--artifact-uri=models:/fraud-detector/8', '--dst-path=/models/fraud-detector']);
    expect(init.env).toContainEqual({ name: 'MLFLOW_TRACKING_URI', value: 'http://mlflow.mlflow.svc.cluster.local:5000' });
    expect(server.securityContext).toMatchObject({ runAsNonRoot: true, readOnlyRootFilesystem: true });
    expect(server.resources).toEqual({ requests: { cpu: '1', memory: '2Gi' }, limits: { cpu: '1', memory: '2Gi' } });
    expect(server.image).toBe('seldonio/mlserver:1.7.1-mlflow@sha256:492c8bbac687b148ad81a57278368f0aaaa2b3f72b09302419258d36058fe000');
  });

  it('autoscales on CPU and exposes a Service and a ServiceMonitor the Prometheus stack selects', () => {
    expect(kind('HorizontalPodAutoscaler')[0].spec).toMatchObject({ minReplicas: 2, maxReplicas: 10, scaleTargetRef: { kind: 'Deployment', name: 'fraud' } });
    expect(kind('Service')[0].spec.ports.map((p: any) => p.name)).toEqual(['http', 'grpc', 'metrics']);
    const monitor = kind('ServiceMonitor')[0];
    expect(monitor.metadata.labels.release).toBe('kube-prometheus-stack');
    expect(monitor.spec.podTargetLabels).toContain('rollouts-pod-template-hash');
  });

  it('labels pods with model, version and team for cost attribution', () => {
    expect(deployment.spec.template.metadata.labels).toMatchObject({ 'mlops.io/model': 'fraud-detector', 'mlops.io/model-version': '8', 'mlops.io/team': 'ml-platform' });
    const role = Object.values(resourcesOf(aws, 'aws_iam_role')).find((r: any) => r.name === 'acme-dev-serving-fraud') as any;
    // The role is the model's, not the version's: a new version changes the pod template only.
    expect(role.tags).toMatchObject({ 'mlops.io/model': 'fraud-detector' });
    expect(role.tags['mlops.io/model-version']).toBeUndefined();
  });

  it('reads only its model from the registry, under its own service account', () => {
    const policy = Object.values(resourcesOf(aws, 'aws_iam_role_policy')).find((p: any) => p.name === 'registry-read-fraud-detector') as any;
    expect(policyStatements(policy.policy).find((s) => s.Sid === 'ReadObjects').Resource).toEqual([expect.stringMatching(/\/models\/fraud-detector\/\*$/)]);
    expect(pod.serviceAccountName).toBe('fraud');
    const registryPolicy = out.manifests['aws/registry.k8s.yaml'].find((d) => d.kind === 'NetworkPolicy');
    expect(registryPolicy.spec.ingress[0].from).toContainEqual({ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'serving' } } });
  });

  it('admits callers from its own namespace and scrapes from monitoring only', () => {
    const policy = kind('NetworkPolicy')[0];
    expect(policy.spec.ingress[0].from).toEqual([{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'serving' } } }]);
    expect(policy.spec.ingress[1]).toEqual({ from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }], ports: [{ protocol: 'TCP', port: 8082 }] });
  });

  it('exposes what canary and monitoring need', () => {
    expect(endpoint.selectorLabels).toEqual({ 'mlops.io/endpoint': 'fraud' });
    expect(endpoint.metricsSelector).toBe('namespace="serving",service="fraud"');
    // No 5xx series exists before the first failure: each term reads 0 until it does.
    expect(endpoint.metrics.errorRatio(endpoint.metricsSelector, '1m')).toBe(
      '(sum(rate(rest_server_requests_total{namespace="serving",service="fraud",status_code=~"5.."}[1m])) or vector(0)) / (sum(rate(rest_server_requests_total{namespace="serving",service="fraud"}[1m])) or vector(0))');
  });

  it('passes the Kubernetes schema check', () => {
    expect(manifestErrors(out.manifests)).toEqual([]);
  });
});

describe('ServingEndpoint on a GPU with Triton, KEDA and an Ingress', () => {
  const { kind, out } = synthEndpoint(() => ({
    server: ModelServer.triton(),
    resources: { gpus: 1, pool: 'g6', cpu: '2', memory: '8Gi' },
    mode: ServingMode.realtime({ minReplicas: 3, maxReplicas: 8, autoscaling: Autoscaling.requestsPerSecond(150), ingress: { host: 'fraud.acme.example' } }),
  }), { gpu: true });
  const pod = kind('Deployment')[0].spec.template.spec;

  it('requests the GPU on the pool, tolerates the taint and runs at serving priority', () => {
    expect(pod.containers[0].resources.limits['nvidia.com/gpu']).toBe('1');
    expect(pod.nodeSelector).toEqual({ 'mlops.io/pool': 'g6' });
    expect(pod.tolerations).toEqual([{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }]);
    expect(pod.priorityClassName).toBe('mlops-serving');
    expect(pod.containers[0].args).toContain('--model-repository=/models');
  });

  it('scales with a KEDA ScaledObject on requests per second from Prometheus', () => {
    const scaled = kind('ScaledObject')[0];
    expect(scaled.spec).toMatchObject({ minReplicaCount: 3, maxReplicaCount: 8 });
    expect(scaled.spec.triggers[0].metadata.query).toBe('(sum(rate(nv_inference_request_success{namespace="serving",service="fraud"}[1m])) or vector(0)) + (sum(rate(nv_inference_request_failure{namespace="serving",service="fraud"}[1m])) or vector(0))');
    expect(kind('HorizontalPodAutoscaler')).toEqual([]);
    const releases = (Object.values(resourcesOf(out.terraform.kubernetes, 'helm_release')) as any[]).map((r) => r.name);
    expect(releases).toEqual(expect.arrayContaining(['keda', 'aws-load-balancer-controller']));
  });

  it('serves through an internal ALB with TLS', () => {
    const ingress = kind('Ingress')[0];
    expect(ingress.metadata.annotations['alb.ingress.kubernetes.io/scheme']).toBe('internal');
    expect(ingress.spec.tls[0].hosts).toEqual(['fraud.acme.example']);
  });

  it('routes only the model\'s inference paths, from the VPC: never / nor Triton\'s control APIs', () => {
    const ingress = kind('Ingress')[0];
    // Exact paths behave the same on the ALB (path condition) and ingress-nginx (Kubernetes Ingress pathType)
    expect(ingress.spec.rules[0].http.paths.map((p: any) => [p.pathType, p.path])).toEqual([
      ['Exact', '/v2/models/fraud-detector/infer'], ['Exact', '/v2/models/fraud-detector/ready'], ['Exact', '/v2/models/fraud-detector'],
    ]);
    // aws-load-balancer-controller annotations.md: inbound-cidrs is what its managed security group admits
    expect(ingress.metadata.annotations['alb.ingress.kubernetes.io/inbound-cidrs']).toBe('10.0.0.0/16');
  });

  it('restricts Triton\'s control APIs to a header whose value only the pod knows', () => {
    // triton-inference-server docs/customization_guide/inference_protocols.md "Limit Endpoint Access":
    // --http-restricted-api=<api>,...:<key>=<value>; an API may be in one group only
    const args: string[] = pod.containers[0].args;
    expect(args).toEqual(expect.arrayContaining([
      '--http-restricted-api=model-repository,model-config,shared-memory,statistics,trace,logging:triton-admin-key=$(MLOPS_POD_UID)',
      '--grpc-restricted-protocol=model-repository,model-config,shared-memory,statistics,trace,logging:triton-admin-key=$(MLOPS_POD_UID)',
    ]));
    // Kubernetes expands $(VAR) in args from the container's env (core/v1 Container.args)
    expect(pod.containers[0].env).toContainEqual({ name: 'MLOPS_POD_UID', valueFrom: { fieldRef: { fieldPath: 'metadata.uid' } } });
    // health and inference stay open: the probes call them without the header
    expect(args.join(' ')).not.toMatch(/(health|inference|metadata)[,:]/);
  });

  it('passes the Kubernetes schema check, KEDA and prometheus-operator CRDs included', () => {
    expect(manifestErrors(out.manifests)).toEqual([]);
  });
});

describe('ServingEndpoint namespaces', () => {
  it('refuses two teams\' endpoints in one namespace: pod-create rights there would yield either team\'s role', () => {
    const { stack, cluster, registry } = setup();
    new ServingEndpoint(stack, 'fraud', { cluster, namespace: 'serving', team: 'fraud', model: registry.model('fraud-detector').version('8'), server: ModelServer.mlflow() });
    new ServingEndpoint(stack, 'fraud-b', { cluster, namespace: 'serving', team: 'fraud', model: registry.model('fraud-detector').version('8'), server: ModelServer.mlflow() });
    expect(() => new ServingEndpoint(stack, 'recsys', { cluster, namespace: 'serving', team: 'recsys', model: registry.model('recommender').version('3'), server: ModelServer.mlflow() }))
      .toThrow(/ServingEndpoint 'aws\/recsys': namespace \('serving'\) holds endpoint 'aws\/fraud' of team 'fraud'; endpoints of different teams need their own namespaces .* e\.g\. 'recsys-serving'/);
  });
});

describe('ServingEndpoint Ingress exposure', () => {
  const ingressOf = (server: ModelServer, ingress: object) => synthEndpoint(() => ({ server, mode: ServingMode.realtime({ ingress: { host: 'fraud.acme.example', ...ingress } }) })).kind('Ingress')[0];

  it('routes MLServer\'s inference paths and /invocations, never its model repository API', () => {
    const paths = ingressOf(ModelServer.mlflow(), {}).spec.rules[0].http.paths.map((p: any) => p.path);
    expect(paths).toEqual(['/v2/models/fraud-detector/infer', '/v2/models/fraud-detector/ready', '/v2/models/fraud-detector', '/invocations']);
    expect(paths.join(' ')).not.toMatch(/repository|load/);
  });

  it('puts an internet-facing ALB behind allowed CIDRs or OIDC, as asked', () => {
    const open = ingressOf(ModelServer.triton(), { scheme: 'internet-facing', allowedCidrs: ['203.0.113.0/24'] });
    expect(open.metadata.annotations).toMatchObject({ 'alb.ingress.kubernetes.io/scheme': 'internet-facing', 'alb.ingress.kubernetes.io/inbound-cidrs': '203.0.113.0/24' });
    const oidc = ingressOf(ModelServer.triton(), {
      scheme: 'internet-facing',
      authentication: IngressAuthentication.oidc({
        issuer: 'https://idp.acme.example', authorizationEndpoint: 'https://idp.acme.example/authorize', tokenEndpoint: 'https://idp.acme.example/token',
        userInfoEndpoint: 'https://idp.acme.example/userinfo', secretName: 'fraud-oidc', onUnauthenticatedRequest: 'deny',
      }),
    });
    // annotations.md "Authentication": auth-type, auth-idp-oidc JSON with secretName (keys clientID, clientSecret)
    expect(oidc.metadata.annotations['alb.ingress.kubernetes.io/auth-type']).toBe('oidc');
    expect(JSON.parse(oidc.metadata.annotations['alb.ingress.kubernetes.io/auth-idp-oidc'])).toEqual({
      issuer: 'https://idp.acme.example', authorizationEndpoint: 'https://idp.acme.example/authorize', tokenEndpoint: 'https://idp.acme.example/token',
      userInfoEndpoint: 'https://idp.acme.example/userinfo', secretName: 'fraud-oidc',
    });
    expect(oidc.metadata.annotations['alb.ingress.kubernetes.io/auth-on-unauthenticated-request']).toBe('deny');
  });

  it.each([
    [{ scheme: 'internet-facing' }, /ServingEndpoint 'aws\/fraud': mode\.ingress\.scheme \('internet-facing'\) needs `allowedCidrs` or `authentication`/],
    [{ allowedCidrs: ['0.0.0.0/0'] }, /mode\.ingress\.allowedCidrs \('0\.0\.0\.0\/0'\) must be IPv4 CIDR blocks other than x\.x\.x\.x\/0/],
    [{ className: 'nginx', scheme: 'internet-facing' }, /mode\.ingress\.className \('nginx'\) does not take `scheme` or `authentication`/],
    [{ scheme: 'internet-facing', authentication: IngressAuthentication.cognito({ userPoolArn: 'arn:aws:cognito-idp:eu-west-1:123456789012:userpool/x', userPoolClientId: 'c', userPoolDomain: 'd' }), allowedCidrs: ['10.0.0.0/8'] }, null],
  ])('checks the exposure %j', (ingress, message) => {
    const make = () => ingressOf(ModelServer.triton(), ingress);
    if (message) expect(make).toThrow(message);
    else expect(make().metadata.annotations['alb.ingress.kubernetes.io/auth-type']).toBe('cognito');
  });

  it('refuses an Ingress for a custom server that declares no inference paths', () => {
    const custom = ModelServer.custom({
      name: 'mine', image: 'acme/server:1@sha256:0d5f3c8e9a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d', ports: [{ name: 'http', port: 8080 }],
      liveness: { path: '/live', port: 'http' }, readiness: { path: '/ready', port: 'http' }, metricsEndpoint: { path: '/metrics', port: 'http' },
      metrics: ModelServer.mlflow().metrics,
    });
    expect(() => ingressOf(custom, {})).toThrow(/mode\.ingress \('fraud\.acme\.example'\) needs the inference paths of model server 'mine' \(ModelServer\.custom\(\{ inferencePaths: \[\.\.\.\] \}\)\): an Ingress routes only those, never '\/'/);
  });
});

describe('ServingEndpoint batch and streaming', () => {
  it('runs batch inference as a CronJob over S3 prefixes, with read-input and write-output grants', () => {
    const { kind, aws, out } = synthEndpoint(() => ({
      mode: ServingMode.batch({ schedule: '30 1 * * mon-fri', parallelism: 3, inputUri: 's3://acme-features/in/', outputUri: 's3://acme-predictions/out/', command: ['python', 'score.py'] }),
    }));
    const cron = kind('CronJob')[0];
    expect(cron.spec).toMatchObject({ schedule: '30 1 * * mon-fri', concurrencyPolicy: 'Forbid' });
    expect(cron.spec.jobTemplate.spec).toMatchObject({ completionMode: 'Indexed', parallelism: 3, completions: 3, backoffLimit: 3, activeDeadlineSeconds: 3600 });
    const env = cron.spec.jobTemplate.spec.template.spec.containers[0].env;
    expect(env).toContainEqual({ name: 'INPUT_URI', value: 's3://acme-features/in/' });
    const policy = Object.values(resourcesOf(aws, 'aws_iam_role_policy')).find((p: any) => p.name === 'fraud-batch-io') as any;
    expect(policyStatements(policy.policy).map((s) => [s.Sid, s.Resource])).toEqual([
      ['ListInput', ['arn:aws:s3:::acme-features']], ['ReadInput', ['arn:aws:s3:::acme-features/in/*']], ['WriteOutput', ['arn:aws:s3:::acme-predictions/out/*']],
    ]);
    expect(kind('Deployment')).toEqual([]);
    expect(manifestErrors(out.manifests)).toEqual([]);
  });

  it('runs a one-off Job when no schedule is given', () => {
    const { kind } = synthEndpoint(() => ({ mode: ServingMode.batch({ inputUri: 's3://a-in/x/', outputUri: 's3://a-out/', command: ['score'] }) }));
    expect(kind('Job')).toHaveLength(1);
    expect(kind('CronJob')).toEqual([]);
  });

  it('consumes Kafka scaled by KEDA on lag', () => {
    const { kind, out } = synthEndpoint(() => ({
      mode: ServingMode.streaming({ source: KafkaSource.brokers(['kafka-0.kafka:9093', 'kafka-1.kafka:9093']), inputTopic: 'transactions', outputTopic: 'fraud-scores', command: ['python', 'consume.py'], lagPerReplica: 500 }),
    }));
    const scaled = kind('ScaledObject')[0];
    expect(scaled.spec.triggers[0]).toEqual({ type: 'kafka', metadata: expect.objectContaining({ topic: 'transactions', lagThreshold: '500', bootstrapServersFromEnv: 'KAFKA_BROKERS', tls: 'enable' }) });
    expect(kind('Deployment')[0].spec.template.spec.containers[0].env).toContainEqual({ name: 'KAFKA_BROKERS', value: 'kafka-0.kafka:9093,kafka-1.kafka:9093' });
    expect(manifestErrors(out.manifests)).toEqual([]);
  });

  it('reads MSK brokers from a ConfigMap Terraform writes, with IAM grants on the topics', () => {
    const { kind, out, aws } = synthEndpoint(() => ({
      mode: ServingMode.streaming({
        source: KafkaSource.msk({ clusterArn: 'arn:aws:kafka:eu-west-1:123456789012:cluster/events/abc-123', bootstrapBrokers: 'b-1.events.kafka.eu-west-1.amazonaws.com:9098' }),
        inputTopic: 'transactions', outputTopic: 'fraud-scores', command: ['consume'],
      }),
    }));
    expect(kind('Deployment')[0].spec.template.spec.containers[0].env).toContainEqual({ name: 'KAFKA_BROKERS', valueFrom: { configMapKeyRef: { name: 'fraud-kafka', key: 'brokers' } } });
    expect(Object.values(resourcesOf(out.terraform.kubernetes, 'kubernetes_config_map_v1')).map((c: any) => c.metadata.name)).toContain('fraud-kafka');
    const policy = Object.values(resourcesOf(aws, 'aws_iam_role_policy')).find((p: any) => p.name === 'fraud-kafka') as any;
    expect(policyStatements(policy.policy).find((s) => s.Sid === 'ReadInput').Resource).toEqual(['arn:aws:kafka:eu-west-1:123456789012:topic/events/abc-123/transactions']);
    expect(policyStatements(policy.policy).find((s) => s.Sid === 'ConsumerGroup').Resource).toEqual(['arn:aws:kafka:eu-west-1:123456789012:group/events/abc-123/fraud']);
    expect(kind('TriggerAuthentication')[0].spec.podIdentity).toEqual({ provider: 'aws' });
    // KEDA 2.17 pkg/scalers/kafka_scaler.go: MSK IAM is SASL/OAUTHBEARER with the aws_msk_iam token
    // provider over TLS; `sasl: aws_msk_iam` is refused ("err SASL mode aws_msk_iam given").
    expect(kind('ScaledObject')[0].spec.triggers[0].metadata).toMatchObject({ sasl: 'oauthbearer', saslTokenProvider: 'aws_msk_iam', tls: 'enable', awsRegion: 'eu-west-1' });
    // KEDA reads the lag with its own Pod Identity role, allowed to describe just this topic and group.
    const keda = (Object.values(resourcesOf(aws, 'aws_eks_pod_identity_association')) as any[]).find((a) => a.namespace === 'keda');
    expect(keda.service_account).toBe('keda-operator');
    const lag = Object.values(resourcesOf(aws, 'aws_iam_role_policy')).find((p: any) => p.name === 'serving-fraud-lag') as any;
    expect(lag.role).toBe('acme-dev-keda-keda-operator');
    expect(lag.depends_on).toEqual([expect.stringMatching(/^aws_iam_role\.keda-operator-identity_role_/)]);
    expect(policyStatements(lag.policy).flatMap((s) => s.Action)).toEqual(['kafka-cluster:Connect', 'kafka-cluster:DescribeCluster', 'kafka-cluster:DescribeTopic', 'kafka-cluster:DescribeGroup']);
    expect(manifestErrors(out.manifests)).toEqual([]);
  });
});

describe('ServingEndpoint bad input', () => {
  const bad = (props: (r: ModelRegistry) => Partial<ServingEndpointProps>, gpu = false) => () => synthEndpoint(props, { gpu });

  it.each([
    [() => ({ mode: ServingMode.realtime({ minReplicas: 5, maxReplicas: 3 }) }), /ServingEndpoint 'aws\/fraud': mode\.minReplicas \(5\) must not exceed maxReplicas \(3\)/],
    [() => ({ mode: ServingMode.realtime({ minReplicas: 0 }) }), /mode\.minReplicas \(0\) scales to zero, which latency class 'real-time' does not allow/],
    [() => ({ mode: ServingMode.realtime({ minReplicas: 1 }) }), /mode\.minReplicas \(1\) is below the 2 replicas latency class 'real-time' keeps warm/],
    // an existing cluster without described pools: nothing to place the pod on
    [() => ({ resources: { gpus: 1, pool: 'g6' } }), /resources\.pool \('g6'\) names a pool of cluster 'acme-dev', which describes none: give EksCluster\.fromAttributes its nodePools/],
    [() => ({ resources: { gpus: 1 } }), /resources\.gpus \(1\) needs resources\.pool/],
    [() => ({ mode: ServingMode.batch({ schedule: '0 25 * * *', inputUri: 's3://a-in/', outputUri: 's3://a-out/', command: ['x'] }) }), /mode\.schedule \('0 25 \* \* \*'\) is not a cron expression: it has '25' in the hour field, which takes 0-23/],
    [() => ({ mode: ServingMode.batch({ schedule: 'daily', inputUri: 's3://a-in/', outputUri: 's3://a-out/', command: ['x'] }) }), /mode\.schedule \('daily'\) is not a cron expression: it has 1 fields/],
    [() => ({ mode: ServingMode.batch({ inputUri: 'acme/in', outputUri: 's3://a-out/', command: ['x'] }) }), /mode\.inputUri \('acme\/in'\) must be an S3 prefix/],
    [() => ({ readinessCheck: { path: '/ready', port: 'admin' } }), /readinessCheck\.port \('admin'\) is not a port the mlflow server opens; it opens 'http' \(8080\), 'grpc' \(8081\), 'metrics' \(8082\)/],
    [() => ({ server: ModelServer.mlflow().withImage('seldonio/mlserver:latest') }), /server\.image \('seldonio\/mlserver:latest'\) must be pinned/],
    [() => ({ mode: ServingMode.streaming({ source: KafkaSource.brokers(['k:9092']), inputTopic: 'bad topic', outputTopic: 'o', command: ['c'] }) }), /mode\.inputTopic \('bad topic'\) must be a Kafka topic name/],
  ])('rejects %#', (props, message) => {
    expect(bad(props as any)).toThrow(message);
  });

  it('rejects GPUs beyond what the pool\'s nodes have, and unknown pools', () => {
    expect(bad(() => ({ resources: { gpus: 2, pool: 'g6' } }), true)).toThrow(/resources\.gpus \(2\) is more than the 1 GPU\(s\) a node of pool 'g6' has/);
    expect(bad(() => ({ resources: { gpus: 1, pool: 'p5' } }), true)).toThrow(/resources\.pool \('p5'\) is not a GPU pool of the cluster; its GPU pools are 'g6'/);
  });

  it('refuses an alias: it moves without a rollout, and restarted pods would load whatever it points to', () => {
    expect(bad((r) => ({ model: r.model('fraud-detector').alias('champion') }))).toThrow(
      /ServingEndpoint 'aws\/fraud': model \('models:\/fraud-detector@champion'\) is an alias, which moves without changing the pod template: no release would start .* Pin the version: registry\.model\('fraud-detector'\)\.version\('<n>'\)/);
  });

  it('refuses a version source outside the model\'s artifacts and a malformed lineage', () => {
    expect(bad((r) => ({ model: r.model('fraud-detector').version('8', { source: 's3://elsewhere/models/x/' }) }))).toThrow(
      /version\.source \('s3:\/\/elsewhere\/models\/x\/'\) must be an S3 prefix under model 'fraud-detector''s artifacts \(s3:\/\/acme-dev-registry-123456789012\/models\/fraud-detector\/\.\.\.\)/);
    expect(bad((r) => ({ model: r.model('fraud-detector').version('8', { lineage: { codeCommit: 'abc', dataVersion: 'd1', configHash: 'x' } }) }))).toThrow(
      /version\.lineage .* is not a lineage record of version 8 of 'fraud-detector': lineage\.codeCommit \('abc'\) must be a full git commit id/);
  });

  it('refuses a batch image that is not pinned', () => {
    expect(bad(() => ({ mode: ServingMode.batch({ inputUri: 's3://a-in/', outputUri: 's3://a-out/', command: ['score'], image: 'acme/score:latest' }) })))
      .toThrow(/mode\.image \('acme\/score:latest'\) must be pinned/);
  });

  it('rejects a model from another registry than the one it may read', () => {
    const make = () => {
      const { stack, registry } = setup();
      const other = new ModelRegistry(stack, 'other', { cluster: TEST_CLUSTER, server: { namespace: 'mlflow-b' } });
      new ServingEndpoint(stack, 'fraud', { cluster: TEST_CLUSTER, namespace: 'serving', model: other.model('fraud').version('1'), registry, server: ModelServer.mlflow() });
    };
    expect(make).toThrow(/model \('models:\/fraud\/1'\) comes from registry 'aws\/other', but this endpoint may read only registry 'aws\/registry'/);
  });
});

describe('Model server presets: flags, writable paths and metric names as each server version has them', () => {
  const podOf = (server: ModelServer, mode?: ServingMode) => {
    const { kind } = synthEndpoint(() => ({ server, ...(mode ? { mode } : {}) }));
    const workload = kind('Deployment')[0] ?? kind('CronJob')[0].spec.jobTemplate;
    return { pod: workload.spec.template, kind };
  };
  const env = (pod: any) => Object.fromEntries(pod.spec.containers[0].env.filter((e: any) => e.value !== undefined).map((e: any) => [e.name, e.value]));
  const writable = (pod: any) => pod.spec.containers[0].volumeMounts.filter((m: any) => !m.readOnly).map((m: any) => m.mountPath);
  // PlatformTesting.synth writes this machine's temp folder as <tmp>; where that is /tmp, so is the pods' /tmp.
  const TMP = path.resolve(os.tmpdir()) === '/tmp' ? '<tmp>' : '/tmp';

  it('MLServer 1.6: metrics and environments folders on the writable volume, counters named with _total', () => {
    // mlserver/settings.py: metrics_dir and environments_dir default to the working directory, which
    // the read-only root filesystem forbids; both are created at start.
    const { pod } = podOf(ModelServer.mlflow());
    expect(env(pod)).toMatchObject({ MLSERVER_METRICS_DIR: '/var/lib/mlserver/metrics', MLSERVER_ENVIRONMENTS_DIR: '/var/lib/mlserver/envs' });
    expect(writable(pod)).toEqual([TMP, '/var/lib/mlserver/metrics', '/var/lib/mlserver/envs']);
    expect(pod.spec.volumes).toContainEqual({ name: 'writable-0', emptyDir: { sizeLimit: '1Gi' } });
    expect(pod.spec.containers[0].securityContext.readOnlyRootFilesystem).toBe(true);
    // prometheus_client exports a Counter `model_infer_request_success` as `..._total` (mlserver/handlers/dataplane.py).
    expect(ModelServer.mlflow().metrics.metricNames).toEqual(expect.arrayContaining(['rest_server_requests_total', 'rest_server_request_duration_seconds_bucket', 'model_infer_request_success_total', 'model_infer_request_failure_total']));
    expect(ModelServer.mlflow().metrics.metricNames).not.toContain('model_infer_request_success');
  });

  it('TorchServe 0.12: its own config.properties (management on loopback, Prometheus metrics), logs under /tmp', () => {
    // docs/configuration.md: TS_* variables are read only with enable_envvars_config=true in
    // config.properties; without --ts-config TorchServe reads the image's file, whose management API listens on all interfaces.
    const { pod, kind } = podOf(ModelServer.torchServe());
    const container = pod.spec.containers[0];
    expect(container.args).toContain('--ts-config=/etc/model-server/config.properties');
    expect(container.env.map((e: any) => e.name).filter((n: string) => n.startsWith('TS_'))).toEqual([]);
    const config = kind('ConfigMap').find((c: any) => c.metadata.name === 'fraud-server-config').data['config.properties'];
    expect(config.split('\n')).toEqual(expect.arrayContaining(['management_address=http://127.0.0.1:8081', 'metrics_address=http://0.0.0.0:8082', 'metrics_mode=prometheus', 'inference_address=http://0.0.0.0:8080']));
    expect(container.volumeMounts).toContainEqual({ name: 'server-config', mountPath: '/etc/model-server', readOnly: true });
    expect(pod.spec.volumes).toContainEqual({ name: 'server-config', configMap: { name: 'fraud-server-config' } });
    // LOG_LOCATION and METRICS_LOCATION default to ./logs under the read-only working directory.
    expect(env(pod)).toMatchObject({ LOG_LOCATION: '/var/log/torchserve', METRICS_LOCATION: '/var/log/torchserve' });
    // ts/model_server.py: TEMP (the image's is under the read-only home) becomes java.io.tmpdir and holds the pid file.
    expect(env(pod).TEMP).toBe(TMP);
    expect(writable(pod)).toEqual([TMP, '/var/log/torchserve']);
    // ts/configs/metrics.yaml: simpleclient 0.9 exports the names as configured, without _total.
    expect(ModelServer.torchServe().metrics.metricNames).toEqual(expect.arrayContaining(['Requests2XX', 'Requests4XX', 'Requests5XX', 'ts_inference_requests_total']));
  });

  it('Triton: latency summaries on, strict readiness, metric names of docs/user_guide/metrics.md', () => {
    const { pod } = podOf(ModelServer.triton());
    expect(pod.spec.containers[0].args).toEqual(expect.arrayContaining(['--metrics-config=summary_latencies=true', '--strict-readiness=true', '--model-repository=/models']));
    expect(ModelServer.triton().metrics.metricNames).toEqual(expect.arrayContaining(['nv_inference_request_success', 'nv_inference_request_failure', 'nv_inference_request_summary_us', 'nv_inference_count']));
  });

  it('runs a batch command in its own image, without the server\'s configuration', () => {
    const image = '111122223333.dkr.ecr.eu-west-1.amazonaws.com/churn-batch@sha256:5d1c2b3a4f5e6d7c8b9a0f1e2d3c4b5a6f7e8d9c0b1a2f3e4d5c6b7a8f9e0d1c';
    const { pod, kind } = podOf(ModelServer.torchServe(), ServingMode.batch({ schedule: '0 2 * * *', inputUri: 's3://a-in/', outputUri: 's3://a-out/', command: ['python', '-m', 'batch_score'], image }));
    expect(pod.spec.containers[0]).toMatchObject({ image, command: ['python', '-m', 'batch_score'] });
    expect(kind('ConfigMap')).toEqual([]);
  });

  it('refuses a writable path over a folder the pod mounts already', () => {
    const server = ModelServer.custom({ ...ModelServer.mlflow().props, writablePaths: ['/models/cache'] });
    expect(() => synthEndpoint(() => ({ server }))).toThrow(/server\.writablePaths \('\/models\/cache'\) must be an absolute path outside the folders the pod mounts already \(\/models, \/tmp, \/etc\/model-server\)/);
  });
});

describe('ServerMetrics', () => {
  const triton = ModelServer.triton().metrics;
  it('derives quantiles from histograms and summaries, and refuses what a server cannot answer', () => {
    expect(ModelServer.mlflow().metrics.latencyQuantile(0.95, 'service="a"', '5m')).toBe('histogram_quantile(0.95, sum by (le) (rate(rest_server_request_duration_seconds_bucket{service="a"}[5m])))');
    expect(triton.latencyQuantile(0.99, 'service="a"', '5m')).toBe('(max (nv_inference_request_summary_us{service="a",quantile="0.99"})) * 0.000001');
    expect(triton.latencySupport(0.75)).toMatch(/only the quantiles 0\.5, 0\.9, 0\.95, 0\.99/);
    expect(ModelServer.torchServe().metrics.latencySupport(0.95)).toMatch(/exports no latency histogram/);
    expect(ModelServer.kserveRuntime({ image: 'kserve/sklearnserver:v0.14.1@sha256:0d5f3c8e9a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d' }).metrics.hasFailures).toBe(false);
    expect(ServerMetrics.of({ requests: ['r'] }).metricNames).toEqual(['r']);
  });
});

describeWithTool(terraformTool, 'ServingEndpoint checked by terraform', () => {
  it('validates and plans the identities and grants offline', () => {
    const { aws } = synthEndpoint(() => ({ mode: ServingMode.batch({ inputUri: 's3://a-in/x/', outputUri: 's3://a-out/', command: ['score'] }) }));
    const plan = expectTerraformOk(checkWithTerraform(aws));
    const assoc = plan.resource_changes.filter((c) => c.type === 'aws_eks_pod_identity_association');
    // the endpoint's, the registry server's and the registry's database bootstrap
    expect(assoc).toHaveLength(3);
  });
});
