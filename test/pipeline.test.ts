import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as http from 'http';
import * as path from 'path';
import {
  ClusterNetwork, DataCheck, GATE_SCRIPT, GpuTrainingCluster, GROUP_REPORT_FILE, ImagePinning, InstanceType, LINEAGE_TAGS, MetricGate, ModelRegistry,
  PlatformTesting, TrainingPipeline, TrainingPipelineProps, TRIGGER_SCRIPT,
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

  it('keeps the model\'s runs under the model\'s own prefix, the only one the pipeline\'s role writes', () => {
    // MLflow creates an experiment under the server's default root (models/<experiment id>); the
    // validate step creates it first at models/<model> (MlflowClient.create_experiment artifact_location)
    expect(env('validate-data').ARTIFACT_LOCATION).toMatch(/^s3:\/\/[a-z0-9.-]+\/models\/fraud-detector$/);
    expect(env('validate-data').MLFLOW_EXPERIMENT_NAME).toBe('fraud-detector');
    const written = (Object.values(resourcesOf(aws, 'aws_iam_role_policy')) as any[]).flatMap((p) => policyStatements(p.policy))
      .filter((s) => [s.Action].flat().includes('s3:PutObject')).flatMap((s) => s.Resource);
    expect(written.every((r: string) => r.endsWith('/models/fraud-detector/*'))).toBe(true);
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
    // only Alertmanager's pods may call the webhook (and they present its token)
    expect(find('NetworkPolicy', 'fraud-retrain-trigger').spec.ingress[0].from).toEqual([{
      namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } },
      podSelector: { matchLabels: { 'app.kubernetes.io/name': 'alertmanager', alertmanager: 'kube-prometheus-stack-alertmanager' } },
    }]);
    expect(trigger.env).toContainEqual({ name: 'WEBHOOK_TOKEN', valueFrom: { secretKeyRef: { name: 'fraud-retrain-webhook-token', key: 'token' } } });
    expect(pipeline.retraining).toMatchObject({ url: pipeline.retrainingWebhookUrl, model: 'fraud-detector' });
    // the token: generated write-only into Secrets Manager, written by the KubernetesStack into the pipeline's namespace
    const version = Object.values(resourcesOf(aws, 'aws_secretsmanager_secret_version')).find((v: any) => /webhook-token/.test(JSON.stringify(v))) as any;
    expect(version.secret_string_wo).toMatch(/uuid\(\)/);
    expect(version.secret_string).toBeUndefined();
    expect(Object.keys(out.terraform.kubernetes.resource.kubernetes_secret_v1)).toEqual(expect.arrayContaining([expect.stringMatching(/fraud-retrain-webhook-token/)]));
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

// Fairness gates compare a metric across the groups of a sensitive attribute, as fairlearn's
// MetricFrame does (fairlearn/metrics/_metric_frame.py: difference/ratio with method='between_groups').
const FAIR = {
  evaluation: { command: ['python', '-m', 'evaluate'], metrics: ['auc', 'recall'] },
  gates: [
    MetricGate.atLeast('auc', 0.9),
    MetricGate.maxDisparity('recall', { groups: 'region', max: 0.05 }),
    MetricGate.groupFloor('recall', { groups: 'region', min: 0.8, minCount: 200, excludeSmallGroups: true }),
  ],
};

describe('TrainingPipeline with fairness gates', () => {
  const { find, out, pipeline } = setup(FAIR);
  const wf = find('WorkflowTemplate').spec;
  const template = (name: string) => wf.templates.find((t: any) => t.name === name);
  const env = (name: string) => Object.fromEntries(template(name).container.env.map((e: any) => [e.name, e.value]));
  const tasks = Object.fromEntries(template('pipeline').dag.tasks.map((t: any) => [t.name, t]));
  const args = (task: string) => Object.fromEntries((tasks[task].arguments?.parameters ?? []).map((p: any) => [p.name, p.value]));

  it('asks the evaluation step for per-group metrics and reads its report', () => {
    expect(env('evaluate')).toMatchObject({ METRICS: 'auc,recall', GROUP_BY: 'region', GROUP_METRICS: 'recall' });
    expect(template('evaluate').outputs.parameters).toContainEqual({ name: 'candidate-groups', valueFrom: { path: GROUP_REPORT_FILE } });
    expect(GROUP_REPORT_FILE).toBe('/tmp/outputs/candidate-groups.json');
  });

  it('gates on the per-group report before registration: a failing fairness gate stops the run', () => {
    // GIVEN the DAG: register depends on gate, and runs only when the gate printed "passed"
    expect(tasks.register.dependencies).toEqual(['gate']);
    expect(tasks.register.when).toBe("'{{tasks.gate.outputs.result}}' == 'passed'");
    expect(tasks.gate.dependencies).toEqual(['evaluate']);
    // THEN the gate reads the report and the fairness specs
    expect(args('gate')['candidate-groups']).toBe('{{tasks.evaluate.outputs.parameters.candidate-groups}}');
    expect(env('gate').CANDIDATE_GROUPS).toBe('{{inputs.parameters.candidate-groups}}');
    expect(JSON.parse(env('gate').GATES).slice(1)).toEqual([
      { kind: 'fairness-max-disparity', metric: 'recall', groups: 'region', max: 0.05, min_count: 100, small_groups: 'fail', tag: 'mlops.fairness.recall.region.max-disparity' },
      { kind: 'fairness-group-floor', metric: 'recall', groups: 'region', min: 0.8, min_count: 200, small_groups: 'exclude', tag: 'mlops.fairness.recall.region.group-floor' },
    ]);
  });

  it('records each fairness gate\'s result on the registered version', () => {
    expect(template('gate').outputs.parameters).toEqual([{ name: 'fairness', valueFrom: { path: '/tmp/outputs/fairness.json' } }]);
    expect(args('register').fairness).toBe('{{tasks.gate.outputs.parameters.fairness}}');
    expect(env('register').FAIRNESS_TAGS).toBe('{{inputs.parameters.fairness}}');
    expect(pipeline.fairnessTags).toEqual(['mlops.fairness.recall.region.max-disparity', 'mlops.fairness.recall.region.group-floor']);
  });

  it('passes every value a step reads as a DAG task argument into its declared inputs', () => {
    // argo-workflows workflow/validate/validate.go: a leaf template resolves only its inputs and workflow globals.
    const inputs = (name: string) => (template(name).inputs?.parameters ?? []).map((p: any) => p.name).sort();
    for (const t of ['train', 'evaluate', 'gate', 'register']) expect(inputs(t)).toEqual(Object.keys(args(t)).sort());
    for (const t of wf.templates.filter((x: any) => !x.dag)) expect(JSON.stringify(t)).not.toContain('{{tasks.');
    // Each task argument reads an output its producer declares.
    for (const [task, values] of Object.entries({ gate: args('gate'), register: args('register') })) {
      for (const v of Object.values(values) as string[]) {
        const [, producer, name] = /^\{\{tasks\.([a-z-]+)\.outputs\.parameters\.([a-z0-9_-]+)\}\}$/.exec(v)!;
        expect({ task, produced: template(tasks[producer].template).outputs.parameters.some((p: any) => p.name === name) }).toEqual({ task, produced: true });
      }
    }
  });

  it('passes the Kubernetes schema check, Argo Workflows CRDs included', () => {
    expect(manifestErrors(out.manifests)).toEqual([]);
  });

  it('adds nothing to a pipeline without fairness gates', () => {
    const plain = setup().find('WorkflowTemplate').spec.templates;
    expect(JSON.stringify(plain)).not.toMatch(/candidate-groups|FAIRNESS_TAGS|GROUP_BY/);
  });
});

describe('TrainingPipeline fairness gates bad input', () => {
  const withGates = (...gates: MetricGate[]) => ({ ...FAIR, gates });
  it.each([
    [withGates(MetricGate.maxDisparity('recall', { groups: '', max: 0.05 })), /TrainingPipeline 'aws\/fraud-retrain': gates\[0\]\.groups \(''\) must name the sensitive attribute the evaluation step groups by/],
    [withGates(MetricGate.maxDisparity('recall', { groups: 'region', max: 5 })), /gates\[0\]\.max \(5\) must be a gap between groups from 0 to 1, exclusive \(0\.05 for 5 points\)/],
    [withGates(MetricGate.maxDisparity('recall', { groups: 'region', max: 0 })), /gates\[0\]\.max \(0\) must be a gap between groups from 0 to 1/],
    [withGates(MetricGate.minRatio('recall', { groups: 'region', min: 1.25 })), /gates\[0\]\.min \(1\.25\) must be a ratio of the worst group to the best above 0 and at most 1/],
    [withGates(MetricGate.groupFloor('recall', { groups: 'region', min: NaN })), /gates\[0\]\.min \(NaN\) must be a finite floor for every group/],
    [withGates(MetricGate.groupFloor('recall', { groups: 'region', min: 0.8, minCount: 0 })), /gates\[0\]\.minCount \(0\) must be a whole number from 1 to 1000000000/],
    [withGates(MetricGate.groupFloor('f1', { groups: 'region', min: 0.8 })), /gates\[0\] \('f1'\) is a gate on a metric the evaluation step does not produce; it produces 'auc', 'recall'/],
    [withGates(MetricGate.groupFloor('recall', { groups: 'region', min: 0.8 }), MetricGate.groupFloor('recall', { groups: 'region', min: 0.7 })),
      /gates\[1\] \('mlops\.fairness\.recall\.region\.group-floor'\) gates the same metric and groups the same way as an earlier gate/],
  ])('rejects %j', (props, message) => {
    expect(() => setup(props as any)).toThrow(message);
  });
});

describeWithTool(pythonTool, 'the gate step\'s fairness gates, run with python3', () => {
  const dir = tempDir('mlops-fairness-gate-');
  const script = path.join(dir, 'gate.py');
  fs.writeFileSync(script, GATE_SCRIPT);
  const spec = (gates: MetricGate[]) => JSON.stringify(gates.map((g) => g.spec));
  const DISPARITY = MetricGate.maxDisparity('recall', { groups: 'region', max: 0.05 });
  const FLOOR = MetricGate.groupFloor('recall', { groups: 'region', min: 0.8 });
  const RATIO = MetricGate.minRatio('recall', { groups: 'region', min: 0.8 });
  const report = (groups: Record<string, [number, number]>) => JSON.stringify({
    groups: { region: Object.fromEntries(Object.entries(groups).map(([name, [recall, count]]) => [name, { recall, count }])) },
  });
  let runs = 0;
  /** Runs gate.py with these gates on this per-group report; returns status, stdout, stderr and the recorded tags. */
  const gate = (gates: MetricGate[], groups: string | undefined) => {
    const outputs = path.join(dir, `outputs-${runs++}`);
    const r = run('python3', [script], {
      env: { ...process.env, GATES: spec(gates), CANDIDATE_RECALL: '0.9', OUTPUTS_DIR: outputs, ...(groups === undefined ? {} : { CANDIDATE_GROUPS: groups }) },
    });
    const file = path.join(outputs, 'fairness.json');
    const tags = fs.existsSync(file) ? Object.fromEntries(Object.entries(JSON.parse(fs.readFileSync(file, 'utf8'))).map(([k, v]) => [k, JSON.parse(v as string)])) : undefined;
    return { status: r.status, stdout: r.stdout.trim(), stderr: r.stderr, tags };
  };

  it('passes groups within the gap and above the floor, and records the results for the version\'s tags', () => {
    // 0.93 − 0.88 = 0.05: at the limit passes (the gap is rounded to 1e-12 before the comparison)
    const r = gate([DISPARITY, FLOOR, RATIO], report({ eu: [0.93, 1200], us: [0.88, 900] }));
    expect({ status: r.status, stdout: r.stdout }).toEqual({ status: 0, stdout: 'passed' });
    expect(r.tags!['mlops.fairness.recall.region.max-disparity']).toEqual({
      kind: 'fairness-max-disparity', metric: 'recall', groups: 'region', passed: true, value: 0.05, limit: 0.05, best: 'eu', worst: 'us',
      values: { eu: 0.93, us: 0.88 }, insufficient: [],
    });
    expect(r.tags!['mlops.fairness.recall.region.group-floor']).toMatchObject({ passed: true, value: 0.88, worst: 'us', limit: 0.8 });
    expect(r.tags!['mlops.fairness.recall.region.min-ratio'].value).toBeCloseTo(0.88 / 0.93, 12);
  });

  it('stops a candidate whose groups differ by more than the gap, naming both groups', () => {
    const r = gate([DISPARITY], report({ eu: [0.94, 1200], us: [0.86, 900], apac: [0.9, 400] }));
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/rejected: recall differs by 0\.0800 between region=eu \(0\.94\) and region=us \(0\.86\), above the allowed 0\.05/);
  });

  it('stops a candidate with a group under the floor, naming the group', () => {
    const r = gate([FLOOR], report({ eu: [0.93, 1200], us: [0.79, 900] }));
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/rejected: recall of region=us is 0\.79, under the group floor 0\.8/);
    expect(gate([RATIO], report({ eu: [0.9, 1200], us: [0.7, 900] })).stderr).toMatch(/recall of region=us \(0\.7\) is 0\.7778 of region=eu's \(0\.9\), under the allowed ratio 0\.8/);
  });

  it('does not let a group with too few examples pass unseen', () => {
    // GIVEN apac at recall 0.5 on 12 examples: by default the candidate is rejected for it
    const groups = report({ eu: [0.93, 1200], us: [0.9, 900], apac: [0.5, 12] });
    const strict = gate([FLOOR], groups);
    expect(strict.status).toBe(1);
    expect(strict.stderr).toMatch(/rejected: region=apac \(12 examples\) has fewer than 100 examples: recall cannot be trusted/);
    // WHEN the gate is told to exclude small groups THEN apac is reported as insufficient and left out
    const lenient = gate([MetricGate.groupFloor('recall', { groups: 'region', min: 0.8, excludeSmallGroups: true })], groups);
    expect({ status: lenient.status, stdout: lenient.stdout }).toEqual({ status: 0, stdout: 'passed' });
    expect(lenient.stderr).toMatch(/insufficient: region=apac \(12 examples\) left out of the recall gate \(fewer than 100 examples\)/);
    expect(lenient.tags!['mlops.fairness.recall.region.group-floor']).toMatchObject({ passed: true, insufficient: ['apac'] });
    // AND a disparity left with one group to compare rejects the candidate
    const alone = gate([MetricGate.maxDisparity('recall', { groups: 'region', max: 0.05, excludeSmallGroups: true })], report({ eu: [0.93, 1200], apac: [0.5, 12] }));
    expect(alone.status).toBe(1);
    expect(alone.stderr).toMatch(/recall by region needs two groups with at least 100 examples to compare; 1 has/);
  });

  it('stops a candidate when the evaluation reported no groups, or a group without the metric', () => {
    for (const groups of [undefined, '', 'not json', '{"groups": {}}', '{"groups": {"country": {"de": {"recall": 0.9, "count": 500}}}}']) {
      const r = gate([DISPARITY], groups);
      expect({ groups, status: r.status, stderr: r.stderr.trim() }).toEqual({ groups, status: 1, stderr: 'rejected: the evaluation reported no groups of region (for recall)' });
    }
    const r = gate([FLOOR], JSON.stringify({ groups: { region: { eu: { recall: 0.9, count: 500 }, us: { recall: 'NaN', count: 500 } } } }));
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/the evaluation reported no recall for region=us/);
  });
});

describeWithTool(pythonTool, 'the reference fraud pipeline\'s gate step, as deployed, run with python3', () => {
  // GIVEN the gate.py of the synthesized ConfigMap and the gate template's environment, with the
  // task arguments Argo would substitute for {{inputs.parameters.*}}
  const { buildReferencePlatform, REFERENCE_CONTEXT } = require('../stacks/platform');
  const app = PlatformTesting.app({ platform: REFERENCE_CONTEXT });
  buildReferencePlatform(app);
  const docs = PlatformTesting.synth(app).manifests['platform/fraud-retrain.k8s.yaml'];
  const gatePy = docs.find((d) => d.kind === 'ConfigMap' && d.metadata.name === 'fraud-retrain-scripts')!.data['gate.py'];
  const gateTemplate = docs.find((d) => d.kind === 'WorkflowTemplate')!.spec.templates.find((t: any) => t.name === 'gate');
  const dir = tempDir('mlops-fraud-gate-');
  fs.writeFileSync(path.join(dir, 'gate.py'), gatePy);
  const overall = { 'candidate-auc': '0.95', 'champion-auc': '0.93', 'candidate-precision_at_1pct': '0.7', 'champion-precision_at_1pct': '0.68', 'candidate-recall': '0.9', 'champion-recall': '0.88' };
  const gate = (groups: Record<string, { recall: number; count: number }>) => {
    const inputs: Record<string, string> = { ...overall, 'candidate-groups': JSON.stringify({ groups: { region: groups } }) };
    const env = Object.fromEntries(gateTemplate.container.env.filter((e: any) => typeof e.value === 'string')
      .map((e: any) => [e.name, e.value.replace(/\{\{inputs\.parameters\.([a-z0-9_-]+)\}\}/g, (_: string, name: string) => inputs[name])]));
    expect(Object.keys(inputs).sort()).toEqual(gateTemplate.inputs.parameters.map((p: any) => p.name).sort());
    return run('python3', [path.join(dir, 'gate.py')], { env: { PATH: process.env.PATH, ...env, OUTPUTS_DIR: path.join(dir, 'out') } });
  };

  it('passes regions within 5 points of each other and over 0.8, each with 200 frauds', () => {
    const r = gate({ eu: { recall: 0.92, count: 4000 }, uk: { recall: 0.9, count: 900 }, us: { recall: 0.88, count: 2500 } });
    expect({ status: r.status, stdout: r.stdout.trim(), stderr: r.stderr }).toEqual({ status: 0, stdout: 'passed', stderr: '' });
    const tags = JSON.parse(fs.readFileSync(path.join(dir, 'out', 'fairness.json'), 'utf8'));
    expect(Object.keys(tags)).toEqual(['mlops.fairness.recall.region.group-floor', 'mlops.fairness.recall.region.max-disparity']);
  });

  it('stops a candidate that misses frauds in one region, and one with a region of too few frauds', () => {
    const gap = gate({ eu: { recall: 0.92, count: 4000 }, us: { recall: 0.84, count: 2500 } });
    expect(gap.status).toBe(1);
    expect(gap.stdout).toBe('');
    expect(gap.stderr).toMatch(/recall differs by 0\.0800 between region=eu \(0\.92\) and region=us \(0\.84\), above the allowed 0\.05/);
    const small = gate({ eu: { recall: 0.92, count: 4000 }, us: { recall: 0.9, count: 2500 }, latam: { recall: 0.95, count: 150 } });
    expect(small.status).toBe(1);
    expect(small.stderr).toMatch(/region=latam \(150 examples\) has fewer than 200 examples: recall cannot be trusted/);
  });
});

describeWithTool(terraformTool, 'TrainingPipeline checked by terraform', () => {
  it('plans the new-data queue, rule and bucket notification offline', () => {
    const plan = expectTerraformOk(checkWithTerraform(setup().aws));
    expect(plannedResources(plan, 'aws_sqs_queue')[0].values).toMatchObject({ sqs_managed_sse_enabled: true });
    expect(plannedResources(plan, 'aws_s3_bucket_notification')[0].values.eventbridge).toBe(true);
  });
});

// The retraining webhook's own code, run with python3: Alertmanager calls it with `Authorization: Bearer
// <token>` (AlertmanagerConfig httpConfig.authorization); any other caller is refused before the body is read.
describeWithTool(pythonTool, 'the retraining webhook, run with python3', () => {
  const dir = tempDir('mlops-trigger-');
  const submitted: any[] = [];
  let api: http.Server;
  let trigger: ChildProcess;
  const port = 20000 + (process.pid % 20000);
  const call = (headers: Record<string, string>, body: object) => new Promise<number>((resolve, reject) => {
    const data = JSON.stringify(body);
    const req = http.request({ host: '127.0.0.1', port, path: '/retrain', method: 'POST', headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data), ...headers } }, (res) => {
      res.resume(); res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject); req.end(data);
  });
  const firing = { alerts: [{ status: 'firing', labels: { alertname: 'ModelDataDriftCritical', model: 'fraud-detector' } }] };

  beforeAll(async () => {
    fs.writeFileSync(path.join(dir, 'trigger.py'), TRIGGER_SCRIPT);
    fs.writeFileSync(path.join(dir, 'sa-token'), 'service-account-token');
    api = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => { body += c; });
      req.on('end', () => { submitted.push({ path: req.url, authorization: req.headers.authorization, body: JSON.parse(body) }); res.writeHead(201); res.end('{}'); });
    });
    await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', () => resolve()));
    const apiPort = (api.address() as any).port;
    trigger = spawn('python3', [path.join(dir, 'trigger.py')], {
      env: { PATH: process.env.PATH, NAMESPACE: 'fraud', WORKFLOW_TEMPLATE: 'fraud-retrain', WEBHOOK_TOKEN: 'expected-token', HOST: '127.0.0.1', PORT: String(port), KUBERNETES_API: `http://127.0.0.1:${apiPort}`, SA_TOKEN_FILE: path.join(dir, 'sa-token') },
      stdio: 'ignore',
    });
    for (let i = 0; i < 150; i++) {
      const up = await new Promise<boolean>((resolve) => http.get({ host: '127.0.0.1', port, path: '/healthz' }, (res) => { res.resume(); resolve(res.statusCode === 200); }).on('error', () => resolve(false)));
      if (up) return;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error('the trigger did not start within 30 s');
  }, 40000);
  afterAll(() => { trigger?.kill(); api?.close(); });

  it('rejects a call without the token, or with another, and starts nothing', async () => {
    expect(await call({}, firing)).toBe(401);
    expect(await call({ Authorization: 'Bearer guess' }, firing)).toBe(401);
    expect(await call({ Authorization: 'Basic ZXhwZWN0ZWQtdG9rZW4=' }, firing)).toBe(401);
    expect(await call({ Authorization: 'Bearer expected-token-and-more' }, firing)).toBe(401);
    expect(submitted).toEqual([]);
  });

  it('starts the WorkflowTemplate for an authenticated call with a firing alert, and nothing for a resolved one', async () => {
    expect(await call({ Authorization: 'Bearer expected-token' }, { alerts: [{ status: 'resolved', labels: { alertname: 'X' } }] })).toBe(200);
    expect(submitted).toEqual([]);
    expect(await call({ Authorization: 'Bearer expected-token' }, firing)).toBe(200);
    expect(submitted).toHaveLength(1);
    expect(submitted[0]).toMatchObject({
      path: '/apis/argoproj.io/v1alpha1/namespaces/fraud/workflows', authorization: 'Bearer service-account-token',
      body: { kind: 'Workflow', spec: { workflowTemplateRef: { name: 'fraud-retrain' }, arguments: { parameters: [{ name: 'trigger', value: 'alert' }, { name: 'trigger-detail', value: 'ModelDataDriftCritical' }] } } },
    });
  });
});
