import * as fs from 'fs';
import * as path from 'path';
import { parseAllDocuments } from 'yaml';
import { STATEFUL_TYPES } from '../policy/rules/aws-stateful-protected';
import { withoutEngineVersion } from '../testing/snapshot';

/** What a review compares: the Terraform JSON of each stack and the manifests of each chart file. */
export interface ReviewInput {
  /** The Terraform JSON of each stack, by stack name. */
  readonly terraform: Record<string, any>;
  /** The manifests of each chart, by output file relative to `k8s.out`. */
  readonly manifests: Record<string, any[]>;
}

/** A stateful resource that the change would destroy, or replace (destroy, then create empty). */
export interface StatefulLoss {
  /** `destroyed` when the address is gone, `replaced` when an attribute that forces a new resource changes. */
  readonly kind: 'destroyed' | 'replaced';
  /** `<stack>/<type>.<name>`. */
  readonly address: string;
  /** The construct path the resource came from. */
  readonly constructPath: string;
  /** Why, and what to do instead. */
  readonly detail: string;
}

/** What changes under one construct (or chart file). */
export interface ConstructChanges {
  /** The construct path (Terraform resources) or the chart's output file (manifests). */
  readonly construct: string;
  /** Added resources or objects. */
  readonly added: string[];
  /** Changed ones, each with the first changed attributes. */
  readonly changed: string[];
  /** Removed ones. */
  readonly removed: string[];
}

/** The comparison of two syntheses. */
export interface PlatformReview {
  /** Stateful resources destroyed or replaced: what a reviewer must see first. */
  readonly statefulLosses: StatefulLoss[];
  /** What changes, per construct, in construct order. */
  readonly constructs: ConstructChanges[];
}

/**
 * The attributes of each stateful type whose change makes Terraform replace the resource (`ForceNew`
 * in the AWS provider's schema: internal/service/s3/bucket.go, rds/instance.go, kms/key.go,
 * fsx/lustre_file_system.go, efs/file_system.go, ecr/repository.go, eks/cluster.go of
 * hashicorp/terraform-provider-aws). A nested block is named by its top-level attribute.
 */
const FORCE_NEW: Record<string, string[]> = {
  aws_s3_bucket: ['bucket', 'bucket_prefix', 'object_lock_enabled'],
  aws_db_instance: ['identifier', 'identifier_prefix', 'engine', 'db_name', 'username', 'kms_key_id', 'storage_encrypted',
    'character_set_name', 'nchar_character_set_name', 'timezone', 'snapshot_identifier', 'availability_zone', 'custom_iam_instance_profile'],
  aws_kms_key: ['customer_master_key_spec', 'key_usage', 'multi_region', 'custom_key_store_id', 'xks_key_id'],
  aws_fsx_lustre_file_system: ['subnet_ids', 'security_group_ids', 'deployment_type', 'storage_type', 'kms_key_id', 'import_path',
    'export_path', 'drive_cache_type', 'file_system_type_version', 'backup_id'],
  aws_efs_file_system: ['creation_token', 'encrypted', 'kms_key_id', 'performance_mode', 'availability_zone_name'],
  aws_ecr_repository: ['name', 'encryption_configuration'],
  aws_eks_cluster: ['name', 'role_arn', 'kubernetes_network_config', 'bootstrap_self_managed_addons', 'outpost_config'],
};

/** Changed attributes shown per resource before "and N more". */
const SHOWN_ATTRIBUTES = 3;

/**
 * The address (`<stack>/<type>.<name>`) of every stateful resource (`STATEFUL_TYPES`) in a synthesis,
 * sorted: pin it in a test so that a renamed construct id fails the test before it reaches a plan.
 */
export function statefulAddresses(synthesis: Pick<ReviewInput, 'terraform'>): string[] {
  return resourcesOf(synthesis).filter((r) => STATEFUL_TYPES.includes(r.type)).map((r) => r.address).sort();
}

/** Compares two syntheses: the stateful resources lost, then what is added, changed and removed per construct. */
export function reviewChanges(before: ReviewInput, after: ReviewInput): PlatformReview {
  const groups = new Map<string, { added: string[]; changed: string[]; removed: string[] }>();
  const group = (name: string) => {
    if (!groups.has(name)) groups.set(name, { added: [], changed: [], removed: [] });
    return groups.get(name)!;
  };

  // Terraform resources, by address.
  const old = new Map(resourcesOf(before).map((r) => [r.address, r]));
  const now = new Map(resourcesOf(after).map((r) => [r.address, r]));
  const losses: StatefulLoss[] = [];
  for (const [address, r] of old) {
    const next = now.get(address);
    if (!next) {
      group(r.construct).removed.push(r.label);
      if (STATEFUL_TYPES.includes(r.type)) losses.push({ kind: 'destroyed', address, constructPath: r.path, detail: destroyedDetail(r, [...now.values()].filter((n) => !old.has(n.address))) });
      continue;
    }
    const changes = changedPaths(r.config, next.config);
    if (changes.length === 0) continue;
    group(next.construct).changed.push(`${r.label}: ${summarize(changes)}`);
    const forcing = (FORCE_NEW[r.type] ?? []).filter((attr) => changes.some((c) => c === attr || c.startsWith(`${attr}.`) || c.startsWith(`${attr}[`)));
    if (STATEFUL_TYPES.includes(r.type) && forcing.length > 0) {
      const what = forcing.map((a) => `${a} (${show(r.config[a])} -> ${show(next.config[a])})`).join(', ');
      losses.push({
        kind: 'replaced', address, constructPath: r.path,
        detail: `${what} forces a new resource: Terraform destroys it and creates an empty one. Keep the old value, or migrate the data first.`,
      });
    }
  }
  for (const [address, r] of now) if (!old.has(address)) group(r.construct).added.push(r.label);

  // Kubernetes objects, by API group, kind, namespace and name, grouped by chart file.
  const oldObjects = objectsOf(before);
  const newObjects = objectsOf(after);
  for (const [key, o] of oldObjects) {
    const next = newObjects.get(key);
    if (!next) { group(o.file).removed.push(o.label); continue; }
    const changes = changedPaths(o.object, next.object);
    if (changes.length > 0) group(next.file).changed.push(`${o.label}: ${summarize(changes)}`);
  }
  for (const [key, o] of newObjects) if (!oldObjects.has(key)) group(o.file).added.push(o.label);

  const constructs = [...groups.entries()]
    .map(([construct, c]) => ({ construct, added: c.added.sort(), changed: c.changed.sort(), removed: c.removed.sort() }))
    .sort((a, b) => a.construct.localeCompare(b.construct));
  return { statefulLosses: losses.sort((a, b) => a.address.localeCompare(b.address)), constructs };
}

/**
 * A review report of the change from `before` to `after` (two syntheses, e.g. the base branch's and
 * the working tree's): first, loudly, every stateful resource that would be destroyed or replaced,
 * with what to do instead; then a few lines per construct of what is added (+), changed (~) and
 * removed (-).
 */
export function reviewReport(before: ReviewInput, after: ReviewInput): string {
  const review = reviewChanges(before, after);
  const lines: string[] = [];
  if (review.statefulLosses.length > 0) {
    const n = review.statefulLosses.length;
    lines.push(`!!! ${n} STATEFUL RESOURCE${n > 1 ? 'S' : ''} WOULD BE DESTROYED OR REPLACED (data is lost):`);
    for (const loss of review.statefulLosses) {
      lines.push(`!!! ${loss.kind.toUpperCase()}: ${loss.address} (construct '${loss.constructPath}'). ${loss.detail}`);
    }
  } else {
    lines.push('No stateful resource is destroyed or replaced.');
  }
  const count = (k: 'added' | 'changed' | 'removed') => review.constructs.reduce((s, c) => s + c[k].length, 0);
  lines.push('', `${count('added')} added, ${count('changed')} changed, ${count('removed')} removed, in ${review.constructs.length} construct${review.constructs.length === 1 ? '' : 's'}.`);
  for (const c of review.constructs) {
    lines.push('', `${c.construct}: ${[c.added.length && `${c.added.length} added`, c.changed.length && `${c.changed.length} changed`, c.removed.length && `${c.removed.length} removed`].filter(Boolean).join(', ')}`);
    for (const a of c.added) lines.push(`  + ${a}`);
    for (const a of c.changed) lines.push(`  ~ ${a}`);
    for (const a of c.removed) lines.push(`  - ${a}`);
  }
  return lines.join('\n') + '\n';
}

/**
 * Reads what a synth wrote: `dir` is a project folder holding `cdktf.out` (and `k8s.out`), or a
 * `cdktf.out` folder itself (manifests then come from the `k8s.out` beside it).
 */
export function readSynthesis(dir: string): ReviewInput {
  const root = path.resolve(dir);
  const cdktfOut = fs.existsSync(path.join(root, 'stacks')) ? root : path.join(root, 'cdktf.out');
  const k8sOut = path.join(path.dirname(cdktfOut), 'k8s.out');
  if (!fs.existsSync(cdktfOut) && !fs.existsSync(k8sOut)) {
    throw new Error(`'${dir}' holds no synth output: expected '${cdktfOut}' (run 'npm run synth' there first).`);
  }
  const terraform: Record<string, any> = {};
  const stacks = path.join(cdktfOut, 'stacks');
  for (const stack of fs.existsSync(stacks) ? fs.readdirSync(stacks).sort() : []) {
    const file = path.join(stacks, stack, 'cdk.tf.json');
    if (fs.existsSync(file)) terraform[stack] = withoutEngineVersion(JSON.parse(fs.readFileSync(file, 'utf8')));
  }
  const manifests: Record<string, any[]> = {};
  const walk = (folder: string) => {
    for (const e of fs.readdirSync(folder, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const full = path.join(folder, e.name);
      if (e.isDirectory()) walk(full);
      else if (e.name.endsWith('.yaml') || e.name.endsWith('.yml')) {
        const docs = parseAllDocuments(fs.readFileSync(full, 'utf8'));
        manifests[path.relative(k8sOut, full).split(path.sep).join('/')] = (Array.isArray(docs) ? docs : [docs]).map((d) => d.toJS()).filter((d) => d);
      }
    }
  };
  if (fs.existsSync(k8sOut)) walk(k8sOut);
  return { terraform, manifests };
}

interface ResourceEntry {
  readonly address: string;
  readonly type: string;
  readonly name: string;
  readonly label: string;
  readonly path: string;
  readonly construct: string;
  readonly config: Record<string, any>;
}

function resourcesOf(synthesis: Pick<ReviewInput, 'terraform'>): ResourceEntry[] {
  const out: ResourceEntry[] = [];
  for (const [stack, json] of Object.entries(synthesis.terraform)) {
    for (const [type, resources] of Object.entries<Record<string, any>>(json?.resource ?? {})) {
      for (const [name, config] of Object.entries<Record<string, any>>(resources)) {
        const constructPath: string = config?.['//']?.metadata?.path ?? `${stack}/${name}`;
        const segments = constructPath.split('/');
        out.push({
          address: `${stack}/${type}.${name}`, type, name, label: `${type}.${name}`, path: constructPath,
          construct: segments.slice(0, Math.min(2, segments.length - 1) || 1).join('/'), config,
        });
      }
    }
  }
  return out;
}

function objectsOf(synthesis: Pick<ReviewInput, 'manifests'>): Map<string, { file: string; label: string; object: any }> {
  const out = new Map<string, { file: string; label: string; object: any }>();
  for (const [file, docs] of Object.entries(synthesis.manifests)) {
    for (const object of docs) {
      const group = String(object?.apiVersion ?? '').includes('/') ? String(object.apiVersion).split('/')[0] : '';
      const ns = object?.metadata?.namespace;
      const key = `${group}|${object?.kind}|${ns ?? ''}|${object?.metadata?.name}`;
      out.set(key, { file, label: `${object?.kind} ${ns ? `${ns}/` : ''}${object?.metadata?.name}`, object });
    }
  }
  return out;
}

function destroyedDetail(r: ResourceEntry, addedNow: ResourceEntry[]): string {
  const protectedNote = r.config.lifecycle?.prevent_destroy ? ' It carries prevent_destroy, so the plan fails until this is resolved.' : '';
  const candidate = addedNow.find((n) => n.type === r.type && n.address.split('/')[0] === r.address.split('/')[0]);
  if (candidate) {
    return `A renamed construct? ${candidate.label} ('${candidate.path}') is added in its place: keep the old construct id, `
      + `or move the state with a Terraform 'moved' block (cdktf: call moveFromId('${r.label}') on the new resource).${protectedNote}`;
  }
  return `Nothing of its type takes its place: if the construct moved or was renamed, keep its old id (or add a 'moved' block); if it is really meant to go, empty and remove it deliberately.${protectedNote}`;
}

/** The leaf paths (`a.b[0].c`) whose values differ, ignoring cdktf's `//` metadata. */
function changedPaths(a: any, b: any, prefix = ''): string[] {
  if (JSON.stringify(a) === JSON.stringify(b)) return [];
  const isObject = (v: any) => v !== null && typeof v === 'object';
  if (!isObject(a) || !isObject(b) || Array.isArray(a) !== Array.isArray(b)) return [prefix || '(value)'];
  const keys = Array.isArray(a)
    ? Array.from({ length: Math.max(a.length, b.length) }, (_, i) => i)
    : [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => k !== '//').sort();
  return keys.flatMap((k) => changedPaths(a[k as never], b[k as never], Array.isArray(a) ? `${prefix}[${k}]` : prefix ? `${prefix}.${k}` : String(k)));
}

function summarize(changes: string[]): string {
  const shown = changes.slice(0, SHOWN_ATTRIBUTES).join(', ');
  return changes.length > SHOWN_ATTRIBUTES ? `${shown} and ${changes.length - SHOWN_ATTRIBUTES} more` : shown;
}

function show(value: unknown): string {
  if (value === undefined) return 'unset';
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
