import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { AWS_PROVIDER_PACKAGE } from '../../src/providers/aws';
import { onPath, run, ToolStatus } from './tools';

/** The hashicorp/aws provider version the installed binding (@cdktf/provider-aws) was generated for. */
export const AWS_PROVIDER_VERSION: string = require(`${AWS_PROVIDER_PACKAGE}/package.json`).cdktf.provider.version;

const MIRROR_CANDIDATES = [
  process.env.TF_PROVIDER_MIRROR,
  '/opt/tf-plugins',
  path.join(os.homedir(), '.terraform.d', 'plugins'),
  path.join(os.homedir(), '.local', 'share', 'terraform', 'plugins'),
  '/usr/local/share/terraform/plugins',
  '/usr/share/terraform/plugins',
].filter((p): p is string => !!p);

function findMirror(): string | undefined {
  return MIRROR_CANDIDATES.find((dir) => fs.existsSync(path.join(dir, 'registry.terraform.io', 'hashicorp', 'aws', AWS_PROVIDER_VERSION)));
}

export const terraformTool: ToolStatus = (() => {
  if (!onPath('terraform')) return { available: false, reason: 'terraform is not on PATH' };
  if (!findMirror()) {
    return { available: false, reason: `no filesystem mirror of hashicorp/aws ${AWS_PROVIDER_VERSION} in ${MIRROR_CANDIDATES.join(', ')} (set TF_PROVIDER_MIRROR)` };
  }
  return { available: true };
})();

/** What terraform said of a stack. */
export interface TerraformCheck {
  /** `terraform validate -json`. */
  readonly validate: { valid: boolean; diagnostics: Array<{ severity: string; summary: string; detail?: string }> };
  /** `terraform show -json` of the offline plan, when validate passed and a plan was asked for. */
  readonly plan?: TerraformPlan;
  /** What plan printed when it failed. */
  readonly planError?: string;
}

export interface PlannedResource {
  readonly address: string;
  readonly type: string;
  readonly name: string;
  readonly values: Record<string, any>;
}

export interface TerraformPlan {
  readonly planned_values: { root_module: { resources?: PlannedResource[] } };
  readonly resource_changes: Array<{ address: string; type: string; change: { actions: string[] } }>;
  readonly configuration: any;
}

/** Bump when the way stacks are checked changes, so cached results are not reused. */
const HARNESS_VERSION = '1';
const CACHE = path.join(os.tmpdir(), 'mlops-terraform-harness');

/**
 * Runs the real terraform on one synthesized stack (`cdk.tf.json`), in a copy: `init` from the
 * provider mirror (no network), `validate`, and optionally `plan -refresh=false` with fake
 * credentials and the provider's skip_* flags set in an override file that only the copy has.
 * Results are cached by the stack's content, so several tests of one stack run terraform once.
 */
export function checkWithTerraform(stackJson: string | object, options: { plan?: boolean } = {}): TerraformCheck {
  const json = typeof stackJson === 'string' ? stackJson : JSON.stringify(stackJson);
  const config = JSON.parse(json);
  const override = JSON.stringify(offlineOverride(config), null, 2);
  const key = createHash('sha256').update(HARNESS_VERSION).update(override).update(json).update(String(options.plan ?? true)).digest('hex').slice(0, 16);
  const resultFile = path.join(CACHE, `${key}.json`);
  if (fs.existsSync(resultFile)) return JSON.parse(fs.readFileSync(resultFile, 'utf8'));

  const { dir, env } = initializedCopy(json, override);
  const validateRun = run('terraform', ['validate', '-json', '-no-color'], { cwd: dir, env });
  const validate = JSON.parse(validateRun.stdout);
  let result: TerraformCheck = { validate };
  if (validate.valid && (options.plan ?? true)) {
    // A plan file of this process's own: test workers checking the same stack share the copy.
    const planFile = `plan-${process.pid}.bin`;
    const plan = run('terraform', ['plan', '-refresh=false', '-input=false', '-lock=false', '-no-color', `-out=${planFile}`], { cwd: dir, env });
    if (plan.status !== 0) {
      result = { validate, planError: `${plan.stdout}\n${plan.stderr}` };
    } else {
      const show = run('terraform', ['show', '-json', planFile], { cwd: dir, env });
      fs.rmSync(path.join(dir, planFile), { force: true });
      if (show.status !== 0) throw new Error(`terraform show failed:\n${show.stderr}`);
      result = { validate, plan: JSON.parse(show.stdout) };
    }
  }
  fs.writeFileSync(`${resultFile}.${process.pid}`, JSON.stringify(result));
  fs.renameSync(`${resultFile}.${process.pid}`, resultFile);
  return result;
}

/**
 * A copy of the stack with `terraform init` done (provider mirror, no network), kept by the
 * stack's content so that `checkWithTerraform` and `terraformGraph` of one stack init once.
 */
function initializedCopy(json: string, override: string): { dir: string; env: NodeJS.ProcessEnv } {
  const key = createHash('sha256').update(HARNESS_VERSION).update(override).update(json).digest('hex').slice(0, 16);
  const dir = path.join(CACHE, `${key}-init`);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    TF_CLI_CONFIG_FILE: path.join(dir, 'terraform.rc'),
    TF_IN_AUTOMATION: '1',
    CHECKPOINT_DISABLE: '1',
    AWS_ACCESS_KEY_ID: 'AKIAIOSFODNN7EXAMPLE',
    AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
    AWS_EC2_METADATA_DISABLED: 'true',
  };
  delete env.AWS_PROFILE;
  if (fs.existsSync(path.join(dir, '.initialized'))) return { dir, env };

  // Built in a folder of this process's own, then renamed into place, so that workers do not collide.
  const work = `${dir}-${process.pid}`;
  fs.rmSync(work, { recursive: true, force: true });
  fs.mkdirSync(work, { recursive: true });
  fs.writeFileSync(path.join(work, 'cdk.tf.json'), json);
  fs.writeFileSync(path.join(work, 'harness_override.tf.json'), override);
  fs.writeFileSync(path.join(work, 'terraform.rc'), `provider_installation {
  filesystem_mirror {
    path    = "${findMirror()}"
    include = ["registry.terraform.io/hashicorp/aws"]
  }
  direct {
    exclude = ["registry.terraform.io/*/*"]
  }
}
`);
  // No plugin cache: terraform links the provider straight from the mirror, and a shared cache was
  // rewritten by concurrent runs. (Each test run has its own TMPDIR, set by jest's global setup.)
  const init = run('terraform', ['init', '-input=false', '-no-color'], { cwd: work, env: { ...env, TF_CLI_CONFIG_FILE: path.join(work, 'terraform.rc') } });
  if (init.status !== 0) {
    // a copy that failed to init is of no use to anyone: it goes
    fs.rmSync(work, { recursive: true, force: true });
    throw new Error(`terraform init failed:\n${init.stdout}\n${init.stderr}`);
  }
  fs.writeFileSync(path.join(work, '.initialized'), '');
  try {
    fs.renameSync(work, dir);
  } catch {
    // Another worker was first: use its copy.
    fs.rmSync(work, { recursive: true, force: true });
  }
  return { dir, env };
}

/** The dependency graph terraform builds of a stack: which resource waits for which. */
export interface TerraformGraph {
  /** Resource addresses (`aws_eks_cluster.x`). */
  readonly nodes: string[];
  /** `[from, to]`: `from` is created after `to` (it depends on it, directly). */
  readonly edges: Array<[string, string]>;
  /** Whether `from` is created after `to`, directly or through other resources. */
  dependsOn(from: string, to: string): boolean;
}

/**
 * Runs the real `terraform graph` on one stack (in the same init'ed copy as `checkWithTerraform`)
 * and parses its DOT output into resource-to-resource edges.
 */
export function terraformGraph(stackJson: string | object): TerraformGraph {
  const json = typeof stackJson === 'string' ? stackJson : JSON.stringify(stackJson);
  const override = JSON.stringify(offlineOverride(JSON.parse(json)), null, 2);
  const { dir, env } = initializedCopy(json, override);
  const graph = run('terraform', ['graph', '-no-color'], { cwd: dir, env });
  if (graph.status !== 0) throw new Error(`terraform graph failed:\n${graph.stdout}\n${graph.stderr}`);
  const nodes = new Set<string>();
  const edges: Array<[string, string]> = [];
  const name = (raw: string) => raw.replace(/^\[root\] /, '').replace(/ \(expand\)$/, '');
  for (const line of graph.stdout.split('\n')) {
    const edge = /^\s*"([^"]+)"\s*->\s*"([^"]+)"/.exec(line);
    if (edge) {
      edges.push([name(edge[1]), name(edge[2])]);
      nodes.add(name(edge[1])).add(name(edge[2]));
      continue;
    }
    const node = /^\s*"([^"]+)"\s*\[/.exec(line);
    if (node) nodes.add(name(node[1]));
  }
  const out = new Map<string, string[]>();
  for (const [from, to] of edges) out.set(from, [...(out.get(from) ?? []), to]);
  return {
    nodes: [...nodes],
    edges,
    dependsOn(from: string, to: string): boolean {
      const seen = new Set<string>();
      const stack = [from];
      while (stack.length > 0) {
        const n = stack.pop()!;
        for (const next of out.get(n) ?? []) {
          if (next === to) return true;
          if (!seen.has(next)) {
            seen.add(next);
            stack.push(next);
          }
        }
      }
      return false;
    },
  };
}

/**
 * The override file of the test copy: a local backend, fake credentials and no calls to AWS
 * (credential, account-id, region and metadata checks off), for each aws provider (and alias).
 */
function offlineOverride(config: any): object {
  const providers: any[] = config.provider?.aws ?? [{}];
  return {
    terraform: { backend: { local: { path: 'terraform.tfstate' } } },
    provider: {
      aws: providers.map((p: any) => ({
        ...(p.alias ? { alias: p.alias } : {}),
        access_key: 'AKIAIOSFODNN7EXAMPLE',
        secret_key: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
        skip_credentials_validation: true,
        skip_requesting_account_id: true,
        skip_metadata_api_check: true,
        skip_region_validation: true,
        // the account guard needs the account id, which an offline plan does not ask AWS for
        allowed_account_ids: null,
      })),
    },
  };
}

/** The planned resources of a plan, optionally of one type. */
export function plannedResources(plan: TerraformPlan, type?: string): PlannedResource[] {
  const all = plan.planned_values.root_module.resources ?? [];
  return type ? all.filter((r) => r.type === type) : all;
}

/** Fails with terraform's own words when validate or plan did not pass. */
export function expectTerraformOk(result: TerraformCheck): TerraformPlan {
  const errors = result.validate.diagnostics.filter((d) => d.severity === 'error');
  if (!result.validate.valid) throw new Error(`terraform validate failed:\n${errors.map((d) => `${d.summary}: ${d.detail ?? ''}`).join('\n')}`);
  if (result.planError) throw new Error(`terraform plan failed:\n${result.planError}`);
  if (!result.plan) throw new Error('no plan was made');
  return result.plan;
}
