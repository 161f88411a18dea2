import { PolicyRule } from '../rule';

/** Resource types that hold data (or keys to it, or the workloads' cluster): losing one loses data. */
export const STATEFUL_TYPES = ['aws_s3_bucket', 'aws_db_instance', 'aws_kms_key', 'aws_fsx_lustre_file_system', 'aws_efs_file_system', 'aws_ecr_repository', 'aws_eks_cluster',
  'aws_dynamodb_table', 'aws_elasticache_replication_group'];

export const AwsStatefulProtected: PolicyRule = {
  id: 'MLOPS-AWS2',
  cause: 'A stateful resource can be destroyed by Terraform.',
  explanation: 'Buckets, databases, tables, caches, file systems, repositories, keys and EKS clusters carry `prevent_destroy`, so a renamed construct or a careless destroy fails instead of deleting data.',
  evaluate(s) {
    if (s.kind !== 'terraform' || !STATEFUL_TYPES.includes(s.type)) return 'not-applicable';
    return s.config.lifecycle?.prevent_destroy === true ? 'compliant' : 'non-compliant';
  },
};
