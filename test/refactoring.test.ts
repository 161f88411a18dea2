import { ClusterNetwork, Environment, GpuTrainingCluster, InstanceType, KubernetesStack, ModelRegistry, PlatformRefactoring, PlatformStack, PlatformTesting } from '../src';
import { onlyResource, resourcesOf, TEST_CLUSTER, testPlatform } from './harness/fixtures';
import { checkWithTerraform, expectTerraformOk, terraformTool } from './harness/terraform';
import { describeWithTool } from './harness/tools';

/** Every resource address of a synthesized stack, `type.name`. */
function addresses(stackJson: any): string[] {
  return Object.entries(stackJson.resource ?? {}).flatMap(([type, byName]) => Object.keys(byName as object).map((name) => `${type}.${name}`)).sort();
}

// A construct id is part of every Terraform address below it, and of the physical names derived from it:
// renamed without care, Terraform replaces the bucket and the database (data loss). Terraform's `moved`
// blocks (developer.hashicorp.com/terraform/language/modules/develop/refactoring) carry state to the new
// address; cdktf writes them with TerraformResource.moveFromId.
describe('renaming a stateful construct', () => {
  const synth = (id: string, formerId?: string) => {
    const { app, stack } = testPlatform();
    const registry = new ModelRegistry(stack, id, { cluster: TEST_CLUSTER, formerId });
    const out = PlatformTesting.synth(app);
    return { registry, aws: out.terraform.aws, docs: Object.values(out.manifests).flat() as any[] };
  };
  const before = synth('registry');
  const after = synth('models', 'registry');

  it('keeps every physical name: the bucket, the database, the keys, the roles', () => {
    const names = (aws: any) => ({
      buckets: Object.values(resourcesOf(aws, 'aws_s3_bucket')).map((b: any) => b.bucket).sort(),
      database: Object.values(resourcesOf(aws, 'aws_db_instance')).map((d: any) => d.identifier),
      aliases: Object.values(resourcesOf(aws, 'aws_kms_alias')).map((a: any) => a.name).sort(),
      roles: Object.values(resourcesOf(aws, 'aws_iam_role')).map((r: any) => r.name).sort(),
      secrets: Object.values(resourcesOf(aws, 'aws_secretsmanager_secret')).map((s: any) => s.name).sort(),
    });
    expect(names(after.aws)).toEqual(names(before.aws));
    expect(names(after.aws).buckets.length).toBeGreaterThan(0);
  });

  it('moves every resource from its old address, so the plan moves instead of replacing', () => {
    const moved = (after.aws.moved ?? []) as Array<{ from: string; to: string }>;
    const old = addresses(before.aws);
    const now = addresses(after.aws);
    // every old address is either still there or the source of exactly one move to a new one
    for (const address of old) {
      const target = moved.filter((m) => m.from === address).map((m) => m.to);
      expect({ address, kept: now.includes(address) || (target.length === 1 && now.includes(target[0])) }).toEqual({ address, kept: true });
    }
    expect(moved.map((m) => m.from)).toContain(old.find((a) => a.startsWith('aws_s3_bucket.registry_artifacts_bucket'))!);
    expect(moved.find((m) => m.from.startsWith('aws_db_instance.'))!.to).toMatch(/^aws_db_instance\.models_database_instance_/);
    expect(PlatformRefactoring.movesOf(after.registry)).toEqual(moved.map(({ from, to }) => ({ from, to })));
  });

  it('keeps the selector labels of its pods (a Deployment\'s selector is immutable)', () => {
    const selector = (docs: any[]) => docs.find((d) => d.kind === 'Deployment' && d.metadata.name === 'mlflow').spec.selector;
    expect(selector(after.docs)).toEqual(selector(before.docs));
  });

  it('refuses a former id that is the id, or not an id', () => {
    const { stack } = testPlatform();
    expect(() => new ModelRegistry(stack, 'registry', { cluster: TEST_CLUSTER, formerId: 'registry' })).toThrow(/ModelRegistry 'aws\/registry': formerId \('registry'\) is the construct's id: nothing was renamed/);
    expect(() => new ModelRegistry(stack, 'other', { cluster: TEST_CLUSTER, formerId: 'a/b' })).toThrow(/formerId \('a\/b'\) must be a construct id/);
  });

  describeWithTool(terraformTool, 'checked by terraform', () => {
    it('plans the renamed registry with its moved blocks (terraform validate and plan accept them)', () => {
      const plan = expectTerraformOk(checkWithTerraform(after.aws));
      expect(plan.planned_values.root_module.resources!.some((r) => r.type === 'aws_s3_bucket')).toBe(true);
    });
  });
});

// An ephemeral, non-production environment may opt in to a `terraform destroy` that removes its data;
// production never (there is no such option for it). Terraform: lifecycle prevent_destroy; RDS
// deletion_protection and skip_final_snapshot; S3 force_destroy; ECR force_delete; DynamoDB
// deletion_protection_enabled.
describe('destroyable stateful resources', () => {
  const synthIn = (environment: Environment) => {
    const app = PlatformTesting.app({ platform: { ...PlatformTesting.context, environment } });
    const stack = new PlatformStack(app, 'aws');
    new KubernetesStack(app, 'kubernetes', { clusterName: TEST_CLUSTER.clusterName });
    new ModelRegistry(stack, 'registry', { cluster: TEST_CLUSTER });
    new GpuTrainingCluster(stack, 'training', {
      network: ClusterNetwork.create({ availabilityZones: ['eu-west-1a', 'eu-west-1b'] }),
      gpuPools: [{ name: 'g5', instanceTypes: [InstanceType.g5('xlarge')], maxSize: 2 }],
    });
    return PlatformTesting.synth(app).terraform.aws;
  };
  const protectedCount = (aws: any) => Object.values(aws.resource as Record<string, Record<string, any>>)
    .flatMap((byName) => Object.values(byName)).filter((r) => r.lifecycle?.prevent_destroy === true).length;

  it('protects every stateful resource by default, in development too', () => {
    const aws = synthIn(Environment.development());
    expect(protectedCount(aws)).toBeGreaterThanOrEqual(6);
    expect(onlyResource(aws, 'aws_db_instance')).toMatchObject({ deletion_protection: true, skip_final_snapshot: false });
    expect(Object.values(resourcesOf(aws, 'aws_s3_bucket')).every((b: any) => b.force_destroy === false)).toBe(true);
  });

  it('lets an opted-in development environment destroy them, and says so everywhere', () => {
    const aws = synthIn(Environment.development('pr-42', { destroyable: { reason: 'a pull request environment, removed when it merges' } }));
    expect(protectedCount(aws)).toBe(0);
    expect(onlyResource(aws, 'aws_db_instance')).toMatchObject({ deletion_protection: false, skip_final_snapshot: true });
    expect(Object.values(resourcesOf(aws, 'aws_s3_bucket')).every((b: any) => b.force_destroy === true)).toBe(true);
    expect(Object.values(resourcesOf(aws, 'aws_ecr_repository')).every((r: any) => r.force_delete === true)).toBe(true);
  });

  it('never in production: the environment has no such option, and a reason must be given', () => {
    expect(Environment.production().destroyable).toBe(false);
    expect(() => synthIn(Environment.staging('stage', { destroyable: { reason: 'tmp' } })))
      .toThrow(/context\.environment\.destroyable\.reason \('tmp'\) must say why this environment may lose its data/);
  });
});
