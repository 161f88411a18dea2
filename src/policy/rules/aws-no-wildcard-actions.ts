import { PolicyRule } from '../rule';

export const AwsNoWildcardActions: PolicyRule = {
  id: 'MLOPS-AWS1',
  cause: 'An IAM policy allows a wildcard action.',
  explanation: 'Workloads get the actions they call, named one by one; `s3:*` or `kms:*` grants what nobody reviewed.',
  evaluate(s) {
    if (s.kind !== 'terraform' || !['aws_iam_role_policy', 'aws_iam_policy', 'aws_kms_key'].includes(s.type)) return 'not-applicable';
    const document = s.config.policy;
    if (typeof document !== 'string') return 'not-applicable';
    const statements: any[] = JSON.parse(document).Statement ?? [];
    const allowed = statements.filter((st) => st.Effect === 'Allow').flatMap((st) => [].concat(st.Action ?? []));
    return allowed.some((a: string) => a.includes('*')) ? 'non-compliant' : 'compliant';
  },
};
