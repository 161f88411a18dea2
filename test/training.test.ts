import {
  CapacityType, ClusterNetwork, EndpointAccess, GpuTrainingCluster, GpuTrainingClusterProps, InstanceType, KubernetesVersion, ModelRegistry,
  NodeAutoscaler, PlatformTesting, SharedStorage, TrainingJob,
} from '../src';
import { manifestErrors } from './harness/kubernetes';
import { checkWithTerraform, expectTerraformOk, plannedResources, terraformTool } from './harness/terraform';
import { describeWithTool } from './harness/tools';
import { grantedActions, onlyResource, policyStatements, resourcesOf, testPlatform } from './harness/fixtures';

const NETWORK = ClusterNetwork.create({ availabilityZones: ['eu-west-1a', 'eu-west-1b'] });
const BASE: GpuTrainingClusterProps = {
  network: NETWORK,
  gpuPools: [{ name: 'g5', instanceTypes: [InstanceType.g5('12xlarge')], maxSize: 4 }],
  teams: [{ name: 'fraud', gpus: 8 }],
};

function synthCluster(props: Partial<GpuTrainingClusterProps> = {}, withJob?: (cluster: GpuTrainingCluster, stack: any) => void) {
  const { app, stack } = testPlatform();
  const cluster = new GpuTrainingCluster(stack, 'training', { ...BASE, ...props });
  withJob?.(cluster, stack);
  const out = PlatformTesting.synth(app);
  return { cluster, aws: out.terraform.aws, kubernetes: out.terraform.kubernetes, manifests: out.manifests };
}

describe('GpuTrainingCluster defaults', () => {
  const { aws, kubernetes, manifests } = synthCluster();
  const docs = manifests['aws/training.k8s.yaml'];

  it('creates a private EKS cluster with encrypted secrets, control-plane logs and access entries only', () => {
    const cluster = onlyResource(aws, 'aws_eks_cluster');
    expect(cluster).toMatchObject({
      name: 'acme-dev-training', version: '1.33',
      vpc_config: { endpoint_private_access: true, endpoint_public_access: false },
      enabled_cluster_log_types: ['api', 'audit', 'authenticator', 'controllerManager', 'scheduler'],
      access_config: { authentication_mode: 'API', bootstrap_cluster_creator_admin_permissions: false },
    });
    expect(cluster.encryption_config.resources).toEqual(['secrets']);
    expect(onlyResource(aws, 'aws_cloudwatch_log_group')).toMatchObject({ name: '/aws/eks/acme-dev-training/cluster', retention_in_days: 90 });
  });

  it('builds a VPC with private subnets in each zone, NAT and S3/ECR endpoints', () => {
    const subnets = Object.values(resourcesOf(aws, 'aws_subnet')) as any[];
    expect(subnets.filter((s) => s.tags['kubernetes.io/role/internal-elb']).map((s) => s.availability_zone)).toEqual(['eu-west-1a', 'eu-west-1b']);
    expect(Object.keys(resourcesOf(aws, 'aws_nat_gateway'))).toHaveLength(1); // one outside production
    const endpoints = (Object.values(resourcesOf(aws, 'aws_vpc_endpoint')) as any[]).map((e) => e.service_name);
    expect(endpoints).toEqual(expect.arrayContaining(['com.amazonaws.eu-west-1.s3', 'com.amazonaws.eu-west-1.ecr.api', 'com.amazonaws.eu-west-1.ecr.dkr']));
  });

  it('installs the managed add-ons', () => {
    const addons = (Object.values(resourcesOf(aws, 'aws_eks_addon')) as any[]).map((a) => a.addon_name).sort();
    expect(addons).toEqual(['aws-ebs-csi-driver', 'coredns', 'eks-pod-identity-agent', 'kube-proxy', 'vpc-cni']);
  });

  it('runs a GPU pool on spot from zero, tainted, with the NVIDIA AMI and scale-from-zero tags', () => {
    const groups = resourcesOf(aws, 'aws_eks_node_group');
    const gpu = Object.values(groups).find((g: any) => g.node_group_name === 'g5') as any;
    expect(gpu).toMatchObject({
      capacity_type: 'SPOT', ami_type: 'AL2023_x86_64_NVIDIA', instance_types: ['g5.12xlarge'],
      scaling_config: { min_size: 0, desired_size: 0, max_size: 4 },
      taint: [{ key: 'nvidia.com/gpu', value: 'true', effect: 'NO_SCHEDULE' }],
      labels: { 'mlops.io/pool': 'g5', 'nvidia.com/gpu.present': 'true' },
    });
    const system = Object.values(groups).find((g: any) => g.node_group_name === 'system') as any;
    expect(system).toMatchObject({ capacity_type: 'ON_DEMAND', scaling_config: { min_size: 2, max_size: 4 } });
    const tags = Object.fromEntries((Object.values(resourcesOf(aws, 'aws_autoscaling_group_tag')) as any[]).map((t) => [t.tag.key, t.tag.value]));
    expect(tags).toMatchObject({
      'k8s.io/cluster-autoscaler/node-template/resources/nvidia.com/gpu': '4',
      'k8s.io/cluster-autoscaler/node-template/taint/nvidia.com/gpu': 'true:NoSchedule',
      'k8s.io/cluster-autoscaler/node-template/label/mlops.io/pool': 'g5',
      'k8s.io/cluster-autoscaler/acme-dev-training': 'owned',
    });
  });

  it('requires IMDSv2 with one hop on GPU and system nodes, so pods cannot use the node role', () => {
    const templates = Object.values(resourcesOf(aws, 'aws_launch_template')) as any[];
    expect(templates.map((t) => t.name).sort()).toEqual(['acme-dev-training-g5', 'acme-dev-training-system']);
    for (const t of templates) expect(t.metadata_options).toMatchObject({ http_tokens: 'required', http_put_response_hop_limit: 1 });
  });

  it('shares an encrypted FSx for Lustre file system linked to a dataset bucket, one directory and bucket prefix per team', () => {
    expect(onlyResource(aws, 'aws_fsx_lustre_file_system')).toMatchObject({ deployment_type: 'PERSISTENT_2', storage_capacity: 1200, automatic_backup_retention_days: 7, lifecycle: { prevent_destroy: true } });
    const link = onlyResource(aws, 'aws_fsx_data_repository_association');
    expect(link.data_repository_path).toMatch(/^s3:\/\/\$\{aws_s3_bucket\.training_shared-storage_datasets_bucket_\w+\.bucket\}\/fraud\/$/);
    expect(link.file_system_path).toBe('/teams/fraud');
    expect(Object.values(resourcesOf(aws, 'aws_s3_bucket')).map((b: any) => b.bucket)).toEqual(['acme-dev-training-datasets-123456789012']);
    const pv = onlyResource(kubernetes, 'kubernetes_persistent_volume_v1');
    expect(pv.metadata.name).toBe('acme-dev-training-shared-fraud');
    expect(pv.spec[0].persistent_volume_source.csi.driver).toBe('fsx.csi.aws.com');
    // The fsx-csi-driver mounts `<dnsname>@tcp:/<mountname>` (pkg/driver/node.go): the team's volume is its own subdirectory.
    expect(pv.spec[0].persistent_volume_source.csi.volume_attributes.mountname).toMatch(/^\$\{\S+lustre\S+mount_name\}\/teams\/fraud$/);
  });

  it('gives each team a volume of its own directory only, never the file system root', () => {
    // GIVEN two teams on FSx for Lustre, and two on EFS
    for (const storage of [SharedStorage.fsxLustre(), SharedStorage.efs()]) {
      const out = synthCluster({ sharedStorage: storage, teams: [{ name: 'fraud', gpus: 4 }, { name: 'recsys', gpus: 4 }] });
      const pvs = Object.values<any>(resourcesOf(out.kubernetes, 'kubernetes_persistent_volume_v1')).map((v) => v.spec[0].persistent_volume_source.csi);
      // THEN the two volumes differ in handle and in what they mount
      expect(new Set(pvs.map((c) => c.volume_handle)).size).toBe(2);
      if (storage.kind === 'efs') {
        // aws-efs-csi-driver: `<fs-id>::<access-point-id>` mounts through an access point confined to its root directory.
        expect(pvs.map((c) => c.volume_handle)).toEqual(pvs.map(() => expect.stringMatching(/^\$\{\S+efs\S+id\}::\$\{\S+access-point\S+id\}$/)));
        expect(Object.values<any>(resourcesOf(out.aws, 'aws_efs_access_point')).map((a) => a.root_directory.path).sort()).toEqual(['/teams/fraud', '/teams/recsys']);
      } else {
        expect(pvs.map((c) => c.volume_attributes.mountname.split('}')[1]).sort()).toEqual(['/teams/fraud', '/teams/recsys']);
      }
    }
  });

  it('creates immutable, scanned, encrypted ECR repositories that expire untagged images', () => {
    const repos = Object.values(resourcesOf(aws, 'aws_ecr_repository')) as any[];
    expect(repos.map((r) => r.name).sort()).toEqual(['acme-dev/serving', 'acme-dev/training']);
    for (const r of repos) {
      expect(r).toMatchObject({ image_tag_mutability: 'IMMUTABLE', image_scanning_configuration: { scan_on_push: true }, force_delete: false, lifecycle: { prevent_destroy: true } });
      expect(r.encryption_configuration[0].encryption_type).toBe('KMS');
    }
    const rule = JSON.parse((Object.values(resourcesOf(aws, 'aws_ecr_lifecycle_policy'))[0] as any).policy).rules[0];
    expect(rule.selection).toMatchObject({ tagStatus: 'untagged', countNumber: 14 });
  });

  it('scales with the Cluster Autoscaler, whose role scales only this cluster\'s groups', () => {
    const releases = (Object.values(resourcesOf(kubernetes, 'helm_release')) as any[]).map((r) => r.name);
    expect(releases).toEqual(expect.arrayContaining(['cluster-autoscaler', 'aws-fsx-csi-driver', 'kube-prometheus-stack']));
    const policy = (Object.values(resourcesOf(aws, 'aws_iam_role_policy')) as any[]).find((p) => p.name === 'cluster-autoscaler');
    const scale = policyStatements(policy.policy).find((s) => s.Sid === 'ScaleOwnNodeGroups');
    expect(scale.Condition).toEqual({ StringEquals: { 'aws:ResourceTag/k8s.io/cluster-autoscaler/acme-dev-training': 'owned' } });
    expect(grantedActions(aws).filter((a) => a.includes('*'))).toEqual([]);
  });

  it('runs the device plugin and DCGM exporter on GPU nodes, tolerating the taint', () => {
    for (const name of ['nvidia-device-plugin', 'dcgm-exporter']) {
      const ds = docs.find((d) => d.kind === 'DaemonSet' && d.metadata.name === name);
      expect(ds.spec.template.spec.tolerations).toEqual([{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }]);
      expect(ds.spec.template.spec.containers[0].image).toMatch(/^nvcr\.io\/nvidia\/.*:(v?\d[\w.-]+)@sha256:[0-9a-f]{64}$/);
    }
    const monitor = docs.find((d) => d.kind === 'ServiceMonitor');
    expect(monitor.metadata.labels.release).toBe('kube-prometheus-stack');
  });

  it('gives each team a namespace with a GPU quota, limits and the shared storage claim', () => {
    expect(docs.find((d) => d.kind === 'ResourceQuota').spec.hard['requests.nvidia.com/gpu']).toBe(8);
    // the namespaces themselves are in the cluster manifest, applied before every chart
    const cluster = manifests['00-cluster.k8s.yaml'];
    expect(cluster.find((d) => d.kind === 'Namespace' && d.metadata.name === 'fraud').metadata.labels).toMatchObject({ 'pod-security.kubernetes.io/enforce': 'restricted', 'mlops.io/team': 'fraud' });
    expect(cluster.find((d) => d.kind === 'Namespace' && d.metadata.name === 'nvidia-system').metadata.labels['pod-security.kubernetes.io/enforce']).toBe('privileged');
    expect(docs.filter((d) => d.kind === 'Namespace')).toEqual([]);
    expect(docs.find((d) => d.kind === 'LimitRange').spec.limits[0].default).toEqual({ cpu: '1', memory: '2Gi' });
    expect(docs.find((d) => d.kind === 'PersistentVolumeClaim').spec).toMatchObject({ volumeName: 'acme-dev-training-shared-fraud', accessModes: ['ReadWriteMany'] });
  });

  it('lets serving preempt training and not the reverse', () => {
    const classes = Object.fromEntries(manifests['00-cluster.k8s.yaml'].filter((d) => d.kind === 'PriorityClass').map((d) => [d.metadata.name, d]));
    expect(classes['mlops-serving'].value).toBeGreaterThan(classes['mlops-training'].value);
    expect(classes['mlops-training'].preemptionPolicy).toBe('Never');
  });

  it('passes the Kubernetes schema check', () => {
    expect(manifestErrors(manifests)).toEqual([]);
  });
});

describe('GpuTrainingCluster with Karpenter, EFS, a public endpoint and an existing VPC', () => {
  const { aws, kubernetes, manifests } = synthCluster({
    network: ClusterNetwork.existing({ vpcId: 'vpc-1', vpcCidr: '10.1.0.0/16', privateSubnetIds: ['subnet-1', 'subnet-2', 'subnet-3'] }),
    kubernetesVersion: KubernetesVersion.V1_32,
    endpointAccess: EndpointAccess.publicAndPrivate(['203.0.113.0/24']),
    autoscaler: NodeAutoscaler.karpenter(),
    sharedStorage: SharedStorage.efs(),
    gpuPools: [{ name: 'p5', instanceTypes: [InstanceType.p5_48xlarge()], capacityType: CapacityType.ON_DEMAND, maxSize: 2 }],
    cpuPools: [{ name: 'cpu', instanceTypes: [InstanceType.of('c7g.4xlarge')], maxSize: 4 }],
    ecrRepositories: ['llm-training'],
    adminRoleArns: ['arn:aws:iam::123456789012:role/admins'],
  });
  const docs = manifests['aws/training.k8s.yaml'];

  it('opens the API only to the allow-list', () => {
    expect(onlyResource(aws, 'aws_eks_cluster')).toMatchObject({ version: '1.32', vpc_config: { endpoint_public_access: true, public_access_cidrs: ['203.0.113.0/24'] } });
    expect(resourcesOf(aws, 'aws_vpc')).toEqual({});
    expect(onlyResource(aws, 'aws_eks_access_policy_association').policy_arn).toMatch(/AmazonEKSClusterAdminPolicy$/);
  });

  it('renders GPU pools as Karpenter NodePools with a GPU limit, and no GPU node groups', () => {
    const groups = (Object.values(resourcesOf(aws, 'aws_eks_node_group')) as any[]).map((g) => g.node_group_name);
    expect(groups).toEqual(['system']);
    const pool = docs.find((d) => d.kind === 'NodePool');
    expect(pool.spec.limits).toEqual({ 'nvidia.com/gpu': 16 });
    expect(pool.spec.template.spec.taints).toEqual([{ key: 'nvidia.com/gpu', value: 'true', effect: 'NoSchedule' }]);
    expect(docs.find((d) => d.kind === 'EC2NodeClass').spec.role).toBe('acme-dev-training-node');
    expect((Object.values(resourcesOf(kubernetes, 'helm_release')) as any[]).map((r) => r.name)).toContain('karpenter');
    expect(onlyResource(aws, 'aws_sqs_queue').name).toBe('acme-dev-training-karpenter');
  });

  it('runs a CPU pool as a NodePool labelled and tainted with its name, its CPUs capped at maxSize nodes', () => {
    const pool = docs.find((d) => d.kind === 'NodePool' && d.metadata.name === 'cpu');
    expect(pool.spec.template.spec.taints).toEqual([{ key: 'mlops.io/pool', value: 'cpu', effect: 'NoSchedule' }]);
    expect(pool.spec.template.metadata.labels).toEqual({ 'mlops.io/pool': 'cpu' });
    expect(pool.spec.limits).toEqual({ cpu: 64 });
  });

  it('uses encrypted EFS with backups and the EFS CSI driver', () => {
    expect(onlyResource(aws, 'aws_efs_file_system')).toMatchObject({ encrypted: true, lifecycle: { prevent_destroy: true } });
    expect(Object.keys(resourcesOf(aws, 'aws_efs_mount_target'))).toHaveLength(3);
    expect(onlyResource(aws, 'aws_efs_backup_policy').backup_policy.status).toBe('ENABLED');
  });

  it('passes the Kubernetes schema check, Karpenter CRDs included', () => {
    expect(manifestErrors(manifests)).toEqual([]);
  });
});

describe('GpuTrainingCluster bad input', () => {
  const make = (props: Partial<GpuTrainingClusterProps>) => () => synthCluster(props);
  const pool = (p: any) => ({ gpuPools: [{ name: 'g5', instanceTypes: [InstanceType.g5('xlarge')], maxSize: 2, ...p }] });

  it.each([
    [pool({ instanceTypes: [InstanceType.of('m6i.xlarge')] }), /gpuPools\[0\]\.instanceTypes \(\["m6i\.xlarge"\]\) are CPU-only/],
    [pool({ instanceTypes: [InstanceType.g5('xlarge'), InstanceType.g5g('xlarge')] }), /gpuPools\[0\]\.instanceTypes .* mix architectures/],
    [pool({ minSize: 3, maxSize: 2 }), /gpuPools\[0\]\.maxSize \(2\) must be at least gpuPools\[0\]\.minSize \(3\)/],
    [pool({ efa: true }), /gpuPools\[0\]\.efa \(\["g5\.xlarge"\]\) is set, but these instance types have no Elastic Fabric Adapter/],
    [{ kubernetesVersion: KubernetesVersion.of('1.25') }, /kubernetesVersion \('1\.25'\) is not supported; use one of 1\.30, 1\.31/],
    [{ teams: [{ name: 'fraud', gpus: 17 }] }, /teams\[0\]\.gpus \(17\) is a quota no pool can satisfy: the GPU pools together run at most 16 GPUs \(g5: 16\)/],
    [{ endpointAccess: EndpointAccess.publicAndPrivate(['0.0.0.0/0']) }, /endpointAccess \('0\.0\.0\.0\/0'\) must be an IPv4 CIDR block other than x\.x\.x\.x\/0/],
    [{ network: ClusterNetwork.create({ availabilityZones: ['eu-west-1a'] }) }, /network\.availabilityZones \(\["eu-west-1a"\]\) must name 2 to 6 distinct availability zones/],
    [{ network: ClusterNetwork.create({ availabilityZones: ['us-east-1a', 'us-east-1b'] }) }, /network\.availabilityZones \('us-east-1a'\) must be a zone of the platform's region eu-west-1/],
    [{ sharedStorage: SharedStorage.fsxLustre({ storageCapacityGiB: 2000 }) }, /sharedStorage\.storageCapacityGiB \(2000\) must be 1200 or a multiple of 2400/],
  ])('rejects %#', (props, message) => {
    expect(make(props as any)).toThrow(message);
  });
});

describe('TrainingJob', () => {
  const { manifests, aws } = synthCluster({}, (cluster, stack) => {
    const registry = new ModelRegistry(stack, 'registry', { cluster });
    new TrainingJob(stack, 'fraud-train', {
      cluster, team: 'fraud', pool: 'g5', workers: 2, image: 'acme/train:1.4.2@sha256:0d5f3c8e9a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d', command: ['train.py'], registry, model: 'fraud-detector',
    });
  });
  const docs = manifests['aws/fraud-train.k8s.yaml'];
  const job = docs.find((d) => d.kind === 'Job');
  const pod = job.spec.template.spec;
  const container = pod.containers[0];

  it('runs two indexed workers that find each other through a headless Service', () => {
    expect(job.spec).toMatchObject({ completionMode: 'Indexed', completions: 2, parallelism: 2 });
    expect(pod.subdomain).toBe('fraud-train-workers');
    expect(docs.find((d) => d.kind === 'Service').spec.clusterIP).toBe('None');
    const env = Object.fromEntries(container.env.map((e: any) => [e.name, e.value ?? e.valueFrom]));
    expect(env).toMatchObject({
      NNODES: '2', NPROC_PER_NODE: '4', MASTER_ADDR: 'fraud-train-0.fraud-train-workers.fraud.svc.cluster.local', MASTER_PORT: '29500',
      NODE_RANK: { fieldRef: { fieldPath: "metadata.annotations['batch.kubernetes.io/job-completion-index']" } },
      CHECKPOINT_DIR: '/mnt/shared/checkpoints/fraud-train',
    });
    expect(container.command.slice(0, 6)).toEqual(['torchrun', '--nnodes=$(NNODES)', '--nproc-per-node=$(NPROC_PER_NODE)', '--node-rank=$(NODE_RANK)', '--master-addr=$(MASTER_ADDR)', '--master-port=$(MASTER_PORT)']);
  });

  it('requests whole GPUs on the pool, tolerating the taint, at training priority', () => {
    expect(container.resources.limits['nvidia.com/gpu']).toBe('4');
    expect(pod.nodeSelector).toEqual({ 'mlops.io/pool': 'g5' });
    expect(pod.tolerations).toEqual([{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }]);
    expect(pod.priorityClassName).toBe('mlops-training');
  });

  it('survives spot interruptions: disruptions do not count as failures', () => {
    expect(job.spec.podFailurePolicy.rules).toEqual([{ action: 'Ignore', onPodConditions: [{ type: 'DisruptionTarget', status: 'True' }] }]);
    expect(pod.restartPolicy).toBe('Never');
    expect(pod.volumes.find((v: any) => v.name === 'shared').persistentVolumeClaim.claimName).toBe('shared-datasets');
  });

  it('writes only its model\'s prefix in the registry and reads only its team\'s data, as its own service account', () => {
    const policies = (Object.values(resourcesOf(aws, 'aws_iam_role_policy')) as any[]).filter((p) => /fraud-train_identity_role/.test(p.role));
    const statements = policies.flatMap((p) => policyStatements(p.policy));
    const written = statements.filter((s) => [s.Action].flat().includes('s3:PutObject')).flatMap((s) => s.Resource);
    expect(written).toEqual([expect.stringMatching(/\/models\/fraud-detector\/\*$/)]);
    const read = statements.filter((s) => [s.Action].flat().includes('s3:GetObject')).flatMap((s) => s.Resource).sort();
    expect(read).toEqual([expect.stringMatching(/\/data\/fraud\/\*$/), expect.stringMatching(/\/models\/fraud-detector\/\*$/)]);
    expect((Object.values(resourcesOf(aws, 'aws_eks_pod_identity_association')) as any[]).map((a) => `${a.namespace}/${a.service_account}`)).toContain('fraud/fraud-train');
  });

  it('passes the Kubernetes schema check', () => {
    expect(manifestErrors({ job: docs })).toEqual([]);
  });

  const bad = (props: any) => () => synthCluster({}, (cluster, stack) => {
    new TrainingJob(stack, 'job', { cluster, team: 'fraud', pool: 'g5', image: 'acme/train:1@sha256:0d5f3c8e9a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d', command: ['train.py'], ...props });
  });
  it.each([
    [{ gpusPerWorker: 8 }, /TrainingJob 'aws\/job': gpusPerWorker \(8\) is more than the 4 GPU\(s\) a node of pool 'g5' has \(g5\.12xlarge\)/],
    [{ pool: 'p5' }, /pool \('p5'\) is not a GPU pool of cluster 'aws\/training'; its pools are 'g5'/],
    [{ team: 'ads' }, /team \('ads'\) is not a team of cluster 'aws\/training'; its teams are 'fraud'/],
    [{ workers: 3 }, /workers \(3\) × 4 GPUs exceeds team 'fraud's quota of 8 GPUs/],
    [{ image: 'acme/train:latest' }, /image \('acme\/train:latest'\) must be pinned/],
    [{ image: 'acme/train' }, /image \('acme\/train'\) must be pinned/],
  ])('rejects %j', (props, message) => {
    expect(bad(props)).toThrow(message);
  });

  it('grants a job only its team\'s datasets: another team\'s prefix, or data without a registry, fails synth', () => {
    const withRegistry = (data: object) => () => synthCluster({}, (cluster, stack) => {
      const registry = new ModelRegistry(stack, 'registry', { cluster });
      new TrainingJob(stack, 'job', { cluster, team: 'fraud', pool: 'g5', image: 'acme/train:1@sha256:0d5f3c8e9a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d', command: ['train.py'], registry, model: 'fraud-detector', data });
    });
    expect(withRegistry({ prefix: 'recsys/clicks/' })).toThrow(/TrainingJob 'aws\/job': data\.prefix \('recsys\/clicks\/'\) must be a prefix of team 'fraud''s datasets, starting with 'fraud\/'/);
    expect(bad({ data: { prefix: 'fraud/' } })).toThrow(/TrainingJob 'aws\/job': data \(\{"prefix":"fraud\/"\}\) needs `registry`/);
    // asked for, a job writes its own prefix (a write under a watched prefix starts that team's pipeline)
    const { aws: written } = synthCluster({}, (cluster, stack) => {
      const registry = new ModelRegistry(stack, 'registry', { cluster });
      new TrainingJob(stack, 'job', { cluster, team: 'fraud', pool: 'g5', image: 'acme/train:1@sha256:0d5f3c8e9a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d', command: ['train.py'], registry, model: 'fraud-detector', data: { prefix: 'fraud/labels/', write: true } });
    });
    const puts = (Object.values(resourcesOf(written, 'aws_iam_role_policy')) as any[]).filter((p) => /job_identity_role/.test(p.role))
      .flatMap((p) => policyStatements(p.policy)).filter((s) => [s.Action].flat().includes('s3:PutObject')).flatMap((s) => s.Resource).sort();
    expect(puts).toEqual([expect.stringMatching(/\/data\/fraud\/labels\/\*$/), expect.stringMatching(/\/models\/fraud-detector\/\*$/)]);
  });

  it('fails synth when a job needs more GPUs than the pool can ever run', () => {
    const make = () => {
      const { app, stack } = testPlatform();
      const cluster = new GpuTrainingCluster(stack, 'training', { ...BASE, gpuPools: [{ name: 'g5', instanceTypes: [InstanceType.g5('12xlarge')], maxSize: 1 }], teams: [{ name: 'fraud', gpus: 4 }], autoscaler: NodeAutoscaler.karpenter() });
      cluster.teams.push({ name: 'big', gpus: 64 });
      new TrainingJob(stack, 'big-job', { cluster, team: 'big', pool: 'g5', workers: 2, image: 'acme/train:1@sha256:0d5f3c8e9a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d', command: ['t.py'] });
      app.synth();
    };
    expect(make).toThrow(/TrainingJob 'aws\/big-job': needs 8 GPUs at once, but pool 'g5' can run at most 4 \(maxSize 1 × 4 GPUs, the NodePool limit\)/);
  });
});

describeWithTool(terraformTool, 'GpuTrainingCluster checked by terraform', () => {
  const { aws } = synthCluster({
    gpuPools: [
      { name: 'g5', instanceTypes: [InstanceType.g5('12xlarge')], maxSize: 4 },
      { name: 'p4d', instanceTypes: [InstanceType.p4d24xlarge()], capacityType: CapacityType.ON_DEMAND, maxSize: 2, efa: true },
    ],
  });
  const plan = () => expectTerraformOk(checkWithTerraform(aws));

  it('plans taints, scaling from zero, capacity and AMI types', () => {
    const groups = Object.fromEntries(plannedResources(plan(), 'aws_eks_node_group').map((g) => [g.values.node_group_name, g.values]));
    expect(groups.g5).toMatchObject({ capacity_type: 'SPOT', ami_type: 'AL2023_x86_64_NVIDIA', scaling_config: [{ min_size: 0, desired_size: 0, max_size: 4 }], taint: [{ key: 'nvidia.com/gpu', value: 'true', effect: 'NO_SCHEDULE' }] });
    expect(groups.p4d).toMatchObject({ capacity_type: 'ON_DEMAND', scaling_config: [{ min_size: 0 }] });
    expect(groups.system.capacity_type).toBe('ON_DEMAND');
  });

  it('plans secrets encryption, logging and EFA', () => {
    const p = plan();
    const cluster = plannedResources(p, 'aws_eks_cluster')[0].values;
    expect(cluster.enabled_cluster_log_types).toEqual(['api', 'audit', 'authenticator', 'controllerManager', 'scheduler']);
    expect(cluster.encryption_config[0].resources).toEqual(['secrets']);
    expect(cluster.vpc_config[0]).toMatchObject({ endpoint_private_access: true, endpoint_public_access: false });
    const efa = plannedResources(p, 'aws_launch_template').find((t) => t.values.name === 'acme-dev-training-p4d')!;
    expect(efa.values.network_interfaces[0].interface_type).toBe('efa');
    expect(plannedResources(p, 'aws_placement_group')[0].values.strategy).toBe('cluster');
    expect(plannedResources(p, 'aws_fsx_lustre_file_system')[0].values).toMatchObject({ deployment_type: 'PERSISTENT_2', automatic_backup_retention_days: 7 });
  });

  it('plans a tainted CPU pool, the VPC CNI enforcing NetworkPolicies and an EFS access point per team', () => {
    const out = synthCluster({
      cpuPools: [{ name: 'cpu', instanceTypes: [InstanceType.of('m6i.2xlarge')], maxSize: 3 }],
      sharedStorage: SharedStorage.efs(), teams: [{ name: 'fraud', gpus: 4 }, { name: 'recsys', gpus: 4 }],
    });
    const p = expectTerraformOk(checkWithTerraform(out.aws));
    const cpu = plannedResources(p, 'aws_eks_node_group').find((g) => g.values.node_group_name === 'cpu')!.values;
    expect(cpu).toMatchObject({ capacity_type: 'ON_DEMAND', ami_type: 'AL2023_x86_64_STANDARD', instance_types: ['m6i.2xlarge'], labels: { 'mlops.io/pool': 'cpu' }, taint: [{ key: 'mlops.io/pool', value: 'cpu', effect: 'NO_SCHEDULE' }] });
    const cni = plannedResources(p, 'aws_eks_addon').find((a) => a.values.addon_name === 'vpc-cni')!.values;
    expect(JSON.parse(cni.configuration_values)).toEqual({ enableNetworkPolicy: 'true' });
    const points = plannedResources(p, 'aws_efs_access_point').map((a) => a.values.root_directory[0]);
    expect(points.map((r) => r.path).sort()).toEqual(['/teams/fraud', '/teams/recsys']);
    expect(points[0].creation_info[0]).toMatchObject({ owner_uid: 1000, owner_gid: 1000, permissions: '0750' });
  });
});
