import { spawnSync, SpawnSyncReturns } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

/**
 * Real tools nobody here wrote check what the library generates: terraform (with the hashicorp/aws
 * provider from a filesystem mirror), promtool and the Kubernetes schemas. Where a tool is missing
 * (a laptop), its tests are skipped with the reason printed; with MLOPS_REQUIRE_TOOLS=1 (set by
 * .ci/run) a missing tool fails the run instead.
 */
export const REQUIRE_TOOLS = process.env.MLOPS_REQUIRE_TOOLS === '1';

export interface ToolStatus {
  readonly available: boolean;
  readonly reason?: string;
}

const skipped = new Set<string>();

/** `describe` when the tool is there; otherwise a skipped block that says why (or a failure in CI). */
export function describeWithTool(tool: ToolStatus, name: string, fn: () => void): void {
  if (tool.available) {
    describe(name, fn);
    return;
  }
  if (REQUIRE_TOOLS) {
    describe(name, () => {
      it('has the tool it needs (MLOPS_REQUIRE_TOOLS=1)', () => {
        throw new Error(`required tool missing: ${tool.reason}`);
      });
    });
    return;
  }
  if (!skipped.has(tool.reason!)) {
    skipped.add(tool.reason!);
    process.stderr.write(`[skip] ${name}: ${tool.reason}\n`);
  }
  describe.skip(`${name} (skipped: ${tool.reason})`, fn);
}

/** Runs a command; returns its output and status. */
export function run(command: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {}): SpawnSyncReturns<string> {
  return spawnSync(command, args, { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, ...options });
}

export function onPath(command: string): boolean {
  return run('sh', ['-c', `command -v ${command}`]).status === 0;
}

/** A fresh temporary folder. */
export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}
