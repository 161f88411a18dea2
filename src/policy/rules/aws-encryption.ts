import { PolicyRule } from '../rule';

export const AwsEncryption: PolicyRule = {
  id: 'MLOPS-AWS3',
  cause: 'Data at rest is not encrypted, or a customer key does not rotate.',
  explanation: 'Buckets have default encryption, databases and file systems encrypted storage, and customer keys yearly rotation.',
  evaluate(s) {
    if (s.kind !== 'terraform') return 'not-applicable';
    const c = s.config;
    switch (s.type) {
      case 'aws_kms_key': return c.enable_key_rotation === true ? 'compliant' : 'non-compliant';
      case 'aws_db_instance': return c.storage_encrypted === true ? 'compliant' : 'non-compliant';
      case 'aws_efs_file_system': return c.encrypted === true ? 'compliant' : 'non-compliant';
      case 'aws_fsx_lustre_file_system': return c.kms_key_id ? 'compliant' : 'non-compliant';
      case 'aws_sns_topic': return c.kms_master_key_id ? 'compliant' : 'non-compliant';
      case 'aws_s3_bucket': {
        const sse = Object.values(s.stackJson.resource?.aws_s3_bucket_server_side_encryption_configuration ?? {});
        return sse.some((e: any) => e.bucket === `\${aws_s3_bucket.${s.name}.id}`) ? 'compliant' : 'non-compliant';
      }
      default: return 'not-applicable';
    }
  },
};
