// The first `terraform apply` succeeds: ordering, key policies, add-on identities and cost that is
// really attributed. Each test names the AWS behaviour (doc or API error) the defect ran into.
import {
  ClusterNetwork, DeployLocation, EndpointAccess, GpuTrainingCluster, GpuTrainingClusterProps, InstanceType, KubernetesStack, ModelRegistry, ModelServer,
  MonitoringStack, NodeAutoscaler, PlatformStack, PlatformTesting, ServingEndpoint, WorkloadIdentity,
} from '../src';
import { buildReferencePlatform, REFERENCE_CONTEXT } from '../stacks/platform';
import { onlyResource, policyStatements, resourcesOf, TEST_CLUSTER, testPlatform } from './harness/fixtures';
import { checkWithTerraform, expectTerraformOk, plannedResources, terraformGraph, terraformTool } from './harness/terraform';
import { describeWithTool } from './harness/tools';

const BASE: GpuTrainingClusterProps = {
  network: ClusterNetwork.create({ availabilityZones: ['eu-west-1a', 'eu-west-1b'] }),
  gpuPools: [{ name: 'g5', instanceTypes: [InstanceType.g5('12xlarge')], maxSize: 4 }],
  teams: [{ name: 'fraud', gpus: 8 }],
};

function synthCluster(props: Partial<GpuTrainingClusterProps> = {}) {
  const { app, stack } = testPlatform();
  const cluster = new GpuTrainingCluster(stack, 'training', { ...BASE, ...props });
  const identity = new WorkloadIdentity(stack, 'external', { cluster: TEST_CLUSTER, namespace: 'apps', serviceAccount: 'reader' });
  const out = PlatformTesting.synth(app);
  return { cluster, identity, aws: out.terraform.aws, manifests: out.manifests };
}

function synthReference() {
  const app = PlatformTesting.app({ platform: REFERENCE_CONTEXT });
  buildReferencePlatform(app);
  return PlatformTesting.synth(app);
}

/** The key-policy statements of the KMS key whose address contains `name`. */
function keyStatements(stackJson: any, name: string): any[] {
  const [, key] = Object.entries(resourcesOf(stackJson, 'aws_kms_key')).find(([id]) => id.includes(name))!;
  return policyStatements((key as any).policy);
}

describe('Pod Identity associations', () => {
  const { aws } = synthCluster();
  const associations = Object.entries(resourcesOf(aws, 'aws_eks_pod_identity_association')) as Array<[string, any]>;

  // CreatePodIdentityAssociation on a cluster that does not exist yet fails with ResourceNotFoundException:
  // an association in the cluster's stack must reference it (and wait for the Pod Identity agent).
  it('reference a cluster of the same stack and wait for the Pod Identity agent', () => {
    const own = associations.filter(([id]) => id.startsWith('training_'));
    expect(own.length).toBeGreaterThan(0);
    for (const [, a] of own) {
      expect(a.cluster_name).toMatch(/^\$\{aws_eks_cluster\.training_cluster_[0-9A-F]+\.name\}$/);
      expect(a.depends_on).toEqual([expect.stringMatching(/^aws_eks_addon\.training_addon-pod-identity-agent_/)]);
    }
  });

  it('name an external cluster literally', () => {
    const [, external] = associations.find(([id]) => id.startsWith('external_'))!;
    expect(external.cluster_name).toBe('acme-dev');
    expect(external.depends_on).toBeUndefined();
  });
});

describe('node groups', () => {
  const { aws } = synthCluster();
  const groups = resourcesOf(aws, 'aws_eks_node_group');

  // With bootstrap_self_managed_addons = false nodes have no CNI until the vpc-cni add-on exists, and
  // cannot join before the node role has AmazonEKSWorkerNodePolicy: NodeCreationFailure.
  it('wait for the VPC CNI, kube-proxy and Pod Identity add-ons and the node role policies', () => {
    for (const group of Object.values(groups) as any[]) {
      const deps = (group.depends_on ?? []).join(' ');
      for (const dep of ['aws_eks_addon.training_addon-vpc-cni', 'aws_eks_addon.training_addon-kube-proxy', 'aws_eks_addon.training_addon-pod-identity-agent',
        'aws_iam_role_policy_attachment.training_node-policy-0', 'aws_iam_role_policy_attachment.training_node-policy-1']) {
        expect({ group: group.node_group_name, deps }).toEqual({ group: group.node_group_name, deps: expect.stringContaining(dep) });
      }
    }
  });

  // A node group without a launch template gets the EKS default of two IMDS hops: pods could read the node role.
  it('all run from launch templates with IMDSv2 and one hop', () => {
    for (const group of Object.values(groups) as any[]) expect(group.launch_template).toBeDefined();
    for (const t of Object.values(resourcesOf(aws, 'aws_launch_template')) as any[]) {
      expect(t.metadata_options).toEqual({ http_endpoint: 'enabled', http_put_response_hop_limit: 1, http_tokens: 'required' });
    }
  });

  // Tags of an EKS node group are not propagated to its instances (EKS docs, "Managed node groups":
  // tags on the node group resource do not propagate); a launch template's tag_specifications are.
  it('tag the instances and volumes they launch with the cost-attribution tags', () => {
    for (const t of Object.values(resourcesOf(aws, 'aws_launch_template')) as any[]) {
      expect(t.tag_specifications.map((s: any) => s.resource_type)).toEqual(['instance', 'volume', 'network-interface']);
      for (const spec of t.tag_specifications) expect(spec.tags).toMatchObject({ 'mlops.io/platform': 'acme', 'mlops.io/pool': expect.any(String) });
    }
  });

  // Cluster Autoscaler, cloudprovider/aws README ("GPU node groups"): GPU nodes carry k8s.amazonaws.com/accelerator.
  it('label GPU nodes with their accelerator, on the nodes and in the scale-from-zero template', () => {
    const gpu = Object.values(groups).find((g: any) => g.node_group_name === 'g5') as any;
    expect(gpu.labels['k8s.amazonaws.com/accelerator']).toBe('nvidia-a10g');
    const asgTags = Object.values(resourcesOf(aws, 'aws_autoscaling_group_tag')).map((t: any) => t.tag.key);
    expect(asgTags).toContain('k8s.io/cluster-autoscaler/node-template/label/k8s.amazonaws.com/accelerator');
  });

  it('trust add-on roles only for Pod Identity sessions of this account', () => {
    const role = Object.values(resourcesOf(aws, 'aws_iam_role')).find((r: any) => r.name === 'acme-dev-training-vpc-cni') as any;
    expect(policyStatements(role.assume_role_policy)[0].Condition).toEqual({ StringEquals: { 'aws:SourceAccount': '123456789012' } });
  });
});

describe('pool shapes and zones', () => {
  // Cluster Autoscaler FAQ: it assumes all nodes of a node group have the same CPU, memory and GPUs.
  it('refuses a Cluster Autoscaler pool mixing shapes', () => {
    expect(() => synthCluster({ gpuPools: [{ name: 'g5', instanceTypes: [InstanceType.g5('xlarge'), InstanceType.g5('2xlarge')], maxSize: 2 }] }))
      .toThrow(/gpuPools\[0\]\.instanceTypes .* differ in CPUs, memory or GPUs; the Cluster Autoscaler needs one shape per node group/);
  });

  it('runs an EFA pool in the file system\'s subnet only', () => {
    const { aws } = synthCluster({ gpuPools: [{ name: 'p5', instanceTypes: [InstanceType.p5_48xlarge()], maxSize: 2, efa: true }] });
    const pool = Object.values(resourcesOf(aws, 'aws_eks_node_group')).find((g: any) => g.node_group_name === 'p5') as any;
    const fsx = onlyResource(aws, 'aws_fsx_lustre_file_system');
    expect(pool.subnet_ids).toEqual(fsx.subnet_ids);
  });

  it('refuses a pool attributed to a team the cluster does not have', () => {
    expect(() => synthCluster({ gpuPools: [{ name: 'g5', instanceTypes: [InstanceType.g5('12xlarge')], maxSize: 2, costAttribution: { team: 'nobody' } }] }))
      .toThrow(/gpuPools\[0\]\.costAttribution\.team .*'nobody'.* is not a team of the cluster; its teams are 'fraud'/);
  });
});

describe('shared storage', () => {
  const { aws } = synthCluster();

  // aws provider, aws_security_group: inline rules and aws_vpc_security_group_*_rule on one group conflict (perpetual diff).
  it('has no inline rules next to its separate rules', () => {
    const sg = Object.values(resourcesOf(aws, 'aws_security_group')).find((g: any) => g.name === 'acme-dev-training-shared-storage') as any;
    expect(sg.egress).toBeUndefined();
    expect(sg.ingress).toBeUndefined();
  });

  // CreateFileSystem checks that the security group admits Lustre traffic on port 988.
  it('creates the file system after its security group rules', () => {
    const fsx = onlyResource(aws, 'aws_fsx_lustre_file_system');
    const rules = [...Object.keys(resourcesOf(aws, 'aws_vpc_security_group_ingress_rule')).map((id) => `aws_vpc_security_group_ingress_rule.${id}`),
      ...Object.keys(resourcesOf(aws, 'aws_vpc_security_group_egress_rule')).map((id) => `aws_vpc_security_group_egress_rule.${id}`)]
      .filter((address) => address.includes('shared-storage'));
    expect(rules.length).toBe(6);
    expect([...fsx.depends_on].sort()).toEqual(rules.sort());
  });

  // FSx for Lustre guide, "Working with server-side encrypted Amazon S3 buckets": the key policy lets
  // the FSx S3 service-linked role use the key through S3 for the bucket.
  it('lets the FSx service-linked role use the key of the dataset bucket, through S3 only', () => {
    const statement = keyStatements(aws, 'training_key').find((s) => s.Sid === 'FsxLustreReadsAndWritesDatasetBucket');
    expect(statement).toMatchObject({
      Principal: { AWS: '*' },
      Action: expect.arrayContaining(['kms:Decrypt', 'kms:GenerateDataKey']),
      Condition: {
        StringEquals: { 'kms:CallerAccount': '123456789012', 'kms:ViaService': 's3.eu-west-1.amazonaws.com' },
        StringLike: {
          'aws:PrincipalArn': 'arn:aws:iam::123456789012:role/aws-service-role/s3.data-source.lustre.fsx.amazonaws.com/AWSServiceRoleForFSxS3Access_*',
          'kms:EncryptionContext:aws:s3:arn': ['arn:aws:s3:::acme-dev-training-datasets-123456789012', 'arn:aws:s3:::acme-dev-training-datasets-123456789012/*'],
        },
      },
    });
  });
});

describe('network', () => {
  it('gives the S3 gateway endpoint a policy: this account\'s buckets and the ECR layer bucket', () => {
    const { aws } = synthCluster();
    const s3 = Object.values(resourcesOf(aws, 'aws_vpc_endpoint')).find((e: any) => e.vpc_endpoint_type === 'Gateway') as any;
    const statements = policyStatements(s3.policy);
    expect(statements[0].Condition).toEqual({ StringEquals: { 'aws:ResourceAccount': '123456789012' } });
    expect(statements.flatMap((s: any) => s.Resource)).toContain('arn:aws:s3:::prod-eu-west-1-starport-layer-bucket/*');
  });
});

describe('Karpenter', () => {
  const { aws } = synthCluster({ autoscaler: NodeAutoscaler.karpenter() });

  // EKS creates the EC2_LINUX access entry of a managed node group's role; a second one is a 409.
  it('adds no access entry for the node role the system node group already has', () => {
    expect(Object.values(resourcesOf(aws, 'aws_eks_access_entry')).filter((e: any) => e.type === 'EC2_LINUX')).toEqual([]);
  });

  // Upstream controller policy (karpenter-provider-aws getting-started cloudformation.yaml): CreateTags
  // only at creation or on its own instances, deletion only of what carries its nodepool tag.
  it('tags and terminates only instances it launched for the cluster', () => {
    const policy = Object.values(resourcesOf(aws, 'aws_iam_role_policy')).find((p: any) => p.name === 'karpenter') as any;
    const statements = policyStatements(policy.policy);
    for (const s of statements.filter((st: any) => st.Action.includes('ec2:CreateTags') || st.Action.includes('ec2:TerminateInstances'))) {
      expect(s.Resource).not.toContain('*');
      const conditions = JSON.stringify(s.Condition);
      expect(conditions).toContain('kubernetes.io/cluster/acme-dev-training');
      expect(conditions).toContain('karpenter.sh/nodepool');
    }
    expect(statements.find((s: any) => s.Sid === 'AllowScopedResourceCreationTagging').Condition.StringEquals['ec2:CreateAction'])
      .toEqual(['RunInstances', 'CreateFleet', 'CreateLaunchTemplate']);
  });

  // Statement by statement against upstream v1.5 (karpenter-provider-aws
  // website/content/en/v1.5/getting-started/getting-started-with-karpenter/cloudformation.yaml,
  // KarpenterControllerPolicy): the same Sids, actions and condition keys; instance profiles only
  // by the cluster's and the EC2NodeClass's tags (they were any profile of the account before).
  it('matches the upstream Karpenter v1.5 controller policy, statement by statement', () => {
    const policy = Object.values(resourcesOf(aws, 'aws_iam_role_policy')).find((p: any) => p.name === 'karpenter') as any;
    const statements = policyStatements(policy.policy);
    const shape = Object.fromEntries(statements.map((st: any) => [st.Sid, {
      actions: [st.Action].flat().sort(),
      conditions: Object.fromEntries(Object.entries<any>(st.Condition ?? {}).map(([op, kv]) => [op, Object.keys(kv).sort()])),
    }]));
    const cluster = 'kubernetes.io/cluster/acme-dev-training';
    expect(shape).toEqual({
      AllowScopedEC2InstanceAccessActions: { actions: ['ec2:CreateFleet', 'ec2:RunInstances'], conditions: {} },
      AllowScopedEC2LaunchTemplateAccessActions: { actions: ['ec2:CreateFleet', 'ec2:RunInstances'], conditions: { StringEquals: [`aws:ResourceTag/${cluster}`], StringLike: ['aws:ResourceTag/karpenter.sh/nodepool'] } },
      AllowScopedEC2InstanceActionsWithTags: {
        actions: ['ec2:CreateFleet', 'ec2:CreateLaunchTemplate', 'ec2:RunInstances'],
        conditions: { StringEquals: ['aws:RequestTag/eks:eks-cluster-name', `aws:RequestTag/${cluster}`], StringLike: ['aws:RequestTag/karpenter.sh/nodepool'] },
      },
      AllowScopedResourceCreationTagging: {
        actions: ['ec2:CreateTags'],
        conditions: { StringEquals: ['aws:RequestTag/eks:eks-cluster-name', `aws:RequestTag/${cluster}`, 'ec2:CreateAction'], StringLike: ['aws:RequestTag/karpenter.sh/nodepool'] },
      },
      AllowScopedResourceTagging: {
        actions: ['ec2:CreateTags'],
        conditions: { StringEquals: [`aws:ResourceTag/${cluster}`], StringLike: ['aws:ResourceTag/karpenter.sh/nodepool'], StringEqualsIfExists: ['aws:RequestTag/eks:eks-cluster-name'], 'ForAllValues:StringEquals': ['aws:TagKeys'] },
      },
      AllowScopedDeletion: { actions: ['ec2:DeleteLaunchTemplate', 'ec2:TerminateInstances'], conditions: { StringEquals: [`aws:ResourceTag/${cluster}`], StringLike: ['aws:ResourceTag/karpenter.sh/nodepool'] } },
      AllowRegionalReadActions: {
        actions: ['ec2:DescribeCapacityReservations', 'ec2:DescribeImages', 'ec2:DescribeInstanceTypeOfferings', 'ec2:DescribeInstanceTypes', 'ec2:DescribeInstances',
          'ec2:DescribeLaunchTemplates', 'ec2:DescribeSecurityGroups', 'ec2:DescribeSpotPriceHistory', 'ec2:DescribeSubnets'],
        conditions: { StringEquals: ['aws:RequestedRegion'] },
      },
      AllowSSMReadActions: { actions: ['ssm:GetParameter'], conditions: {} },
      AllowPricingReadActions: { actions: ['pricing:GetProducts'], conditions: {} },
      AllowInterruptionQueueActions: { actions: ['sqs:DeleteMessage', 'sqs:GetQueueUrl', 'sqs:ReceiveMessage'], conditions: {} },
      AllowPassingInstanceRole: { actions: ['iam:PassRole'], conditions: { StringEquals: ['iam:PassedToService'] } },
      AllowScopedInstanceProfileCreationActions: {
        actions: ['iam:CreateInstanceProfile'],
        conditions: { StringEquals: ['aws:RequestTag/eks:eks-cluster-name', `aws:RequestTag/${cluster}`, 'aws:RequestTag/topology.kubernetes.io/region'], StringLike: ['aws:RequestTag/karpenter.k8s.aws/ec2nodeclass'] },
      },
      AllowScopedInstanceProfileTagActions: {
        actions: ['iam:TagInstanceProfile'],
        conditions: {
          StringEquals: ['aws:RequestTag/eks:eks-cluster-name', `aws:RequestTag/${cluster}`, 'aws:RequestTag/topology.kubernetes.io/region', `aws:ResourceTag/${cluster}`, 'aws:ResourceTag/topology.kubernetes.io/region'],
          StringLike: ['aws:RequestTag/karpenter.k8s.aws/ec2nodeclass', 'aws:ResourceTag/karpenter.k8s.aws/ec2nodeclass'],
        },
      },
      AllowScopedInstanceProfileActions: {
        actions: ['iam:AddRoleToInstanceProfile', 'iam:DeleteInstanceProfile', 'iam:RemoveRoleFromInstanceProfile'],
        conditions: { StringEquals: [`aws:ResourceTag/${cluster}`, 'aws:ResourceTag/topology.kubernetes.io/region'], StringLike: ['aws:ResourceTag/karpenter.k8s.aws/ec2nodeclass'] },
      },
      AllowInstanceProfileReadActions: { actions: ['iam:GetInstanceProfile'], conditions: {} },
      AllowAPIServerEndpointDiscovery: { actions: ['eks:DescribeCluster'], conditions: {} },
    });
    const ssm = statements.find((st: any) => st.Sid === 'AllowSSMReadActions');
    expect(ssm.Resource).toEqual(['arn:aws:ssm:eu-west-1::parameter/aws/service/*', 'arn:aws:ssm:eu-west-1:123456789012:parameter/imagebuilder/*']);
  });

  // EventBridge PutRule: a name of at most 64 characters.
  it('keeps interruption rule names within 64 characters for the longest cluster name', () => {
    const { app, stack } = testPlatform();
    new GpuTrainingCluster(stack, 'training-cluster-with-long-name', { ...BASE, autoscaler: NodeAutoscaler.karpenter() });
    const out = PlatformTesting.synth(app);
    const names = Object.values(resourcesOf(out.terraform.aws, 'aws_cloudwatch_event_rule')).map((r: any) => r.name);
    expect(names.length).toBe(4);
    for (const name of names) expect(name.length).toBeLessThanOrEqual(64);
  });

  it('refuses efa for a Karpenter pool instead of ignoring it', () => {
    expect(() => synthCluster({ autoscaler: NodeAutoscaler.karpenter(), gpuPools: [{ name: 'p5', instanceTypes: [InstanceType.p5_48xlarge()], maxSize: 2, efa: true }] }))
      .toThrow(/gpuPools\[0\]\.efa \(true\) is not supported with NodeAutoscaler.karpenter\(\)/);
  });

  it('tags what Karpenter launches with the cost-attribution tags', () => {
    const { manifests } = synthCluster({ autoscaler: NodeAutoscaler.karpenter() });
    const nodeClass = manifests['aws/training.k8s.yaml'].find((d) => d.kind === 'EC2NodeClass');
    expect(nodeClass.spec.tags).toMatchObject({ 'mlops.io/platform': 'acme', 'mlops.io/pool': 'g5' });
  });
});

describe('registry key and CloudTrail', () => {
  // CloudTrail guide, "Configure AWS KMS key policies for CloudTrail": DescribeKey carries no
  // encryption context, so a condition on it never matches (InsufficientEncryptionPolicyException);
  // with an S3 Bucket Key on the trail bucket CloudTrail also needs kms:Decrypt.
  it('lets CloudTrail describe the key without an encryption-context condition, and decrypt for the bucket key', () => {
    const { app, stack } = testPlatform();
    new ModelRegistry(stack, 'registry', { cluster: TEST_CLUSTER });
    const aws = PlatformTesting.synth(app).terraform.aws;
    const cloudtrail = keyStatements(aws, 'registry_key').filter((s) => s.Principal.Service === 'cloudtrail.amazonaws.com');
    const describe = cloudtrail.find((s) => s.Action.includes('kms:DescribeKey'));
    expect(JSON.stringify(describe.Condition)).not.toContain('EncryptionContext');
    expect(cloudtrail.find((s) => s.Action.includes('kms:Decrypt')).Condition).toEqual({ StringEquals: { 'aws:SourceArn': expect.stringMatching(/:trail\//) } });
  });
});

describe('cost allocation tags', () => {
  function monitoring(activate?: boolean) {
    const { app, stack } = testPlatform();
    const registry = new ModelRegistry(stack, 'registry', { cluster: TEST_CLUSTER });
    const endpoint = new ServingEndpoint(stack, 'fraud', {
      cluster: TEST_CLUSTER, namespace: 'serving', model: registry.model('fraud-detector').version('1'), server: ModelServer.mlflow(), team: 'fraud',
    });
    new MonitoringStack(stack, 'monitoring', { endpoints: [endpoint], topicSubscriptions: [{ protocol: 'email', endpoint: 'oncall@acme.example' }], budgets: [{ name: 'fraud', team: 'fraud', monthlyLimitUsd: 100 }], activateCostAllocationTags: activate });
    return PlatformTesting.synth(app).terraform.aws;
  }

  // Cost Explorer UpdateCostAllocationTagsStatus: only the payer account, and only keys AWS has seen.
  it('are not activated unless asked (payer accounts, after the keys have been seen)', () => {
    expect(resourcesOf(monitoring(), 'aws_ce_cost_allocation_tag')).toEqual({});
    expect(Object.values(resourcesOf(monitoring(true), 'aws_ce_cost_allocation_tag')).map((t: any) => t.tag_key).sort())
      .toEqual(['mlops.io/environment', 'mlops.io/model', 'mlops.io/platform', 'mlops.io/team']);
  });
});

describeWithTool(terraformTool, 'reference platform: the first apply, as terraform sees it', () => {
  const out = synthReference();
  const platform = out.terraform.platform;
  const addresses = (type: string) => Object.keys(resourcesOf(platform, type)).map((id) => `${type}.${id}`);

  it('orders associations after the cluster, FSx after its rules, node groups after add-ons and role policies (terraform graph)', () => {
    const graph = terraformGraph(platform);
    const [cluster] = addresses('aws_eks_cluster');
    const associations = addresses('aws_eks_pod_identity_association');
    expect(associations.length).toBeGreaterThan(5);
    for (const a of associations) expect({ a, after: graph.dependsOn(a, cluster) }).toEqual({ a, after: true });

    const [fsx] = addresses('aws_fsx_lustre_file_system');
    const rules = [...addresses('aws_vpc_security_group_ingress_rule'), ...addresses('aws_vpc_security_group_egress_rule')].filter((r) => r.includes('shared-storage'));
    expect(rules.length).toBe(6);
    for (const r of rules) expect({ r, after: graph.dependsOn(fsx, r) }).toEqual({ r, after: true });

    const prerequisites = [...addresses('aws_eks_addon').filter((a) => /addon-(vpc-cni|kube-proxy|pod-identity-agent)_/.test(a)),
      ...addresses('aws_iam_role_policy_attachment').filter((a) => a.includes('node-policy'))];
    expect(prerequisites.length).toBe(5);
    const groups = addresses('aws_eks_node_group');
    // system, the three GPU pools and the CPU serving pool
    expect(groups.length).toBe(5);
    for (const g of groups) for (const p of prerequisites) expect({ g, p, after: graph.dependsOn(g, p) }).toEqual({ g, p, after: true });
  });

  it('plans the key policies, launch-template tags and budgets that match them', () => {
    const plan = expectTerraformOk(checkWithTerraform(platform, { plan: true }));
    const registryKey = plannedResources(plan, 'aws_kms_key').find((k) => k.address.includes('registry_key'))!;
    const trailSids = policyStatements(registryKey.values.policy).filter((s: any) => s.Principal.Service === 'cloudtrail.amazonaws.com').map((s: any) => s.Sid);
    expect(trailSids).toEqual(['CloudTrailEncryptsAuditLogs', 'CloudTrailDescribesKey', 'CloudTrailUsesBucketKey']);
    const trainingKey = plannedResources(plan, 'aws_kms_key').find((k) => k.address.includes('training_key'))!;
    expect(policyStatements(trainingKey.values.policy).map((s: any) => s.Sid)).toContain('FsxLustreReadsAndWritesDatasetBucket');
    expect(plannedResources(plan, 'aws_eks_access_entry').filter((e) => e.values.type === 'EC2_LINUX')).toEqual([]);

    // THEN every budget's TagKeyValue filter matches a tag the planned launch templates put on instances and volumes
    const launched = plannedResources(plan, 'aws_launch_template').flatMap((t) => t.values.tag_specifications)
      .filter((s: any) => s.resource_type === 'instance' || s.resource_type === 'volume');
    const budgets = plannedResources(plan, 'aws_budgets_budget');
    expect(budgets.length).toBe(2);
    for (const b of budgets) {
      const [filter] = b.values.cost_filter;
      expect(filter.name).toBe('TagKeyValue');
      const [key, value] = filter.values[0].replace(/^user:/, '').split('$');
      const carriers = launched.filter((s: any) => s.tags[key] === value).map((s: any) => s.resource_type);
      expect({ budget: b.values.name, carriers: [...new Set(carriers)].sort() }).toEqual({ budget: b.values.name, carriers: ['instance', 'volume'] });
    }
  });
});

// Where `cdktf deploy` of the kubernetes stack runs: its providers call the cluster's API endpoint and
// authenticate with access entries (EKS User Guide: "Cluster API server endpoint" access control; access
// entries with bootstrapClusterCreatorAdminPermissions false, so only adminRoleArns can authenticate).
describe('the kubernetes stack\'s deployer', () => {
  const ADMIN = 'arn:aws:iam::123456789012:role/platform-admins';
  const deploy = (clusterProps: Partial<GpuTrainingClusterProps>, deployer?: object) => () => {
    const app = PlatformTesting.app();
    const stack = new PlatformStack(app, 'aws');
    const cluster = new GpuTrainingCluster(stack, 'training', { ...BASE, adminRoleArns: [ADMIN], ...clusterProps });
    new KubernetesStack(app, 'kubernetes', { clusterName: cluster.clusterName, cluster, deployer: deployer as any });
    return PlatformTesting.synth(app).terraform.kubernetes;
  };

  it('authenticates as the deployer\'s role, an admin access entry of the cluster', () => {
    const k8s = deploy({}, { roleArn: ADMIN, location: DeployLocation.insideVpc('CI runners in the VPC') })();
    expect(k8s.provider.kubernetes[0].exec[0].args).toEqual(['eks', 'get-token', '--cluster-name', 'acme-dev-training', '--region', 'eu-west-1', '--role-arn', ADMIN]);
    expect(k8s.provider.helm[0].kubernetes.exec.args).toContain('--role-arn');
  });

  it.each([
    [{}, undefined, /KubernetesStack 'kubernetes': deployer \(undefined\) must say who deploys this stack and from where/],
    [{}, { roleArn: 'arn:aws:iam::123456789012:role/ci', location: DeployLocation.insideVpc('ci') },
      /deployer\.roleArn \('arn:aws:iam::123456789012:role\/ci'\) cannot authenticate to cluster 'aws\/training': only its adminRoleArns have access entries \(arn:aws:iam::123456789012:role\/platform-admins\)/],
    [{}, { roleArn: ADMIN, location: DeployLocation.publicAddresses(['203.0.113.10/32']) },
      /deployer\.location \('203\.0\.113\.10\/32'\) cannot reach the private-only API endpoint of cluster 'aws\/training': deploy from inside its VPC/],
    [{ endpointAccess: EndpointAccess.publicAndPrivate(['198.51.100.0/24']) }, { roleArn: ADMIN, location: DeployLocation.publicAddresses(['203.0.113.10/32']) },
      /deployer\.location \('203\.0\.113\.10\/32'\) is not on the public allow-list of cluster 'aws\/training' \(198\.51\.100\.0\/24\)/],
  ])('refuses a deploy that could not reach or authenticate: %#', (clusterProps, deployer, message) => {
    expect(deploy(clusterProps, deployer)).toThrow(message);
  });

  it('accepts a runner whose public address is on the endpoint\'s allow-list', () => {
    const k8s = deploy({ endpointAccess: EndpointAccess.publicAndPrivate(['198.51.100.0/24']) }, { roleArn: ADMIN, location: DeployLocation.publicAddresses(['198.51.100.7/32']) })();
    expect(k8s.provider.kubernetes[0].exec[0].args).toContain(ADMIN);
  });
});
