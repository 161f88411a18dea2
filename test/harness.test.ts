// The verification harness must be able to fail: each real tool is fed something broken and must
// reject it, and something sound and must accept it.
import { S3Bucket } from '../src/providers/aws';
import { PlatformStack, PlatformTesting } from '../src';
import { manifestErrors } from './harness/kubernetes';
import { checkRules, promtoolTool, testRules } from './harness/promtool';
import { checkWithTerraform, expectTerraformOk, plannedResources, terraformTool } from './harness/terraform';
import { describeWithTool } from './harness/tools';

function bucketStack(forceDestroy: unknown) {
  const app = PlatformTesting.app();
  const stack = new PlatformStack(app, 'probe');
  const bucket = new S3Bucket(stack, 'bucket', { bucket: 'acme-dev-probe' });
  bucket.addOverride('force_destroy', forceDestroy);
  return PlatformTesting.synth(app).terraform.probe;
}

describeWithTool(terraformTool, 'terraform harness', () => {
  it('rejects a stack with a Terraform type error', () => {
    // GIVEN a bucket whose boolean argument holds an object
    const result = checkWithTerraform(bucketStack({ not: 'a bool' }));
    // THEN terraform validate fails and says why
    expect(result.validate.valid).toBe(false);
    expect(JSON.stringify(result.validate.diagnostics)).toMatch(/bool is required|Incorrect attribute value type/);
    expect(() => expectTerraformOk(result)).toThrow(/terraform validate failed/);
  });

  it('plans a sound stack offline and exposes planned values', () => {
    const plan = expectTerraformOk(checkWithTerraform(bucketStack(false)));
    const [bucket] = plannedResources(plan, 'aws_s3_bucket');
    expect(bucket.values.bucket).toBe('acme-dev-probe');
    expect(bucket.values.force_destroy).toBe(false);
    // the cost-attribution aspect tagged it
    expect(bucket.values.tags).toEqual({ 'mlops.io/platform': 'acme', 'mlops.io/environment': 'dev', 'mlops.io/team': 'ml-platform' });
  });
});

describe('Kubernetes schema harness', () => {
  const deployment = (port: unknown) => ({
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web' },
    spec: { selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'nginx:1.27', ports: [{ containerPort: port }] }] } } },
  });

  it('rejects a manifest with a wrong field type', () => {
    expect(manifestErrors({ 'a.k8s.yaml': [deployment('eighty')] })).toEqual([
      expect.stringMatching(/a\.k8s\.yaml: Deployment 'web': .*containerPort must be integer/),
    ]);
  });

  it('rejects a kind it has no schema for', () => {
    expect(manifestErrors({ 'a.k8s.yaml': [{ apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } }] }))
      .toEqual([expect.stringMatching(/no schema for example.com\/v1 Widget/)]);
  });

  it('accepts valid core objects and custom resources', () => {
    const rollout = { apiVersion: 'argoproj.io/v1alpha1', kind: 'Rollout', metadata: { name: 'r' }, spec: { selector: { matchLabels: { app: 'r' } }, strategy: { canary: { steps: [{ setWeight: 5 }] } } } };
    const rule = { apiVersion: 'monitoring.coreos.com/v1', kind: 'PrometheusRule', metadata: { name: 'r' }, spec: { groups: [{ name: 'g', rules: [{ record: 'x', expr: 'up' }] }] } };
    expect(manifestErrors({ 'a.k8s.yaml': [deployment(8080), rollout, rule] })).toEqual([]);
  });

  it('rejects a custom resource with a wrong field type', () => {
    const rollout = { apiVersion: 'argoproj.io/v1alpha1', kind: 'Rollout', metadata: { name: 'r' }, spec: { strategy: { canary: { steps: [{ setWeight: 'five' }] } } } };
    expect(manifestErrors({ 'a.k8s.yaml': [rollout] })).toEqual([expect.stringMatching(/Rollout 'r': .*setWeight must be integer/)]);
  });
});

describeWithTool(promtoolTool, 'promtool harness', () => {
  it('rejects a rule file with broken PromQL', () => {
    const result = checkRules({ groups: [{ name: 'g', rules: [{ record: 'job:up:sum', expr: 'sum(up by (job)' }] }] });
    expect(result.ok).toBe(false);
    expect(result.output).toMatch(/parse error|unclosed left parenthesis/);
  });

  it('runs unit tests and reports a failing expectation', () => {
    const rules = { groups: [{ name: 'g', rules: [{ record: 'job:up:sum', expr: 'sum by (job) (up)' }] }] };
    const tests = (expected: number) => ({
      evaluation_interval: '1m',
      tests: [{ interval: '1m', input_series: [{ series: 'up{job="a",instance="1"}', values: '1x5' }, { series: 'up{job="a",instance="2"}', values: '1x5' }],
        promql_expr_test: [{ expr: 'job:up:sum', eval_time: '2m', exp_samples: [{ labels: 'job:up:sum{job="a"}', value: expected }] }] }],
    });
    expect(testRules(rules, tests(2)).ok).toBe(true);
    const wrong = testRules(rules, tests(3));
    expect(wrong.ok).toBe(false);
    expect(wrong.output).toMatch(/FAILED/);
  });
});
