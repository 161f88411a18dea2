import { createHash } from 'crypto';
import { CloudwatchEventRule, CloudwatchEventTarget, SecretsmanagerSecret, SecretsmanagerSecretVersion, SqsQueue, SqsQueuePolicy } from '../providers/aws';
import { ApiObject, Construct, Fn, k8s, KubernetesLazy } from '../engine';
import { Addon, Addons } from '../core/addons';
import { PlatformApp } from '../core/app';
import { cronProblem } from '../core/cron';
import { check, checkIntegerRange } from '../core/errors';
import { grant, WorkloadIdentity } from '../core/identity';
import { PlatformChart } from '../core/kubernetes';
import { ClusterValue, ClusterValues } from '../core/kubernetes-stack';
import { KUBE_PROMETHEUS_STACK_PODS } from '../core/prometheus';
import { NameRules } from '../core/names';
import { PlatformNamespaces } from '../core/namespaces';
import { CostAttribution } from '../core/tags';
import { baseEgressRules, checkPinnedImage, rawResources, resources, restrictedContainerSecurityContext, restrictedPodSecurityContext } from '../core/workloads';
import { LINEAGE_TAGS } from '../registry/lineage';
import { ModelRegistry, RegistryAccess } from '../registry/model-registry';
import { GPU_TAINT, GpuTrainingCluster, nodeShare, POOL_LABEL } from '../training/gpu-cluster';
import { SHARED_STORAGE_CLAIM, SHARED_STORAGE_MOUNT } from '../training/storage';
import { DataCheck, GROUP_REPORT_FILE, MetricGate, PipelineTriggers } from './options';
import { GATE_SCRIPT, REGISTER_SCRIPT, TRIGGER_SCRIPT, VALIDATE_SCRIPT } from './scripts';

/** Props of a TrainingPipeline. */
export interface TrainingPipelineProps {
  /** The cluster whose GPU pool trains. */
  readonly cluster: GpuTrainingCluster;
  /** The team (namespace) that owns the pipeline. */
  readonly team: string;
  /** The registry the results are registered in. */
  readonly registry: ModelRegistry;
  /** The registered model the pipeline produces. */
  readonly model: string;
  /** The training data: a prefix under the registry's `data/` (e.g. `fraud/transactions/`). */
  readonly dataPrefix: string;
  /** The training (and evaluation) image, by digest. */
  readonly image: string;
  /** Accept an image by mutable tag (not reproducible). @default false */
  readonly allowMutableTags?: boolean;
  /** The git commit of the training code baked into the image. */
  readonly codeCommit: string;
  /** Checks the data must pass. */
  readonly dataChecks: DataCheck[];
  readonly training: {
    /** The pool to train on. */
    readonly pool: string;
    /** The training command; it logs an MLflow run with the model under `model/` and writes the run id to /tmp/outputs/run-id. */
    readonly command: string[];
    /** @default - every GPU of a node of the pool */
    readonly gpus?: number;
    /** Training parameters (hyper-parameters); their hash is the run's config hash. @default - none */
    readonly parameters?: Record<string, string>;
  };
  readonly evaluation: {
    /**
     * The evaluation command; it writes each metric of candidate and champion to /tmp/outputs/<candidate|champion>-<metric>
     * ("none" when there is no champion) and, with fairness gates, the candidate's per-group metrics to GROUP_REPORT_FILE.
     */
    readonly command: string[];
    /** The metrics it produces. */
    readonly metrics: string[];
  };
  /**
   * The gates a candidate must pass to be registered; fairness gates (`MetricGate.maxDisparity`,
   * `minRatio`, `groupFloor`) read the evaluation's per-group report and record their results on the version.
   */
  readonly gates: MetricGate[];
  /**
   * Move a registered candidate to `staging` too. Production (`champion`) is never set by training:
   * that is the release's decision (a CanaryRollout, or whoever holds the promotion role).
   * @default - alias `candidate` only
   */
  readonly promoteTo?: 'staging';
  readonly triggers: PipelineTriggers;
  /** @default 21600 (six hours) */
  readonly deadlineSeconds?: number;
  /** Retries of a step on transient failure, with exponential backoff. @default 3 */
  readonly retries?: number;
}

const CHECKS_COLUMN = /^[A-Za-z_][A-Za-z0-9_.-]{0,127}$/;

/** A pipeline's retraining webhook: where Alertmanager calls it, with which token, for which model's alerts. */
export interface RetrainingWebhook {
  /** The in-cluster URL (`http://<pipeline>-trigger.<namespace>.svc.cluster.local:12000/retrain`). */
  readonly url: string;
  /** The bearer token the webhook requires. */
  readonly token: ClusterValue;
  /** The model the pipeline retrains: only its endpoints' alerts start it. */
  readonly model: string;
}

/**
 * Automated, gated, reproducible retraining on Argo Workflows: validate the data → train on the
 * GPU pool → evaluate against the champion → gate on the named metrics → register with lineage →
 * optionally promote to staging; started on a schedule, on new data, or by drift and quality alerts.
 */
export class TrainingPipeline extends Construct {
  public readonly name: string;
  public readonly namespace: string;
  public readonly identity: WorkloadIdentity;
  public readonly chart: PlatformChart;
  public readonly workflowTemplate: ApiObject;
  /** `sha256:` of the training configuration (image, parameters), recorded on every version. */
  public readonly configHash: string;
  /** The URL Alertmanager calls to start a run (with `triggers.onAlert`). */
  public readonly retrainingWebhookUrl?: string;
  /** The retraining webhook with its token and model, for MonitoringStack `alerting.retraining` (with `triggers.onAlert`). */
  public readonly retraining?: RetrainingWebhook;
  public readonly queue?: SqsQueue;
  /** The registered model the pipeline produces. */
  public readonly model: string;
  /** The registry it registers in. */
  public readonly registry: ModelRegistry;
  /** The git commit of the training code. */
  public readonly codeCommit: string;
  /** The training data's S3 URI (`s3://<registry bucket>/data/<prefix>`). */
  public readonly dataUri: string;
  /** The gates a candidate must pass, and the metrics evaluation produces. */
  public readonly gates: MetricGate[];
  /** The metrics the evaluation step reports (each recorded as `mlops.metrics.<metric>` on the version). */
  public readonly metrics: string[];
  /** Lineage tags recorded on every registered version (values in `{{...}}` are filled by the run). */
  private readonly lineage: Record<string, string>;

  constructor(scope: Construct, id: string, props: TrainingPipelineProps) {
    super(scope, id);
    const context = PlatformApp.of(this).context;
    this.name = NameRules.dnsLabel(this, 'id', id);
    check(id.length <= 40, this, 'id', id, 'must be at most 40 characters');
    const cluster = props.cluster;
    cluster.team(props.team, this);
    this.namespace = props.team;
    const pool = cluster.pool(props.training.pool, this, 'training.pool');
    const gpus = props.training.gpus ?? pool.gpusPerNode;
    checkIntegerRange(this, 'training.gpus', gpus, 1, pool.gpusPerNode);
    const digest = checkPinnedImage(this, 'image', props.image, !props.allowMutableTags);
    check(/^[0-9a-f]{40}$/.test(props.codeCommit), this, 'codeCommit', props.codeCommit, 'must be a full git commit id (40 lower-case hex digits)');
    props.registry.model(props.model);
    const dataPrefix = props.registry.dataPrefix(props.dataPrefix);
    check(props.dataChecks.length > 0, this, 'dataChecks', [], 'must hold at least one check: a run must not train on data nobody looked at');
    props.dataChecks.forEach((c, i) => {
      if (c.spec.column !== undefined) check(CHECKS_COLUMN.test(c.spec.column), this, `dataChecks[${i}].column`, c.spec.column, 'must be a column name');
      if (c.spec.kind === 'null-rate') check(c.spec.max! >= 0 && c.spec.max! <= 1, this, `dataChecks[${i}].max`, c.spec.max, 'must be a share from 0 to 1');
      if (c.spec.kind === 'range') check(c.spec.min !== undefined || c.spec.max !== undefined, this, `dataChecks[${i}]`, c.spec.column, 'needs min or max');
    });
    const metrics = props.evaluation.metrics;
    check(metrics.length > 0, this, 'evaluation.metrics', metrics, 'must name what the evaluation step produces');
    metrics.forEach((m) => check(/^[a-z][a-z0-9_]{0,62}$/.test(m), this, 'evaluation.metrics', m, 'must be lower-case letters, digits and \'_\''));
    check(props.gates.length > 0, this, 'gates', [], 'must hold at least one gate: a run registers only a candidate that passed one');
    props.gates.forEach((g, i) => check(metrics.includes(g.metric), this, `gates[${i}]`, g.metric,
      `is a gate on a metric the evaluation step does not produce; it produces ${metrics.map((m) => `'${m}'`).join(', ')}`));
    this.checkFairnessGates(props.gates);
    const fairnessGates = props.gates.filter((g) => g.isFairness);
    if (props.promoteTo !== undefined) {
      check(props.promoteTo === 'staging', this, 'promoteTo', props.promoteTo, 'must be \'staging\': training never promotes to production (champion); releases do');
    }
    const t = props.triggers;
    check(!!(t.schedule || t.onNewData || t.onAlert), this, 'triggers', t, 'must name at least one trigger (schedule, onNewData, onAlert); runs can also be started by hand');
    if (t.schedule !== undefined) {
      const problem = cronProblem(t.schedule);
      check(!problem, this, 'triggers.schedule', t.schedule, `is not a cron expression: it ${problem}`);
    }
    const deadline = props.deadlineSeconds ?? 21600;
    checkIntegerRange(this, 'deadlineSeconds', deadline, 600, 7 * 86400);
    const retries = props.retries ?? 3;
    checkIntegerRange(this, 'retries', retries, 0, 10);

    const config = { image: props.image, parameters: Object.fromEntries(Object.entries(props.training.parameters ?? {}).sort()) };
    this.configHash = `sha256:${createHash('sha256').update(JSON.stringify(config)).digest('hex')}`;
    CostAttribution.team(this, props.team);
    CostAttribution.model(this, props.model);

    // Least privilege: write this model's prefix, read this data prefix, nothing else.
    this.identity = new WorkloadIdentity(this, 'identity', { cluster, namespace: this.namespace, serviceAccount: this.name });
    props.registry.grantWrite(this.identity, { model: props.model });
    props.registry.grantReadData(this.identity, { prefix: props.dataPrefix });
    // The pipeline reaches MLflow as itself, and may change only its model.
    const credentials = props.registry.addClient(this, { namespace: this.namespace, name: this.name, access: RegistryAccess.EDIT, models: [props.model] });
    Addons.require(this, Addon.argoWorkflows());

    this.chart = new PlatformChart(this, { namespace: this.namespace });
    PlatformNamespaces.use(this, this.namespace);
    const labels = { 'app.kubernetes.io/name': this.name, 'app.kubernetes.io/component': 'training-pipeline', 'mlops.io/model': props.model };
    new k8s.KubeServiceAccount(this.chart, 'service-account', { metadata: { name: this.name, labels, annotations: this.identity.serviceAccountAnnotations } });
    new k8s.KubeRole(this.chart, 'executor-role', {
      metadata: { name: `${this.name}-executor` },
      rules: [{ apiGroups: ['argoproj.io'], resources: ['workflowtaskresults'], verbs: ['create', 'patch'] }],
    });
    new k8s.KubeRoleBinding(this.chart, 'executor-binding', {
      metadata: { name: `${this.name}-executor` },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: `${this.name}-executor` },
      subjects: [{ kind: 'ServiceAccount', name: this.name, namespace: this.namespace }],
    });
    new k8s.KubeConfigMap(this.chart, 'scripts', {
      metadata: { name: `${this.name}-scripts`, labels },
      data: { 'validate.py': VALIDATE_SCRIPT.trimStart(), 'gate.py': GATE_SCRIPT.trimStart(), 'register.py': REGISTER_SCRIPT.trimStart(), 'trigger.py': TRIGGER_SCRIPT.trimStart() },
    });

    this.model = props.model;
    this.registry = props.registry;
    this.codeCommit = props.codeCommit;
    this.dataUri = `s3://${props.registry.bucketName}/${dataPrefix}`;
    this.gates = [...props.gates];
    this.metrics = [...metrics];
    const lineage: Record<string, string> = this.lineage = {
      [LINEAGE_TAGS.codeCommit]: props.codeCommit,
      [LINEAGE_TAGS.dataVersion]: '{{inputs.parameters.data-version}}',
      [LINEAGE_TAGS.configHash]: this.configHash,
      ...(digest ? { [LINEAGE_TAGS.imageDigest]: props.image.split('@')[1] } : {}),
      [LINEAGE_TAGS.pipelineRun]: '{{workflow.name}}',
      [LINEAGE_TAGS.trigger]: '{{workflow.parameters.trigger}}',
    };
    const metricTags = Object.fromEntries(metrics.map((m) => [`mlops.metrics.${m}`, `{{inputs.parameters.candidate-${m}}}`]));
    const gateEnv = metrics.flatMap((m) => [
      { name: `CANDIDATE_${m.toUpperCase()}`, value: `{{inputs.parameters.candidate-${m}}}` },
      { name: `CHAMPION_${m.toUpperCase()}`, value: `{{inputs.parameters.champion-${m}}}` },
    ]);
    // Argo resolves a leaf template's {{...}} in its own scope (inputs, workflow globals): values of
    // other tasks reach it as DAG task arguments (argo-workflows workflow/validate/validate.go).
    const param = (name: string, value: string) => ({ name, value });
    const evaluated = (prefix: string) => metrics.map((m) => param(`${prefix}-${m}`, `{{tasks.evaluate.outputs.parameters.${prefix}-${m}}}`));
    const dataVersion = param('data-version', '{{tasks.validate.outputs.parameters.data-version}}');
    const runId = param('run-id', '{{tasks.train.outputs.parameters.run-id}}');
    const declared = (args: Array<{ name: string }>) => ({ parameters: args.map((a) => ({ name: a.name })) });
    // Fairness gates: the per-group report goes from evaluation to the gate, the gate's results to registration.
    // Both are JSON: Argo escapes a parameter's value before substituting it into the template's JSON
    // (argo-workflows util/template/simple_template.go, strconv.Quote), so quotes pass intact.
    const groupReport = fairnessGates.length ? [param('candidate-groups', '{{tasks.evaluate.outputs.parameters.candidate-groups}}')] : [];
    const fairnessResults = fairnessGates.length ? [param('fairness', '{{tasks.gate.outputs.parameters.fairness}}')] : [];
    const registerArgs = [runId, dataVersion, ...evaluated('candidate'), ...fairnessResults];
    const gateArgs = [...evaluated('candidate'), ...evaluated('champion'), ...groupReport];
    const bucket = props.registry.bucketName;
    const mlflowEnv = [
      { name: 'MLFLOW_TRACKING_URI', value: props.registry.trackingUri },
      { name: 'MLFLOW_EXPERIMENT_NAME', value: props.model },
      ...credentials.env,
      { name: 'AWS_REGION', value: context.region }, { name: 'HOME', value: '/tmp' },
    ];
    const secure = { securityContext: restrictedContainerSecurityContext() };
    const script = (file: string, env: object[], res = rawResources({ cpu: '500m', memory: '1Gi', memoryLimit: '2Gi' })) => ({
      name: 'main', image: props.registry.serverImage, command: ['python', `/scripts/${file}`], env: [...mlflowEnv, ...env], resources: res, ...secure,
      volumeMounts: [{ name: 'scripts', mountPath: '/scripts', readOnly: true }, { name: 'tmp', mountPath: '/tmp' }],
    });
    const output = (name: string) => ({ name, valueFrom: { path: `/tmp/outputs/${name}` } });
    const gpuPod = {
      nodeSelector: { [POOL_LABEL]: pool.name },
      tolerations: [{ key: GPU_TAINT.key, operator: 'Exists', effect: GPU_TAINT.effect }],
      priorityClassName: cluster.trainingPriorityClass,
    };
    const trainingVolumes = [{ name: 'shared', mountPath: SHARED_STORAGE_MOUNT }, { name: 'tmp', mountPath: '/tmp' }, { name: 'shm', mountPath: '/dev/shm' }];
    const retryStrategy = { limit: String(retries), retryPolicy: 'OnTransientError', backoff: { duration: '1m', factor: '2', maxDuration: '30m' } };

    this.workflowTemplate = new ApiObject(this.chart, 'workflow-template', {
      apiVersion: 'argoproj.io/v1alpha1', kind: 'WorkflowTemplate',
      metadata: { name: this.name, labels },
      spec: {
        entrypoint: 'pipeline',
        serviceAccountName: this.name,
        activeDeadlineSeconds: deadline,
        // One run at a time: a second trigger waits for the first run to finish.
        synchronization: { mutexes: [{ name: this.name }] },
        podGC: { strategy: 'OnPodSuccess' },
        ttlStrategy: { secondsAfterCompletion: 7 * 86400 },
        securityContext: restrictedPodSecurityContext(1000),
        podMetadata: { labels },
        arguments: { parameters: [{ name: 'trigger', value: 'manual', enum: ['schedule', 'new-data', 'alert', 'manual'] }, { name: 'trigger-detail', value: '' }] },
        volumes: [
          { name: 'scripts', configMap: { name: `${this.name}-scripts` } },
          { name: 'shared', persistentVolumeClaim: { claimName: SHARED_STORAGE_CLAIM } },
        ],
        templates: [
          {
            name: 'pipeline',
            dag: {
              tasks: [
                { name: 'validate', template: 'validate-data' },
                { name: 'train', template: 'train', dependencies: ['validate'], arguments: { parameters: [dataVersion] } },
                { name: 'evaluate', template: 'evaluate', dependencies: ['train'], arguments: { parameters: [runId] } },
                { name: 'gate', template: 'gate', dependencies: ['evaluate'], arguments: { parameters: gateArgs } },
                // The gate task fails the run when the candidate loses; this condition is a second lock.
                { name: 'register', template: 'register', dependencies: ['gate'], when: "'{{tasks.gate.outputs.result}}' == 'passed'", arguments: { parameters: registerArgs } },
              ],
            },
          },
          {
            name: 'validate-data', retryStrategy,
            outputs: { parameters: [output('data-version')] },
            container: script('validate.py', [
              { name: 'DATA_BUCKET', value: bucket }, { name: 'DATA_PREFIX', value: dataPrefix },
              { name: 'DATA_CHECKS', value: JSON.stringify(props.dataChecks.map((c) => c.spec)) },
              // The model's experiment keeps its runs' artifacts under the model's own prefix, the only
              // one the pipeline's role may write (the registry serves no artifacts: clients use S3).
              { name: 'ARTIFACT_LOCATION', value: props.registry.model(props.model).s3Prefix.slice(0, -1) },
            ]),
            volumes: [{ name: 'tmp', emptyDir: {} }],
          },
          {
            name: 'train', retryStrategy, ...gpuPod,
            inputs: declared([dataVersion]),
            outputs: { parameters: [output('run-id')] },
            container: {
              name: 'main', image: props.image, command: props.training.command,
              env: [
                ...mlflowEnv,
                { name: 'DATA_URI', value: `s3://${bucket}/${dataPrefix}` },
                { name: 'DATA_VERSION', value: '{{inputs.parameters.data-version}}' },
                { name: 'CODE_COMMIT', value: props.codeCommit }, { name: 'CONFIG_HASH', value: this.configHash },
                { name: 'RUN_NAME', value: '{{workflow.name}}' },
                { name: 'OUTPUT_URI', value: `s3://${bucket}/models/${props.model}/runs/{{workflow.name}}/` },
                { name: 'CHECKPOINT_DIR', value: `${SHARED_STORAGE_MOUNT}/checkpoints/${this.name}/{{workflow.name}}` },
                ...Object.entries(props.training.parameters ?? {}).map(([k, v]) => ({ name: `PARAM_${k.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`, value: v })),
              ],
              resources: rawResources({ ...nodeShare(pool, gpus), extra: { 'nvidia.com/gpu': String(gpus) } }),
              volumeMounts: trainingVolumes, ...secure,
            },
            volumes: [{ name: 'tmp', emptyDir: {} }, { name: 'shm', emptyDir: { medium: 'Memory', sizeLimit: '8Gi' } }],
          },
          {
            name: 'evaluate', retryStrategy, ...gpuPod,
            inputs: { parameters: [{ name: 'run-id' }] },
            outputs: {
              parameters: [
                ...metrics.flatMap((m) => [output(`candidate-${m}`), output(`champion-${m}`)]),
                ...(fairnessGates.length ? [{ name: 'candidate-groups', valueFrom: { path: GROUP_REPORT_FILE } }] : []),
              ],
            },
            container: {
              name: 'main', image: props.image, command: props.evaluation.command,
              env: [...mlflowEnv, { name: 'CANDIDATE_RUN_ID', value: '{{inputs.parameters.run-id}}' }, { name: 'CHAMPION_MODEL_URI', value: `models:/${props.model}@champion` },
                { name: 'HELD_OUT_URI', value: `s3://${bucket}/${dataPrefix}holdout/` }, { name: 'METRICS', value: metrics.join(',') },
                ...(fairnessGates.length ? [
                  { name: 'GROUP_BY', value: [...new Set(fairnessGates.map((g) => g.spec.groups!))].join(',') },
                  { name: 'GROUP_METRICS', value: [...new Set(fairnessGates.map((g) => g.metric))].join(',') },
                ] : [])],
              resources: rawResources({ cpu: '2', memory: '8Gi', extra: { 'nvidia.com/gpu': '1' } }),
              volumeMounts: trainingVolumes, ...secure,
            },
            volumes: [{ name: 'tmp', emptyDir: {} }, { name: 'shm', emptyDir: { medium: 'Memory', sizeLimit: '8Gi' } }],
          },
          {
            name: 'gate',
            inputs: declared(gateArgs),
            ...(fairnessGates.length ? { outputs: { parameters: [{ name: 'fairness', valueFrom: { path: '/tmp/outputs/fairness.json' } }] } } : {}),
            container: script('gate.py', [
              { name: 'GATES', value: JSON.stringify(props.gates.map((g) => g.spec)) }, ...gateEnv,
              ...(fairnessGates.length ? [{ name: 'CANDIDATE_GROUPS', value: '{{inputs.parameters.candidate-groups}}' }] : []),
            ], rawResources({ cpu: '100m', memory: '256Mi' })),
            volumes: [{ name: 'tmp', emptyDir: {} }],
          },
          {
            name: 'register', retryStrategy,
            inputs: declared(registerArgs),
            container: script('register.py', [
              { name: 'MODEL_NAME', value: props.model }, { name: 'RUN_ID', value: '{{inputs.parameters.run-id}}' },
              { name: 'LINEAGE_TAGS', value: KubernetesLazy.any({ produce: () => JSON.stringify(lineage) }) }, { name: 'METRIC_TAGS', value: JSON.stringify(metricTags) },
              ...(fairnessGates.length ? [{ name: 'FAIRNESS_TAGS', value: '{{inputs.parameters.fairness}}' }] : []),
              ...(props.promoteTo ? [{ name: 'PROMOTE_TO', value: props.promoteTo }] : []),
            ]),
            volumes: [{ name: 'tmp', emptyDir: {} }],
          },
        ],
      },
    } as any);

    if (t.schedule) {
      new ApiObject(this.chart, 'schedule', {
        apiVersion: 'argoproj.io/v1alpha1', kind: 'CronWorkflow',
        metadata: { name: `${this.name}-schedule`, labels },
        spec: {
          schedules: [t.schedule], timezone: 'UTC', concurrencyPolicy: 'Forbid', startingDeadlineSeconds: 600,
          successfulJobsHistoryLimit: 3, failedJobsHistoryLimit: 5,
          workflowSpec: { workflowTemplateRef: { name: this.name }, arguments: { parameters: [{ name: 'trigger', value: 'schedule' }] } },
        },
      } as any);
    }
    if (t.onNewData || t.onAlert) this.addTriggerService(props, dataPrefix, labels, !!t.onNewData, !!t.onAlert);
    if (t.onAlert) this.retrainingWebhookUrl = `http://${this.name}-trigger.${this.namespace}.svc.cluster.local:12000/retrain`;
  }

  /**
   * The bearer token the retraining webhook requires: generated by Terraform into AWS Secrets Manager
   * (write-only, so in no Terraform state), written by the KubernetesStack into Secret
   * `<pipeline>-webhook-token` of the pipeline's namespace for the trigger, and into the monitoring
   * namespace for Alertmanager (MonitoringStack `alerting.retraining`).
   */
  private webhookToken(): ClusterValue {
    const context = PlatformApp.of(this).context;
    const secret = new SecretsmanagerSecret(this, 'webhook-token', {
      name: `${context.physicalName(this.namespace, this.name)}/retraining-webhook`,
      description: `Bearer token of the retraining webhook of pipeline ${this.namespace}/${this.name}`,
      recoveryWindowInDays: context.environment.isProduction ? 30 : 7,
    });
    new SecretsmanagerSecretVersion(this, 'webhook-token-value', {
      secretId: secret.id,
      // 244 random bits (two UUIDs v4), written once: write-only, so Terraform keeps no copy.
      secretStringWo: Fn.jsonencode({ token: Fn.replace(Fn.join('', [Fn.uuid(), Fn.uuid()]), '-', '') }),
      secretStringWoVersion: 1,
    });
    const token = ClusterValue.fromSecretsManager(secret.arn, 'token');
    ClusterValues.secret(this, { namespace: this.namespace, name: `${this.name}-webhook-token`, data: { token } });
    return token;
  }

  private addTriggerService(props: TrainingPipelineProps, dataPrefix: string, labels: Record<string, string>, onNewData: boolean, onAlert: boolean): void {
    const context = PlatformApp.of(this).context;
    const name = `${this.name}-trigger`;
    const identity = new WorkloadIdentity(this, 'trigger-identity', { cluster: props.cluster, namespace: this.namespace, serviceAccount: name });
    let queueUrl: string | undefined;
    if (onNewData) {
      const queueName = context.physicalName(this.namespace, this.name, 'new-data');
      (this as { queue?: SqsQueue }).queue = new SqsQueue(this, 'new-data', { name: queueName, sqsManagedSseEnabled: true, messageRetentionSeconds: 345600, visibilityTimeoutSeconds: 60 });
      const queue = this.queue!;
      props.registry.enableEventBridge();
      const rule = new CloudwatchEventRule(this, 'new-data-rule', {
        name: queueName,
        description: `New data under s3://${props.registry.bucketName}/${dataPrefix} starts ${this.name}`,
        eventPattern: JSON.stringify({
          source: ['aws.s3'], 'detail-type': ['Object Created'],
          detail: { bucket: { name: [props.registry.bucketName] }, object: { key: [{ prefix: dataPrefix }] } },
        }),
      });
      new CloudwatchEventTarget(this, 'new-data-target', { rule: rule.name, arn: queue.arn, targetId: 'trigger' });
      new SqsQueuePolicy(this, 'new-data-policy', {
        queueUrl: queue.url,
        policy: JSON.stringify({
          Version: '2012-10-17',
          Statement: [
            { Sid: 'EventBridge', Effect: 'Allow', Principal: { Service: 'events.amazonaws.com' }, Action: 'sqs:SendMessage', Resource: queue.arn, Condition: { ArnEquals: { 'aws:SourceArn': rule.arn } } },
            { Sid: 'DenyInsecureTransport', Effect: 'Deny', Principal: '*', Action: 'sqs:*', Resource: queue.arn, Condition: { Bool: { 'aws:SecureTransport': 'false' } } },
          ],
        }),
      });
      grant(identity, `${this.name}-new-data`, [{ sid: 'ConsumeNewData', actions: ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes'], resources: [queue.arn] }]);
      // Built from the queue's name, so the manifest needs nothing from apply.
      queueUrl = `https://sqs.${context.region}.amazonaws.com/${context.accountId}/${queueName}`;
    }
    const triggerLabels = { ...labels, 'app.kubernetes.io/component': 'pipeline-trigger' };
    if (onAlert) {
      (this as { retraining?: RetrainingWebhook }).retraining = {
        url: `http://${name}.${this.namespace}.svc.cluster.local:12000/retrain`, token: this.webhookToken(), model: props.model,
      };
    }
    new k8s.KubeServiceAccount(this.chart, 'trigger-service-account', { metadata: { name, annotations: identity.serviceAccountAnnotations } });
    new k8s.KubeRole(this.chart, 'trigger-role', {
      metadata: { name },
      rules: [{ apiGroups: ['argoproj.io'], resources: ['workflows'], verbs: ['create'] }, { apiGroups: ['argoproj.io'], resources: ['workflowtemplates'], resourceNames: [this.name], verbs: ['get'] }],
    });
    new k8s.KubeRoleBinding(this.chart, 'trigger-binding', {
      metadata: { name },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
      subjects: [{ kind: 'ServiceAccount', name, namespace: this.namespace }],
    });
    new k8s.KubeDeployment(this.chart, 'trigger', {
      metadata: { name, labels: triggerLabels },
      spec: {
        replicas: 1,
        selector: { matchLabels: { 'app.kubernetes.io/name': name } },
        template: {
          metadata: { labels: { ...triggerLabels, 'app.kubernetes.io/name': name } },
          spec: {
            serviceAccountName: name,
            securityContext: restrictedPodSecurityContext(1000),
            containers: [{
              name: 'trigger', image: props.registry.serverImage, command: ['python', '/scripts/trigger.py'],
              env: [
                { name: 'NAMESPACE', value: this.namespace }, { name: 'WORKFLOW_TEMPLATE', value: this.name },
                { name: 'AWS_REGION', value: context.region }, { name: 'HOME', value: '/tmp' },
                ...(queueUrl ? [{ name: 'QUEUE_URL', value: queueUrl }] : []),
                ...(onAlert ? [{ name: 'WEBHOOK_TOKEN', valueFrom: { secretKeyRef: { name: `${this.name}-webhook-token`, key: 'token' } } }] : []),
              ],
              ports: [{ name: 'webhook', containerPort: 12000 }],
              readinessProbe: { httpGet: { path: '/healthz', port: k8s.IntOrString.fromString('webhook') }, periodSeconds: 10 },
              livenessProbe: { httpGet: { path: '/healthz', port: k8s.IntOrString.fromString('webhook') }, periodSeconds: 30 },
              resources: resources({ cpu: '50m', memory: '128Mi', cpuLimit: '250m', memoryLimit: '256Mi' }),
              securityContext: restrictedContainerSecurityContext(),
              volumeMounts: [{ name: 'scripts', mountPath: '/scripts', readOnly: true }, { name: 'tmp', mountPath: '/tmp' }],
            }],
            volumes: [{ name: 'scripts', configMap: { name: `${this.name}-scripts` } }, { name: 'tmp', emptyDir: {} }],
          },
        },
      },
    });
    new k8s.KubeService(this.chart, 'trigger-service', {
      metadata: { name, labels: triggerLabels },
      spec: { selector: { 'app.kubernetes.io/name': name }, ports: [{ name: 'webhook', port: 12000, targetPort: k8s.IntOrString.fromString('webhook') }] },
    });
    new k8s.KubeNetworkPolicy(this.chart, 'trigger-network-policy', {
      metadata: { name },
      spec: {
        podSelector: { matchLabels: { 'app.kubernetes.io/name': name } },
        policyTypes: ['Ingress', 'Egress'],
        // Alertmanager's pods only (and they must still present the token).
        ingress: onAlert ? [{
          from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': KUBE_PROMETHEUS_STACK_PODS.namespace } }, podSelector: { matchLabels: KUBE_PROMETHEUS_STACK_PODS.alertmanager } }],
          ports: [{ protocol: 'TCP', port: k8s.IntOrString.fromNumber(12000) }],
        }] : [],
        egress: [...baseEgressRules(), { ports: [{ protocol: 'TCP', port: k8s.IntOrString.fromNumber(443) }] }],
      },
    });
  }

  /** The fairness gates: sensitive attribute, limits and minimum group size within range, each gated once. */
  private checkFairnessGates(gates: MetricGate[]): void {
    const tags = new Set<string>();
    gates.forEach((g, i) => {
      if (!g.isFairness) return;
      const s = g.spec;
      check(/^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/.test(s.groups ?? ''), this, `gates[${i}].groups`, s.groups,
        'must name the sensitive attribute the evaluation step groups by (e.g. \'region\'): 1 to 64 letters, digits, \'_\', \'.\' or \'-\'');
      if (s.kind === 'fairness-max-disparity') {
        check(Number.isFinite(s.max) && s.max! > 0 && s.max! < 1, this, `gates[${i}].max`, s.max, 'must be a gap between groups from 0 to 1, exclusive (0.05 for 5 points)');
      } else if (s.kind === 'fairness-min-ratio') {
        check(Number.isFinite(s.min) && s.min! > 0 && s.min! <= 1, this, `gates[${i}].min`, s.min, 'must be a ratio of the worst group to the best above 0 and at most 1 (0.8 for the four-fifths rule)');
      } else {
        check(Number.isFinite(s.min), this, `gates[${i}].min`, s.min, 'must be a finite floor for every group');
      }
      checkIntegerRange(this, `gates[${i}].minCount`, s.min_count, 1, 1000000000);
      check(!tags.has(s.tag!), this, `gates[${i}]`, s.tag, 'gates the same metric and groups the same way as an earlier gate');
      tags.add(s.tag!);
    });
  }

  /** The model-version tags the fairness gates' results are recorded in (one per fairness gate). */
  public get fairnessTags(): string[] {
    return this.gates.filter((g) => g.isFairness).map((g) => g.spec.tag!);
  }

  /** The lineage tags every registered version carries (values in `{{...}}` are filled in by the run). */
  public get lineageTags(): Record<string, string> {
    return { ...this.lineage };
  }

  /** Records one more lineage tag on every version the pipeline registers (e.g. a FeatureStore's feature set). */
  public addLineageTag(key: string, value: string): void {
    check(/^mlops\.lineage\.[a-z_]+$/.test(key), this, 'lineage tag', key, 'must be an mlops.lineage.* tag (LINEAGE_TAGS)');
    check(this.lineage[key] === undefined || this.lineage[key] === value, this, key, value, `is recorded already with another value (${this.lineage[key]}): a model is trained on one feature set`);
    this.lineage[key] = value;
  }
}
