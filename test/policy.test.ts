import {
  checkPolicies, KafkaSource, ModelRegistry, ModelServer, PLATFORM_RULES, PlatformTesting, ServingEndpoint, ServingMode, suppressionsOf,
} from '../src';
import * as registryWithObjectLock from '../examples/registry-with-object-lock';
import * as serveReleaseMonitor from '../examples/serve-release-monitor';
import * as spotTraining from '../examples/spot-training';
import { buildReferencePlatform, REFERENCE_CONTEXT } from '../stacks/platform';
import { TEST_CLUSTER, testPlatform } from './harness/fixtures';

describe('platform policy rules', () => {
  it('find nothing in the reference platform and the examples (suppressions carry reasons)', () => {
    const reference = PlatformTesting.app({ platform: REFERENCE_CONTEXT });
    buildReferencePlatform(reference);
    expect(checkPolicies(PlatformTesting.synth(reference))).toEqual([]);
    for (const example of [registryWithObjectLock, serveReleaseMonitor, spotTraining]) {
      const app = PlatformTesting.app({ platform: example.context });
      example.build(app);
      expect(checkPolicies(PlatformTesting.synth(app))).toEqual([]);
    }
  });

  it('accept a streaming endpoint, whose missing probes are suppressed with a reason', () => {
    const { app, stack } = testPlatform();
    const registry = new ModelRegistry(stack, 'registry', { cluster: TEST_CLUSTER });
    new ServingEndpoint(stack, 'stream', {
      cluster: TEST_CLUSTER, namespace: 'serving', model: registry.model('m').version('1'), server: ModelServer.mlflow(),
      mode: ServingMode.streaming({ source: KafkaSource.brokers(['k:9093']), inputTopic: 'in', outputTopic: 'out', command: ['consume'] }),
    });
    const out = PlatformTesting.synth(app);
    expect(checkPolicies(out)).toEqual([]);
    const deployment = out.manifests['aws/stream.k8s.yaml'].find((d) => d.kind === 'Deployment');
    expect(suppressionsOf(deployment)).toEqual([{ id: 'MLOPS-K8S3', reason: expect.stringMatching(/serves no health endpoint/) }]);
  });

  const pod = (container: object, spec: object = {}) => ({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'w', namespace: 'n' }, spec: { template: { metadata: { labels: { app: 'w' } }, spec: { containers: [container], ...spec } } } });
  const good = { name: 'c', image: 'a/b:1.2@sha256:0d5f3c8e9a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d', securityContext: { runAsNonRoot: true }, resources: { requests: { cpu: '1', memory: '1Gi' }, limits: { cpu: '1', memory: '1Gi' } }, readinessProbe: {}, livenessProbe: {} };
  const policy = { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'p', namespace: 'n' }, spec: { podSelector: { matchLabels: { app: 'w' } } } };
  const k8sFindings = (docs: object[]) => checkPolicies({ terraform: {}, manifests: { 'f.k8s.yaml': docs } }).map((f) => f.rule);

  it.each([
    ['MLOPS-K8S1', { ...good, securityContext: {} }],
    ['MLOPS-K8S2', { ...good, resources: { requests: { cpu: '1' } } }],
    ['MLOPS-K8S3', { ...good, livenessProbe: undefined }],
    ['MLOPS-K8S4', { ...good, image: 'a/b:latest' }],
    // A tag without a digest can be moved (OCI distribution spec: only a digest names immutable content).
    ['MLOPS-K8S4', { ...good, image: 'a/b:1.2' }],
  ])('flag %s', (rule, container) => {
    expect(k8sFindings([pod(container), policy])).toEqual([rule]);
  });

  it('flag a native sidecar without probes, and no regular init container', () => {
    // Kubernetes docs, "Sidecar containers": an init container with restartPolicy Always runs as long as
    // the pod and supports probes; a regular init container runs to completion and may have none.
    const sidecar = { ...good, name: 's', restartPolicy: 'Always' };
    expect(k8sFindings([pod(good, { initContainers: [{ ...sidecar, livenessProbe: undefined }] }), policy])).toEqual(['MLOPS-K8S3']);
    expect(k8sFindings([pod(good, { initContainers: [sidecar] }), policy])).toEqual([]);
    expect(k8sFindings([pod(good, { initContainers: [{ ...good, name: 'i', readinessProbe: undefined, livenessProbe: undefined }] }), policy])).toEqual([]);
  });

  it('flag a Deployment no NetworkPolicy selects, and refuse a suppression without a reason', () => {
    expect(k8sFindings([pod(good)])).toEqual(['MLOPS-K8S5']);
    const unexplained = { ...pod({ ...good, securityContext: {} }), metadata: { name: 'w', namespace: 'n', annotations: { 'mlops.io/policy-suppressions': '[{"id":"MLOPS-K8S1","reason":""}]' } } };
    expect(() => k8sFindings([unexplained, policy])).toThrow(/Deployment 'w': the suppression of MLOPS-K8S1 needs a reason/);
  });

  const tf = (type: string, config: object, extra: Record<string, object> = {}) =>
    checkPolicies({ terraform: { s: { resource: { [type]: { r: config }, ...extra } } }, manifests: {} }).map((f) => f.rule);

  it.each([
    ['MLOPS-AWS1', 'aws_iam_role_policy', { policy: JSON.stringify({ Statement: [{ Effect: 'Allow', Action: ['s3:*'], Resource: '*' }] }) }],
    ['MLOPS-AWS2', 'aws_ecr_repository', {}],
    ['MLOPS-AWS3', 'aws_sns_topic', {}],
    ['MLOPS-AWS4', 'aws_db_instance', { storage_encrypted: true, lifecycle: { prevent_destroy: true }, publicly_accessible: true }],
  ])('flag %s', (rule, type, config) => {
    expect(tf(type, config)).toEqual([rule]);
  });

  it('flag an unencrypted, unprotected, public bucket on every count', () => {
    expect(tf('aws_s3_bucket', {}).sort()).toEqual(['MLOPS-AWS2', 'MLOPS-AWS3', 'MLOPS-AWS4']);
  });

  it('have unique ids, causes and explanations', () => {
    expect(new Set(PLATFORM_RULES.map((r) => r.id)).size).toBe(PLATFORM_RULES.length);
    expect(PLATFORM_RULES.every((r) => r.cause.length > 10 && r.explanation.length > 10)).toBe(true);
  });
});
