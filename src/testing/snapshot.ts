import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { PlatformFinding } from '../check/check';
import { PlatformApp, PlatformAppProps } from '../core/app';
import { Environment, PlatformContextProps } from '../core/context';
import { statefulAddresses } from '../review/report';

/** What a platform synthesizes, in a stable form for review and `toMatchSnapshot`. */
export interface PlatformSynthesis {
  /** The Terraform JSON of each stack, by stack name, with keys sorted. */
  readonly terraform: Record<string, any>;
  /** The manifests of each chart, by output file relative to `k8s.out`. */
  readonly manifests: Record<string, any[]>;
}

/** Helpers for testing platforms: a throwaway app and a stable synthesis for snapshots. */
export class PlatformTesting {
  /** A platform context for tests: a development environment in a fixed account and region. */
  public static readonly context: PlatformContextProps = {
    name: 'acme',
    environment: Environment.development(),
    region: 'eu-west-1',
    accountId: '123456789012',
    team: 'ml-platform',
  };

  /** A PlatformApp that writes into a fresh temporary folder. */
  public static app(props: Partial<PlatformAppProps> = {}): PlatformApp {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlops-synth-'));
    return new PlatformApp({
      platform: props.platform ?? PlatformTesting.context,
      outdir: props.outdir ?? path.join(dir, 'cdktf.out'),
      checks: props.checks,
      manifestsOutdir: props.manifestsOutdir ?? path.join(dir, 'k8s.out'),
    });
  }

  /**
   * Synthesizes the app's Terraform and runs the platform check, returning every finding instead of
   * failing; for tests of a platform (and of your own checks) that expect findings.
   */
  public static findings(app: PlatformApp): PlatformFinding[] {
    return app.synthAndCheck();
  }

  /**
   * Synthesizes the app (Terraform JSON and manifests, with every validation and the platform check) and reads back what it
   * wrote, with keys sorted, so the result can go into a snapshot. Nothing is rewritten: what the
   * library writes holds no path of the machine that synthesized it (state files are addressed
   * relative to the stack's folder, manifests are keyed relative to `k8s.out`), so the result is the
   * same on any machine and in any temporary folder. The output folders are `app.outdir` and
   * `app.manifestsOutdir`; they are not part of the result.
   */
  public static synth(app: PlatformApp): PlatformSynthesis {
    app.synth();
    const terraform: Record<string, any> = {};
    const stacksDir = path.join(path.resolve(app.outdir), 'stacks');
    for (const stack of fs.existsSync(stacksDir) ? fs.readdirSync(stacksDir).sort() : []) {
      const file = path.join(stacksDir, stack, 'cdk.tf.json');
      if (fs.existsSync(file)) terraform[stack] = sortKeys(withoutEngineVersion(JSON.parse(fs.readFileSync(file, 'utf8'))));
    }
    const manifests: Record<string, any[]> = {};
    for (const [file, docs] of Object.entries(app.manifests())) manifests[file] = docs.map(sortKeys);
    return { terraform, manifests };
  }

  /**
   * The address (`<stack>/<type>.<name>`) of every stateful resource (`STATEFUL_TYPES`: buckets,
   * databases, file systems, keys, ECR repositories, EKS clusters) a synthesis holds, sorted. Pin it
   * in a test (`expect(PlatformTesting.statefulAddresses(out)).toEqual([...])`) so that a renamed
   * construct id, which would make Terraform destroy the resource and create an empty one, fails
   * the test instead of reaching a plan.
   */
  public static statefulAddresses(synthesis: Pick<PlatformSynthesis, 'terraform'>): string[] {
    return statefulAddresses(synthesis);
  }
}

/** The stack's JSON without the engine version in its metadata, so a review does not depend on which engine (cdktf or CDK Terrain) wrote it. */
export function withoutEngineVersion(json: any): any {
  if (json?.['//']?.metadata) delete json['//'].metadata.version;
  return json;
}

/** Recursively sorts object keys; arrays keep their order. */
export function sortKeys<T>(value: T): T {
  if (Array.isArray(value)) return value.map(sortKeys) as unknown as T;
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value as object).sort()) out[key] = sortKeys((value as Record<string, unknown>)[key]);
    return out as T;
  }
  return value;
}
