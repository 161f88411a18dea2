import { Construct, k8s } from '../engine';
import { PlatformApp } from '../core/app';
import { check, checkIntegerRange } from '../core/errors';
import { WorkloadIdentity } from '../core/identity';
import { PlatformChart } from '../core/kubernetes';
import { NameRules } from '../core/names';
import { PlatformNamespaces } from '../core/namespaces';
import { CostAttribution } from '../core/tags';
import { checkPinnedImage, checkQuantity, resources, restrictedContainerSecurityContext, restrictedPodSecurityContext } from '../core/workloads';
import { RegistryAccess } from '../registry/model-registry';
import type { IModelRegistry } from '../registry/model-registry';
import { GPU_TAINT, GpuTrainingCluster, nodeShare, POOL_LABEL } from './gpu-cluster';
import { SHARED_STORAGE_CLAIM, SHARED_STORAGE_MOUNT } from './storage';

/** The port workers rendezvous on (torch.distributed). */
export const RENDEZVOUS_PORT = 29500;

/** Props of a TrainingJob. */
export interface TrainingJobProps {
  /** The cluster to train on. */
  readonly cluster: GpuTrainingCluster;
  /** The team (namespace) that runs the job; one of the cluster's teams. */
  readonly team: string;
  /** The GPU pool to run on. */
  readonly pool: string;
  /** The training image, by digest (`<repository>:<tag>@sha256:<64 hex>`); a tag only with `ImagePinning.allowTag`. */
  readonly image: string;
  /** The training script and its arguments, started by `torchrun` on each worker. */
  readonly command: string[];
  /**
   * Nodes that train together (data-parallel); above 1 the job is an Indexed Job whose pods find
   * each other through a headless Service.
   * @default 1
   */
  readonly workers?: number;
  /** @default - every GPU of the pool's instance type */
  readonly gpusPerWorker?: number;
  /** @default - three quarters of the instance's CPUs for the GPUs taken */
  readonly cpu?: string;
  /** @default - three quarters of the instance's memory for the GPUs taken */
  readonly memory?: string;
  /**
   * The registry the job writes its model to; the job's role may write only that model's prefix.
   * @default - no registry access
   */
  readonly registry?: IModelRegistry;
  /** The model the job trains (required with `registry`). @default - none */
  readonly model?: string;
  /**
   * The datasets the job reads from the registry's DVC remote: a prefix below `data/` that belongs to
   * the job's team (it starts with `<team>/`), read-only unless `write` is set. Another team's data is
   * never granted: a job could read it, or poison it and start that team's retraining.
   * @default - read-only access to `data/<team>/` when `registry` is set
   */
  readonly data?: TrainingJobDataAccess;
  /** @default 86400 (a day) */
  readonly deadlineSeconds?: number;
  /**
   * Failures (other than disruptions such as spot interruptions, which never count) before the job fails.
   * @default 6
   */
  readonly backoffLimit?: number;
  /** @default - none */
  readonly env?: Record<string, string>;
}

/** What a TrainingJob may do with its team's datasets. */
export interface TrainingJobDataAccess {
  /** A prefix below `data/`, ending with '/', starting with the team's name (`fraud/transactions/`). @default '<team>/' */
  readonly prefix?: string;
  /** Whether the job may also write there (a write under a watched prefix starts that pipeline). @default false */
  readonly write?: boolean;
}

/**
 * A (multi-node) PyTorch training job on a GPU pool: an Indexed Job whose workers rendezvous through
 * a headless Service, request whole GPUs, tolerate the GPU taint, select the pool, mount the shared
 * storage, run under their own service account and AWS role, and survive spot interruptions.
 *
 * **Checkpoint contract**: the job gets `CHECKPOINT_DIR` (on the shared storage, per job). The script
 * writes checkpoints there (atomically: write, then rename) and, when it starts, resumes from the
 * newest one. A pod lost to a spot interruption or preemption (condition `DisruptionTarget`) is
 * replaced without counting against `backoffLimit`, and the new pod resumes from the checkpoint.
 */
export class TrainingJob extends Construct {
  public readonly identity: WorkloadIdentity;
  public readonly chart: PlatformChart;
  public readonly jobName: string;
  public readonly namespace: string;
  public readonly totalGpus: number;

  constructor(scope: Construct, id: string, props: TrainingJobProps) {
    super(scope, id);
    this.jobName = NameRules.dnsLabel(this, 'id', id);
    check(id.length <= 40, this, 'id', id, 'must be at most 40 characters (it names the job, its pods and its role)');
    const cluster = props.cluster;
    const team = cluster.team(props.team, this);
    this.namespace = props.team;
    const pool = cluster.pool(props.pool, this);
    const workers = props.workers ?? 1;
    checkIntegerRange(this, 'workers', workers, 1, 256);
    const gpus = props.gpusPerWorker ?? pool.gpusPerNode;
    checkIntegerRange(this, 'gpusPerWorker', gpus, 1, 64);
    check(gpus <= pool.gpusPerNode, this, 'gpusPerWorker', gpus, `is more than the ${pool.gpusPerNode} GPU(s) a node of pool '${pool.name}' has (${pool.instanceTypes.map((t) => t.name).join(', ')})`);
    this.totalGpus = gpus * workers;
    check(this.totalGpus <= team.gpus, this, 'workers', workers, `× ${gpus} GPUs exceeds team '${team.name}'s quota of ${team.gpus} GPUs, so the job could never start`);
    cluster.registerJobDemand(this.node.path, pool.name, this.totalGpus);
    checkPinnedImage(this, 'image', props.image);
    check(props.command.length > 0, this, 'command', props.command, 'must name the training script');
    check(!props.registry === !props.model, this, 'model', props.model, 'and registry go together: the job writes that model to that registry');
    check(!props.data || !!props.registry, this, 'data', props.data, 'needs `registry`: the datasets are in its DVC remote');
    const deadline = props.deadlineSeconds ?? 86400;
    checkIntegerRange(this, 'deadlineSeconds', deadline, 60, 30 * 86400);
    const backoffLimit = props.backoffLimit ?? 6;
    checkIntegerRange(this, 'backoffLimit', backoffLimit, 0, 100);

    CostAttribution.team(this, team.name);
    if (props.model) CostAttribution.model(this, props.model);
    this.identity = new WorkloadIdentity(this, 'identity', { cluster, namespace: this.namespace, serviceAccount: this.jobName });
    if (props.registry) {
      props.registry.grantWrite(this.identity, { model: props.model });
      const prefix = props.data?.prefix ?? `${team.name}/`;
      check(prefix.startsWith(`${team.name}/`), this, 'data.prefix', prefix, `must be a prefix of team '${team.name}''s datasets, starting with '${team.name}/'`);
      props.registry.grantReadData(this.identity, { prefix });
      if (props.data?.write) props.registry.grantWriteData(this.identity, { prefix });
      // The job logs to MLflow: the registry's NetworkPolicy admits its namespace.
      props.registry.allowNamespace(this.namespace);
    }

    checkQuantity(this, 'cpu', props.cpu, 'cpu');
    checkQuantity(this, 'memory', props.memory, 'memory');
    const share = nodeShare(pool, gpus);
    const cpu = props.cpu ?? share.cpu;
    const memory = props.memory ?? share.memory;
    const labels = { 'app.kubernetes.io/name': this.jobName, 'app.kubernetes.io/component': 'training', 'mlops.io/job': this.jobName };
    const service = `${this.jobName}-workers`;
    this.chart = new PlatformChart(this, { namespace: this.namespace });
    PlatformNamespaces.use(this, this.namespace);

    new k8s.KubeServiceAccount(this.chart, 'service-account', { metadata: { name: this.jobName, labels, annotations: this.identity.serviceAccountAnnotations }, automountServiceAccountToken: false });
    new k8s.KubeService(this.chart, 'workers', {
      metadata: { name: service, labels },
      spec: { clusterIp: 'None', publishNotReadyAddresses: true, selector: labels, ports: [{ name: 'rendezvous', port: RENDEZVOUS_PORT }] },
    });
    const env: k8s.EnvVar[] = [
      { name: 'NNODES', value: String(workers) },
      { name: 'NPROC_PER_NODE', value: String(gpus) },
      { name: 'NODE_RANK', valueFrom: { fieldRef: { fieldPath: "metadata.annotations['batch.kubernetes.io/job-completion-index']" } } },
      { name: 'MASTER_ADDR', value: `${this.jobName}-0.${service}.${this.namespace}.svc.cluster.local` },
      { name: 'MASTER_PORT', value: String(RENDEZVOUS_PORT) },
      { name: 'CHECKPOINT_DIR', value: `${SHARED_STORAGE_MOUNT}/checkpoints/${this.jobName}` },
      { name: 'DATASETS_DIR', value: `${SHARED_STORAGE_MOUNT}/datasets` },
      { name: 'AWS_REGION', value: PlatformApp.of(this).context.region },
      { name: 'HOME', value: '/tmp' },
      ...(props.registry ? [
        { name: 'MLFLOW_TRACKING_URI', value: props.registry.trackingUri }, { name: 'MLOPS_MODEL', value: props.model! },
        // The job reaches MLflow as itself, and may change only its model.
        ...props.registry.addClient(this, { namespace: this.namespace, name: this.jobName, access: RegistryAccess.EDIT, models: [props.model!] }).env,
      ] : []),
      ...Object.entries(props.env ?? {}).map(([name, value]) => ({ name, value })),
    ];
    new k8s.KubeJob(this.chart, 'job', {
      metadata: { name: this.jobName, labels },
      spec: {
        completionMode: 'Indexed',
        completions: workers,
        parallelism: workers,
        backoffLimit,
        activeDeadlineSeconds: deadline,
        ttlSecondsAfterFinished: 7 * 86400,
        podFailurePolicy: {
          // Spot interruptions, node drains and preemption: replace the pod, do not count the failure.
          rules: [{ action: 'Ignore', onPodConditions: [{ type: 'DisruptionTarget', status: 'True' }] }],
        },
        template: {
          metadata: { labels },
          spec: {
            restartPolicy: 'Never',
            subdomain: service,
            serviceAccountName: this.jobName,
            automountServiceAccountToken: false,
            priorityClassName: cluster.trainingPriorityClass,
            nodeSelector: { [POOL_LABEL]: pool.name },
            tolerations: [{ key: GPU_TAINT.key, operator: 'Exists', effect: GPU_TAINT.effect }],
            securityContext: restrictedPodSecurityContext(1000),
            terminationGracePeriodSeconds: 90,
            containers: [{
              name: 'trainer',
              image: props.image,
              command: ['torchrun', '--nnodes=$(NNODES)', '--nproc-per-node=$(NPROC_PER_NODE)', '--node-rank=$(NODE_RANK)',
                '--master-addr=$(MASTER_ADDR)', '--master-port=$(MASTER_PORT)', ...props.command],
              env,
              ports: [{ name: 'rendezvous', containerPort: RENDEZVOUS_PORT }],
              resources: resources({ cpu, memory, extra: { 'nvidia.com/gpu': String(gpus) } }),
              securityContext: restrictedContainerSecurityContext(),
              volumeMounts: [
                { name: 'shared', mountPath: SHARED_STORAGE_MOUNT },
                { name: 'tmp', mountPath: '/tmp' },
                { name: 'shm', mountPath: '/dev/shm' },
              ],
            }],
            volumes: [
              { name: 'shared', persistentVolumeClaim: { claimName: SHARED_STORAGE_CLAIM } },
              { name: 'tmp', emptyDir: { sizeLimit: k8s.Quantity.fromString('20Gi') } },
              { name: 'shm', emptyDir: { medium: 'Memory', sizeLimit: k8s.Quantity.fromString('8Gi') } },
            ],
          },
        },
      },
    });
  }
}
