import * as fs from 'fs';
import * as path from 'path';
import { KubernetesStack, ModelRegistry, PlatformStack, PlatformSynthesis, PlatformTesting, readSynthesis, reviewChanges, reviewReport } from '../src';
import { reviewCommand } from '../src/review/cli';
import { TEST_CLUSTER } from './harness/fixtures';

/** A platform with a model registry (a KMS key, three buckets, a database) under construct id `id`. */
function registryPlatform(options: { id?: string; bucketName?: string; replicas?: number } = {}) {
  const app = PlatformTesting.app();
  const stack = new PlatformStack(app, 'aws');
  new ModelRegistry(stack, options.id ?? 'registry', { cluster: TEST_CLUSTER, bucketName: options.bucketName, server: { replicas: options.replicas } });
  new KubernetesStack(app, 'kubernetes', { clusterName: TEST_CLUSTER.clusterName });
  return { app, out: PlatformTesting.synth(app) };
}

describe('reviewReport', () => {
  let base: { app: ReturnType<typeof PlatformTesting.app>; out: PlatformSynthesis };
  beforeAll(() => { base = registryPlatform(); });

  it('names each destroyed stateful resource in its first lines when a stateful construct is renamed', () => {
    // GIVEN the registry renamed from 'registry' to 'model-registry' (every address under it moves)
    const head = registryPlatform({ id: 'model-registry' });
    // WHEN the change is reviewed
    const report = reviewReport(base.out, head.out);
    // THEN the first lines say, before anything else, which stateful resources would be destroyed
    const stateful = PlatformTesting.statefulAddresses(base.out);
    expect(stateful).toEqual([
      'aws/aws_db_instance.registry_database_instance_B1D07D13',
      'aws/aws_kms_key.registry_key_CFCE5361',
      'aws/aws_s3_bucket.registry_access-logs_bucket_9C989FB6',
      'aws/aws_s3_bucket.registry_artifacts_bucket_DEAE7B2C',
      'aws/aws_s3_bucket.registry_audit-trail_bucket_0B94E4D4',
    ]);
    const lines = report.split('\n');
    expect(lines[0]).toBe('!!! 5 STATEFUL RESOURCES WOULD BE DESTROYED OR REPLACED (data is lost):');
    for (const [i, address] of stateful.entries()) {
      expect(lines[i + 1]).toMatch(new RegExp(`^!!! DESTROYED: ${address.replace(/[.]/g, '\\.')} \\(construct 'aws/registry/`));
      // the suggestion: the same type is added under the new id, so keep the id or move the state
      expect(lines[i + 1]).toContain("keep the old construct id, or move the state with a Terraform 'moved' block");
      expect(lines[i + 1]).toContain(`moveFromId('${address.split('/')[1]}')`);
      expect(lines[i + 1]).toContain('prevent_destroy');
    }
    // and, per construct, what is added and removed
    expect(report).toContain('\naws/model-registry: ');
    expect(report).toContain('\n  + aws_s3_bucket.model-registry_artifacts_bucket_');
    expect(report).toContain('\n  - aws_s3_bucket.registry_artifacts_bucket_DEAE7B2C');
  });

  it('reports a replaced bucket when its name, which forces a new resource, changes', () => {
    const head = registryPlatform({ bucketName: 'acme-dev-models-123456789012' });
    const review = reviewChanges(base.out, head.out);
    expect(review.statefulLosses.map((l) => [l.kind, l.address])).toEqual([['replaced', 'aws/aws_s3_bucket.registry_artifacts_bucket_DEAE7B2C']]);
    expect(review.statefulLosses[0].detail).toMatch(/^bucket \("acme-dev-registry-123456789012" -> "acme-dev-models-123456789012"\) forces a new resource/);
    expect(reviewReport(base.out, head.out).split('\n')[1]).toContain('!!! REPLACED: aws/aws_s3_bucket.registry_artifacts_bucket_DEAE7B2C');
  });

  it('says in a few lines what changes when nothing stateful is lost', () => {
    const head = registryPlatform({ replicas: 3 });
    const report = reviewReport(base.out, head.out);
    expect(report.split('\n')[0]).toBe('No stateful resource is destroyed or replaced.');
    expect(report).toContain([
      '1 added, 1 changed, 0 removed, in 1 construct.', '',
      'aws/registry.k8s.yaml: 1 added, 1 changed', '  + PodDisruptionBudget mlflow/mlflow', '  ~ Deployment mlflow/mlflow: spec.replicas', '',
    ].join('\n'));
    expect(reviewReport(base.out, base.out)).toBe('No stateful resource is destroyed or replaced.\n\n0 added, 0 changed, 0 removed, in 0 constructs.\n');
  });

  it('compares two synth output folders from the command line, and fails when stateful data would be lost', () => {
    const head = registryPlatform({ id: 'model-registry' });
    const baseDir = path.dirname(base.app.outdir);
    expect(readSynthesis(baseDir).terraform).toEqual(JSON.parse(JSON.stringify(base.out.terraform)));
    let out = '';
    expect(reviewCommand([baseDir, head.app.outdir], (t) => { out += t; }, () => undefined)).toBe(1);
    expect(out).toBe(reviewReport(readSynthesis(baseDir), readSynthesis(head.app.outdir)));
    expect(out.split('\n')[0]).toMatch(/^!!! 5 STATEFUL RESOURCES/);
    expect(reviewCommand([baseDir, baseDir], () => undefined, () => undefined)).toBe(0);
    let err = '';
    expect(reviewCommand([baseDir, path.join(baseDir, 'nothing')], () => undefined, (t) => { err += t; })).toBe(2);
    expect(err).toContain("holds no synth output: expected '");
  });
});

describe('PlatformTesting.synth', () => {
  it('holds no path of the machine or of its temporary folder, and rewrites none', () => {
    const { app, out } = registryPlatform();
    const text = JSON.stringify(out);
    expect(Object.keys(out).sort()).toEqual(['manifests', 'terraform']);
    expect(text).not.toContain(path.dirname(app.outdir));
    expect(text).not.toContain('<tmp>');
    // the manifests are what the app wrote, container paths included
    const written = fs.readFileSync(path.join(app.manifestsOutdir, 'aws', 'registry.k8s.yaml'), 'utf8');
    expect(written).toContain('mountPath: /tmp');
    expect(text).toContain('"mountPath":"/tmp"');
  });
});
