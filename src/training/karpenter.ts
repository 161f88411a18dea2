import { CloudwatchEventRule } from '@cdktf/provider-aws/lib/cloudwatch-event-rule';
import { CloudwatchEventTarget } from '@cdktf/provider-aws/lib/cloudwatch-event-target';
import { EksAccessEntry } from '@cdktf/provider-aws/lib/eks-access-entry';
import { IamRole } from '@cdktf/provider-aws/lib/iam-role';
import { SqsQueue } from '@cdktf/provider-aws/lib/sqs-queue';
import { SqsQueuePolicy } from '@cdktf/provider-aws/lib/sqs-queue-policy';
import { Construct } from '../engine';
import { Addon, Addons } from '../core/addons';
import { PlatformApp } from '../core/app';
import { grant, IEksCluster, WorkloadIdentity } from '../core/identity';

/** Props of KarpenterController. */
export interface KarpenterControllerProps {
  readonly cluster: IEksCluster & { readonly cluster: { readonly name: string } };
  readonly nodeRole: IamRole;
}

/**
 * What Karpenter needs on AWS: a Pod Identity role with the actions it calls (each named), an SQS
 * queue of spot interruption and instance health events, and an access entry for its nodes.
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
    const events: Record<string, object> = {
      'spot-interruption': { source: ['aws.ec2'], 'detail-type': ['EC2 Spot Instance Interruption Warning'] },
      rebalance: { source: ['aws.ec2'], 'detail-type': ['EC2 Instance Rebalance Recommendation'] },
      'state-change': { source: ['aws.ec2'], 'detail-type': ['EC2 Instance State-change Notification'] },
      'scheduled-change': { source: ['aws.health'], 'detail-type': ['AWS Health Event'] },
    };
    for (const [name, pattern] of Object.entries(events)) {
      const rule = new CloudwatchEventRule(this, `rule-${name}`, { name: `${clusterName}-karpenter-${name}`, eventPattern: JSON.stringify(pattern) });
      new CloudwatchEventTarget(this, `rule-${name}-target`, { rule: rule.name, arn: this.queue.arn, targetId: 'karpenter' });
    }
    new EksAccessEntry(this, 'node-access', { clusterName: props.cluster.cluster.name, principalArn: props.nodeRole.arn, type: 'EC2_LINUX' });

    this.identity = new WorkloadIdentity(this, 'identity', {
      cluster: props.cluster, namespace: 'kube-system', serviceAccount: 'karpenter', roleName: `${clusterName}-karpenter`,
    });
    const region = context.region;
    grant(this.identity, 'karpenter', [
      {
        sid: 'Discover',
        actions: ['ec2:DescribeAvailabilityZones', 'ec2:DescribeImages', 'ec2:DescribeInstances', 'ec2:DescribeInstanceTypeOfferings',
          'ec2:DescribeInstanceTypes', 'ec2:DescribeLaunchTemplates', 'ec2:DescribeSecurityGroups', 'ec2:DescribeSpotPriceHistory',
          'ec2:DescribeSubnets', 'pricing:GetProducts', 'ssm:GetParameter'],
        resources: ['*'],
      },
      {
        sid: 'LaunchInThisRegion',
        actions: ['ec2:CreateFleet', 'ec2:RunInstances', 'ec2:CreateLaunchTemplate', 'ec2:CreateTags'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:RequestedRegion': region } },
      },
      {
        sid: 'ManageOwnInstances',
        actions: ['ec2:TerminateInstances', 'ec2:DeleteLaunchTemplate'],
        resources: ['*'],
        conditions: { StringEquals: { [`aws:ResourceTag/kubernetes.io/cluster/${clusterName}`]: 'owned' } },
      },
      { sid: 'PassNodeRole', actions: ['iam:PassRole'], resources: [props.nodeRole.arn], conditions: { StringEquals: { 'iam:PassedToService': 'ec2.amazonaws.com' } } },
      {
        sid: 'InstanceProfiles',
        actions: ['iam:AddRoleToInstanceProfile', 'iam:CreateInstanceProfile', 'iam:DeleteInstanceProfile', 'iam:GetInstanceProfile', 'iam:RemoveRoleFromInstanceProfile', 'iam:TagInstanceProfile'],
        resources: [`arn:aws:iam::${context.accountId}:instance-profile/*`],
      },
      { sid: 'Cluster', actions: ['eks:DescribeCluster'], resources: [`arn:aws:eks:${region}:${context.accountId}:cluster/${clusterName}`] },
      { sid: 'Interruptions', actions: ['sqs:DeleteMessage', 'sqs:GetQueueUrl', 'sqs:ReceiveMessage'], resources: [this.queue.arn] },
    ]);
    Addons.require(this, Addon.karpenter(clusterName, `${clusterName}-karpenter`));
  }
}
