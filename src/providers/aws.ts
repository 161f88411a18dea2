/**
 * The AWS provider binding, one module per resource (`@cdktf/provider-aws/lib/<resource>`), never
 * the barrel: the library imports provider classes from here only (enforced by lint), so moving to
 * another binding package (e.g. CDK Terrain's `@cdktn/provider-aws`) is a change in this file.
 */

/** The binding package, for tools that read its metadata (the provider version it was generated for). */
export const AWS_PROVIDER_PACKAGE: string = '@cdktf/provider-aws';

export { AutoscalingGroupTagA } from '@cdktf/provider-aws/lib/autoscaling-group-tag';
export { BudgetsBudget } from '@cdktf/provider-aws/lib/budgets-budget';
export { CeCostAllocationTag } from '@cdktf/provider-aws/lib/ce-cost-allocation-tag';
export { Cloudtrail } from '@cdktf/provider-aws/lib/cloudtrail';
export { CloudwatchEventRule } from '@cdktf/provider-aws/lib/cloudwatch-event-rule';
export { CloudwatchEventTarget } from '@cdktf/provider-aws/lib/cloudwatch-event-target';
export { CloudwatchLogGroup } from '@cdktf/provider-aws/lib/cloudwatch-log-group';
export { CloudwatchMetricAlarm } from '@cdktf/provider-aws/lib/cloudwatch-metric-alarm';
export { DataAwsEksCluster } from '@cdktf/provider-aws/lib/data-aws-eks-cluster';
export { DataAwsSecretsmanagerSecretVersion } from '@cdktf/provider-aws/lib/data-aws-secretsmanager-secret-version';
export { DbInstance } from '@cdktf/provider-aws/lib/db-instance';
export { DbParameterGroup } from '@cdktf/provider-aws/lib/db-parameter-group';
export { DbSubnetGroup } from '@cdktf/provider-aws/lib/db-subnet-group';
export { DynamodbTable } from '@cdktf/provider-aws/lib/dynamodb-table';
export { Ec2Tag } from '@cdktf/provider-aws/lib/ec2-tag';
export { EcrLifecyclePolicy } from '@cdktf/provider-aws/lib/ecr-lifecycle-policy';
export { EcrRepository } from '@cdktf/provider-aws/lib/ecr-repository';
export { EfsAccessPoint } from '@cdktf/provider-aws/lib/efs-access-point';
export { EfsBackupPolicy } from '@cdktf/provider-aws/lib/efs-backup-policy';
export { EfsFileSystem } from '@cdktf/provider-aws/lib/efs-file-system';
export { EfsMountTarget } from '@cdktf/provider-aws/lib/efs-mount-target';
export { Eip } from '@cdktf/provider-aws/lib/eip';
export { EksAccessEntry } from '@cdktf/provider-aws/lib/eks-access-entry';
export { EksAccessPolicyAssociation } from '@cdktf/provider-aws/lib/eks-access-policy-association';
export { EksAddon } from '@cdktf/provider-aws/lib/eks-addon';
export { EksCluster } from '@cdktf/provider-aws/lib/eks-cluster';
export { EksNodeGroup } from '@cdktf/provider-aws/lib/eks-node-group';
export { EksPodIdentityAssociation } from '@cdktf/provider-aws/lib/eks-pod-identity-association';
export { ElasticacheReplicationGroup } from '@cdktf/provider-aws/lib/elasticache-replication-group';
export { ElasticacheSubnetGroup } from '@cdktf/provider-aws/lib/elasticache-subnet-group';
export { FsxDataRepositoryAssociation } from '@cdktf/provider-aws/lib/fsx-data-repository-association';
export { FsxLustreFileSystem } from '@cdktf/provider-aws/lib/fsx-lustre-file-system';
export { IamRole } from '@cdktf/provider-aws/lib/iam-role';
export { IamRolePolicy } from '@cdktf/provider-aws/lib/iam-role-policy';
export { IamRolePolicyAttachment } from '@cdktf/provider-aws/lib/iam-role-policy-attachment';
export { InternetGateway } from '@cdktf/provider-aws/lib/internet-gateway';
export { KmsAlias } from '@cdktf/provider-aws/lib/kms-alias';
export { KmsKey } from '@cdktf/provider-aws/lib/kms-key';
export { LaunchTemplate } from '@cdktf/provider-aws/lib/launch-template';
export type { LaunchTemplateConfig } from '@cdktf/provider-aws/lib/launch-template';
export { NatGateway } from '@cdktf/provider-aws/lib/nat-gateway';
export { PlacementGroup } from '@cdktf/provider-aws/lib/placement-group';
export { AwsProvider } from '@cdktf/provider-aws/lib/provider';
export { Route } from '@cdktf/provider-aws/lib/route';
export { RouteTable } from '@cdktf/provider-aws/lib/route-table';
export { RouteTableAssociation } from '@cdktf/provider-aws/lib/route-table-association';
export { S3Bucket } from '@cdktf/provider-aws/lib/s3-bucket';
export { S3BucketLifecycleConfiguration } from '@cdktf/provider-aws/lib/s3-bucket-lifecycle-configuration';
export type { S3BucketLifecycleConfigurationRule } from '@cdktf/provider-aws/lib/s3-bucket-lifecycle-configuration';
export { S3BucketLoggingA } from '@cdktf/provider-aws/lib/s3-bucket-logging';
export { S3BucketNotification } from '@cdktf/provider-aws/lib/s3-bucket-notification';
export { S3BucketObjectLockConfigurationA } from '@cdktf/provider-aws/lib/s3-bucket-object-lock-configuration';
export { S3BucketOwnershipControls } from '@cdktf/provider-aws/lib/s3-bucket-ownership-controls';
export { S3BucketPolicy } from '@cdktf/provider-aws/lib/s3-bucket-policy';
export { S3BucketPublicAccessBlock } from '@cdktf/provider-aws/lib/s3-bucket-public-access-block';
export { S3BucketServerSideEncryptionConfigurationA } from '@cdktf/provider-aws/lib/s3-bucket-server-side-encryption-configuration';
export { S3BucketVersioningA } from '@cdktf/provider-aws/lib/s3-bucket-versioning';
export { SecretsmanagerSecret } from '@cdktf/provider-aws/lib/secretsmanager-secret';
export { SecretsmanagerSecretVersion } from '@cdktf/provider-aws/lib/secretsmanager-secret-version';
export { SecurityGroup } from '@cdktf/provider-aws/lib/security-group';
export { SnsTopic } from '@cdktf/provider-aws/lib/sns-topic';
export { SnsTopicPolicy } from '@cdktf/provider-aws/lib/sns-topic-policy';
export { SnsTopicSubscription } from '@cdktf/provider-aws/lib/sns-topic-subscription';
export { SqsQueue } from '@cdktf/provider-aws/lib/sqs-queue';
export { SqsQueuePolicy } from '@cdktf/provider-aws/lib/sqs-queue-policy';
export { Subnet } from '@cdktf/provider-aws/lib/subnet';
export { Vpc } from '@cdktf/provider-aws/lib/vpc';
export { VpcEndpoint } from '@cdktf/provider-aws/lib/vpc-endpoint';
export { VpcSecurityGroupEgressRule } from '@cdktf/provider-aws/lib/vpc-security-group-egress-rule';
export { VpcSecurityGroupIngressRule } from '@cdktf/provider-aws/lib/vpc-security-group-ingress-rule';
