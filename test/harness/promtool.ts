import * as fs from 'fs';
import * as path from 'path';
import { onPath, run, tempDir, ToolStatus } from './tools';
import { Yaml } from '../../src/engine';

export const promtoolTool: ToolStatus = onPath('promtool')
  ? { available: true }
  : { available: false, reason: 'promtool is not on PATH (apt-get install prometheus)' };

/** The rule groups of every PrometheusRule in a set of manifests, as a Prometheus rule file. */
export function ruleFileOf(manifests: Record<string, any[]>): { groups: any[] } {
  const groups = Object.values(manifests).flat()
    .filter((d) => d.kind === 'PrometheusRule')
    .flatMap((d) => d.spec.groups);
  return { groups };
}

/** `promtool check rules` on a rule file; returns its status and output. */
export function checkRules(ruleFile: { groups: any[] }): { ok: boolean; output: string } {
  const dir = tempDir('mlops-promtool-');
  const file = path.join(dir, 'rules.yaml');
  fs.writeFileSync(file, Yaml.stringify(ruleFile));
  const r = run('promtool', ['check', 'rules', file]);
  return { ok: r.status === 0, output: `${r.stdout}${r.stderr}` };
}

/**
 * `promtool test rules` with the given rule groups and a unit-test document (the part of a promtool
 * test file below `rule_files`: `evaluation_interval`, `tests`).
 */
export function testRules(ruleFile: { groups: any[] }, tests: Record<string, unknown>): { ok: boolean; output: string } {
  const dir = tempDir('mlops-promtool-');
  fs.writeFileSync(path.join(dir, 'rules.yaml'), Yaml.stringify(ruleFile));
  fs.writeFileSync(path.join(dir, 'tests.yaml'), Yaml.stringify({ rule_files: ['rules.yaml'], ...tests }));
  const r = run('promtool', ['test', 'rules', 'tests.yaml'], { cwd: dir });
  return { ok: r.status === 0, output: `${r.stdout}${r.stderr}` };
}
