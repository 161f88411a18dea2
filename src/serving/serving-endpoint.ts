import { IamRolePolicy } from '../providers/aws';
import { ApiObject, Construct, Fn, JsonPatch, k8s, KubernetesLazy, TerraformStack, Token } from '../engine';
import type { ITerraformDependable } from '../engine';
import { Addon, Addons } from '../core/addons';
import { PrometheusInstance } from '../core/prometheus';
import { suppress } from '../policy/rule';
import { PlatformApp } from '../core/app';
import { cronProblem } from '../core/cron';
import { check, checkIntegerRange } from '../core/errors';
import { declareClusterPools, grant, IEksCluster, policyDocument, WorkloadIdentity } from '../core/identity';
import { ClusterValue, ClusterValues } from '../core/kubernetes-stack';
import { requireLoadBalancerController } from '../core/load-balancer-controller';
import { PlatformChart } from '../core/kubernetes';
import { NameRules } from '../core/names';
import { PlatformNamespaces } from '../core/namespaces';
import { CostAttribution } from '../core/tags';
import { baseEgressRules, checkPinnedImage, checkQuantity, fromNamespaces, resources, restrictedContainerSecurityContext, restrictedPodSecurityContext } from '../core/workloads';
import { RegistryAccess } from '../registry/model-registry';
import type { IModelRegistry, ModelVersion, RegistryCredentials } from '../registry/model-registry';
import { GPU_TAINT, GpuTrainingCluster, POOL_LABEL } from '../training/gpu-cluster';
import { InstanceType } from '../training/instances';
import { PRIORITY_CLASSES } from '../training/cluster-workloads';
import { ServerMetrics } from './metrics';
import { MODEL_REPOSITORY, ModelServer, POD_UID_ENV, SERVER_CONFIG_DIR } from './model-server';
import { Autoscaling, EndpointIngress, LatencyClass, ServingMode } from './options';

/** Compute for each replica. */
export interface ServingResources {
  /** @default '1' */
  readonly cpu?: string;
  /** @default '2Gi' */
  readonly memory?: string;
  /** NVIDIA GPUs per replica; needs `pool`. @default 0 */
  readonly gpus?: number;
  /**
   * The pool of the cluster to run on: a GPU pool when `gpus` is set, else one of the cluster's
   * `cpuPools` (its nodes are labelled and tainted with the pool's name).
   * @default - none: untainted nodes, i.e. the system nodes, which have room only for small pods
   */
  readonly pool?: string;
}

/** Props of a ServingEndpoint. */
export interface ServingEndpointProps {
  /** The cluster the endpoint runs in. */
  readonly cluster: IEksCluster;
  /** The namespace. */
  readonly namespace: string;
  /**
   * The model version to serve, pinned by number (`registry.model('fraud-detector').version('8')`).
   * Changing it in code changes the pod template, which is what starts a release; an alias is
   * refused, because moving it would change what restarted pods load without any rollout.
   */
  readonly model: ModelVersion;
  /**
   * The registry this endpoint may read; the model must come from it.
   * @default - the model's registry
   */
  readonly registry?: IModelRegistry;
  /** The model server. */
  readonly server: ModelServer;
  /** @default ServingMode.realtime() */
  readonly mode?: ServingMode;
  /** @default - REAL_TIME for realtime, NEAR_REAL_TIME for streaming, BATCH for batch */
  readonly latencyClass?: LatencyClass;
  /** @default - 1 CPU and 2 GiB, no GPU */
  readonly resources?: ServingResources;
  /** The team that owns the endpoint (cost attribution). @default - the platform's team */
  readonly team?: string;
  /** Namespaces whose pods may call the endpoint. @default - only its own namespace */
  readonly allowedNamespaces?: string[];
  /** Overrides of the server preset's checks (path and port name). @default - the preset's */
  readonly readinessCheck?: { readonly path: string; readonly port: string };
  /**
   * The Prometheus that scrapes the endpoint (its ServiceMonitor carries the labels it selects) and
   * that KEDA queries.
   * @default PrometheusInstance.kubePrometheusStack()
   */
  readonly prometheus?: PrometheusInstance;
}

/**
 * Turns a registered model version into something that answers: real-time (an autoscaled API),
 * batch (a CronJob or Job over S3 prefixes) or streaming (Kafka consumers scaled on lag). Its pods
 * run under their own service account, whose role may read just this model in the registry.
 */
export class ServingEndpoint extends Construct {
  public readonly name: string;
  public readonly namespace: string;
  public readonly model: ModelVersion;
  public readonly server: ModelServer;
  public readonly mode: ServingMode;
  public readonly latencyClass: LatencyClass;
  public readonly identity: WorkloadIdentity;
  public readonly chart: PlatformChart;
  /** The labels that select the endpoint's pods (stable across model versions). */
  public readonly selectorLabels: Record<string, string>;
  /** The Service clients call (real-time) or Prometheus scrapes. */
  public readonly serviceName: string;
  /** The Deployment (real-time and streaming). */
  public readonly deployment?: k8s.KubeDeployment;
  /** The autoscaler (HorizontalPodAutoscaler or KEDA ScaledObject), if any. */
  public readonly scaler?: ApiObject;
  public readonly minReplicas: number;
  public readonly maxReplicas: number;
  public readonly readPolicy: IamRolePolicy;
  public readonly team: string;
  /** The Prometheus that scrapes the endpoint. */
  public readonly prometheus: PrometheusInstance;
  /** The cluster the endpoint runs in. */
  public readonly cluster: IEksCluster;
  /** The ServiceMonitor (real-time and streaming). */
  public serviceMonitor?: ApiObject;
  /** The endpoint's registry credentials (read-only, its model only). */
  public readonly registryCredentials: RegistryCredentials;
  /** Namespaces whose pods may call the endpoint, besides its own. */
  public readonly allowedNamespaces: string[];
  /** The Ingress (real-time endpoints with `ingress`). */
  public ingress?: k8s.KubeIngress;
  /** The paths the Ingress routes (the server's inference paths for this model). */
  public ingressPaths: string[] = [];
  /** Environment other constructs add to the server container (`addEnvironment`). */
  private readonly extraEnv: k8s.EnvVar[] = [];

  constructor(scope: Construct, id: string, props: ServingEndpointProps) {
    super(scope, id);
    const context = PlatformApp.of(this).context;
    this.name = NameRules.dnsLabel(this, 'id', id);
    check(id.length <= 40, this, 'id', id, 'must be at most 40 characters (it names the Service, the pods and the role)');
    this.namespace = NameRules.dnsLabel(this, 'namespace', props.namespace);
    this.model = props.model;
    this.server = props.server;
    this.mode = props.mode ?? ServingMode.realtime();
    this.team = NameRules.dnsLabel(this, 'team', props.team ?? context.team);
    // A namespace is the boundary of pod creation: whoever may create pods in it may run them as any of
    // its service accounts, so with any of its endpoints' AWS roles and registry credentials.
    const teams = namespaceTeams.get(PlatformApp.of(this)) ?? new Map<string, ServingEndpoint>();
    namespaceTeams.set(PlatformApp.of(this), teams);
    const neighbour = teams.get(this.namespace);
    check(!neighbour || neighbour.team === this.team, this, 'namespace', this.namespace,
      `holds endpoint '${neighbour?.node.path}' of team '${neighbour?.team}'; endpoints of different teams need their own namespaces (anyone who may create pods in a namespace can use every role of its service accounts), e.g. '${this.team}-serving'`);
    if (!neighbour) teams.set(this.namespace, this);
    const registry = props.registry ?? (props.model.registry as unknown as IModelRegistry);
    check(props.model.pinned, this, 'model', props.model.uri,
      `is an alias, which moves without changing the pod template: no release would start and restarted pods would load whatever it points to. Pin the version: ${props.model.registry.node.id}.model('${props.model.model.name}').version('<n>')`);
    check((props.model.registry as unknown) === registry, this, 'model', props.model.uri,
      `comes from registry '${props.model.registry.node.path}', but this endpoint may read only registry '${registry.node.path}'`);
    this.latencyClass = props.latencyClass
      ?? (this.mode.kind === 'batch' ? LatencyClass.BATCH : this.mode.kind === 'streaming' ? LatencyClass.NEAR_REAL_TIME : LatencyClass.REAL_TIME);
    checkPinnedImage(this, 'server.image', props.server.props.image);
    this.serviceName = this.name;
    this.selectorLabels = { 'mlops.io/endpoint': this.name };
    this.prometheus = props.prometheus ?? PrometheusInstance.kubePrometheusStack();
    this.cluster = props.cluster;
    this.allowedNamespaces = [...(props.allowedNamespaces ?? [])];

    // Checks of the server and the resources
    const readiness = props.readinessCheck ?? props.server.props.readiness;
    check(!!props.server.port(readiness.port), this, 'readinessCheck.port', readiness.port,
      `is not a port the ${props.server.name} server opens; it opens ${props.server.props.ports.map((p) => `'${p.name}' (${p.port})`).join(', ')}`);
    for (const c of [props.server.props.liveness, props.server.props.metricsEndpoint]) {
      check(!!props.server.port(c.port), this, 'server', c.port, `checks port '${c.port}', which the server does not open`);
    }
    const res = props.resources ?? {};
    checkQuantity(this, 'resources.cpu', res.cpu, 'cpu');
    checkQuantity(this, 'resources.memory', res.memory, 'memory');
    const gpus = res.gpus ?? 0;
    checkIntegerRange(this, 'resources.gpus', gpus, 0, 16);
    const pool = this.gpuPool(props.cluster, res, gpus);

    CostAttribution.team(this, this.team);
    // The model, not its version: a new version must change the pod template only, not every tag.
    CostAttribution.model(this, props.model.model.name);
    this.identity = new WorkloadIdentity(this, 'identity', {
      cluster: props.cluster, namespace: this.namespace, serviceAccount: this.name,
    });
    this.readPolicy = props.model.grantRead(this.identity);
    registry.allowNamespace(this.namespace);
    // The endpoint reaches MLflow as itself, and may only read its model.
    this.registryCredentials = registry.addClient(this, { namespace: this.namespace, name: this.name, access: RegistryAccess.READ, models: [props.model.model.name] });
    this.chart = new PlatformChart(this, { namespace: this.namespace });
    PlatformNamespaces.use(this, this.namespace);
    new k8s.KubeServiceAccount(this.chart, 'service-account', { metadata: { name: this.name, annotations: this.identity.serviceAccountAnnotations }, automountServiceAccountToken: false });

    const podTemplate = this.podTemplate(props, registry, readiness, gpus, pool);
    if (this.mode.kind === 'realtime') {
      const o = this.mode.realtime ?? {};
      this.minReplicas = o.minReplicas ?? Math.max(this.latencyClass.minReplicas, 1);
      this.maxReplicas = o.maxReplicas ?? 10;
      this.checkReplicas();
      this.deployment = this.addDeployment(podTemplate, this.minReplicas);
      this.addService();
      this.scaler = this.addScaler(o.autoscaling ?? Autoscaling.cpu(70));
      if (o.ingress) this.addIngress(o.ingress, readiness.path, props.model.model.name);
      // The Ingress defaults to the ALB, whose targets (type ip) are reached from VPC addresses.
      this.addNetworkPolicy(props, registry, o.ingress ? o.ingress.className ?? 'alb' : undefined);
    } else if (this.mode.kind === 'streaming') {
      const o = this.mode.streaming!;
      this.minReplicas = o.minReplicas ?? Math.max(this.latencyClass.minReplicas, 1);
      this.maxReplicas = o.maxReplicas ?? 10;
      this.checkReplicas();
      this.deployment = this.addDeployment(podTemplate, this.minReplicas);
      this.addService();
      this.scaler = this.addKafkaScaler();
      this.addNetworkPolicy(props, registry, undefined, [9092, 9094, 9096, 9098]);
    } else {
      this.minReplicas = 0;
      this.maxReplicas = this.mode.batch!.parallelism ?? 1;
      this.addBatch(podTemplate);
      this.addNetworkPolicy(props, registry);
    }
    if (this.mode.kind !== 'batch') this.addServiceMonitor();
  }

  /** The metrics the server exports (and the PromQL over them). */
  public get metrics(): ServerMetrics {
    return this.server.metrics;
  }

  /** The PromQL label matcher of this endpoint's series. */
  public get metricsSelector(): string {
    return `namespace="${this.namespace}",service="${this.serviceName}"`;
  }

  /** Adds an environment variable to the server container, e.g. a feature server's address (FeatureStore.grantOnlineRead). */
  public addEnvironment(name: string, value: string): void {
    check(/^[A-Za-z_][A-Za-z0-9_]*$/.test(name), this, 'environment', name, 'must be an environment variable name');
    check(!this.extraEnv.some((e) => e.name === name), this, 'environment', name, 'is set already');
    this.extraEnv.push({ name, value });
  }

  /** The port clients call. */
  public get port(): number {
    return this.server.servingPort.port;
  }

  /**
   * Points the autoscaler at another workload (a CanaryRollout's Rollout), so that it does not keep
   * scaling a Deployment that no longer runs pods (argo-rollouts#2857).
   */
  public retargetScaler(target: { apiVersion: string; kind: string; name: string }): void {
    // HorizontalPodAutoscaler and KEDA ScaledObject both name their target in spec.scaleTargetRef.
    this.scaler?.addJsonPatch(JsonPatch.replace('/spec/scaleTargetRef', target));
  }

  private checkReplicas(): void {
    checkIntegerRange(this, 'mode.minReplicas', this.minReplicas, 0, 1000);
    checkIntegerRange(this, 'mode.maxReplicas', this.maxReplicas, 1, 1000);
    check(this.minReplicas <= this.maxReplicas, this, 'mode.minReplicas', this.minReplicas, `must not exceed maxReplicas (${this.maxReplicas})`);
    check(this.minReplicas >= this.latencyClass.minReplicas, this, 'mode.minReplicas', this.minReplicas,
      this.latencyClass.minReplicas > 0 && this.minReplicas === 0
        ? `scales to zero, which latency class '${this.latencyClass.name}' does not allow: it keeps replicas warm (at least ${this.latencyClass.minReplicas})`
        : `is below the ${this.latencyClass.minReplicas} replicas latency class '${this.latencyClass.name}' keeps warm (spread across zones)`);
  }

  private gpuPool(cluster: IEksCluster, res: ServingResources, gpus: number): PoolPlacement | undefined {
    const training = cluster instanceof GpuTrainingCluster ? cluster : undefined;
    if (!training && res.pool !== undefined) return this.describedPool(cluster, res, gpus);
    if (gpus === 0) {
      if (res.pool === undefined) return undefined;
      const cpu = training?.cpuPool(res.pool);
      check(!!cpu, this, 'resources.pool', res.pool, training?.cpuPools.length
        ? `is not a CPU pool of the cluster (and resources.gpus is 0); its CPU pools are ${training.cpuPools.map((p) => `'${p.name}'`).join(', ')}`
        : 'names no CPU pool: the cluster has none (add cpuPools to the GpuTrainingCluster), and without resources.gpus a GPU pool is not used');
      return { name: cpu!.name, nodeSelector: { [POOL_LABEL]: cpu!.name }, tolerations: [{ key: cpu!.taint.key, operator: 'Equal', value: cpu!.taint.value, effect: cpu!.taint.effect }] };
    }
    check(res.pool !== undefined, this, 'resources.gpus', gpus, 'needs resources.pool: the GPU pool to run on');
    const pools = training?.pools ?? [];
    const pool = pools.find((p) => p.name === res.pool);
    check(!!pool, this, 'resources.pool', res.pool, pools.length
      ? `is not a GPU pool of the cluster; its GPU pools are ${pools.map((p) => `'${p.name}'`).join(', ')}`
      : 'is a pool that has no GPUs: the cluster has no GPU pools');
    check(gpus <= pool!.gpusPerNode, this, 'resources.gpus', gpus, `is more than the ${pool!.gpusPerNode} GPU(s) a node of pool '${pool!.name}' has`);
    return { name: pool!.name, nodeSelector: { [POOL_LABEL]: pool!.name }, tolerations: [{ key: GPU_TAINT.key, operator: 'Exists', effect: GPU_TAINT.effect }] };
  }

  /** A pool of a cluster the platform did not create, as `EksCluster.fromAttributes({ nodePools })` describes it. */
  private describedPool(cluster: IEksCluster, res: ServingResources, gpus: number): PoolPlacement {
    declareClusterPools(this, cluster);
    const pools = cluster.nodePools ?? [];
    const pool = pools.find((p) => p.name === res.pool);
    check(!!pool, this, 'resources.pool', res.pool, pools.length
      ? `is not a pool of cluster '${cluster.clusterName}'; its described pools are ${pools.map((p) => `'${p.name}'`).join(', ')}`
      : `names a pool of cluster '${cluster.clusterName}', which describes none: give EksCluster.fromAttributes its nodePools (labels, taints, instance types)`);
    const perNode = Math.min(...pool!.instanceTypes.map((t) => InstanceType.of(t).gpus));
    check(gpus <= perNode, this, 'resources.gpus', gpus, gpus > 0 && perNode === 0
      ? `needs GPUs, but pool '${pool!.name}' runs ${pool!.instanceTypes.join(', ')}, which have none`
      : `is more than the ${perNode} GPU(s) a node of pool '${pool!.name}' has (${pool!.instanceTypes.join(', ')})`);
    return {
      name: pool!.name,
      nodeSelector: { ...pool!.labels },
      tolerations: (pool!.taints ?? []).map((t) => (t.value === undefined ? { key: t.key, operator: 'Exists', effect: t.effect } : { key: t.key, operator: 'Equal', value: t.value, effect: t.effect })),
    };
  }

  private podTemplate(props: ServingEndpointProps, registry: IModelRegistry, readiness: { path: string; port: string }, gpus: number, pool?: PoolPlacement): k8s.PodTemplateSpec {
    const s = props.server.props;
    const modelName = props.model.model.name;
    const modelDir = `${MODEL_REPOSITORY}/${modelName}`;
    const fill = (v: string) => v.split('{{MODEL_DIR}}').join(modelDir).split('{{MODEL_REPOSITORY}}').join(MODEL_REPOSITORY).split('{{MODEL_NAME}}').join(modelName);
    const res = props.resources ?? {};
    const labels = {
      ...this.selectorLabels,
      'app.kubernetes.io/name': this.name, 'app.kubernetes.io/component': 'model-server',
      'mlops.io/model': modelName, 'mlops.io/model-version': props.model.label, 'mlops.io/team': this.team,
    };
    const env: k8s.EnvVar[] = [
      ...Object.entries(s.env ?? {}).map(([name, value]) => ({ name, value: fill(value) })),
      { name: 'MODEL_URI', value: props.model.uri },
      { name: 'MODEL_DIR', value: modelDir },
      { name: 'MLFLOW_TRACKING_URI', value: registry.trackingUri },
      ...this.registryCredentials.env,
      { name: 'AWS_REGION', value: PlatformApp.of(this).context.region },
      { name: 'HOME', value: '/tmp' },
      // The server may use the pod's UID as a secret no client is given (Triton's restricted APIs).
      { name: POD_UID_ENV, valueFrom: { fieldRef: { fieldPath: 'metadata.uid' } } },
      ...this.modeEnv(),
    ];
    // Read when the chart is written, so that variables added later (addEnvironment) are in.
    const envWithExtra = KubernetesLazy.any({ produce: () => [...env, ...this.extraEnv] }) as unknown as k8s.EnvVar[];
    const probe = (check: { path: string; port: string }, extra: Partial<k8s.Probe>): k8s.Probe => ({
      httpGet: { path: check.path, port: k8s.IntOrString.fromString(check.port) }, timeoutSeconds: 3, ...extra,
    });
    const serving = this.mode.kind !== 'batch';
    const batch = this.mode.batch;
    const streaming = this.mode.streaming;
    const ownImage = batch?.image ?? streaming?.image;
    if (ownImage !== undefined) checkPinnedImage(this, 'mode.image', ownImage);
    const writable = s.writablePaths ?? [];
    for (const path of writable) {
      const taken = [MODEL_REPOSITORY, '/tmp', SERVER_CONFIG_DIR].find((m) => path === m || path.startsWith(`${m}/`) || m.startsWith(`${path}/`));
      check(/^\/[a-z0-9._/-]+$/.test(path) && !path.includes('..') && !taken, this, 'server.writablePaths', path,
        `must be an absolute path outside the folders the pod mounts already (${MODEL_REPOSITORY}, /tmp, ${SERVER_CONFIG_DIR})`);
    }
    // The server's configuration files, when it runs (batch and stream commands bring their own).
    const configMap = s.configFiles && !batch && !streaming ? `${this.name}-server-config` : undefined;
    if (configMap) {
      new k8s.KubeConfigMap(this.chart, 'server-config', {
        metadata: { name: configMap },
        data: Object.fromEntries(Object.entries(s.configFiles!).map(([file, text]) => [file, fill(text)])),
      });
    }
    const container: k8s.Container = {
      name: 'server',
      image: ownImage ?? s.image,
      command: batch?.command ?? streaming?.command ?? s.command?.map(fill),
      args: batch || streaming ? undefined : s.args?.map(fill),
      env: envWithExtra,
      ports: s.ports.map((p) => ({ name: p.name, containerPort: p.port, protocol: 'TCP' })),
      resources: resources({ cpu: res.cpu ?? '1', memory: res.memory ?? '2Gi', extra: gpus > 0 ? { 'nvidia.com/gpu': String(gpus) } : undefined }),
      securityContext: restrictedContainerSecurityContext(),
      volumeMounts: [
        { name: 'models', mountPath: MODEL_REPOSITORY, readOnly: true }, { name: 'tmp', mountPath: '/tmp' },
        ...(configMap ? [{ name: 'server-config', mountPath: SERVER_CONFIG_DIR, readOnly: true }] : []),
        ...writable.map((path, i) => ({ name: `writable-${i}`, mountPath: path })),
      ],
      ...(serving && !streaming ? {
        startupProbe: probe(readiness, { periodSeconds: 10, failureThreshold: Math.ceil((s.startupSeconds ?? 600) / 10) }),
        readinessProbe: probe(readiness, { periodSeconds: 5, failureThreshold: 3 }),
        livenessProbe: probe(s.liveness, { periodSeconds: 10, failureThreshold: 3 }),
        // Let load balancers and kube-proxy stop sending traffic before the server stops.
        lifecycle: { preStop: { exec: { command: ['sleep', '10'] } } },
      } : {}),
    };
    const download: k8s.Container = {
      name: 'download-model',
      image: registry.serverImage,
      command: ['mlflow', 'artifacts', 'download', `--artifact-uri=${props.model.uri}`, `--dst-path=${modelDir}`],
      env: [{ name: 'MLFLOW_TRACKING_URI', value: registry.trackingUri }, ...this.registryCredentials.env, { name: 'AWS_REGION', value: PlatformApp.of(this).context.region }, { name: 'HOME', value: '/tmp' }],
      resources: resources({ cpu: '500m', memory: '1Gi' }),
      securityContext: restrictedContainerSecurityContext(),
      volumeMounts: [{ name: 'models', mountPath: MODEL_REPOSITORY }, { name: 'tmp', mountPath: '/tmp' }],
    };
    return {
      metadata: { labels, annotations: props.model.annotations },
      spec: {
        serviceAccountName: this.name,
        automountServiceAccountToken: false,
        securityContext: restrictedPodSecurityContext(1000),
        priorityClassName: props.cluster instanceof GpuTrainingCluster && serving ? PRIORITY_CLASSES.serving : undefined,
        terminationGracePeriodSeconds: serving ? 60 : 30,
        initContainers: (s.loading ?? 'init-container') === 'init-container' ? [download] : undefined,
        containers: [container],
        volumes: [
          { name: 'models', emptyDir: { sizeLimit: k8s.Quantity.fromString('20Gi') } },
          { name: 'tmp', emptyDir: { sizeLimit: k8s.Quantity.fromString('2Gi') } },
          ...(configMap ? [{ name: 'server-config', configMap: { name: configMap } }] : []),
          ...writable.map((_path, i) => ({ name: `writable-${i}`, emptyDir: { sizeLimit: k8s.Quantity.fromString('1Gi') } })),
        ],
        nodeSelector: pool?.nodeSelector,
        tolerations: pool?.tolerations.length ? pool.tolerations : undefined,
        topologySpreadConstraints: serving ? [
          { maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: this.selectorLabels } },
          { maxSkew: 1, topologyKey: 'kubernetes.io/hostname', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: this.selectorLabels } },
        ] : undefined,
      },
    };
  }

  private modeEnv(): k8s.EnvVar[] {
    const b = this.mode.batch;
    if (b) {
      return [
        { name: 'INPUT_URI', value: b.inputUri }, { name: 'OUTPUT_URI', value: b.outputUri },
        { name: 'SHARD', valueFrom: { fieldRef: { fieldPath: "metadata.annotations['batch.kubernetes.io/job-completion-index']" } } },
        { name: 'SHARDS', value: String(b.parallelism ?? 1) },
      ];
    }
    const st = this.mode.streaming;
    if (st) {
      const brokers: k8s.EnvVar = st.source.brokerList
        ? { name: 'KAFKA_BROKERS', value: st.source.brokerList.join(',') }
        : { name: 'KAFKA_BROKERS', valueFrom: { configMapKeyRef: { name: `${this.name}-kafka`, key: 'brokers' } } };
      return [
        brokers, { name: 'INPUT_TOPIC', value: st.inputTopic }, { name: 'OUTPUT_TOPIC', value: st.outputTopic },
        { name: 'CONSUMER_GROUP', value: st.consumerGroup ?? this.name }, { name: 'KAFKA_TLS', value: String(st.source.tls) },
        ...(st.source.msk ? [{ name: 'KAFKA_SASL_MECHANISM', value: 'AWS_MSK_IAM' }] : []),
      ];
    }
    return [];
  }

  private addDeployment(template: k8s.PodTemplateSpec, replicas: number): k8s.KubeDeployment {
    const deployment = new k8s.KubeDeployment(this.chart, 'deployment', {
      metadata: {
        name: this.name, labels: this.selectorLabels,
        annotations: this.mode.kind === 'streaming'
          ? suppress({ id: 'MLOPS-K8S3', reason: 'A stream consumer runs your command, which serves no health endpoint; KEDA scales it on lag.' })
          : undefined,
      },
      spec: {
        replicas,
        revisionHistoryLimit: 5,
        selector: { matchLabels: this.selectorLabels },
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: k8s.IntOrString.fromNumber(0), maxSurge: k8s.IntOrString.fromString('25%') } },
        template,
      },
    });
    if (replicas >= 2) {
      new k8s.KubePodDisruptionBudget(this.chart, 'disruption-budget', {
        metadata: { name: this.name }, spec: { minAvailable: k8s.IntOrString.fromNumber(Math.max(1, replicas - 1)), selector: { matchLabels: this.selectorLabels } },
      });
    }
    return deployment;
  }

  private addService(): void {
    new k8s.KubeService(this.chart, 'service', {
      metadata: { name: this.serviceName, labels: this.selectorLabels },
      spec: {
        type: 'ClusterIP', selector: this.selectorLabels,
        ports: this.server.props.ports.map((p) => ({ name: p.name, port: p.port, targetPort: k8s.IntOrString.fromString(p.name), protocol: 'TCP' })),
      },
    });
  }

  private addServiceMonitor(): void {
    this.prometheus.require(this);
    this.serviceMonitor = new ApiObject(this.chart, 'service-monitor', {
      apiVersion: 'monitoring.coreos.com/v1', kind: 'ServiceMonitor',
      metadata: { name: this.name, labels: { ...this.selectorLabels, ...this.prometheus.labelsFor('ServiceMonitor') } },
      spec: {
        selector: { matchLabels: this.selectorLabels },
        endpoints: [{ port: this.server.props.metricsEndpoint.port, path: this.server.props.metricsEndpoint.path, interval: '15s' }],
        // Series carry the model version and the Argo Rollouts pod hash, so canary and stable are told apart.
        podTargetLabels: ['mlops.io/model', 'mlops.io/model-version', 'mlops.io/track', 'rollouts-pod-template-hash'],
      },
    } as any);
  }

  private addScaler(autoscaling: Autoscaling): ApiObject {
    const target = { apiVersion: 'apps/v1', kind: 'Deployment', name: this.name };
    if (autoscaling.kind === 'cpu') {
      checkIntegerRange(this, 'autoscaling.target', autoscaling.target, 10, 100);
      // The HPA reads CPU from metrics.k8s.io, which metrics-server serves.
      Addons.require(this, Addon.metricsServer());
      return new k8s.KubeHorizontalPodAutoscalerV2(this.chart, 'autoscaler', {
        metadata: { name: this.name },
        spec: {
          scaleTargetRef: target, minReplicas: Math.max(this.minReplicas, 1), maxReplicas: this.maxReplicas,
          metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: autoscaling.target } } }],
          behavior: { scaleDown: { stabilizationWindowSeconds: 300 } },
        },
      });
    }
    check(autoscaling.target > 0, this, 'autoscaling.target', autoscaling.target, 'must be a positive number per replica');
    Addons.require(this, Addon.keda());
    const query = autoscaling.kind === 'rps' ? this.metrics.requestRate(this.metricsSelector, '1m') : autoscaling.query!;
    return this.scaledObject([{ type: 'prometheus', metadata: { serverAddress: this.prometheus.url, query, threshold: String(autoscaling.target), ignoreNullValues: 'false' } }]);
  }

  private addKafkaScaler(): ApiObject {
    const st = this.mode.streaming!;
    checkIntegerRange(this, 'mode.lagPerReplica', st.lagPerReplica ?? 100, 1, 1000000);
    for (const [prop, topic] of [['mode.inputTopic', st.inputTopic], ['mode.outputTopic', st.outputTopic]]) {
      check(/^[a-zA-Z0-9._-]{1,249}$/.test(topic), this, prop, topic, 'must be a Kafka topic name: 1 to 249 letters, digits, \'.\', \'_\' and \'-\'');
    }
    Addons.require(this, Addon.keda());
    const metadata: Record<string, string> = {
      bootstrapServersFromEnv: 'KAFKA_BROKERS', consumerGroup: st.consumerGroup ?? this.name, topic: st.inputTopic,
      lagThreshold: String(st.lagPerReplica ?? 100), offsetResetPolicy: 'earliest', tls: st.source.tls ? 'enable' : 'disable',
    };
    let authenticationRef: { name: string } | undefined;
    if (st.source.msk) {
      const msk = st.source.msk;
      ClusterValues.configMap(this, { namespace: this.namespace, name: `${this.name}-kafka`, data: { brokers: ClusterValue.of(msk.bootstrapBrokers) } });
      const context = PlatformApp.of(this).context;
      // cluster/<name>/<uuid> becomes topic/<name>/<uuid>/<topic> and group/<name>/<uuid>/<group>, tokens included.
      const under = (kind: string, name: string) => (Token.isUnresolved(msk.clusterArn)
        ? `${Fn.replace(msk.clusterArn, ':cluster/', `:${kind}/`)}/${name}`
        : `${msk.clusterArn.replace(':cluster/', `:${kind}/`)}/${name}`);
      grant(this.identity, `${this.name}-kafka`, [
        { sid: 'Connect', actions: ['kafka-cluster:Connect', 'kafka-cluster:DescribeCluster'], resources: [msk.clusterArn] },
        { sid: 'ReadInput', actions: ['kafka-cluster:DescribeTopic', 'kafka-cluster:ReadData'], resources: [under('topic', st.inputTopic)] },
        { sid: 'WriteOutput', actions: ['kafka-cluster:DescribeTopic', 'kafka-cluster:WriteData'], resources: [under('topic', st.outputTopic)] },
        { sid: 'ConsumerGroup', actions: ['kafka-cluster:AlterGroup', 'kafka-cluster:DescribeGroup'], resources: [under('group', st.consumerGroup ?? this.name)] },
      ]);
      // MSK IAM is SASL/OAUTHBEARER with KEDA's aws_msk_iam token provider, over TLS
      // (KEDA pkg/scalers/kafka_scaler.go, 2.17: `sasl: aws_msk_iam` is refused as an unknown SASL mode).
      metadata.sasl = 'oauthbearer';
      metadata.saslTokenProvider = 'aws_msk_iam';
      metadata.awsRegion = context.region;
      // KEDA reads the lag with its own Pod Identity role, which may describe just this group and topic.
      const keda = kedaOperatorRole(this, this.cluster);
      new IamRolePolicy(this, 'keda-lag', {
        name: `${this.namespace}-${this.name}-lag`,
        role: keda.name,
        dependsOn: keda.dependsOn,
        policy: policyDocument([
          { sid: 'Connect', actions: ['kafka-cluster:Connect', 'kafka-cluster:DescribeCluster'], resources: [msk.clusterArn] },
          { sid: 'ReadLag', actions: ['kafka-cluster:DescribeTopic', 'kafka-cluster:DescribeGroup'], resources: [under('topic', st.inputTopic), under('group', st.consumerGroup ?? this.name)] },
        ]),
      });
      new ApiObject(this.chart, 'trigger-auth', {
        apiVersion: 'keda.sh/v1alpha1', kind: 'TriggerAuthentication',
        metadata: { name: `${this.name}-msk` },
        spec: { podIdentity: { provider: 'aws' } },
      } as any);
      authenticationRef = { name: `${this.name}-msk` };
    }
    return this.scaledObject([{ type: 'kafka', metadata, ...(authenticationRef ? { authenticationRef } : {}) }]);
  }

  private scaledObject(triggers: object[]): ApiObject {
    return new ApiObject(this.chart, 'autoscaler', {
      apiVersion: 'keda.sh/v1alpha1', kind: 'ScaledObject',
      metadata: { name: this.name },
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: this.name },
        minReplicaCount: this.minReplicas, maxReplicaCount: this.maxReplicas,
        pollingInterval: 15, cooldownPeriod: 300,
        triggers,
      },
    } as any);
  }

  private addIngress(ingress: EndpointIngress, healthPath: string, modelName: string): void {
    NameRules.dnsSubdomain(this, 'mode.ingress.host', ingress.host);
    const className = ingress.className ?? 'alb';
    if (className === 'alb') requireLoadBalancerController(this, this.cluster);
    if (className === 'nginx') Addons.require(this, Addon.ingressNginx());
    const paths = this.server.inferencePaths(modelName);
    this.ingressPaths = paths;
    check(paths.length > 0, this, 'mode.ingress', ingress.host,
      `needs the inference paths of model server '${this.server.name}' (ModelServer.custom({ inferencePaths: [...] })): an Ingress routes only those, never '/'`);
    const scheme = ingress.scheme ?? 'internal';
    check(className === 'alb' || (ingress.scheme === undefined && ingress.authentication === undefined), this, 'mode.ingress.className', className,
      'does not take `scheme` or `authentication` (ALB only): expose ingress-nginx through its own Service, and authenticate in front of it');
    const cidrs = ingress.allowedCidrs ?? (className === 'alb' ? [this.cluster.vpcCidr] : []);
    for (const cidr of cidrs) {
      check(Token.isUnresolved(cidr) || (/^(\d{1,3}\.){3}\d{1,3}\/\d{1,2}$/.test(cidr) && !cidr.endsWith('/0')), this, 'mode.ingress.allowedCidrs', cidr,
        'must be IPv4 CIDR blocks other than x.x.x.x/0 (leave `allowedCidrs` out of an internal ALB to allow the VPC)');
    }
    check(scheme === 'internal' || ingress.allowedCidrs !== undefined || ingress.authentication !== undefined, this, 'mode.ingress.scheme', scheme,
      'needs `allowedCidrs` or `authentication` (IngressAuthentication.oidc/cognito): a model on the internet is called only by whom you allow');
    for (const url of ingress.authentication?.urls ?? []) {
      check(url.startsWith('https://'), this, 'mode.ingress.authentication', url, 'must be HTTPS URLs of the identity provider');
    }
    const alb = {
      'alb.ingress.kubernetes.io/scheme': scheme, 'alb.ingress.kubernetes.io/target-type': 'ip',
      'alb.ingress.kubernetes.io/listen-ports': '[{"HTTPS":443}]', 'alb.ingress.kubernetes.io/ssl-policy': 'ELBSecurityPolicy-TLS13-1-2-2021-06',
      'alb.ingress.kubernetes.io/healthcheck-path': healthPath,
      // The security group the controller manages admits only these sources (annotations.md: inbound-cidrs).
      ...(cidrs.length ? { 'alb.ingress.kubernetes.io/inbound-cidrs': cidrs.join(',') } : {}),
      ...ingress.authentication?.annotations,
    };
    const nginx = {
      'nginx.ingress.kubernetes.io/ssl-redirect': 'true',
      ...(cidrs.length ? { 'nginx.ingress.kubernetes.io/whitelist-source-range': cidrs.join(',') } : {}),
    };
    this.ingress = new k8s.KubeIngress(this.chart, 'ingress', {
      metadata: { name: this.name, annotations: className === 'alb' ? alb : nginx },
      spec: {
        ingressClassName: className,
        tls: [{ hosts: [ingress.host], ...(ingress.tlsSecretName ? { secretName: ingress.tlsSecretName } : {}) }],
        // Exact paths: the same on the ALB (a path condition without wildcards) and on ingress-nginx
        // (`=` location); the server's control APIs (load/unload, repository, shared memory) are not routed.
        rules: [{
          host: ingress.host,
          http: { paths: paths.map((path) => ({ path, pathType: 'Exact', backend: { service: { name: this.serviceName, port: { name: this.server.servingPort.name } } } })) },
        }],
      },
    });
  }

  private addNetworkPolicy(props: ServingEndpointProps, registry: IModelRegistry, ingressClass?: string, kafkaPorts: number[] = []): void {
    const callers = [this.namespace, ...(props.allowedNamespaces ?? [])];
    callers.forEach((ns) => NameRules.dnsLabel(this, 'allowedNamespaces', ns));
    const port = (n: number): k8s.NetworkPolicyPort => ({ protocol: 'TCP', port: k8s.IntOrString.fromNumber(n) });
    const serving = this.server.props.ports.filter((p) => p.name !== this.server.props.metricsEndpoint.port || p.name === this.server.servingPort.name).map((p) => port(p.port));
    const metricsPort = this.server.port(this.server.props.metricsEndpoint.port)!.port;
    const ingress: k8s.NetworkPolicyIngressRule[] = this.mode.kind === 'batch' ? [] : [
      { from: fromNamespaces(callers), ports: serving },
      { from: fromNamespaces([this.prometheus.namespace]), ports: [port(metricsPort)] },
    ];
    if (ingressClass === 'alb') ingress.push({ from: [{ ipBlock: { cidr: props.cluster.vpcCidr } }], ports: serving });
    if (ingressClass === 'nginx') ingress.push({ from: fromNamespaces(['ingress-nginx']), ports: serving });
    new k8s.KubeNetworkPolicy(this.chart, 'network-policy', {
      metadata: { name: this.name },
      spec: {
        podSelector: { matchLabels: this.selectorLabels },
        policyTypes: ['Ingress', 'Egress'],
        ingress,
        egress: [
          ...baseEgressRules(),
          { to: fromNamespaces([registry.namespace]), ports: [port(5000)] },
          { ports: [port(443)] },
          ...(kafkaPorts.length ? [{ ports: kafkaPorts.map(port) }] : []),
        ],
      },
    });
  }

  private addBatch(template: k8s.PodTemplateSpec): void {
    const b = this.mode.batch!;
    const input = parseS3Uri(this, 'mode.inputUri', b.inputUri);
    const output = parseS3Uri(this, 'mode.outputUri', b.outputUri);
    if (b.schedule !== undefined) {
      const problem = cronProblem(b.schedule);
      check(!problem, this, 'mode.schedule', b.schedule, `is not a cron expression: it ${problem}`);
    }
    const parallelism = b.parallelism ?? 1;
    checkIntegerRange(this, 'mode.parallelism', parallelism, 1, 1000);
    const deadline = b.deadlineSeconds ?? 3600;
    checkIntegerRange(this, 'mode.deadlineSeconds', deadline, 60, 7 * 86400);
    const retries = b.retries ?? 3;
    checkIntegerRange(this, 'mode.retries', retries, 0, 100);
    check(b.command.length > 0, this, 'mode.command', b.command, 'must name the batch program');
    grant(this.identity, `${this.name}-batch-io`, [
      { sid: 'ListInput', actions: ['s3:ListBucket'], resources: [`arn:aws:s3:::${input.bucket}`], conditions: { StringLike: { 's3:prefix': [`${input.prefix}*`] } } },
      { sid: 'ReadInput', actions: ['s3:GetObject'], resources: [`arn:aws:s3:::${input.bucket}/${input.prefix}*`] },
      { sid: 'WriteOutput', actions: ['s3:PutObject', 's3:AbortMultipartUpload'], resources: [`arn:aws:s3:::${output.bucket}/${output.prefix}*`] },
    ]);
    const jobSpec: k8s.JobSpec = {
      completionMode: 'Indexed', completions: parallelism, parallelism, backoffLimit: retries, activeDeadlineSeconds: deadline,
      ttlSecondsAfterFinished: 86400,
      podFailurePolicy: { rules: [{ action: 'Ignore', onPodConditions: [{ type: 'DisruptionTarget', status: 'True' }] }] },
      template: { ...template, spec: { ...template.spec!, restartPolicy: 'Never' } },
    };
    if (b.schedule !== undefined) {
      new k8s.KubeCronJob(this.chart, 'cronjob', {
        metadata: { name: this.name },
        spec: { schedule: b.schedule, concurrencyPolicy: 'Forbid', startingDeadlineSeconds: 600, successfulJobsHistoryLimit: 3, failedJobsHistoryLimit: 5, jobTemplate: { spec: jobSpec } },
      });
    } else {
      new k8s.KubeJob(this.chart, 'job', { metadata: { name: this.name }, spec: jobSpec });
    }
  }
}

/** Where an endpoint's pods go: a pool's name, the labels that select its nodes and the taints they tolerate. */
interface PoolPlacement {
  readonly name: string;
  readonly nodeSelector: Record<string, string>;
  readonly tolerations: k8s.Toleration[];
}

/** The first endpoint of each namespace, per app: a namespace serves one team. */
const namespaceTeams = new WeakMap<PlatformApp, Map<string, ServingEndpoint>>();
const kedaIdentities = new WeakMap<PlatformApp, WorkloadIdentity>();

/**
 * The name of KEDA's own role (namespace `keda`, service account `keda-operator`), created once per
 * platform, in the stack of the first endpoint that needs it; others attach policies to it by name.
 */
function kedaOperatorRole(scope: Construct, cluster: IEksCluster): { name: string; dependsOn: ITerraformDependable[] } {
  const app = PlatformApp.of(scope);
  let identity = kedaIdentities.get(app);
  if (!identity) {
    identity = new WorkloadIdentity(TerraformStack.of(scope), 'keda-operator-identity', { cluster, namespace: 'keda', serviceAccount: 'keda-operator' });
    kedaIdentities.set(app, identity);
  }
  const here = TerraformStack.of(scope);
  const there = TerraformStack.of(identity);
  if (here !== there) here.addDependency(there);
  return { name: identity.roleName, dependsOn: here === there ? [identity.grantRole] : [] };
}

/** Splits `s3://bucket/prefix/` into bucket and prefix; the prefix ends with '/'. */
function parseS3Uri(scope: Construct, prop: string, uri: string): { bucket: string; prefix: string } {
  const m = /^s3:\/\/([^/]*)\/(.*)$/.exec(uri);
  check(!!m, scope, prop, uri, 'must be an S3 prefix such as s3://bucket/path/');
  check(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(m![1]), scope, prop, uri,
    `names the bucket '${m![1]}', which is not an S3 bucket name (3 to 63 lower-case letters, digits, '.' and '-', starting and ending with a letter or digit)`);
  check(m![2] === '' || m![2].endsWith('/'), scope, prop, uri, `must end with '/': it is a prefix (s3://${m![1]}/${m![2]}/)`);
  return { bucket: m![1], prefix: m![2] };
}
