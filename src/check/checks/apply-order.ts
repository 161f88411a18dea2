import { finding, PlatformCheck, PlatformFinding } from '../check';
import { apiGroupOf, ManifestObject, PlatformModel } from '../model';

/** The file extensions kubectl reads when it walks a folder (cli-runtime `FileExtensions`). */
const KUBECTL_EXTENSIONS = ['.json', '.yaml', '.yml'];

/**
 * Compares two paths (relative, `/`-separated) the way Go's `filepath.Walk` visits them: folder by
 * folder, the entries of each folder in byte order of their names, a folder's contents where the
 * folder's name sorts.
 */
export function walkOrder(a: string, b: string): number {
  const pa = a.split('/');
  const pb = b.split('/');
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    if (pa[i] !== pb[i]) return pa[i] < pb[i] ? -1 : 1;
  }
  return pa.length - pb.length;
}

/** The manifest objects in the order `kubectl apply -f <dir> -R` sends them: files in walk order, then document order. */
export function kubectlApplyOrder(model: PlatformModel): ManifestObject[] {
  const files = Object.keys(model.synthesis.manifests)
    .filter((f) => KUBECTL_EXTENSIONS.some((e) => f.endsWith(e)))
    .sort(walkOrder);
  const byFile = new Map<string, ManifestObject[]>();
  for (const o of model.objects) byFile.set(o.file, [...(byFile.get(o.file) ?? []), o]);
  return files.flatMap((f) => byFile.get(f) ?? []);
}

/**
 * What an object needs to exist before it is applied comes before it, as `kubectl apply -f k8s.out -R`
 * reads the folder: its Namespace, the CustomResourceDefinition of its kind, and the PriorityClass its
 * pods name, when those are manifests too. What Terraform creates (namespaces, Helm add-ons and their
 * CRDs) exists before any manifest is applied. GitOps tools order by kind within a sync (Argo CD's sync
 * waves put Namespaces and CRDs first), so kubectl's file order is the strictest reader.
 *
 * Upstream: kubectl walks the folder with `filepath.Walk` (kubernetes/cli-runtime
 * `pkg/resource/visitor.go`, `ExpandPathsToFileVisitors`), lexical order, and applies each object as
 * it reads it; the API server refuses an object in a missing namespace (NamespaceLifecycle admission:
 * `namespaces "x" not found`) or of a kind it does not serve yet (`no matches for kind`), and the
 * Priority admission plugin refuses a pod naming a missing PriorityClass
 * (`no PriorityClass with name x was found`).
 */
export const applyOrderCheck: PlatformCheck = {
  id: 'apply-order',
  description: 'Namespaces, CRDs and PriorityClasses written as manifests come before the objects that need them, in the order kubectl apply -R reads k8s.out.',
  upstream: 'kubernetes/cli-runtime pkg/resource/visitor.go (ExpandPathsToFileVisitors: filepath.Walk, lexical order); NamespaceLifecycle and Priority admission',
  check(model: PlatformModel): PlatformFinding[] {
    const out: PlatformFinding[] = [];
    const order = kubectlApplyOrder(model);
    const position = new Map<ManifestObject, number>(order.map((o, i) => [o, i]));
    const namespaces = new Map<string, { index: number; object: ManifestObject }>();
    const crds = new Map<string, { index: number; object: ManifestObject }>();
    const priorityClasses = new Map<string, { index: number; object: ManifestObject }>();
    order.forEach((o, index) => {
      const obj = o.object;
      if (obj.kind === 'Namespace' && !namespaces.has(obj.metadata?.name)) namespaces.set(obj.metadata?.name, { index, object: o });
      if (obj.kind === 'CustomResourceDefinition' && apiGroupOf(obj) === 'apiextensions.k8s.io') {
        const key = `${obj.spec?.group}/${obj.spec?.names?.kind}`;
        if (!crds.has(key)) crds.set(key, { index, object: o });
      }
      if (obj.kind === 'PriorityClass' && !priorityClasses.has(obj.metadata?.name)) priorityClasses.set(obj.metadata?.name, { index, object: o });
    });
    const seen = new Set<string>();
    const late = (o: ManifestObject, what: string, by: { index: number; object: ManifestObject }, refusal: string) => {
      // One finding per file and missing object, on the first object of the file that needs it.
      const key = `${o.file}\u0000${what}`;
      if (seen.has(key)) return;
      seen.add(key);
      out.push(finding('apply-order', o,
        `needs ${what}, which kubectl apply -f k8s.out -R reads later (${by.object.file}); on the first apply ${refusal}.`,
        'Put cluster-level objects (Namespaces, CRDs, PriorityClasses) in the cluster manifest, 00-cluster.k8s.yaml (ClusterManifest.chart(scope), PlatformNamespaces.use), which sorts before every other file; or let Terraform create them.'));
    };
    for (const o of order) {
      const i = position.get(o)!;
      const ns = o.object.kind === 'Namespace' ? undefined : o.object.metadata?.namespace;
      const nsAt = ns ? namespaces.get(ns) : undefined;
      if (nsAt && nsAt.index > i) late(o, `Namespace '${ns}'`, nsAt, `the API server refuses it: namespaces "${ns}" not found`);
      const crdAt = crds.get(`${apiGroupOf(o.object)}/${o.object.kind}`);
      if (crdAt && crdAt.index > i) late(o, `the CustomResourceDefinition of ${o.object.kind}`, crdAt, `kubectl fails with 'no matches for kind "${o.object.kind}"'`);
    }
    for (const t of model.podTemplates()) {
      const name = t.spec?.priorityClassName;
      const at = name ? priorityClasses.get(name) : undefined;
      const i = position.get(t.source);
      if (at && i !== undefined && at.index > i) {
        late(t.source, `PriorityClass '${name}'${t.template ? ` (template '${t.template}')` : ''}`, at, `its controller's pods are refused by the Priority admission plugin ('no PriorityClass with name ${name} was found') until the class exists`);
      }
    }
    return out;
  },
};
