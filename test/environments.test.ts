import * as path from 'path';
import { Environment, PlatformEnvironments, PlatformTesting } from '../src';
import { definition, environments } from '../examples/environments';
import { checkWithTerraform, expectTerraformOk, plannedResources, terraformTool } from './harness/terraform';
import { describeWithTool, tempDir } from './harness/tools';

// Dev, staging and production as the same platform at different sizes (#17): one definition, an app per
// environment with its own stacks, state keys and folders; production keeps every safeguard; the parity
// report says what differs beyond the declared sizes.
describe('environments from one definition', () => {
  const dir = tempDir('mlops-envs-');
  const envs = new PlatformEnvironments({ environments, definition, outdir: path.join(dir, 'cdktf.out'), manifestsOutdir: path.join(dir, 'k8s.out') });
  envs.synth();
  const staging = envs.synthesized('staging');
  const prod = envs.synthesized('prod');
  const report = envs.parity('staging', 'prod');

  it('writes each environment into its own folders, with its own state key and account', () => {
    expect(envs.apps.staging.outdir).toBe(path.join(dir, 'cdktf.out', 'staging'));
    expect(Object.keys(staging.manifests).length).toBeGreaterThan(0);
    expect(staging.terraform.scoring.terraform.backend.s3.key).toMatch(/^scoring\/staging\//);
    expect(prod.terraform.scoring.terraform.backend.s3.key).toMatch(/^scoring\/prod\//);
    expect(prod.terraform.scoring.provider.aws[0].allowed_account_ids).toEqual(['123456789012']);
  });

  it('keeps every production safeguard: prevent_destroy, deletion protection, Multi-AZ', () => {
    expect(PlatformEnvironments.productionSafeguards(prod)).toEqual([]);
    // the same check finds what staging does without (a single-AZ database)
    expect(PlatformEnvironments.productionSafeguards(staging)).toEqual([expect.objectContaining({ safeguard: 'multi_az must be true' })]);
  });

  it('names the differences beyond the declared sizes, and counts the sizes as declared', () => {
    const declared = report.differences.filter((d) => d.declared).map((d) => `${d.object} ${d.path}`);
    expect(declared).toEqual(expect.arrayContaining([expect.stringMatching(/aws_db_instance\.registry_database_instance_\w+ instance_class$/)]));
    const undeclared = report.undeclared.map((d) => `${d.object.replace(/_[0-9A-F]{8}$/, '')} ${d.path}`);
    // production runs a standby database and two MLflow replicas with a disruption budget: a reviewer sees them
    expect(undeclared).toEqual(expect.arrayContaining([expect.stringMatching(/aws_db_instance\.registry_database_instance multi_az$/)]));
    expect(undeclared.some((u) => /PodDisruptionBudget\/mlflow\/mlflow/.test(u) || /Deployment\/mlflow\/mlflow spec\.replicas/.test(u))).toBe(true);
    // names, accounts and regions are made comparable: no difference is only the environment's name
    expect(report.differences.filter((d) => typeof d.left === 'string' && typeof d.right === 'string' && String(d.left).replace('staging', 'prod') === d.right)).toEqual([]);
    expect(PlatformEnvironments.markdown(report)).toMatch(/^# Parity: staging vs prod\n\n\d+ difference\(s\) beyond the declared sizes/);
  });

  it('synthesizes one environment when asked (cdktf deploy of one), and refuses an unknown one', () => {
    expect(() => envs.synth('preprod')).toThrow(/PlatformEnvironments: environment \('preprod'\) is not declared; declared are 'staging', 'prod'/);
  });

  it('fails synth when a production environment lost a safeguard', () => {
    const broken = new PlatformEnvironments({
      environments: { prod: environments.prod },
      definition: (app, env) => {
        const { registry } = definition(app, env);
        registry.database.instance.addOverride('deletion_protection', false);
      },
      outdir: path.join(dir, 'broken.out'), manifestsOutdir: path.join(dir, 'broken-k8s.out'),
    });
    expect(() => broken.synth()).toThrow(/production environment 'prod' lacks its safeguards:\n- scoring\/aws_db_instance\.registry_database_instance_\w+: deletion_protection must be true/);
    expect(Environment.production().destroyable).toBe(false);
  });

  it('passes the platform check in both environments', () => {
    for (const app of Object.values(envs.apps)) expect(PlatformTesting.findings(app)).toEqual([]);
  });

  describeWithTool(terraformTool, 'checked by terraform', () => {
    it('plans production offline, Multi-AZ with deletion protection', () => {
      const plan = expectTerraformOk(checkWithTerraform(prod.terraform.scoring));
      expect(plannedResources(plan, 'aws_db_instance')[0].values).toMatchObject({ multi_az: true, deletion_protection: true, instance_class: 'db.m7g.large' });
    });
  });
});
