import { AutoscalingGroupTagA, CloudwatchLogGroup, Ec2Tag, EcrRepository, EksAccessEntry, EksAccessPolicyAssociation, EksAddon, EksCluster as AwsEksCluster, EksNodeGroup, IamRole, IamRolePolicyAttachment, LaunchTemplate, PlacementGroup } from '../providers/aws';
import type { LaunchTemplateConfig } from '../providers/aws';
import { Construct, TerraformStack, Token } from '../engine';
import { Addon, Addons } from '../core/addons';
import { PlatformApp } from '../core/app';
import { platformRepository } from '../core/ecr';
import { PlatformRefactoring } from '../core/refactoring';
import { check, checkIntegerRange } from '../core/errors';
import { grant, IEksCluster, PodIdentityTarget, WorkloadIdentity } from '../core/identity';
import { PlatformKey } from '../core/key';
import { TAG_PREFIX } from '../core/context';
import { CostAttribution } from '../core/tags';
import { PlatformChart } from '../core/kubernetes';
import { PrometheusInstance } from '../core/prometheus';
import { NameRules } from '../core/names';
import { InstanceType } from './instances';
import { ClusterNetwork, NetworkAttributes, PlatformVpc } from './network';
import { CapacityType, CpuPoolOptions, EndpointAccess, GpuPoolOptions, KubernetesVersion, NodeAutoscaler, SharedStorage, TeamOptions } from './options';
import { datasetBucketName, SharedDatasetStorage } from './storage';
import { addGpuSystemWorkloads, addKarpenterCpuPool, addKarpenterPool, addTeam, DCGM_EXPORTER_IMAGE, DEVICE_PLUGIN_IMAGE, PRIORITY_CLASSES } from './cluster-workloads';
import { checkPinnedImage } from '../core/workloads';
import { KarpenterController } from './karpenter';

/** Props of a GpuTrainingCluster. */
export interface GpuTrainingClusterProps {
  /**
   * The construct's id before it was renamed: physical names (bucket, database, cluster, keys, roles)
   * keep deriving from it, and Terraform `moved` blocks carry every resource from its old address
   * (PlatformRefactoring.renamed), so a rename replaces nothing.
   * @default - never renamed
   */
  readonly formerId?: string;
  /** A new VPC (`ClusterNetwork.create({ availabilityZones })`) or an existing one. */
  readonly network: ClusterNetwork;
  /** @default KubernetesVersion.DEFAULT (1.33) */
  readonly kubernetesVersion?: KubernetesVersion;
  /** @default EndpointAccess.privateOnly() */
  readonly endpointAccess?: EndpointAccess;
  /**
   * IAM roles given cluster-admin through EKS access entries.
   * @default - none: only what the access entries of this construct grant
   */
  readonly adminRoleArns?: string[];
  /** @default - two to four on-demand m6i.large nodes */
  readonly systemPool?: { readonly instanceType?: string; readonly minSize?: number; readonly maxSize?: number };
  /** The GPU pools; each scales from zero. */
  readonly gpuPools: GpuPoolOptions[];
  /**
   * CPU pools for serving and batch work (selected by a ServingEndpoint's `resources.pool`); each
   * node is labelled and tainted with `mlops.io/pool=<name>`.
   * @default - none: CPU workloads without a pool run on the system nodes, which have room only for small pods
   */
  readonly cpuPools?: CpuPoolOptions[];
  /** @default NodeAutoscaler.clusterAutoscaler() */
  readonly autoscaler?: NodeAutoscaler;
  /** @default SharedStorage.fsxLustre() */
  readonly sharedStorage?: SharedStorage;
  /**
   * ECR repositories to create, named `<platform>-<env>/<name>`.
   * @default ['training', 'serving']
   */
  readonly ecrRepositories?: string[];
  /** @default - no team namespaces */
  readonly teams?: TeamOptions[];
  /** The Prometheus that scrapes GPU metrics (DCGM). @default PrometheusInstance.kubePrometheusStack() */
  readonly prometheus?: PrometheusInstance;
  /**
   * The images of the GPU node agents, by digest (e.g. your ECR copies).
   * @default - the catalog's: IMAGES.devicePlugin (by digest) and IMAGES.dcgmExporter (by tag, a documented exception)
   */
  readonly images?: GpuNodeImages;
}

/** The images the GPU nodes run, each by digest (`<repository>:<tag>@sha256:<64 hex>`). */
export interface GpuNodeImages {
  /**
   * The NVIDIA device plugin (advertises `nvidia.com/gpu`).
   * @default DEVICE_PLUGIN_IMAGE
   */
  readonly devicePlugin?: string;
  /**
   * The NVIDIA DCGM exporter (GPU metrics).
   * @default DCGM_EXPORTER_IMAGE
   */
  readonly dcgmExporter?: string;
}

/** A GPU pool as the cluster built it. */
export interface GpuPool {
  /** The pool's name, also its `mlops.io/pool` label. */
  readonly name: string;
  /** Its GPU instance types. */
  readonly instanceTypes: InstanceType[];
  /** On-demand or spot. */
  readonly capacityType: CapacityType;
  /** The fewest nodes it keeps (0: it scales to zero). */
  readonly minSize: number;
  /** The most nodes it may run. */
  readonly maxSize: number;
  /** GPUs of the smallest instance type in the pool: what one node surely has. */
  readonly gpusPerNode: number;
  /** The most GPUs the pool can run at once. */
  readonly maxGpus: number;
  /** Whether its nodes have the Elastic Fabric Adapter and a cluster placement group (one zone). */
  readonly efa: boolean;
  /** Cost-attribution tags of the pool's instances and volumes (the pool's, its team's, its model's). */
  readonly costTags: Record<string, string>;
  /** Its managed node group (none under Karpenter, which uses a NodePool). */
  readonly nodeGroup?: EksNodeGroup;
}

/** A CPU pool as the cluster built it. */
export interface CpuPool {
  /** The pool's name, also its `mlops.io/pool` label. */
  readonly name: string;
  /** Its instance types (no GPUs, one architecture). */
  readonly instanceTypes: InstanceType[];
  /** On-demand or spot. */
  readonly capacityType: CapacityType;
  /** The fewest nodes it keeps. */
  readonly minSize: number;
  /** The most nodes it may run. */
  readonly maxSize: number;
  /** The taint its nodes carry, `mlops.io/pool=<name>:NoSchedule`. */
  readonly taint: { readonly key: string; readonly value: string; readonly effect: 'NoSchedule' };
  /** Its managed node group (none under Karpenter, which uses a NodePool). */
  readonly nodeGroup?: EksNodeGroup;
}

/** The label that selects a pool. */
export const POOL_LABEL = 'mlops.io/pool';
/** The label the Cluster Autoscaler reads to know a node has GPUs (its value: the GPU model). */
export const ACCELERATOR_LABEL = 'k8s.amazonaws.com/accelerator';
/** The taint every GPU node carries. */
export const GPU_TAINT = { key: 'nvidia.com/gpu', value: 'true', effect: 'NoSchedule' } as const;

/**
 * An EKS cluster for training: private API endpoint, secrets encrypted with a customer key, control
 * plane logs, access entries, managed add-ons, a small on-demand system pool, GPU pools that scale
 * to zero (spot by default), shared dataset storage, ECR repositories, the NVIDIA device plugin and
 * DCGM exporter, and per-team namespaces with GPU quotas.
 */
export class GpuTrainingCluster extends Construct implements IEksCluster {
  public readonly cluster: AwsEksCluster;
  public readonly clusterName: string;
  /** Public CIDR blocks allowed to reach the API endpoint; empty for a private-only endpoint. */
  public readonly endpointPublicCidrs: string[];
  /** The roles with cluster-admin access entries. */
  public readonly adminRoleArns: string[];
  public readonly vpcId: string;
  public readonly vpcCidr: string;
  public readonly privateSubnetIds: string[];
  public readonly workloadSecurityGroupId: string;
  /** Pod Identity associations in this stack reference the cluster and wait for the Pod Identity agent. */
  public readonly podIdentityTarget: PodIdentityTarget;
  public readonly key: PlatformKey;
  public readonly nodeRole: IamRole;
  /** The on-demand node group of controllers. */
  public readonly systemNodes: EksNodeGroup;
  public readonly vpc?: PlatformVpc;
  public readonly pools: GpuPool[];
  /** The CPU pools for serving and batch work (`cpuPools`), as built. */
  public readonly cpuPools: CpuPool[];
  public readonly storage?: SharedDatasetStorage;
  public readonly repositories: Record<string, EcrRepository> = {};
  public readonly chart: PlatformChart;
  public readonly autoscaler: NodeAutoscaler;
  public readonly teams: TeamOptions[];
  private readonly jobDemands: Array<{ path: string; pool: string; gpus: number }> = [];
  private readonly pendingTeams?: TeamOptions[];
  private readonly nodeGroupPrerequisites: Array<EksAddon | IamRolePolicyAttachment>;

  constructor(scope: Construct, id: string, props: GpuTrainingClusterProps) {
    super(scope, id);
    const context = PlatformApp.of(this).context;
    this.clusterName = NameRules.dnsLabel(this, 'clusterName', context.physicalName(props.formerId ?? id));
    if (props.formerId) PlatformRefactoring.renamed(this, props.formerId);
    check(this.clusterName.length <= 40, this, 'id', id, `makes the cluster name '${this.clusterName}' longer than 40 characters, which leaves no room for derived IAM names; use a shorter id`);
    const version = props.kubernetesVersion ?? KubernetesVersion.DEFAULT;
    check(KubernetesVersion.SUPPORTED.includes(version.version), this, 'kubernetesVersion', version.version, `is not supported; use one of ${KubernetesVersion.SUPPORTED.join(', ')}`);
    const access = props.endpointAccess ?? EndpointAccess.privateOnly();
    this.endpointPublicCidrs = [...access.publicCidrs];
    this.adminRoleArns = [...(props.adminRoleArns ?? [])];
    for (const cidr of access.publicCidrs) {
      check(/^(\d{1,3}\.){3}\d{1,3}\/\d{1,2}$/.test(cidr) && !cidr.endsWith('/0'), this, 'endpointAccess', cidr, 'must be an IPv4 CIDR block other than x.x.x.x/0: a public API endpoint is open only to an allow-list');
    }
    this.autoscaler = props.autoscaler ?? NodeAutoscaler.clusterAutoscaler();
    this.pendingTeams = props.teams ?? [];
    this.pools = this.validatePools(props.gpuPools);
    this.cpuPools = this.validateCpuPools(props.cpuPools ?? []);
    this.teams = props.teams ?? [];
    this.validateTeams();

    // Network
    let network: NetworkAttributes;
    if (props.network.createProps) {
      this.vpc = new PlatformVpc(this, 'network', { ...props.network.createProps, clusterName: this.clusterName });
      network = this.vpc;
    } else {
      network = props.network.existingProps!;
      if (!Token.isUnresolved(network.privateSubnetIds)) {
        check(network.privateSubnetIds.length >= 2, this, 'network.privateSubnetIds', network.privateSubnetIds, 'must name subnets in at least two availability zones');
      }
    }
    this.vpcId = network.vpcId;
    this.vpcCidr = network.vpcCidr;
    this.privateSubnetIds = network.privateSubnetIds;

    const storage = props.sharedStorage ?? SharedStorage.fsxLustre();
    const datasetBucket = datasetBucketName(storage, this.clusterName, context.accountId);
    this.key = new PlatformKey(this, 'key', {
      description: `EKS cluster ${this.clusterName}: secrets, logs, images, shared storage`,
      alias: this.clusterName,
      serviceStatements: [{
        sid: 'CloudWatchLogsEncryptsControlPlaneLogs', service: `logs.${context.region}.amazonaws.com`,
        actions: ['kms:Encrypt', 'kms:Decrypt', 'kms:ReEncryptFrom', 'kms:ReEncryptTo', 'kms:GenerateDataKey', 'kms:DescribeKey'],
        conditions: { ArnLike: { 'kms:EncryptionContext:aws:logs:arn': `arn:aws:logs:${context.region}:${context.accountId}:log-group:/aws/eks/${this.clusterName}/*` } },
      }],
      // FSx for Lustre reads and writes the SSE-KMS dataset bucket as its S3 service-linked role
      // (named after the file system, hence the pattern), through S3 only, for that bucket only:
      // the statement of the FSx for Lustre guide, "Working with server-side encrypted Amazon S3 buckets".
      roleStatements: storage.kind === 'fsx-lustre' ? [{
        sid: 'FsxLustreReadsAndWritesDatasetBucket',
        principalArnLike: `arn:aws:iam::${context.accountId}:role/aws-service-role/s3.data-source.lustre.fsx.amazonaws.com/AWSServiceRoleForFSxS3Access_*`,
        actions: ['kms:Encrypt', 'kms:Decrypt', 'kms:ReEncryptFrom', 'kms:ReEncryptTo', 'kms:GenerateDataKey', 'kms:DescribeKey'],
        conditions: {
          StringEquals: { 'kms:ViaService': `s3.${context.region}.amazonaws.com` },
          StringLike: { 'kms:EncryptionContext:aws:s3:arn': [`arn:aws:s3:::${datasetBucket}`, `arn:aws:s3:::${datasetBucket}/*`] },
        },
      }] : [],
    });

    // Control plane
    const clusterRole = new IamRole(this, 'cluster-role', {
      name: `${this.clusterName}-cluster`,
      assumeRolePolicy: servicePrincipalTrust('eks.amazonaws.com', ['sts:AssumeRole', 'sts:TagSession']),
    });
    new IamRolePolicyAttachment(this, 'cluster-policy', { role: clusterRole.name, policyArn: 'arn:aws:iam::aws:policy/AmazonEKSClusterPolicy' });
    const logs = new CloudwatchLogGroup(this, 'control-plane-logs', {
      name: `/aws/eks/${this.clusterName}/cluster`, retentionInDays: 90, kmsKeyId: this.key.keyArn,
    });
    this.cluster = new AwsEksCluster(this, 'cluster', {
      name: this.clusterName,
      version: version.version,
      roleArn: clusterRole.arn,
      vpcConfig: {
        subnetIds: this.privateSubnetIds,
        endpointPrivateAccess: true,
        endpointPublicAccess: access.isPublic,
        publicAccessCidrs: access.isPublic ? access.publicCidrs : undefined,
      },
      encryptionConfig: { resources: ['secrets'], provider: { keyArn: this.key.keyArn } },
      enabledClusterLogTypes: ['api', 'audit', 'authenticator', 'controllerManager', 'scheduler'],
      accessConfig: { authenticationMode: 'API', bootstrapClusterCreatorAdminPermissions: false },
      bootstrapSelfManagedAddons: false,
      upgradePolicy: { supportType: 'STANDARD' },
      dependsOn: [logs],
      lifecycle: { preventDestroy: !PlatformApp.of(this).context.environment.destroyable },
    });
    this.workloadSecurityGroupId = this.cluster.vpcConfig.clusterSecurityGroupId;
    (props.adminRoleArns ?? []).forEach((arn, i) => {
      const entry = new EksAccessEntry(this, `admin-${i}`, { clusterName: this.cluster.name, principalArn: arn, type: 'STANDARD' });
      new EksAccessPolicyAssociation(this, `admin-${i}-policy`, {
        clusterName: this.cluster.name, principalArn: entry.principalArn,
        policyArn: 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy', accessScope: { type: 'cluster' },
      });
    });

    // Nodes
    this.nodeRole = new IamRole(this, 'node-role', {
      name: `${this.clusterName}-node`,
      assumeRolePolicy: servicePrincipalTrust('ec2.amazonaws.com', ['sts:AssumeRole']),
    });
    const nodePolicies = ['AmazonEKSWorkerNodePolicy', 'AmazonEC2ContainerRegistryPullOnly'].map((policy, i) =>
      new IamRolePolicyAttachment(this, `node-policy-${i}`, { role: this.nodeRole.name, policyArn: `arn:aws:iam::aws:policy/${policy}` }));
    const system = props.systemPool ?? {};
    const systemMin = system.minSize ?? 2;
    const systemMax = system.maxSize ?? 4;
    checkIntegerRange(this, 'systemPool.minSize', systemMin, 1, 100);
    checkIntegerRange(this, 'systemPool.maxSize', systemMax, 1, 100);
    check(systemMax >= systemMin, this, 'systemPool.maxSize', systemMax, `must be at least systemPool.minSize (${systemMin})`);
    const systemType = InstanceType.of(system.instanceType ?? 'm6i.large');
    const systemTemplate = this.launchTemplate('system', { [POOL_LABEL]: 'system' }, 50);
    const systemNodes = this.systemNodes = new EksNodeGroup(this, 'system-nodes', {
      clusterName: this.cluster.name, nodeGroupName: 'system', nodeRoleArn: this.nodeRole.arn, subnetIds: this.privateSubnetIds,
      instanceTypes: [systemType.name], capacityType: 'ON_DEMAND',
      amiType: systemType.architecture === 'arm64' ? 'AL2023_ARM_64_STANDARD' : 'AL2023_x86_64_STANDARD',
      scalingConfig: { minSize: systemMin, desiredSize: systemMin, maxSize: systemMax },
      launchTemplate: { id: systemTemplate.id, version: Token.asString(systemTemplate.latestVersion) },
      updateConfig: { maxUnavailable: 1 },
      labels: { [POOL_LABEL]: 'system' },
    });

    // Managed add-ons; the VPC CNI and EBS CSI driver get their own Pod Identity roles.
    const cni = this.addonIdentity('vpc-cni', 'AmazonEKS_CNI_Policy');
    const ebs = this.addonIdentity('ebs-csi', 'service-role/AmazonEBSCSIDriverPolicy');
    const podIdentityAgent = new EksAddon(this, 'addon-pod-identity-agent', { clusterName: this.cluster.name, addonName: 'eks-pod-identity-agent', resolveConflictsOnUpdate: 'OVERWRITE' });
    this.podIdentityTarget = { stack: TerraformStack.of(this), clusterNameRef: this.cluster.name, dependsOn: [podIdentityAgent] };
    new EksAddon(this, 'addon-vpc-cni', {
      clusterName: this.cluster.name, addonName: 'vpc-cni', resolveConflictsOnUpdate: 'OVERWRITE',
      // Without it the VPC CNI writes no eBPF rules and every NetworkPolicy is ignored
      // (EKS user guide, "Configure your cluster for Kubernetes network policies").
      configurationValues: JSON.stringify({ enableNetworkPolicy: 'true' }),
      podIdentityAssociation: [{ roleArn: cni.arn, serviceAccount: 'aws-node' }], dependsOn: [podIdentityAgent],
    });
    new EksAddon(this, 'addon-kube-proxy', { clusterName: this.cluster.name, addonName: 'kube-proxy', resolveConflictsOnUpdate: 'OVERWRITE' });
    new EksAddon(this, 'addon-coredns', { clusterName: this.cluster.name, addonName: 'coredns', resolveConflictsOnUpdate: 'OVERWRITE', dependsOn: [systemNodes] });
    new EksAddon(this, 'addon-ebs-csi', {
      clusterName: this.cluster.name, addonName: 'aws-ebs-csi-driver', resolveConflictsOnUpdate: 'OVERWRITE',
      podIdentityAssociation: [{ roleArn: ebs.arn, serviceAccount: 'ebs-csi-controller-sa' }], dependsOn: [systemNodes, podIdentityAgent],
    });

    // With bootstrap_self_managed_addons = false a node has no CNI, kube-proxy or Pod Identity agent
    // until their add-ons exist, and cannot join before its role has the node policies: node groups
    // created earlier fail with NodeCreationFailure. (Found by id: the add-ons' config is not touched here.)
    this.nodeGroupPrerequisites = [
      ...['addon-pod-identity-agent', 'addon-vpc-cni', 'addon-kube-proxy'].map((addonId) => this.node.findChild(addonId) as EksAddon),
      ...nodePolicies,
    ];
    systemNodes.dependsOn = this.nodeGroupPrerequisites.map((d) => `${d.terraformResourceType}.${d.friendlyUniqueId}`);

    this.chart = new PlatformChart(this);
    if (this.autoscaler.kind === 'cluster-autoscaler') {
      this.pools = this.pools.map((pool) => ({ ...pool, nodeGroup: this.addNodeGroup(pool) }));
      this.cpuPools = this.cpuPools.map((pool) => ({ ...pool, nodeGroup: this.addCpuNodeGroup(pool) }));
      this.addClusterAutoscaler();
    } else {
      const karpenter = new KarpenterController(this, 'karpenter', { cluster: this, nodeRole: this.nodeRole });
      new Ec2Tag(this, 'karpenter-security-group-tag', { resourceId: this.workloadSecurityGroupId, key: 'karpenter.sh/discovery', value: this.clusterName });
      for (const pool of this.pools) {
        addKarpenterPool(this.chart, pool, this.clusterName, karpenter.nodeRoleName, { ...CostAttribution.tagsOf(this), ...pool.costTags });
      }
      for (const pool of this.cpuPools) {
        addKarpenterCpuPool(this.chart, pool, this.clusterName, karpenter.nodeRoleName, { ...CostAttribution.tagsOf(this), [POOL_LABEL]: pool.name });
      }
    }

    // Shared storage
    this.storage = new SharedDatasetStorage(this, 'shared-storage', {
      storage, cluster: this, key: this.key, teams: this.teams.map((t) => t.name),
    });

    for (const name of props.ecrRepositories ?? ['training', 'serving']) this.addRepository(name);

    const prometheus = props.prometheus ?? PrometheusInstance.kubePrometheusStack();
    prometheus.require(this);
    const images = { devicePlugin: props.images?.devicePlugin ?? DEVICE_PLUGIN_IMAGE, dcgmExporter: props.images?.dcgmExporter ?? DCGM_EXPORTER_IMAGE };
    checkPinnedImage(this, 'images.devicePlugin', images.devicePlugin);
    checkPinnedImage(this, 'images.dcgmExporter', images.dcgmExporter);
    addGpuSystemWorkloads(this.chart, prometheus, images);
    for (const team of this.teams) addTeam(this.chart, team, this.storage);
    this.node.addValidation({ validate: () => this.validateJobDemands() });
  }

  /** The pool named `name`; throws naming the pools there are. */
  public pool(name: string, requester: Construct = this, prop = 'pool'): GpuPool {
    const pool = this.pools.find((p) => p.name === name);
    check(!!pool, requester, prop, name, `is not a GPU pool of cluster '${this.node.path}'; its pools are ${this.pools.map((p) => `'${p.name}'`).join(', ')}`);
    return pool!;
  }

  /** The CPU pool named `name`, if there is one. */
  public cpuPool(name: string): CpuPool | undefined {
    return this.cpuPools.find((p) => p.name === name);
  }

  /** The team named `name`; throws naming the teams there are. */
  public team(name: string, requester: Construct = this, prop = 'team'): TeamOptions {
    const team = this.teams.find((t) => t.name === name);
    check(!!team, requester, prop, name, `is not a team of cluster '${this.node.path}'; its teams are ${this.teams.map((t) => `'${t.name}'`).join(', ') || 'none (add teams to the cluster)'}`);
    return team!;
  }

  /** The priority class of training pods (lower than serving's; it never preempts anything). */
  public get trainingPriorityClass(): string {
    return PRIORITY_CLASSES.training;
  }

  /** The priority class of serving pods (preempts training). */
  public get servingPriorityClass(): string {
    return PRIORITY_CLASSES.serving;
  }

  /** @internal Called by TrainingJob: the GPUs a job needs at once, checked against the pool's limit at synth. */
  public registerJobDemand(path: string, pool: string, gpus: number): void {
    this.jobDemands.push({ path, pool, gpus });
  }

  private validateJobDemands(): string[] {
    const errors: string[] = [];
    for (const d of this.jobDemands) {
      const pool = this.pools.find((p) => p.name === d.pool)!;
      if (d.gpus > pool.maxGpus) {
        errors.push(`TrainingJob '${d.path}': needs ${d.gpus} GPUs at once, but pool '${pool.name}' can run at most ${pool.maxGpus} (maxSize ${pool.maxSize} × ${pool.gpusPerNode} GPUs${this.autoscaler.kind === 'karpenter' ? ', the NodePool limit' : ''}); raise the pool's maxSize or use fewer workers.`);
      }
    }
    return errors;
  }

  private validatePools(pools: GpuPoolOptions[]): GpuPool[] {
    check(pools.length >= 1, this, 'gpuPools', pools, 'must hold at least one GPU pool');
    const names = new Set<string>();
    return pools.map((p, i) => {
      const at = `gpuPools[${i}]`;
      NameRules.dnsLabel(this, `${at}.name`, p.name);
      check(p.name !== 'system' && !names.has(p.name), this, `${at}.name`, p.name, 'must be unique and not \'system\'');
      names.add(p.name);
      check(p.instanceTypes.length >= 1, this, `${at}.instanceTypes`, [], 'must name at least one instance type');
      const unknown = p.instanceTypes.filter((t) => t.unknownReason).map((t) => t.name);
      check(unknown.length === 0, this, `${at}.instanceTypes`, unknown, `are not GPU instance types of the catalogue: ${p.instanceTypes.map((t) => t.unknownReason).filter(Boolean).join('; ')}`);
      const cpuOnly = p.instanceTypes.filter((t) => !t.isGpu).map((t) => t.name);
      check(cpuOnly.length === 0, this, `${at}.instanceTypes`, cpuOnly, 'are CPU-only: a GPU pool takes GPU instance types (InstanceType.g5(...), g6, g6e, g5g, p4d, p5)');
      const archs = [...new Set(p.instanceTypes.map((t) => t.architecture))];
      check(archs.length === 1, this, `${at}.instanceTypes`, p.instanceTypes.map((t) => `${t.name} (${t.architecture})`), 'mix architectures; one node group runs one AMI, so use one architecture per pool');
      if (this.autoscaler.kind === 'cluster-autoscaler') {
        // The Cluster Autoscaler assumes every node of a node group has the same CPUs, memory and GPUs
        // (its AWS FAQ: "all nodes in a node group have the same resources"); it builds the node it
        // simulates from one type, so a mixed pool is scaled on the wrong shape.
        const shapes = new Set(p.instanceTypes.map((t) => `${t.vcpus}/${t.memoryGiB}/${t.gpus}/${t.gpuModel}`));
        check(shapes.size === 1, this, `${at}.instanceTypes`, p.instanceTypes.map((t) => `${t.name} (${t.vcpus} vCPU, ${t.memoryGiB} GiB, ${t.gpus} × ${t.gpuModel})`),
          'differ in CPUs, memory or GPUs; the Cluster Autoscaler needs one shape per node group, so make one pool per shape (or use NodeAutoscaler.karpenter())');
      } else {
        // Karpenter builds its own nodes; an EC2NodeClass here has no EFA interfaces or placement group.
        check(!p.efa, this, `${at}.efa`, true, 'is not supported with NodeAutoscaler.karpenter() (its EC2NodeClass would launch nodes without EFA interfaces); use NodeAutoscaler.clusterAutoscaler() for EFA pools');
      }
      const minSize = p.minSize ?? 0;
      checkIntegerRange(this, `${at}.minSize`, minSize, 0, 1000);
      checkIntegerRange(this, `${at}.maxSize`, p.maxSize, 1, 1000);
      check(p.maxSize >= minSize, this, `${at}.maxSize`, p.maxSize, `must be at least ${at}.minSize (${minSize})`);
      if (p.efa) {
        const noEfa = p.instanceTypes.filter((t) => !t.efa).map((t) => t.name);
        check(noEfa.length === 0, this, `${at}.efa`, noEfa, 'is set, but these instance types have no Elastic Fabric Adapter; use p4d.24xlarge, p5.48xlarge or g5/g6/g6e 8xlarge and larger');
      }
      checkIntegerRange(this, `${at}.diskSizeGiB`, p.diskSizeGiB, 50, 16384);
      const gpusPerNode = Math.min(...p.instanceTypes.map((t) => t.gpus));
      return {
        name: p.name, instanceTypes: p.instanceTypes, capacityType: p.capacityType ?? CapacityType.SPOT, minSize, maxSize: p.maxSize,
        gpusPerNode, maxGpus: gpusPerNode * p.maxSize, efa: p.efa ?? false, costTags: this.poolCostTags(p, at),
      };
    });
  }

  private validateCpuPools(pools: CpuPoolOptions[]): CpuPool[] {
    const names = new Set(this.pools.map((p) => p.name));
    return pools.map((p, i) => {
      const at = `cpuPools[${i}]`;
      NameRules.dnsLabel(this, `${at}.name`, p.name);
      check(p.name !== 'system' && !names.has(p.name), this, `${at}.name`, p.name, 'must be unique among the GPU and CPU pools and not \'system\'');
      names.add(p.name);
      check(p.instanceTypes.length >= 1, this, `${at}.instanceTypes`, [], 'must name at least one instance type');
      const gpu = p.instanceTypes.filter((t) => t.isGpu).map((t) => t.name);
      check(gpu.length === 0, this, `${at}.instanceTypes`, gpu, 'have GPUs: a CPU pool takes CPU instance types (m6i, c6i, r6i, m7i, ...); put GPU types in gpuPools');
      const archs = [...new Set(p.instanceTypes.map((t) => t.architecture))];
      check(archs.length === 1, this, `${at}.instanceTypes`, p.instanceTypes.map((t) => `${t.name} (${t.architecture})`), 'mix architectures; one node group runs one AMI, so use one architecture per pool');
      const minSize = p.minSize ?? 0;
      checkIntegerRange(this, `${at}.minSize`, minSize, 0, 1000);
      checkIntegerRange(this, `${at}.maxSize`, p.maxSize, 1, 1000);
      check(p.maxSize >= minSize, this, `${at}.maxSize`, p.maxSize, `must be at least ${at}.minSize (${minSize})`);
      return {
        name: p.name, instanceTypes: p.instanceTypes, capacityType: p.capacityType ?? CapacityType.ON_DEMAND, minSize, maxSize: p.maxSize,
        taint: { key: POOL_LABEL, value: p.name, effect: 'NoSchedule' as const },
      };
    });
  }

  private poolCostTags(p: GpuPoolOptions, at: string): Record<string, string> {
    const tags: Record<string, string> = { [POOL_LABEL]: p.name };
    const { team, model } = p.costAttribution ?? {};
    if (team !== undefined) {
      const teams = (this.pendingTeams ?? []).map((t) => t.name);
      check(teams.includes(team), this, `${at}.costAttribution.team`, team, `is not a team of the cluster; its teams are ${teams.map((t) => `'${t}'`).join(', ') || 'none'}`);
      tags[`${TAG_PREFIX}/team`] = team;
    }
    if (model !== undefined) tags[`${TAG_PREFIX}/model`] = NameRules.labelValue(this, `${at}.costAttribution.model`, model);
    return tags;
  }

  private validateTeams(): void {
    const totalGpus = this.pools.reduce((n, p) => n + p.maxGpus, 0);
    const names = new Set<string>();
    this.teams.forEach((t, i) => {
      NameRules.dnsLabel(this, `teams[${i}].name`, t.name);
      check(!names.has(t.name) && !['kube-system', 'default', 'kube-public', 'kube-node-lease'].includes(t.name), this, `teams[${i}].name`, t.name, 'must be unique and not a system namespace');
      names.add(t.name);
      checkIntegerRange(this, `teams[${i}].gpus`, t.gpus, 0, 10000);
      check(t.gpus <= totalGpus, this, `teams[${i}].gpus`, t.gpus,
        `is a quota no pool can satisfy: the GPU pools together run at most ${totalGpus} GPUs (${this.pools.map((p) => `${p.name}: ${p.maxGpus}`).join(', ')})`);
      for (const [prop, value] of [['cpu', t.cpu], ['memory', t.memory]] as const) {
        if (value !== undefined) check(/^\d+(\.\d+)?(m|Ki|Mi|Gi|Ti|k|M|G|T)?$/.test(value), this, `teams[${i}].${prop}`, value, 'must be a Kubernetes quantity such as 64, 500m or 256Gi');
      }
    });
  }

  /** A Pod Identity role for a managed add-on, with the AWS-managed policy the add-on is documented with. */
  private addonIdentity(name: string, managedPolicy: string): IamRole {
    const role = new IamRole(this, `${name}-role`, {
      name: `${this.clusterName}-${name}`,
      assumeRolePolicy: servicePrincipalTrust('pods.eks.amazonaws.com', ['sts:AssumeRole', 'sts:TagSession'], PlatformApp.of(this).context.accountId),
    });
    new IamRolePolicyAttachment(this, `${name}-policy`, { role: role.name, policyArn: `arn:aws:iam::aws:policy/${managedPolicy}` });
    return role;
  }

  private addNodeGroup(pool: GpuPool): EksNodeGroup {
    const arch = pool.instanceTypes[0].architecture;
    const placement = pool.efa ? new PlacementGroup(this, `pool-${pool.name}-placement`, { name: `${this.clusterName}-${pool.name}`, strategy: 'cluster' }) : undefined;
    const template = this.launchTemplate(pool.name, pool.costTags, 200, {
      networkInterfaces: pool.efa ? [{ deviceIndex: 0, interfaceType: 'efa', deleteOnTermination: 'true', securityGroups: [this.workloadSecurityGroupId] }] : undefined,
      placement: placement ? { groupName: placement.name } : undefined,
    });
    // The accelerator label is how the Cluster Autoscaler tells GPU nodes apart (its AWS provider docs:
    // GPU node groups carry `k8s.amazonaws.com/accelerator`), e.g. not to count an unready GPU node as ready.
    const labels = { [POOL_LABEL]: pool.name, 'nvidia.com/gpu.present': 'true', [ACCELERATOR_LABEL]: pool.instanceTypes[0].gpuModel };
    return this.autoscaledNodeGroup(`pool-${pool.name}`, pool, {
      // Multi-node (EFA, cluster placement group) pools run in the file system's subnet: one zone,
      // next to FSx for Lustre, which lives in privateSubnetIds[0].
      subnetIds: pool.efa ? [this.privateSubnetIds[0]] : this.privateSubnetIds,
      amiType: arch === 'arm64' ? 'AL2023_ARM_64_NVIDIA' : 'AL2023_x86_64_NVIDIA',
      template, labels, taint: GPU_TAINT,
      templateTags: { 'k8s.io/cluster-autoscaler/node-template/resources/nvidia.com/gpu': String(pool.gpusPerNode) },
    });
  }

  private addCpuNodeGroup(pool: CpuPool): EksNodeGroup {
    // IMDSv2 with one hop, an encrypted root volume, and the cost tags on what it launches, as every pool.
    const template = this.launchTemplate(pool.name, { [POOL_LABEL]: pool.name }, 100);
    return this.autoscaledNodeGroup(`cpu-pool-${pool.name}`, pool, {
      subnetIds: this.privateSubnetIds,
      amiType: pool.instanceTypes[0].architecture === 'arm64' ? 'AL2023_ARM_64_STANDARD' : 'AL2023_x86_64_STANDARD',
      template, labels: { [POOL_LABEL]: pool.name }, taint: pool.taint,
    });
  }

  /**
   * A managed node group the Cluster Autoscaler sizes (Terraform never resets its desired size), that
   * waits for the CNI, kube-proxy, the Pod Identity agent and the node role's policies, with the
   * node-template tags on its ASG so the autoscaler can scale up from zero knowing the resources,
   * labels and taint a new node will have.
   */
  private autoscaledNodeGroup(id: string, pool: { readonly name: string; readonly instanceTypes: InstanceType[]; readonly capacityType: CapacityType; readonly minSize: number; readonly maxSize: number },
    o: { subnetIds: string[]; amiType: string; template: LaunchTemplate; labels: Record<string, string>; taint: { key: string; value: string; effect: string }; templateTags?: Record<string, string> }): EksNodeGroup {
    const nodeGroup = new EksNodeGroup(this, id, {
      clusterName: this.cluster.name,
      nodeGroupName: pool.name,
      nodeRoleArn: this.nodeRole.arn,
      subnetIds: o.subnetIds,
      instanceTypes: pool.instanceTypes.map((t) => t.name),
      capacityType: pool.capacityType,
      amiType: o.amiType,
      scalingConfig: { minSize: pool.minSize, desiredSize: pool.minSize, maxSize: pool.maxSize },
      launchTemplate: { id: o.template.id, version: Token.asString(o.template.latestVersion) },
      labels: o.labels,
      taint: [{ key: o.taint.key, value: o.taint.value, effect: 'NO_SCHEDULE' }],
      updateConfig: { maxUnavailable: 1 },
      // The Cluster Autoscaler owns the size; Terraform must not reset it on every apply.
      lifecycle: { ignoreChanges: ['scaling_config[0].desired_size'] },
      dependsOn: this.nodeGroupPrerequisites,
    });
    const asgTags: Record<string, string> = {
      'k8s.io/cluster-autoscaler/enabled': 'true',
      [`k8s.io/cluster-autoscaler/${this.clusterName}`]: 'owned',
      ...(o.templateTags ?? {}),
      [`k8s.io/cluster-autoscaler/node-template/taint/${o.taint.key}`]: `${o.taint.value}:${o.taint.effect}`,
      ...Object.fromEntries(Object.entries(o.labels).map(([k, v]) => [`k8s.io/cluster-autoscaler/node-template/label/${k}`, v])),
    };
    Object.entries(asgTags).forEach(([key, value], i) => {
      new AutoscalingGroupTagA(this, `${id}-asg-tag-${i}`, {
        autoscalingGroupName: nodeGroup.resources.get(0).autoscalingGroups.get(0).name,
        tag: { key, value, propagateAtLaunch: false },
      });
    });
    return nodeGroup;
  }

  /**
   * A node launch template: IMDSv2 with one hop (pods use EKS Pod Identity and cannot borrow the
   * node's role), an encrypted gp3 root volume, and the cost-attribution tags (the platform's and
   * the pool's) on the instances and volumes it launches: node-group tags reach neither.
   */
  private launchTemplate(pool: string, poolTags: Record<string, string>, diskGiB: number, extra: Partial<LaunchTemplateConfig> = {}): LaunchTemplate {
    const tags = { ...CostAttribution.tagsOf(this), ...poolTags, Name: `${this.clusterName}-${pool}` };
    return new LaunchTemplate(this, `pool-${pool}-template`, {
      name: `${this.clusterName}-${pool}`,
      updateDefaultVersion: true,
      blockDeviceMappings: [{ deviceName: '/dev/xvda', ebs: { volumeSize: diskGiB, volumeType: 'gp3', encrypted: 'true', deleteOnTermination: 'true' } }],
      metadataOptions: { httpTokens: 'required', httpPutResponseHopLimit: 1, httpEndpoint: 'enabled' },
      tagSpecifications: ['instance', 'volume', 'network-interface'].map((resourceType) => ({ resourceType, tags })),
      ...extra,
    });
  }

  private addClusterAutoscaler(): void {
    const context = PlatformApp.of(this).context;
    const identity = new WorkloadIdentity(this, 'cluster-autoscaler', {
      cluster: this, namespace: 'kube-system', serviceAccount: 'cluster-autoscaler', roleName: `${this.clusterName}-autoscaler`,
    });
    grant(identity, 'cluster-autoscaler', [
      {
        sid: 'Discover',
        actions: ['autoscaling:DescribeAutoScalingGroups', 'autoscaling:DescribeAutoScalingInstances', 'autoscaling:DescribeLaunchConfigurations',
          'autoscaling:DescribeScalingActivities', 'autoscaling:DescribeTags', 'ec2:DescribeImages', 'ec2:DescribeInstanceTypes',
          'ec2:DescribeLaunchTemplateVersions', 'ec2:GetInstanceTypesFromInstanceRequirements', 'eks:DescribeNodegroup'],
        resources: ['*'],
      },
      {
        sid: 'ScaleOwnNodeGroups',
        actions: ['autoscaling:SetDesiredCapacity', 'autoscaling:TerminateInstanceInAutoScalingGroup'],
        resources: ['*'],
        conditions: { StringEquals: { [`aws:ResourceTag/k8s.io/cluster-autoscaler/${this.clusterName}`]: 'owned' } },
      },
    ]);
    Addons.require(this, Addon.clusterAutoscaler(this.clusterName, context.region));
  }

  private addRepository(name: string): void {
    const context = PlatformApp.of(this).context;
    check(/^[a-z0-9]+([._-][a-z0-9]+)*$/.test(name), this, 'ecrRepositories', name, 'must be lower-case letters and digits separated by \'.\', \'_\' or \'-\'');
    const repo = platformRepository(this, `repository-${name}`, { name: `${context.name}-${context.environment.name}/${name}`, kmsKeyArn: this.key.keyArn });
    this.repositories[name] = repo;
  }
}

/**
 * What a pod taking `gpus` GPUs of a node of `pool` may request: the same share of the smallest
 * node's CPUs and memory, less a quarter left for the node's own daemons.
 */
export function nodeShare(pool: GpuPool, gpus: number): { cpu: string; memory: string } {
  const node = pool.instanceTypes.reduce((a, b) => (a.gpus <= b.gpus ? a : b));
  const share = gpus / node.gpus;
  return {
    cpu: String(Math.max(1, Math.floor((node.vcpus ?? 4) * share * 0.75))),
    memory: `${Math.max(2, Math.floor((node.memoryGiB ?? 16) * share * 0.75))}Gi`,
  };
}

/** A trust policy for an AWS service principal. */
export function servicePrincipalTrust(service: string, actions: string[], sourceAccount?: string): string {
  // `aws:SourceAccount` guards against the confused deputy where the service sets it (EKS Pod Identity does).
  const condition = sourceAccount ? { Condition: { StringEquals: { 'aws:SourceAccount': sourceAccount } } } : {};
  return JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: service }, Action: actions, ...condition }] });
}

