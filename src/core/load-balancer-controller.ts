import { Construct, TerraformStack } from '../engine';
import { Addon, Addons, LOAD_BALANCER_CONTROLLER_SERVICE_ACCOUNT } from './addons';
import { PlatformApp } from './app';
import { grant, IEksCluster, PolicyStatement, WorkloadIdentity } from './identity';

const identities = new WeakMap<PlatformApp, Map<string, WorkloadIdentity>>();

/**
 * The controller's IAM policy as the AWS Load Balancer Controller documents it (kubernetes-sigs/
 * aws-load-balancer-controller `docs/install/iam_policy.json`, v2.13), with resources narrowed to the
 * platform's region and account: describe calls on anything; creating, changing and deleting only load
 * balancers, target groups and security groups tagged `elbv2.k8s.aws/cluster` (which the controller tags
 * everything it creates with).
 */
export function loadBalancerControllerStatements(region: string, account: string): PolicyStatement[] {
  const elb = `arn:aws:elasticloadbalancing:${region}:${account}`;
  const balancers = [`${elb}:targetgroup/*/*`, `${elb}:loadbalancer/net/*/*`, `${elb}:loadbalancer/app/*/*`];
  const securityGroups = `arn:aws:ec2:${region}:${account}:security-group/*`;
  const tagged = { Null: { 'aws:ResourceTag/elbv2.k8s.aws/cluster': 'false' } };
  return [
    { sid: 'ServiceLinkedRole', actions: ['iam:CreateServiceLinkedRole'], resources: ['*'], conditions: { StringEquals: { 'iam:AWSServiceName': 'elasticloadbalancing.amazonaws.com' } } },
    {
      sid: 'Describe',
      actions: [
        'ec2:DescribeAccountAttributes', 'ec2:DescribeAddresses', 'ec2:DescribeAvailabilityZones', 'ec2:DescribeInternetGateways', 'ec2:DescribeVpcs',
        'ec2:DescribeVpcPeeringConnections', 'ec2:DescribeSubnets', 'ec2:DescribeSecurityGroups', 'ec2:DescribeInstances', 'ec2:DescribeNetworkInterfaces',
        'ec2:DescribeTags', 'ec2:GetCoipPoolUsage', 'ec2:DescribeCoipPools', 'ec2:GetSecurityGroupsForVpc', 'ec2:DescribeIpamPools', 'ec2:DescribeRouteTables',
        'elasticloadbalancing:DescribeLoadBalancers', 'elasticloadbalancing:DescribeLoadBalancerAttributes', 'elasticloadbalancing:DescribeListeners',
        'elasticloadbalancing:DescribeListenerCertificates', 'elasticloadbalancing:DescribeSSLPolicies', 'elasticloadbalancing:DescribeRules',
        'elasticloadbalancing:DescribeTargetGroups', 'elasticloadbalancing:DescribeTargetGroupAttributes', 'elasticloadbalancing:DescribeTargetHealth',
        'elasticloadbalancing:DescribeTags', 'elasticloadbalancing:DescribeTrustStores', 'elasticloadbalancing:DescribeListenerAttributes',
        'elasticloadbalancing:DescribeCapacityReservation',
      ],
      resources: ['*'],
    },
    {
      sid: 'CertificatesAndProtection',
      actions: [
        'cognito-idp:DescribeUserPoolClient', 'acm:ListCertificates', 'acm:DescribeCertificate', 'iam:ListServerCertificates', 'iam:GetServerCertificate',
        'waf-regional:GetWebACL', 'waf-regional:GetWebACLForResource', 'waf-regional:AssociateWebACL', 'waf-regional:DisassociateWebACL',
        'wafv2:GetWebACL', 'wafv2:GetWebACLForResource', 'wafv2:AssociateWebACL', 'wafv2:DisassociateWebACL',
        'shield:GetSubscriptionState', 'shield:DescribeProtection', 'shield:CreateProtection', 'shield:DeleteProtection',
      ],
      resources: ['*'],
    },
    { sid: 'SecurityGroupRules', actions: ['ec2:AuthorizeSecurityGroupIngress', 'ec2:RevokeSecurityGroupIngress'], resources: [securityGroups] },
    { sid: 'CreateSecurityGroup', actions: ['ec2:CreateSecurityGroup'], resources: ['*'] },
    {
      sid: 'TagNewSecurityGroup', actions: ['ec2:CreateTags'], resources: [securityGroups],
      conditions: { StringEquals: { 'ec2:CreateAction': 'CreateSecurityGroup' }, Null: { 'aws:RequestTag/elbv2.k8s.aws/cluster': 'false' } },
    },
    {
      sid: 'RetagOwnSecurityGroups', actions: ['ec2:CreateTags', 'ec2:DeleteTags'], resources: [securityGroups],
      conditions: { Null: { 'aws:RequestTag/elbv2.k8s.aws/cluster': 'true', 'aws:ResourceTag/elbv2.k8s.aws/cluster': 'false' } },
    },
    { sid: 'OwnSecurityGroups', actions: ['ec2:AuthorizeSecurityGroupIngress', 'ec2:RevokeSecurityGroupIngress', 'ec2:DeleteSecurityGroup'], resources: [securityGroups], conditions: tagged },
    {
      sid: 'CreateTaggedBalancers', actions: ['elasticloadbalancing:CreateLoadBalancer', 'elasticloadbalancing:CreateTargetGroup'], resources: ['*'],
      conditions: { Null: { 'aws:RequestTag/elbv2.k8s.aws/cluster': 'false' } },
    },
    { sid: 'ListenersAndRules', actions: ['elasticloadbalancing:CreateListener', 'elasticloadbalancing:DeleteListener', 'elasticloadbalancing:CreateRule', 'elasticloadbalancing:DeleteRule'], resources: ['*'] },
    {
      sid: 'RetagOwnBalancers', actions: ['elasticloadbalancing:AddTags', 'elasticloadbalancing:RemoveTags'], resources: balancers,
      conditions: { Null: { 'aws:RequestTag/elbv2.k8s.aws/cluster': 'true', 'aws:ResourceTag/elbv2.k8s.aws/cluster': 'false' } },
    },
    {
      sid: 'TagListeners', actions: ['elasticloadbalancing:AddTags', 'elasticloadbalancing:RemoveTags'],
      resources: [`${elb}:listener/net/*/*/*`, `${elb}:listener/app/*/*/*`, `${elb}:listener-rule/net/*/*/*`, `${elb}:listener-rule/app/*/*/*`],
    },
    {
      sid: 'ManageOwnBalancers',
      actions: [
        'elasticloadbalancing:ModifyLoadBalancerAttributes', 'elasticloadbalancing:SetIpAddressType', 'elasticloadbalancing:SetSecurityGroups',
        'elasticloadbalancing:SetSubnets', 'elasticloadbalancing:DeleteLoadBalancer', 'elasticloadbalancing:ModifyTargetGroup',
        'elasticloadbalancing:ModifyTargetGroupAttributes', 'elasticloadbalancing:DeleteTargetGroup', 'elasticloadbalancing:ModifyListenerAttributes',
        'elasticloadbalancing:ModifyCapacityReservation', 'elasticloadbalancing:ModifyIpPools',
      ],
      resources: ['*'],
      conditions: tagged,
    },
    {
      sid: 'TagOnCreate', actions: ['elasticloadbalancing:AddTags'], resources: balancers,
      conditions: { 'StringEquals': { 'elasticloadbalancing:CreateAction': ['CreateTargetGroup', 'CreateLoadBalancer'] }, 'Null': { 'aws:RequestTag/elbv2.k8s.aws/cluster': 'false' } },
    },
    { sid: 'Targets', actions: ['elasticloadbalancing:RegisterTargets', 'elasticloadbalancing:DeregisterTargets'], resources: [`${elb}:targetgroup/*/*`] },
    {
      sid: 'ListenerSettings',
      actions: ['elasticloadbalancing:SetWebAcl', 'elasticloadbalancing:ModifyListener', 'elasticloadbalancing:AddListenerCertificates',
        'elasticloadbalancing:RemoveListenerCertificates', 'elasticloadbalancing:ModifyRule', 'elasticloadbalancing:SetRulePriorities'],
      resources: ['*'],
    },
  ];
}

/**
 * Declares that `scope` needs ALB ingresses in `cluster`: the AWS Load Balancer Controller add-on with the values
 * its chart requires, and, once per cluster, its AWS identity (an IAM role with the documented policy, bound by
 * EKS Pod Identity to `kube-system/aws-load-balancer-controller`) in the stack of the first construct that asks.
 */
export function requireLoadBalancerController(scope: Construct, cluster: IEksCluster): WorkloadIdentity {
  const app = PlatformApp.of(scope);
  const context = app.context;
  const byCluster = identities.get(app) ?? new Map<string, WorkloadIdentity>();
  identities.set(app, byCluster);
  let identity = byCluster.get(cluster.clusterName);
  if (!identity) {
    const stack = TerraformStack.of(scope);
    identity = new WorkloadIdentity(stack, `aws-load-balancer-controller-identity${byCluster.size ? `-${byCluster.size}` : ''}`, {
      cluster, namespace: 'kube-system', serviceAccount: LOAD_BALANCER_CONTROLLER_SERVICE_ACCOUNT,
      roleName: context.physicalName(`aws-load-balancer-controller${byCluster.size ? `-${byCluster.size}` : ''}`),
    });
    grant(identity, 'aws-load-balancer-controller', loadBalancerControllerStatements(context.region, context.accountId));
    byCluster.set(cluster.clusterName, identity);
  }
  // With IRSA, the controller's service account carries the role ARN.
  Addons.require(scope, Addon.awsLoadBalancerController({
    clusterName: cluster.clusterName, region: context.region, vpcId: cluster.vpcId, serviceAccountAnnotations: identity.serviceAccountAnnotations,
  }));
  return identity;
}
