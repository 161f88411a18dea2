import * as fs from 'fs';
import * as path from 'path';
import {
  ClusterNetwork, DataCheck, GATE_SCRIPT, GpuTrainingCluster, InstanceType, LINEAGE_TAGS, MetricGate, ImagePinning, ModelRegistry, PlatformTesting, TrainingPipeline,
  TrainingPipelineProps,
} from '../src';
import { manifestErrors } from './harness/kubernetes';
import { checkWithTerraform, expectTerraformOk, plannedResources, terraformTool } from './harness/terraform';
import { describeWithTool, onPath, run, tempDir } from './harness/tools';
import { onlyResource, policyStatements, resourcesOf, testPlatform } from './harness/fixtures';

const DIGEST = `acme/train@sha256:${'a'.repeat(64)}`;
const COMMIT = 'b'.repeat(40);

function setup(props: Partial<TrainingPipelineProps> = {}) {
  const { app, stack } = testPlatform();
  const cluster = new GpuTrainingCluster(stack, 'training', {
    network: ClusterNetwork.create({ availabilityZones: ['eu-west-1a', 'eu-west-1b'] }),
    gpuPools: [{ name: 'g5', instanceTypes: [InstanceType.g5('12xlarge')], maxSize: 2 }],
    teams: [{ name: 'fraud', gpus: 8 }],
  });
  const registry = new ModelRegistry(stack, 'registry', { cluster });
  const pipeline = new TrainingPipeline(stack, 'fraud-retrain', {
    cluster, team: 'fraud', registry, model: 'fraud-detector', dataPrefix: 'fraud/transactions/', image: DIGEST, codeCommit: COMMIT,
    dataChecks: [DataCheck.minRows(1000), DataCheck.type('amount', 'number'), DataCheck.nullRate('amount', 0.01), DataCheck.range('amount', { min: 0 })],
    training: { pool: 'g5', command: ['python', '-m', 'train'], parameters: { epochs: '10' } },
    evaluation: { command: ['python', '-m', 'evaluate'], metrics: ['auc'] },
    gates: [MetricGate.atLeast('auc', 0.9), MetricGate.betterThanChampion('auc', 0.001)],
    promoteTo: 'staging',
    triggers: { schedule: '0 3 * * 1', onNewData: true, onAlert: true },
    ...props,
  });
  const out = PlatformTesting.synth(app);
  const docs = out.manifests['aws/fraud-retrain.k8s.yaml'];
  const find = (kind: string, name?: string) => docs.find((d) => d.kind === kind && (!name || d.metadata.name === name));
  return { pipeline, out, docs, find, aws: out.terraform.aws };
}

describe('TrainingPipeline', () => {
  const { find, out, aws, pipeline } = setup();
  const wf = find('WorkflowTemplate').spec;
  const template = (name: string) => wf.templates.find((t: any) => t.name === name);
  const env = (name: string) => Object.fromEntries(template(name).container.env.map((e: any) => [e.name, e.value]));

  it('validates data, trains on the GPU pool, evaluates, gates, then registers', () => {
    expect(template('pipeline').dag.tasks.map((t: any) => [t.name, t.dependencies ?? []])).toEqual([
      ['validate', []], ['train', ['validate']], ['evaluate', ['train']], ['gate', ['evaluate']], ['register', ['gate']],
    ]);
    const train = template('train');
    expect(train.nodeSelector).toEqual({ 'mlops.io/pool': 'g5' });
    expect(train.container.resources.limits['nvidia.com/gpu']).toBe('4');
    expect(JSON.parse(env('validate-data').DATA_CHECKS)).toEqual([
      { kind: 'min-rows', min: 1000 }, { kind: 'type', column: 'amount', type: 'number' }, { kind: 'null-rate', column: 'amount', max: 0.01 }, { kind: 'range', column: 'amount', min: 0 },
    ]);
  });

  it('registers only a candidate that passed the gate: a worse one stops the run', () => {
    const register = template('pipeline').dag.tasks[4];
    expect(register.when).toBe("'{{tasks.gate.outputs.result}}' == 'passed'");
    expect(JSON.parse(env('gate').GATES)).toEqual([{ kind: 'at-least', metric: 'auc', value: 0.9 }, { kind: 'better-than-champion', metric: 'auc', min_delta: 0.001 }]);
    expect(env('gate')).toMatchObject({ CANDIDATE_AUC: '{{inputs.parameters.candidate-auc}}', CHAMPION_AUC: '{{inputs.parameters.champion-auc}}' });
    expect(template('gate').retryStrategy).toBeUndefined(); // a rejected candidate is not retried
  });

  it('records the lineage contract on the registered version, and the trigger', () => {
    const lineage = JSON.parse(env('register').LINEAGE_TAGS);
    expect(lineage).toEqual({
      [LINEAGE_TAGS.codeCommit]: COMMIT,
      [LINEAGE_TAGS.dataVersion]: '{{inputs.parameters.data-version}}',
      [LINEAGE_TAGS.configHash]: pipeline.configHash,
      [LINEAGE_TAGS.imageDigest]: `sha256:${'a'.repeat(64)}`,
      [LINEAGE_TAGS.pipelineRun]: '{{workflow.name}}',
      [LINEAGE_TAGS.trigger]: '{{workflow.parameters.trigger}}',
    });
    expect(pipeline.configHash).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(env('register').PROMOTE_TO).toBe('staging');
    expect(env('train')).toMatchObject({ CODE_COMMIT: COMMIT, OUTPUT_URI: 's3://acme-dev-registry-123456789012/models/fraud-detector/runs/{{workflow.name}}/' });
  });

  it('passes every value a step reads as a DAG task argument into its declared inputs', () => {
    // Argo resolves a leaf template's {{...}} only against its own inputs and workflow globals
    // (argo-workflows workflow/validate/validate.go, resolveAllVariables): tasks.* is DAG scope only.
    const tasks = Object.fromEntries(template('pipeline').dag.tasks.map((t: any) => [t.name, t]));
    const args = (task: string) => Object.fromEntries((tasks[task].arguments?.parameters ?? []).map((p: any) => [p.name, p.value]));
    const inputs = (name: string) => (template(name).inputs?.parameters ?? []).map((p: any) => p.name).sort();
    expect(args('train')).toEqual({ 'data-version': '{{tasks.validate.outputs.parameters.data-version}}' });
    expect(args('gate')).toEqual({ 'candidate-auc': '{{tasks.evaluate.outputs.parameters.candidate-auc}}', 'champion-auc': '{{tasks.evaluate.outputs.parameters.champion-auc}}' });
    expect(args('register')).toEqual({
      'run-id': '{{tasks.train.outputs.parameters.run-id}}', 'data-version': '{{tasks.validate.outputs.parameters.data-version}}', 'candidate-auc': '{{tasks.evaluate.outputs.parameters.candidate-auc}}',
    });
    for (const t of ['train', 'evaluate', 'gate', 'register']) expect(inputs(t)).toEqual(Object.keys(args(t)).sort());
    for (const t of wf.templates.filter((x: any) => !x.dag)) expect(JSON.stringify(t)).not.toContain('{{tasks.');
  });

  it('runs one at a time, with retries and backoff, within a deadline', () => {
    expect(wf.synchronization).toEqual({ mutexes: [{ name: 'fraud-retrain' }] });
    expect(template('train').retryStrategy).toEqual({ limit: '3', retryPolicy: 'OnTransientError', backoff: { duration: '1m', factor: '2', maxDuration: '30m' } });
    expect(wf.activeDeadlineSeconds).toBe(21600);
  });

  it('starts on a schedule, on new data and on alerts, and records which', () => {
    const cron = find('CronWorkflow').spec;
    expect(cron).toMatchObject({ schedules: ['0 3 * * 1'], concurrencyPolicy: 'Forbid', workflowSpec: { workflowTemplateRef: { name: 'fraud-retrain' }, arguments: { parameters: [{ name: 'trigger', value: 'schedule' }] } } });
    const rule = onlyResource(aws, 'aws_cloudwatch_event_rule');
    expect(JSON.parse(rule.event_pattern)).toEqual({
      source: ['aws.s3'], 'detail-type': ['Object Created'],
      detail: { bucket: { name: ['acme-dev-registry-123456789012'] }, object: { key: [{ prefix: 'data/fraud/transactions/' }] } },
    });
    expect(onlyResource(aws, 'aws_s3_bucket_notification').eventbridge).toBe(true);
    expect(onlyResource(aws, 'aws_sqs_queue')).toMatchObject({ name: 'acme-dev-fraud-fraud-retrain-new-data', sqs_managed_sse_enabled: true });
    const trigger = find('Deployment', 'fraud-retrain-trigger').spec.template.spec.containers[0];
    expect(trigger.env).toContainEqual({ name: 'QUEUE_URL', value: 'https://sqs.eu-west-1.amazonaws.com/123456789012/acme-dev-fraud-fraud-retrain-new-data' });
    expect(pipeline.retrainingWebhookUrl).toBe('http://fraud-retrain-trigger.fraud.svc.cluster.local:12000/retrain');
    expect(find('NetworkPolicy', 'fraud-retrain-trigger').spec.ingress[0].from).toEqual([{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }]);
    expect(wf.arguments.parameters[0]).toEqual({ name: 'trigger', value: 'manual', enum: ['schedule', 'new-data', 'alert', 'manual'] });
  });

  it('may write only its model\'s prefix and read only its data prefix', () => {
    const policies = (Object.values(resourcesOf(aws, 'aws_iam_role_policy')) as any[]).filter((p) => /fraud-retrain_identity_role/.test(p.role));
    const statements = policies.flatMap((p) => policyStatements(p.policy));
    const writes = statements.filter((s) => s.Action.includes('s3:PutObject')).flatMap((s) => s.Resource);
    expect(writes).toEqual([expect.stringMatching(/\/models\/fraud-detector\/\*$/)]);
    const reads = statements.filter((s) => s.Sid === 'ReadObjects').flatMap((s) => s.Resource);
    expect(reads.sort()).toEqual([expect.stringMatching(/\/data\/fraud\/transactions\/\*$/), expect.stringMatching(/\/models\/fraud-detector\/\*$/)].sort());
  });

  it('passes the Kubernetes schema check, Argo Workflows CRDs included', () => {
    expect(manifestErrors(out.manifests)).toEqual([]);
  });
});

describe('TrainingPipeline bad input', () => {
  it.each([
    [{ triggers: { schedule: '61 * * * *' } }, /TrainingPipeline 'aws\/fraud-retrain': triggers\.schedule \('61 \* \* \* \*'\) is not a cron expression: it has '61' in the minute field/],
    [{ gates: [MetricGate.atLeast('f1', 0.8)] }, /gates\[0\] \('f1'\) is a gate on a metric the evaluation step does not produce; it produces 'auc'/],
    [{ training: { pool: 'p5', command: ['t'] } }, /training\.pool \('p5'\) is not a GPU pool of cluster 'aws\/training'; its pools are 'g5'/],
    [{ image: 'acme/train:2024.06' }, /image \('acme\/train:2024\.06'\) must be referenced by digest/],
    [{ codeCommit: 'main' }, /codeCommit \('main'\) must be a full git commit id/],
    [{ triggers: {} }, /triggers \(\{\}\) must name at least one trigger/],
    [{ dataPrefix: '../other/' }, /dataPrefix \('\.\.\/other\/'\) must be a relative prefix/],
    [{ promoteTo: 'champion' }, /promoteTo \('champion'\) must be 'staging': training never promotes to production/],
  ])('rejects %j', (props, message) => {
    expect(() => setup(props as any)).toThrow(message);
  });

  it('accepts a mutable tag only when told to', () => {
    expect(() => setup({ image: 'acme/train:2024.06', allowMutableTags: true })).not.toThrow();
    // and reports it: the opt-out is listed as an image exception of the app, with its reason
    const { pipeline } = setup({ image: 'acme/train:2024.06', allowMutableTags: true });
    expect(ImagePinning.exceptionsOf(pipeline)).toEqual([{ path: 'aws/fraud-retrain', image: 'acme/train:2024.06', reason: "image runs by tag: the construct's opt-out prop is set" }]);
  });
});

const pythonTool = onPath('python3') ? { available: true } : { available: false, reason: 'python3 is not on PATH' };
describeWithTool(pythonTool, 'the gate step, run with python3', () => {
  const dir = tempDir('mlops-gate-');
  const script = path.join(dir, 'gate.py');
  fs.writeFileSync(script, GATE_SCRIPT);
  const gates = JSON.stringify([{ kind: 'at-least', metric: 'auc', value: 0.9 }, { kind: 'better-than-champion', metric: 'auc', min_delta: 0.001 }]);
  const gate = (candidate: string, champion: string) => run('python3', [script], { env: { ...process.env, GATES: gates, CANDIDATE_AUC: candidate, CHAMPION_AUC: champion } });

  it('passes a candidate that beats the champion and the floor', () => {
    const r = gate('0.95', '0.93');
    expect({ status: r.status, out: r.stdout.trim() }).toEqual({ status: 0, out: 'passed' });
  });

  it('stops a candidate worse than the champion', () => {
    const r = gate('0.92', '0.93');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/auc 0\.92 is not better than the champion's 0\.93/);
  });

  it('stops a candidate under the floor, even without a champion', () => {
    const r = gate('0.85', 'none');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/auc 0\.85 is under the floor 0\.9/);
    expect(gate('0.91', 'none').status).toBe(0);
  });
});

describeWithTool(terraformTool, 'TrainingPipeline checked by terraform', () => {
  it('plans the new-data queue, rule and bucket notification offline', () => {
    const plan = expectTerraformOk(checkWithTerraform(setup().aws));
    expect(plannedResources(plan, 'aws_sqs_queue')[0].values).toMatchObject({ sqs_managed_sse_enabled: true });
    expect(plannedResources(plan, 'aws_s3_bucket_notification')[0].values.eventbridge).toBe(true);
  });
});
