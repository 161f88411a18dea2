import { CloudwatchEventRule, CloudwatchEventTarget, IamRole, SqsQueue, SqsQueuePolicy } from '../providers/aws';
import { Construct } from '../engine';
import { Addon, Addons } from '../core/addons';
import { PlatformApp } from '../core/app';
import { check } from '../core/errors';
import { grant, IEksCluster, WorkloadIdentity } from '../core/identity';

/** Props of KarpenterController. */
export interface KarpenterControllerProps {
  readonly cluster: IEksCluster & { readonly cluster: { readonly name: string } };
  readonly nodeRole: IamRole;
}

/**
 * What Karpenter needs on AWS: a Pod Identity role with the actions it calls (each named), an SQS
 * queue of spot interruption and instance health events (its nodes use the cluster's node role and
 * its access entry).
 */
export class KarpenterController extends Construct {
  public readonly identity: WorkloadIdentity;
  public readonly queue: SqsQueue;
  public readonly nodeRoleName: string;

  constructor(scope: Construct, id: string, props: KarpenterControllerProps) {
    super(scope, id);
    const context = PlatformApp.of(this).context;
    const clusterName = props.cluster.clusterName;
    this.nodeRoleName = `${clusterName}-node`;
    this.queue = new SqsQueue(this, 'interruptions', { name: `${clusterName}-karpenter`, messageRetentionSeconds: 300, sqsManagedSseEnabled: true });
    new SqsQueuePolicy(this, 'interruptions-policy', {
      queueUrl: this.queue.url,
      policy: JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          { Sid: 'EventBridge', Effect: 'Allow', Principal: { Service: ['events.amazonaws.com', 'sqs.amazonaws.com'] }, Action: 'sqs:SendMessage', Resource: this.queue.arn },
          { Sid: 'DenyHTTP', Effect: 'Deny', Principal: '*', Action: 'sqs:SendMessage', Resource: this.queue.arn, Condition: { Bool: { 'aws:SecureTransport': 'false' } } },
        ],
      }),
    });
    // EventBridge rule names are at most 64 characters: 40 (the longest cluster name) + 11 + 9.
    const events: Record<string, object> = {
      spot: { source: ['aws.ec2'], 'detail-type': ['EC2 Spot Instance Interruption Warning'] },
      rebalance: { source: ['aws.ec2'], 'detail-type': ['EC2 Instance Rebalance Recommendation'] },
      state: { source: ['aws.ec2'], 'detail-type': ['EC2 Instance State-change Notification'] },
      health: { source: ['aws.health'], 'detail-type': ['AWS Health Event'] },
    };
    const ruleIds: Record<string, string> = { spot: 'spot-interruption', rebalance: 'rebalance', state: 'state-change', health: 'scheduled-change' };
    for (const [name, pattern] of Object.entries(events)) {
      const ruleName = `${clusterName}-karpenter-${name}`;
      check(ruleName.length <= 64, this, 'cluster.clusterName', clusterName, `makes the EventBridge rule name '${ruleName}' longer than 64 characters`);
      const rule = new CloudwatchEventRule(this, `rule-${ruleIds[name]}`, { name: ruleName, eventPattern: JSON.stringify(pattern) });
      new CloudwatchEventTarget(this, `rule-${ruleIds[name]}-target`, { rule: rule.name, arn: this.queue.arn, targetId: 'karpenter' });
    }
    // No access entry for the nodes: they run as the cluster's node role, which its managed system
    // node group already uses, and EKS creates that role's EC2_LINUX access entry itself (a second
    // one fails with 409 ResourceInUseException).

    this.identity = new WorkloadIdentity(this, 'identity', {
      cluster: props.cluster, namespace: 'kube-system', serviceAccount: 'karpenter', roleName: `${clusterName}-karpenter`,
    });
    const region = context.region;
    const profiles = `arn:aws:iam::${context.accountId}:instance-profile/*`;
    const requestTags = { [`aws:RequestTag/kubernetes.io/cluster/${clusterName}`]: 'owned', 'aws:RequestTag/eks:eks-cluster-name': clusterName, 'aws:RequestTag/topology.kubernetes.io/region': region };
    const resourceTags = { [`aws:ResourceTag/kubernetes.io/cluster/${clusterName}`]: 'owned', 'aws:ResourceTag/topology.kubernetes.io/region': region };
    const created = ['fleet', 'instance', 'volume', 'network-interface', 'launch-template', 'spot-instances-request'].map((t) => `arn:aws:ec2:${region}:*:${t}/*`);
    grant(this.identity, 'karpenter', [
      // Statement by statement the upstream controller policy (karpenter-provider-aws,
      // website/content/en/v1.5/getting-started/getting-started-with-karpenter/cloudformation.yaml):
      // what Karpenter creates carries the cluster's tags and a nodepool tag at creation, and it
      // tags, terminates and deletes only what carries them; instance profiles likewise by their
      // ec2nodeclass tag. Reads are limited to the region.
      {
        sid: 'AllowRegionalReadActions',
        actions: ['ec2:DescribeCapacityReservations', 'ec2:DescribeImages', 'ec2:DescribeInstances', 'ec2:DescribeInstanceTypeOfferings',
          'ec2:DescribeInstanceTypes', 'ec2:DescribeLaunchTemplates', 'ec2:DescribeSecurityGroups', 'ec2:DescribeSpotPriceHistory', 'ec2:DescribeSubnets'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:RequestedRegion': region } },
      },
      {
        sid: 'AllowSSMReadActions', actions: ['ssm:GetParameter'],
        resources: [`arn:aws:ssm:${region}::parameter/aws/service/*`, `arn:aws:ssm:${region}:${context.accountId}:parameter/imagebuilder/*`],
      },
      { sid: 'AllowPricingReadActions', actions: ['pricing:GetProducts'], resources: ['*'] },
      {
        sid: 'AllowScopedEC2InstanceAccessActions',
        actions: ['ec2:RunInstances', 'ec2:CreateFleet'],
        resources: [`arn:aws:ec2:${region}::image/*`, `arn:aws:ec2:${region}::snapshot/*`, `arn:aws:ec2:${region}:*:security-group/*`, `arn:aws:ec2:${region}:*:subnet/*`, `arn:aws:ec2:${region}:*:capacity-reservation/*`],
      },
      {
        sid: 'AllowScopedEC2LaunchTemplateAccessActions',
        actions: ['ec2:RunInstances', 'ec2:CreateFleet'],
        resources: [`arn:aws:ec2:${region}:*:launch-template/*`],
        conditions: { StringEquals: { [`aws:ResourceTag/kubernetes.io/cluster/${clusterName}`]: 'owned' }, StringLike: { 'aws:ResourceTag/karpenter.sh/nodepool': '*' } },
      },
      {
        sid: 'AllowScopedEC2InstanceActionsWithTags',
        actions: ['ec2:RunInstances', 'ec2:CreateFleet', 'ec2:CreateLaunchTemplate'],
        resources: [...created, `arn:aws:ec2:${region}:*:capacity-reservation/*`],
        conditions: {
          StringEquals: { [`aws:RequestTag/kubernetes.io/cluster/${clusterName}`]: 'owned', 'aws:RequestTag/eks:eks-cluster-name': clusterName },
          StringLike: { 'aws:RequestTag/karpenter.sh/nodepool': '*' },
        },
      },
      {
        sid: 'AllowScopedResourceCreationTagging',
        actions: ['ec2:CreateTags'],
        resources: created,
        conditions: {
          StringEquals: {
            [`aws:RequestTag/kubernetes.io/cluster/${clusterName}`]: 'owned', 'aws:RequestTag/eks:eks-cluster-name': clusterName,
            'ec2:CreateAction': ['RunInstances', 'CreateFleet', 'CreateLaunchTemplate'],
          },
          StringLike: { 'aws:RequestTag/karpenter.sh/nodepool': '*' },
        },
      },
      {
        sid: 'AllowScopedResourceTagging',
        actions: ['ec2:CreateTags'],
        resources: [`arn:aws:ec2:${region}:*:instance/*`],
        conditions: {
          StringEquals: { [`aws:ResourceTag/kubernetes.io/cluster/${clusterName}`]: 'owned' },
          StringLike: { 'aws:ResourceTag/karpenter.sh/nodepool': '*' },
          StringEqualsIfExists: { 'aws:RequestTag/eks:eks-cluster-name': clusterName },
          'ForAllValues:StringEquals': { 'aws:TagKeys': ['eks:eks-cluster-name', 'karpenter.sh/nodeclaim', 'Name'] },
        },
      },
      {
        sid: 'AllowScopedDeletion',
        actions: ['ec2:TerminateInstances', 'ec2:DeleteLaunchTemplate'],
        resources: [`arn:aws:ec2:${region}:*:instance/*`, `arn:aws:ec2:${region}:*:launch-template/*`],
        conditions: { StringEquals: { [`aws:ResourceTag/kubernetes.io/cluster/${clusterName}`]: 'owned' }, StringLike: { 'aws:ResourceTag/karpenter.sh/nodepool': '*' } },
      },
      { sid: 'AllowInterruptionQueueActions', actions: ['sqs:DeleteMessage', 'sqs:GetQueueUrl', 'sqs:ReceiveMessage'], resources: [this.queue.arn] },
      { sid: 'AllowPassingInstanceRole', actions: ['iam:PassRole'], resources: [props.nodeRole.arn], conditions: { StringEquals: { 'iam:PassedToService': 'ec2.amazonaws.com' } } },
      {
        sid: 'AllowScopedInstanceProfileCreationActions', actions: ['iam:CreateInstanceProfile'], resources: [profiles],
        conditions: { StringEquals: requestTags, StringLike: { 'aws:RequestTag/karpenter.k8s.aws/ec2nodeclass': '*' } },
      },
      {
        sid: 'AllowScopedInstanceProfileTagActions', actions: ['iam:TagInstanceProfile'], resources: [profiles],
        conditions: {
          StringEquals: { ...resourceTags, ...requestTags },
          StringLike: { 'aws:ResourceTag/karpenter.k8s.aws/ec2nodeclass': '*', 'aws:RequestTag/karpenter.k8s.aws/ec2nodeclass': '*' },
        },
      },
      {
        sid: 'AllowScopedInstanceProfileActions', actions: ['iam:AddRoleToInstanceProfile', 'iam:RemoveRoleFromInstanceProfile', 'iam:DeleteInstanceProfile'], resources: [profiles],
        conditions: { StringEquals: resourceTags, StringLike: { 'aws:ResourceTag/karpenter.k8s.aws/ec2nodeclass': '*' } },
      },
      { sid: 'AllowInstanceProfileReadActions', actions: ['iam:GetInstanceProfile'], resources: [profiles] },
      { sid: 'AllowAPIServerEndpointDiscovery', actions: ['eks:DescribeCluster'], resources: [`arn:aws:eks:${region}:${context.accountId}:cluster/${clusterName}`] },
    ]);
    Addons.require(this, Addon.karpenter(clusterName, `${clusterName}-karpenter`));
  }
}
