import * as fs from 'fs';
import * as path from 'path';
import { KUBERNETES_API_VERSION, TerraformResource } from '../src/engine';
import { PlatformTesting } from '../src';
import { buildReferencePlatform, REFERENCE_CONTEXT } from '../stacks/platform';

import { spawnSync } from 'child_process';

/** What the project's lint says of a source file placed at `file` (the real eslint CLI and config). */
function lint(source: string, file = 'src/core/probe.ts'): string {
  const root = path.join(__dirname, '..');
  const r = spawnSync(path.join(root, 'node_modules', '.bin', 'eslint'), ['--stdin', '--stdin-filename', file], { cwd: root, input: source, encoding: 'utf8' });
  return `${r.stdout}${r.stderr}`;
}

describe('the engine boundary', () => {
  const root = path.join(__dirname, '..');

  it.each([
    ["import { k8s } from 'cdk8s-plus-34/lib/imports/k8s';"],
    ["import { KubeDeployment } from 'cdk8s-plus-35';"],
    ["import { App } from 'cdktn';"],
    ["import { App } from 'cdktf';"],
    ["import { Chart } from 'cdk8s';"],
    ["import { AwsProvider } from '@cdktn/provider-aws';"],
    // (assembled, so that no scan of this repository mistakes the probe for a real barrel import)
    [`import { AwsProvider } from '@cdktf/${'provider-aws'}';`],
    ["const cdktf = require('cdktf'); export { cdktf };"],
  ])('lint refuses, outside src/engine.ts: %s', (source) => {
    expect(lint(source)).toMatch(/error .*(src\/engine\.ts|barrel)/);
  });

  it('lint accepts a deep provider import in the provider module only, so a provider package rename is a change in one file', () => {
    const deep = "import { S3Bucket } from '@cdktf/provider-aws/lib/s3-bucket';\nexport { S3Bucket };\n";
    expect(lint(deep, 'src/providers/aws.ts')).not.toMatch(/error/);
    expect(lint(deep)).toMatch(/error .*Import provider classes from src\/providers\/<provider>\.ts/);
    expect(lint("import { S3Bucket } from '@cdktn/provider-aws/lib/s3-bucket';\nexport { S3Bucket };\n", 'test/probe.test.ts')).toMatch(/error .*src\/providers/);
    // and every provider import of the library goes through those modules today
    const root = path.join(__dirname, '..');
    const files = (dir: string): string[] => fs.readdirSync(dir, { withFileTypes: true })
      .flatMap((e) => (e.isDirectory() ? files(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : []));
    const direct = ['src', 'stacks', 'examples'].flatMap((d) => files(path.join(root, d)))
      .filter((f) => /from '@cdk(tf|tn)\/provider-/.test(fs.readFileSync(f, 'utf8'))).map((f) => path.relative(root, f));
    expect(direct.sort()).toEqual(['src/providers/aws.ts', 'src/providers/helm.ts', 'src/providers/kubernetes.ts']);
  });

  it('targets the Kubernetes API of the cdk8s-plus package it imports', () => {
    const engine = fs.readFileSync(path.join(root, 'src', 'engine.ts'), 'utf8');
    const minor = /from 'cdk8s-plus-(\d+)\/lib\/imports\/k8s'/.exec(engine)?.[1];
    expect(`1.${minor}`).toBe(KUBERNETES_API_VERSION);
  });
});

describe('the reference platform on either engine', () => {
  const app = PlatformTesting.app({ platform: REFERENCE_CONTEXT });
  buildReferencePlatform(app);
  const out = PlatformTesting.synth(app);

  it('tags every taggable resource, recognised by the engine\'s own isTerraformResource (not instanceof)', () => {
    // GIVEN every resource in the construct tree that takes tags
    const taggable = app.node.findAll().filter((c) => TerraformResource.isTerraformResource(c) && 'tagsInput' in c) as TerraformResource[];
    // THEN each carries the platform's cost-attribution tags in the synthesized JSON
    const untagged = taggable.filter((r) => {
      const stack = r.node.scopes[1].node.id;
      const json = out.terraform[stack]?.resource?.[r.terraformResourceType]?.[r.friendlyUniqueId];
      return !json?.tags?.['mlops.io/platform'];
    }).map((r) => r.node.path);
    expect(untagged).toEqual([]);
    expect(taggable.length).toBeGreaterThan(50);
  });

  it('writes no engine version into what reviews and snapshots compare', () => {
    expect(Object.values(out.terraform).map((s: any) => s['//']?.metadata?.version)).toEqual(Object.keys(out.terraform).map(() => undefined));
  });

  // CI runs the suite twice, on cdktf and on CDK Terrain: the first leg exports its synthesis and the
  // second compares. Outside CI both variables are unset and this only exports nothing.
  it('synthesizes the same Terraform JSON on both engines (apart from metadata)', () => {
    const exportTo = process.env.MLOPS_ENGINE_SYNTH_EXPORT;
    const compareWith = process.env.MLOPS_ENGINE_SYNTH_COMPARE;
    const terraform = JSON.stringify(out.terraform, null, 1);
    if (exportTo) fs.writeFileSync(exportTo, terraform);
    if (compareWith) {
      const other = fs.readFileSync(compareWith, 'utf8');
      expect(terraform === other ? 'identical' : firstDifference(terraform, other)).toBe('identical');
    }
    expect(terraform.length).toBeGreaterThan(1000);
  });
});

function firstDifference(a: string, b: string): string {
  const al = a.split('\n');
  const bl = b.split('\n');
  const i = al.findIndex((line, k) => line !== bl[k]);
  return `line ${i + 1}: this engine '${al[i]}' vs the other '${bl[i]}'`;
}
