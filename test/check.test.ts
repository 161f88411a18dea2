import { PlatformCheck, PlatformCheckError, PlatformChecks, PlatformModel, PlatformTesting, finding, runPlatformChecks, selects, cpuMillis, bytesOf } from '../src';
import { testPlatform } from './harness/fixtures';
import { ModelRegistry } from '../src';
import { TEST_CLUSTER } from './harness/fixtures';

/** A check of a user's own: no ConfigMap may be called 'forbidden'. */
const noForbidden: PlatformCheck = {
  id: 'no-forbidden-configmap',
  description: 'No ConfigMap is called forbidden',
  upstream: 'a team rule',
  check: (p) => p.kind('ConfigMap').filter((o) => o.object.metadata.name === 'mlflow-gate').map((o) => finding('no-forbidden-configmap', o, 'it is called mlflow-gate', 'rename it')),
};

describe('the platform check', () => {
  it('runs checks a user adds, fails synth naming the construct path, the object and the fix', () => {
    // GIVEN a platform with a registry, and a check that refuses its gate ConfigMap
    const { app, stack } = testPlatform();
    new ModelRegistry(stack, 'registry', { cluster: TEST_CLUSTER });
    PlatformChecks.add(app, noForbidden);
    // WHEN synthesized, THEN synth fails with a report naming the check, the path, the object and the fix
    expect(() => app.synth()).toThrow(PlatformCheckError);
    expect(() => app.synth()).toThrow(/\[no-forbidden-configmap\] 'aws\/registry': ConfigMap mlflow\/mlflow-gate \(aws\/registry\.k8s\.yaml\): it is called mlflow-gate\n {2}Fix: rename it/);
    expect(PlatformTesting.findings(app).map((f) => f.check)).toEqual(['no-forbidden-configmap']);
  });

  it('honours a suppression with a reason on the construct and everything under it, and refuses one without', () => {
    const { app, stack } = testPlatform();
    const registry = new ModelRegistry(stack, 'registry', { cluster: TEST_CLUSTER });
    PlatformChecks.add(app, noForbidden);
    PlatformChecks.suppress(registry, 'no-forbidden-configmap', 'the gate is called so by design');
    expect(PlatformTesting.findings(app)).toEqual([]);
    expect(() => PlatformChecks.suppress(registry, 'x', 'no')).toThrow(/'aws\/registry': the suppression of platform check 'x' needs a reason of at least 10 characters/);
    expect(() => PlatformChecks.add(app, noForbidden)).toThrow(/a platform check with id 'no-forbidden-configmap' is added already/);
  });

  it('reads a synthesized platform as a pure function (for a user\'s own synth output)', () => {
    const model = new PlatformModel({
      terraform: { k: { resource: { helm_release: { a: { name: 'x', chart: 'c', namespace: 'n', create_namespace: true, values: ['{"a":{"b":1}}', '{"a":{"c":2}}'] } } } } },
      manifests: { 'f.k8s.yaml': [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'm' } }] },
    });
    expect(model.helmReleases()[0].values).toEqual({ a: { b: 1, c: 2 } });
    expect([...model.namespaces().keys()]).toEqual(expect.arrayContaining(['n', 'm', 'kube-system']));
    expect(runPlatformChecks(model, [noForbidden])).toEqual([]);
  });

  it('matches label selectors and reads quantities as the API server does', () => {
    expect(selects({ matchLabels: { a: '1' }, matchExpressions: [{ key: 'b', operator: 'In', values: ['2'] }] }, { a: '1', b: '2' })).toBe(true);
    expect(selects({ matchExpressions: [{ key: 'b', operator: 'DoesNotExist' }] }, { b: '2' })).toBe(false);
    expect(selects({ a: '1' }, { a: '1' })).toBe(true);
    expect(cpuMillis('1500m')).toBe(1500);
    expect(cpuMillis('2')).toBe(2000);
    expect(bytesOf('1Gi')).toBe(2 ** 30);
    expect(bytesOf('2G')).toBe(2e9);
    expect(bytesOf('2GB')).toBeUndefined();
  });
});
