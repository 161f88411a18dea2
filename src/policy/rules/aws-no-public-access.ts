import { PolicyRule } from '../rule';

export const AwsNoPublicAccess: PolicyRule = {
  id: 'MLOPS-AWS4',
  cause: 'A bucket has no complete public access block, or a database is publicly accessible.',
  explanation: 'Nothing of the platform is reachable from the internet by accident.',
  evaluate(s) {
    if (s.kind !== 'terraform') return 'not-applicable';
    if (s.type === 'aws_db_instance') return s.config.publicly_accessible === false ? 'compliant' : 'non-compliant';
    if (s.type !== 'aws_s3_bucket') return 'not-applicable';
    const blocks = Object.values(s.stackJson.resource?.aws_s3_bucket_public_access_block ?? {}) as any[];
    const block = blocks.find((b) => b.bucket === `\${aws_s3_bucket.${s.name}.id}`);
    const all = block && block.block_public_acls && block.block_public_policy && block.ignore_public_acls && block.restrict_public_buckets;
    return all ? 'compliant' : 'non-compliant';
  },
};
