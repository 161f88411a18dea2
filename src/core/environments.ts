import * as fs from 'fs';
import * as path from 'path';
import type { SynthesizedPlatform } from '../check/model';
import { PlatformApp } from './app';
import type { PlatformContextProps } from './context';

/** One environment of a platform: its context (account, region, environment) and its declared sizes. */
export interface EnvironmentDeclaration {
  /** Its account, region, environment kind (production or not) and owning team. */
  readonly context: PlatformContextProps;
  /**
   * What is meant to differ between environments (instance classes, replica counts, pool sizes...),
   * handed to the definition. The parity report counts a difference as declared when its values are
   * these sizes.
   * @default - none
   */
  readonly sizes?: Record<string, string | number | boolean>;
}

/** What the definition is called with, once per environment. */
export interface EnvironmentScope {
  /** The environment's key (its output folder). */
  readonly name: string;
  /** Its declared sizes. */
  readonly sizes: Record<string, string | number | boolean>;
  /** Whether it is a production environment. */
  readonly isProduction: boolean;
}

/** Props of PlatformEnvironments. */
export interface PlatformEnvironmentsProps {
  /** The environments by key, e.g. `{ staging: {...}, prod: {...} }`; each key is an output folder. */
  readonly environments: Record<string, EnvironmentDeclaration>;
  /** The one definition of the platform, called once per environment with its own app. */
  readonly definition: (app: PlatformApp, environment: EnvironmentScope) => void;
  /**
   * Where each environment's Terraform JSON goes: `<outdir>/<key>`.
   * @default 'cdktf.out'
   */
  readonly outdir?: string;
  /**
   * Where each environment's manifests go: `<manifestsOutdir>/<key>`.
   * @default 'k8s.out'
   */
  readonly manifestsOutdir?: string;
}

/** One difference between two environments, after names, accounts and regions are made comparable. */
export interface ParityDifference {
  /** `<stack>/<type>.<name>` for Terraform, `<file>/<kind>/<namespace>/<name>` for manifests. */
  readonly object: string;
  /** The attribute's path in the object (`instance_class`, `spec.replicas`); empty when the object exists in one only. */
  readonly path: string;
  /** The value in the first environment (`undefined`: absent there). */
  readonly left: unknown;
  /** The value in the second environment. */
  readonly right: unknown;
  /** Whether the values are the environments' declared sizes. */
  readonly declared: boolean;
}

/** What differs between two environments, for a reviewer. */
export interface ParityReport {
  /** The first environment's key. */
  readonly left: string;
  /** The second environment's key. */
  readonly right: string;
  /** Every difference, declared or not. */
  readonly differences: ParityDifference[];
  /** The differences beyond the declared sizes: what a reviewer must look at. */
  readonly undeclared: ParityDifference[];
}

/** A production safeguard a production environment lacks. */
export interface SafeguardViolation {
  /** `<stack>/<type>.<name>` of the stateful resource. */
  readonly object: string;
  /** What it lacks, e.g. `deletion_protection must be true`. */
  readonly safeguard: string;
}

// Stateful resources and the safeguards production keeps on each (besides lifecycle.prevent_destroy).
const STATEFUL: Record<string, Record<string, unknown>> = {
  aws_s3_bucket: { force_destroy: false },
  aws_db_instance: { deletion_protection: true, skip_final_snapshot: false },
  aws_kms_key: {},
  aws_eks_cluster: {},
  aws_fsx_lustre_file_system: {},
  aws_efs_file_system: {},
  aws_ecr_repository: { force_delete: false },
  aws_dynamodb_table: { deletion_protection_enabled: true },
  aws_elasticache_replication_group: {},
};

/**
 * Dev, staging and production as the same platform at different sizes: one definition, called once per
 * environment with its own app (own stacks, state keys and manifest folders). A production environment's
 * safeguards are checked at synth (every stateful resource keeps `prevent_destroy` and its deletion
 * protection, databases stay Multi-AZ unless a reason is given); `parity` lists what differs between two
 * environments beyond their declared sizes.
 */
export class PlatformEnvironments {
  /** The app of each environment. */
  public readonly apps: Record<string, PlatformApp> = {};
  private readonly props: PlatformEnvironmentsProps;

  constructor(props: PlatformEnvironmentsProps) {
    this.props = props;
    const keys = Object.keys(props.environments);
    if (keys.length === 0) throw new Error('PlatformEnvironments: environments ({}) must declare at least one environment');
    for (const key of keys) {
      if (!/^[a-z0-9]([-a-z0-9]{0,30}[a-z0-9])?$/.test(key)) throw new Error(`PlatformEnvironments: environments ('${key}') must be keyed by DNS labels of at most 32 characters (they name output folders)`);
      const declaration = props.environments[key];
      // cdktf creates the app's own folder, not its parents.
      fs.mkdirSync(props.outdir ?? 'cdktf.out', { recursive: true });
      const app = new PlatformApp({
        platform: declaration.context,
        outdir: path.join(props.outdir ?? 'cdktf.out', key),
        manifestsOutdir: path.join(props.manifestsOutdir ?? 'k8s.out', key),
      });
      props.definition(app, { name: key, sizes: { ...(declaration.sizes ?? {}) }, isProduction: declaration.context.environment.isProduction });
      this.apps[key] = app;
    }
  }

  /**
   * Writes every environment (or only `only`, e.g. from `MLOPS_ENVIRONMENT` when `cdktf deploy` runs one),
   * after checking that each production environment keeps its safeguards.
   */
  public synth(only?: string): void {
    if (only !== undefined && !(only in this.apps)) throw new Error(`PlatformEnvironments: environment ('${only}') is not declared; declared are ${Object.keys(this.apps).map((k) => `'${k}'`).join(', ')}`);
    for (const [key, app] of Object.entries(this.apps)) {
      if (only !== undefined && key !== only) continue;
      app.synth();
      if (!app.context.environment.isProduction) continue;
      const violations = PlatformEnvironments.productionSafeguards(app.synthesized());
      if (violations.length) {
        throw new Error(`PlatformEnvironments: production environment '${key}' lacks its safeguards:\n${violations.map((v) => `- ${v.object}: ${v.safeguard}`).join('\n')}`);
      }
    }
  }

  /** What `key`'s environment synthesized (after `synth`). */
  public synthesized(key: string): SynthesizedPlatform {
    return this.apps[key].synthesized();
  }

  /** The parity report of two synthesized environments (after `synth`). */
  public parity(left: string, right: string): ParityReport {
    const sizes = (k: string) => this.props.environments[k].sizes ?? {};
    return PlatformEnvironments.compare(
      { name: left, platform: this.synthesized(left), context: this.props.environments[left].context, sizes: sizes(left) },
      { name: right, platform: this.synthesized(right), context: this.props.environments[right].context, sizes: sizes(right) },
    );
  }

  /** The production safeguards a synthesized platform lacks. */
  public static productionSafeguards(platform: SynthesizedPlatform): SafeguardViolation[] {
    const out: SafeguardViolation[] = [];
    for (const [stack, json] of Object.entries<any>(platform.terraform)) {
      for (const [type, expected] of Object.entries(STATEFUL)) {
        for (const [name, config] of Object.entries<any>(json?.resource?.[type] ?? {})) {
          const object = `${stack}/${type}.${name}`;
          if (config.lifecycle?.prevent_destroy !== true) out.push({ object, safeguard: 'lifecycle.prevent_destroy must be true' });
          for (const [attribute, value] of Object.entries(expected)) {
            if (config[attribute] !== value) out.push({ object, safeguard: `${attribute} must be ${value}` });
          }
          if (type === 'aws_db_instance' && config.multi_az !== true && config.tags?.['mlops.io/single-az'] !== 'declared') out.push({ object, safeguard: 'multi_az must be true' });
        }
      }
    }
    return out;
  }

  /** Compares two synthesized environments, with their names, accounts and regions made comparable. */
  public static compare(
    left: { name: string; platform: SynthesizedPlatform; context: PlatformContextProps; sizes: Record<string, unknown> },
    right: { name: string; platform: SynthesizedPlatform; context: PlatformContextProps; sizes: Record<string, unknown> },
  ): ParityReport {
    const flat = (side: typeof left) => {
      const replacements: Array<[string, string]> = [
        [side.context.accountId, '<account>'], [side.context.region, '<region>'],
        [`${side.context.name}-${side.context.environment.name}`, '<platform>-<env>'], [side.context.environment.name, '<env>'],
      ];
      const normal = (v: unknown): unknown => {
        if (typeof v !== 'string') return v;
        let s = v;
        for (const [from, to] of replacements) s = s.split(from).join(to);
        return s;
      };
      const out = new Map<string, Map<string, unknown>>();
      const walk = (object: string, prefix: string, value: unknown, into: Map<string, unknown>) => {
        if (value !== null && typeof value === 'object') {
          for (const [k, v] of Object.entries(value as object)) {
            if (k === '//') continue; // cdktf metadata: construct paths and unique ids
            walk(object, prefix ? `${prefix}.${k}` : k, v, into);
          }
        } else {
          into.set(prefix, normal(value));
        }
      };
      for (const [stack, json] of Object.entries<any>(side.platform.terraform)) {
        for (const [type, byName] of Object.entries<any>(json?.resource ?? {})) {
          for (const [name, config] of Object.entries<any>(byName)) {
            const into = new Map<string, unknown>();
            walk('', '', config, into);
            out.set(`${stack}/${type}.${name}`, into);
          }
        }
      }
      for (const [file, docs] of Object.entries(side.platform.manifests)) {
        for (const doc of docs) {
          const into = new Map<string, unknown>();
          walk('', '', doc, into);
          out.set(`${file}/${doc.kind}/${doc.metadata?.namespace ?? ''}/${doc.metadata?.name ?? ''}`, into);
        }
      }
      return out;
    };
    const a = flat(left);
    const b = flat(right);
    const declared = (x: unknown, y: unknown) => Object.values(left.sizes).some((s) => String(s) === String(x)) && Object.values(right.sizes).some((s) => String(s) === String(y));
    const differences: ParityDifference[] = [];
    for (const object of [...new Set([...a.keys(), ...b.keys()])].sort()) {
      const l = a.get(object);
      const r = b.get(object);
      if (!l || !r) {
        differences.push({ object, path: '', left: l ? 'present' : undefined, right: r ? 'present' : undefined, declared: false });
        continue;
      }
      for (const p of [...new Set([...l.keys(), ...r.keys()])].sort()) {
        const x = l.get(p);
        const y = r.get(p);
        if (JSON.stringify(x) !== JSON.stringify(y)) differences.push({ object, path: p, left: x, right: y, declared: x !== undefined && y !== undefined && declared(x, y) });
      }
    }
    return { left: left.name, right: right.name, differences, undeclared: differences.filter((d) => !d.declared) };
  }

  /** The report as Markdown, for a reviewer: the undeclared differences first. */
  public static markdown(report: ParityReport): string {
    const row = (d: ParityDifference) => `| \`${d.object}\` | \`${d.path || '(the object)'}\` | ${JSON.stringify(d.left) ?? 'absent'} | ${JSON.stringify(d.right) ?? 'absent'} |`;
    return [
      `# Parity: ${report.left} vs ${report.right}`, '',
      `${report.undeclared.length} difference(s) beyond the declared sizes, ${report.differences.length - report.undeclared.length} declared.`, '',
      `| Object | Path | ${report.left} | ${report.right} |`, '| --- | --- | --- | --- |',
      ...report.undeclared.map(row), '',
      '## Declared sizes', '',
      `| Object | Path | ${report.left} | ${report.right} |`, '| --- | --- | --- | --- |',
      ...report.differences.filter((d) => d.declared).map(row), '',
    ].join('\n');
  }
}
