// npm run docs:diagram: a picture of what the reference platform builds, drawn from its construct
// tree and what it synthesizes (docs/reference-platform.md, a Mermaid flowchart GitHub renders).
// test/docs.test.ts fails when the file is out of date.
import * as fs from 'fs';
import * as path from 'path';
import type { IConstruct } from '../src/engine';
import { PlatformApp, PlatformSynthesis, PlatformTesting } from '../src';
import { buildReferencePlatform, REFERENCE_CONTEXT } from './platform';

/** docs/reference-platform.md of the project, from stacks/ or from lib/stacks/. */
export const DIAGRAM_FILE = path.join(__dirname, ...(path.basename(path.dirname(__dirname)) === 'lib' ? ['..', '..'] : ['..']), 'docs', 'reference-platform.md');

/** The Mermaid flowchart of a platform: its stacks, their constructs, and which construct uses which. */
export function platformDiagram(app: PlatformApp, out: PlatformSynthesis): string {
  const id = (p: string) => p.replace(/[^A-Za-z0-9]/g, '_');
  const lines = ['flowchart LR'];
  const edges = new Set<string>();
  const references: Array<[string, string]> = [];
  const groups = new Map<string, string>();
  for (const stack of app.node.children) {
    const json = out.terraform[stack.node.id];
    if (!json) continue;
    // construct path (stack/top-level id) of every resource, by Terraform address
    const owner = new Map<string, string>();
    const counts = new Map<string, number>();
    for (const [type, resources] of Object.entries<Record<string, any>>(json.resource ?? {})) {
      for (const [name, config] of Object.entries<any>(resources)) {
        const top = String(config['//']?.metadata?.path ?? '').split('/').slice(0, 2).join('/');
        owner.set(`${type}.${name}`, top);
        counts.set(top, (counts.get(top) ?? 0) + 1);
      }
    }
    for (const [type, resources] of Object.entries<Record<string, any>>(json.resource ?? {})) {
      for (const [name, config] of Object.entries<any>(resources)) {
        const from = owner.get(`${type}.${name}`)!;
        for (const [, ref] of JSON.stringify(config).matchAll(/\$\{([a-z0-9_]+\.[A-Za-z0-9_-]+)/g)) {
          const to = owner.get(ref);
          if (to && to !== from) references.push([from, to]);
        }
      }
    }
    const constructs = stack.node.children.filter((c) => counts.has(c.node.path) || chartsOf(out, c).length > 0);
    const providers = Object.keys(json.provider ?? {}).sort().join(', ');
    lines.push(`  subgraph ${id(stack.node.id)}["Terraform stack '${stack.node.id}' (providers: ${providers})"]`);
    // Constructs of one kind that write no manifests (the add-ons' helm releases, the Secrets) are one box.
    const kinds = new Map<string, IConstruct[]>();
    for (const c of constructs) kinds.set(kindOf(c), [...(kinds.get(kindOf(c)) ?? []), c]);
    for (const [kind, members] of kinds) {
      if (members.length > 1 && members.every((c) => chartsOf(out, c).length === 0)) {
        const box = `${stack.node.id}/${kind}`;
        for (const c of members) groups.set(c.node.path, box);
        const resources = members.reduce((n, c) => n + (counts.get(c.node.path) ?? 0), 0);
        lines.push(`    ${id(box)}["<b>${members.length} × ${kind}</b><br/>${members.map((c) => c.node.id).join(', ')}<br/>${plural(resources, 'resource')}"]`);
        continue;
      }
      for (const c of members) {
        const charts = chartsOf(out, c);
        const objects = charts.reduce((n, f) => n + out.manifests[f].length, 0);
        const what = [counts.get(c.node.path) ? plural(counts.get(c.node.path)!, 'resource') : '', charts.length ? `${objects} manifests in ${charts.map((f) => `k8s.out/${f}`).join(', ')}` : ''].filter(Boolean).join('<br/>');
        lines.push(`    ${id(c.node.path)}["<b>${c.node.id}</b>: ${kind}<br/>${what}"]`);
      }
    }
    lines.push('  end');
  }
  const box = (p: string) => id(groups.get(p) ?? p);
  for (const [from, to] of references) if (box(from) !== box(to)) edges.add(`  ${box(from)} --> ${box(to)}`);
  for (const stack of app.node.children) {
    for (const dependency of (stack as unknown as { dependencies?: IConstruct[] }).dependencies ?? []) {
      edges.add(`  ${id(stack.node.id)} -. "applied after" .-> ${id(dependency.node.id)}`);
    }
  }
  return [...lines, ...[...edges].sort()].join('\n') + '\n';
}

function plural(n: number, what: string): string {
  return `${n} ${what}${n === 1 ? '' : 's'}`;
}

function kindOf(c: IConstruct): string {
  return c.constructor.name;
}

/** The chart files a top-level construct (or a construct nested in it) writes. */
function chartsOf(out: PlatformSynthesis, c: IConstruct): string[] {
  const stack = c.node.scopes[1]?.node.id;
  return Object.keys(out.manifests).filter((f) => f === `${stack}/${c.node.id}.k8s.yaml` || f.startsWith(`${stack}/${c.node.id}-`) && !c.node.scope?.node.children.some((s) => s !== c && f.startsWith(`${stack}/${s.node.id}.`)));
}

/** The document: a short text and the flowchart of the reference platform. */
export function referencePlatformDocument(): string {
  const app = PlatformTesting.app({ platform: REFERENCE_CONTEXT });
  buildReferencePlatform(app);
  const diagram = platformDiagram(app, PlatformTesting.synth(app));
  return [
    '# What the reference platform builds',
    '',
    'Generated by `npm run docs:diagram` from the construct tree of `stacks/platform.ts` and what it synthesizes',
    '(`test/docs.test.ts` fails when this file is out of date). A box is a construct, with its Terraform resources and',
    'the manifests it writes to `k8s.out/`; an arrow means the construct refers to resources of the other (a role, a',
    'bucket, the cluster, a security group); a dotted arrow is the order in which the stacks are applied.',
    '',
    '```mermaid',
    diagram.trimEnd(),
    '```',
    '',
  ].join('\n');
}

if (require.main === module) {
  fs.mkdirSync(path.dirname(DIAGRAM_FILE), { recursive: true });
  fs.writeFileSync(DIAGRAM_FILE, referencePlatformDocument());
  process.stderr.write(`wrote ${path.relative(process.cwd(), DIAGRAM_FILE)}\n`);
}
