import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { PlatformTesting } from '../src';
import { checkWithTerraform, terraformTool } from './harness/terraform';
import { describeWithTool, tempDir } from './harness/tools';

/** Tests do not step on each other: each run has its own temporary folder, and the harness cleans up. */
describe('a test run\'s temporary folder', () => {
  it('is one of its own, which every temporary folder of the tests is in', () => {
    const runDir = process.env.MLOPS_TEST_RUN_DIR!;
    expect(path.basename(runDir)).toMatch(/^mlops-test-run-/);
    expect(os.tmpdir()).toBe(runDir);
    expect(path.dirname(tempDir('mlops-probe-'))).toBe(runDir);
    expect(path.dirname(path.dirname(PlatformTesting.app().outdir))).toBe(runDir);
  });
});

describeWithTool(terraformTool, 'the terraform harness', () => {
  it('leaves no work folder behind when terraform fails, and uses no shared plugin cache', () => {
    // GIVEN a stack whose provider is not in the mirror, so that `terraform init` fails
    const stack = { terraform: { required_providers: { null: { source: 'hashicorp/null', version: '3.2.4' } } }, resource: { null_resource: { x: {} } } };
    // WHEN it is checked
    expect(() => checkWithTerraform(stack)).toThrow(/terraform init failed/);
    // THEN its work folder is gone, and nothing was put in a plugin cache (what stays: cached results and the
    // initialised copies of stacks that passed init, reused by plan and graph and removed with the run's TMPDIR)
    const cache = path.join(os.tmpdir(), 'mlops-terraform-harness');
    expect(fs.readdirSync(cache).filter((f) => !f.endsWith('.json') && !/^[0-9a-f]{16}-init$/.test(f))).toEqual([]);
  });
});
