import { EksCluster, Environment, IEksCluster, KubernetesStack, PlatformApp, PlatformStack, PlatformTesting } from '../../src';

/** A cluster created elsewhere, as tests refer to it. */
export const TEST_CLUSTER: IEksCluster = EksCluster.fromAttributes({
  clusterName: 'acme-dev',
  vpcId: 'vpc-0123456789abcdef0',
  vpcCidr: '10.0.0.0/16',
  privateSubnetIds: ['subnet-0123456789abcdef1', 'subnet-0123456789abcdef2'],
  workloadSecurityGroupId: 'sg-0123456789abcdef0',
});

/** An app with one AWS stack and the KubernetesStack, in a development or production environment. */
export function testPlatform(options: { production?: boolean } = {}): { app: PlatformApp; stack: PlatformStack; kubernetes: KubernetesStack } {
  const app = PlatformTesting.app({
    platform: { ...PlatformTesting.context, environment: options.production ? Environment.production() : Environment.development() },
  });
  const stack = new PlatformStack(app, 'aws');
  const kubernetes = new KubernetesStack(app, 'kubernetes', { clusterName: TEST_CLUSTER.clusterName });
  return { app, stack, kubernetes };
}

/** The resources of one type in a synthesized stack, by logical id. */
export function resourcesOf(stackJson: any, type: string): Record<string, any> {
  return stackJson.resource?.[type] ?? {};
}

/** The one resource of a type in a synthesized stack (fails when there are several or none). */
export function onlyResource(stackJson: any, type: string): any {
  const all = Object.values(resourcesOf(stackJson, type));
  if (all.length !== 1) throw new Error(`expected one ${type}, found ${all.length}`);
  return all[0];
}

/** Every IAM action granted (Allow) by the role policies of a synthesized stack. */
export function grantedActions(stackJson: any): string[] {
  return Object.values(resourcesOf(stackJson, 'aws_iam_role_policy')).flatMap((p: any) => policyStatements(p.policy)
    .filter((s: any) => s.Effect === 'Allow').flatMap((s: any) => s.Action));
}

/** The statements of a policy document (JSON in which references are `${...}` interpolations). */
export function policyStatements(policy: string): any[] {
  return JSON.parse(policy).Statement;
}
