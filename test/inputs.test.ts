import * as path from 'path';
import {
  AlertReceiver, ClusterNetwork, GpuTrainingCluster, GpuTrainingClusterProps, InstanceType, KubernetesStack, ModelRegistry, ModelServer, MonitoringStack,
  MonitoringStackProps, PlatformApp, PlatformStack, PlatformTesting, ServingEndpoint, ServingEndpointProps, ServingMode, TrainingJob, TrainingJobProps,
} from '../src';
import { runApp } from '../stacks/entry';
import { TEST_CLUSTER, testPlatform } from './harness/fixtures';
import { run } from './harness/tools';

/**
 * Inputs that used to pass silently, or failed with a message that pointed elsewhere: each is refused
 * at synth with the construct path, the prop, the value and what is allowed.
 */

function endpoint(props: Partial<ServingEndpointProps>) {
  const { app, stack } = testPlatform();
  const registry = new ModelRegistry(stack, 'registry', { cluster: TEST_CLUSTER });
  new ServingEndpoint(stack, 'fraud', { cluster: TEST_CLUSTER, namespace: 'serving', model: registry.model('fraud-detector').version('1'), server: ModelServer.mlflow(), ...props });
  return PlatformTesting.synth(app);
}

const GPU: GpuTrainingClusterProps = {
  network: ClusterNetwork.create({ availabilityZones: ['eu-west-1a', 'eu-west-1b'] }),
  gpuPools: [{ name: 'g5', instanceTypes: [InstanceType.g5('12xlarge')], maxSize: 4 }],
  teams: [{ name: 'fraud', gpus: 8 }],
};

function trainingJob(props: Partial<TrainingJobProps>) {
  const { app, stack } = testPlatform();
  const cluster = new GpuTrainingCluster(stack, 'training', GPU);
  new TrainingJob(stack, 'job', { cluster, team: 'fraud', pool: 'g5', image: 'acme/train:1@sha256:0d5f3c8e9a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d', command: ['train.py'], ...props });
  return PlatformTesting.synth(app);
}

function monitoring(props: Partial<MonitoringStackProps>) {
  const { app, stack } = testPlatform();
  const registry = new ModelRegistry(stack, 'registry', { cluster: TEST_CLUSTER });
  const e = new ServingEndpoint(stack, 'fraud', { cluster: TEST_CLUSTER, namespace: 'serving', model: registry.model('fraud-detector').version('1'), server: ModelServer.mlflow(), team: 'fraud' });
  new MonitoringStack(stack, 'monitoring', { endpoints: [e], topicSubscriptions: [{ protocol: 'email', endpoint: 'oncall@acme.example' }], ...props });
  return PlatformTesting.synth(app);
}

const slack = (channel: string, name = 'alertmanager-slack', key = 'url') => AlertReceiver.slack('team', { channel, webhookUrl: { name, key } });

describe('bad inputs are refused with what is allowed', () => {
  it.each([
    // The AWS SDKs' partitions.json (aws/aws-sdk-js-v3 packages/util-endpoints/src/lib/aws/partitions.json) has no eu-west-9.
    ['an unknown region', () => new PlatformApp({ platform: { ...PlatformTesting.context, region: 'eu-west-9' } }),
      /^PlatformApp '': context\.region \('eu-west-9'\) is not a region of the AWS partition this library writes ARNs for; use one of af-south-1, .*eu-west-1, /],
    // Kubernetes quantities: the grammar of k8s.io/apimachinery/pkg/api/resource/quantity.go; '2GB' and 'lots' do not parse.
    ['memory in GB', () => endpoint({ resources: { memory: '2GB' } }),
      /ServingEndpoint 'aws\/fraud': resources\.memory \('2GB'\) is not a Kubernetes memory quantity; use bytes with a binary suffix \('512Mi', '8Gi'\) or a decimal one \('2G'\); '2Gi' is what '2GB' most likely means\./],
    ['cpu in words', () => endpoint({ resources: { cpu: 'lots' } }),
      /ServingEndpoint 'aws\/fraud': resources\.cpu \('lots'\) is not a Kubernetes cpu quantity; use cores \('2', '0\.5'\) or millicores \('500m'\)/],
    ['memory in millibytes', () => endpoint({ resources: { memory: '512m' } }), /resources\.memory \('512m'\) is in millibytes \('m'\)/],
    ['no cpu at all', () => endpoint({ resources: { cpu: '0' } }), /resources\.cpu \('0'\) must be above zero/],
    ['a training job\'s memory', () => trainingJob({ memory: '64 GiB' }), /TrainingJob 'aws\/job': memory \('64 GiB'\) is not a Kubernetes memory quantity.*'64Gi' is what '64 GiB' most likely means/],
    ['a training job\'s cpu', () => trainingJob({ cpu: 'many' }), /TrainingJob 'aws\/job': cpu \('many'\) is not a Kubernetes cpu quantity/],
    // A model budget filters on the mlops.io/model tag, which only the constructs serving the model set.
    ['a budget on a model no endpoint serves', () => monitoring({ budgets: [{ name: 'ranker', model: 'ranker', monthlyLimitUsd: 100 }] }),
      /MonitoringStack 'aws\/monitoring': budgets\[0\]\.model \('ranker'\) is served by none of this stack's endpoints, so no cost would carry its tag; the endpoints serve 'fraud-detector'/],
    // Alertmanager's slack_config: channel is the channel or user to send to (prometheus/alertmanager config/notifiers.go).
    ['an empty Slack channel', () => monitoring({ alerting: { receivers: [slack('')] } }),
      /MonitoringStack 'aws\/monitoring': alerting\.receivers\[0\]\.channel \(''\) must name a Slack channel, e\.g\. '#ml-alerts' \(not empty, no spaces\)/],
    // A Secret's name is a DNS-1123 subdomain (kubernetes pkg/apis/core/validation: ValidateSecretName).
    ['an invalid Secret name', () => monitoring({ alerting: { receivers: [slack('#ml', 'Slack_Webhook')] } }),
      /alerting\.receivers\[0\]\.webhookUrl\.name \('Slack_Webhook'\) must be a DNS-1123 subdomain/],
    ['an invalid Secret key', () => monitoring({ alerting: { receivers: [slack('#ml', 'slack', 'web hook')] } }),
      /alerting\.receivers\[0\]\.webhookUrl\.key \('web hook'\) must be a Secret key/],
    // Amazon EKS API Reference, CreateCluster: name matches ^[0-9A-Za-z][A-Za-z0-9\-_]*$, 1 to 100 characters.
    ['a cluster name with spaces', () => new KubernetesStack(PlatformTesting.app(), 'kubernetes', { clusterName: 'acme dev' }),
      /KubernetesStack 'kubernetes': clusterName \('acme dev'\) must be an EKS cluster name: 1 to 100 letters, digits, '-' and '_', starting with a letter or digit \(no spaces\)/],
    // S3 bucket naming rules (3 to 63 characters): 'in' is too short, the trailing '/' is there.
    ['a bucket name too short in an S3 URI', () => endpoint({ mode: ServingMode.batch({ inputUri: 's3://in/x/', outputUri: 's3://a-out/', command: ['x'] }) }),
      /mode\.inputUri \('s3:\/\/in\/x\/'\) names the bucket 'in', which is not an S3 bucket name \(3 to 63/],
    ['an S3 prefix without its trailing slash', () => endpoint({ mode: ServingMode.batch({ inputUri: 's3://acme-in/x', outputUri: 's3://a-out/', command: ['x'] }) }),
      /mode\.inputUri \('s3:\/\/acme-in\/x'\) must end with '\/': it is a prefix \(s3:\/\/acme-in\/x\/\)/],
    ['a typo in a GPU instance type', () => new GpuTrainingCluster(new PlatformStack(PlatformTesting.app(), 'aws'), 'training', { ...GPU, gpuPools: [{ name: 'g5', instanceTypes: [InstanceType.of('g5.12xlarg')], maxSize: 2 }] }),
      /GpuTrainingCluster 'aws\/training': gpuPools\[0\]\.instanceTypes \(\["g5\.12xlarg"\]\) are not GPU instance types of the catalogue: 'g5\.12xlarg' is not a size of the GPU family g5 \(its sizes: g5\.xlarge, .*g5\.12xlarge/],
    ['an unknown instance type', () => new GpuTrainingCluster(new PlatformStack(PlatformTesting.app(), 'aws'), 'training', { ...GPU, gpuPools: [{ name: 'g5', instanceTypes: [InstanceType.of('g7x.xlarge')], maxSize: 2 }] }),
      /'g7x\.xlarge' is not a known instance type/],
    ['a log retention of no days, under its own name', () => new ModelRegistry(new PlatformStack(PlatformTesting.app(), 'aws'), 'registry', { cluster: TEST_CLUSTER, logRetentionDays: 0 }),
      /ModelRegistry 'aws\/registry': logRetentionDays \(0\) must be a whole number from 1 to 36500/],
  ])('%s', (_what, build, message) => {
    expect(build).toThrow(message);
  });

  it('still refuses a CPU type in a GPU pool as CPU-only', () => {
    expect(() => new GpuTrainingCluster(new PlatformStack(PlatformTesting.app(), 'aws'), 'training', { ...GPU, gpuPools: [{ name: 'g5', instanceTypes: [InstanceType.of('m6i.xlarge')], maxSize: 2 }] }))
      .toThrow(/gpuPools\[0\]\.instanceTypes \(\["m6i\.xlarge"\]\) are CPU-only/);
  });

  it('accepts the quantities Kubernetes accepts', () => {
    for (const [cpu, memory] of [['500m', '512Mi'], ['1.5', '2G'], ['2', '1e9'], ['0.25', '8Gi']]) {
      expect(() => endpoint({ resources: { cpu, memory } })).not.toThrow();
    }
  });
});

describe('the app entry point', () => {
  it('prints a synth error once, as the library worded it, without a stack trace', () => {
    // in process: the message, one line, exit code 1
    let err = '';
    const code = runApp({ ...PlatformTesting.context, region: 'eu-west-9' }, () => undefined, (t) => { err += t; });
    expect(code).toBe(1);
    expect(err.split('\n')).toEqual([expect.stringMatching(/^PlatformApp '': context\.region \('eu-west-9'\) is not a region/), '']);

    // as a process (the compiled entry point, as `npm run synth` and `cdktf synth` run it)
    const entry = path.join(__dirname, '..', 'lib', 'stacks', 'entry.js');
    const script = `process.exitCode = require(${JSON.stringify(entry)}).runApp({ name: 'acme', environment: { name: 'dev', isProduction: false }, region: 'eu-west-1', accountId: '123456789012', team: 'ml' },
      (app) => { const { PlatformStack, ModelRegistry } = require(${JSON.stringify(path.join(__dirname, '..', 'lib', 'src'))}); new ModelRegistry(new PlatformStack(app, 'aws'), 'registry', { cluster: { clusterName: 'c', vpcId: 'v', vpcCidr: '10.0.0.0/16', privateSubnetIds: ['s'], workloadSecurityGroupId: 'g' }, logRetentionDays: 0 }); });`;
    const r = run(process.execPath, ['-e', script], { cwd: PlatformTesting.app().outdir.replace(/cdktf\.out$/, '') });
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe("ModelRegistry 'aws/registry': logRetentionDays (0) must be a whole number from 1 to 36500.\n");
  });
});
