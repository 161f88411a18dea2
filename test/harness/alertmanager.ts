import * as fs from 'fs';
import * as path from 'path';
import { onPath, run, tempDir, ToolStatus } from './tools';
import { Yaml } from '../../src/engine';

export const amtoolTool: ToolStatus = onPath('amtool')
  ? { available: true }
  : { available: false, reason: 'amtool is not on PATH (apt-get install prometheus-alertmanager)' };

/** How prometheus-operator limits an AlertmanagerConfig to alerts (AlertmanagerSpec.alertmanagerConfigMatcherStrategy). */
export type MatcherStrategy = 'OnNamespace' | 'None';

/**
 * The routing tree prometheus-operator generates for an Alertmanager from AlertmanagerConfig objects
 * (pkg/alertmanager/amcfg.go): the global one (`alertmanagerConfiguration`) becomes the root route without
 * a namespace matcher (`initializeFromAlertmanagerConfig`); every other selected one becomes a first-level
 * route placed before the global's routes, with `continue: true` (`continueToNextRoute`) and, under
 * OnNamespace, a `namespace="<its namespace>"` matcher (`namespaceEnforcer.processRoute`); receiver names are
 * prefixed `<namespace>/<name>/` (`makeNamespacedString`). Only routing is modelled: receivers keep their
 * names, which is what `amtool config routes test` reads.
 */
export function alertmanagerRouting(global: any, others: any[], strategy: MatcherStrategy): Record<string, unknown> {
  const key = (o: any) => `${o.metadata.namespace}/${o.metadata.name}/`;
  const matcher = (m: any) => `${m.name}${m.matchType ?? '='}${JSON.stringify(m.value)}`;
  const route = (r: any, prefix: string): Record<string, unknown> => ({
    ...(r.receiver ? { receiver: `${prefix}${r.receiver}` } : {}),
    ...(r.groupBy ? { group_by: r.groupBy } : {}),
    ...(r.matchers?.length ? { matchers: r.matchers.map(matcher) } : {}),
    ...(r.continue ? { continue: true } : {}),
    ...(r.routes?.length ? { routes: r.routes.map((c: any) => route(c, prefix)) } : {}),
  });
  const sorted = [...others].sort((a, b) => key(a).localeCompare(key(b)));
  const subRoutes = sorted.filter((o) => o.spec.route).map((o) => {
    const r = route(o.spec.route, key(o)) as any;
    if (strategy === 'OnNamespace') r.matchers = [...(r.matchers ?? []), `namespace=${JSON.stringify(o.metadata.namespace)}`];
    return { ...r, continue: true };
  });
  const root = route(global.spec.route, key(global)) as any;
  return {
    route: { ...root, routes: [...subRoutes, ...(root.routes ?? [])] },
    receivers: [global, ...sorted].flatMap((o) => (o.spec.receivers ?? []).map((r: any) => ({ name: `${key(o)}${r.name}` }))),
  };
}

/** The receivers `amtool config routes test` says an alert with these labels reaches, in order. */
export function receiversOf(config: Record<string, unknown>, labels: Record<string, string>): string[] {
  const dir = tempDir('mlops-amtool-');
  const file = path.join(dir, 'alertmanager.yaml');
  fs.writeFileSync(file, Yaml.stringify(config));
  const r = run('amtool', ['config', 'routes', 'test', `--config.file=${file}`, ...Object.entries(labels).map(([k, v]) => `${k}=${v}`)]);
  if (r.status !== 0) throw new Error(`amtool config routes test failed: ${r.stdout}${r.stderr}`);
  return r.stdout.trim().split(',').map((s) => s.trim()).filter(Boolean);
}
