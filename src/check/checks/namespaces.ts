import { finding, PlatformCheck, PlatformFinding } from '../check';
import { BUILT_IN_NAMESPACES, ManifestObject, PlatformModel, TerraformObject } from '../model';

/** The Pod Security levels a namespace may enforce. */
const LEVELS = ['privileged', 'baseline', 'restricted'];
const ENFORCE = 'pod-security.kubernetes.io/enforce';

interface Creator {
  readonly by: string;
  readonly on: ManifestObject | TerraformObject;
  /** The labels it gives the namespace; undefined when it gives none it controls (Helm's `create_namespace`). */
  readonly labels?: Record<string, string>;
}

/** Every creator of every namespace: Namespace manifests, Terraform namespaces, Helm releases with `create_namespace`. */
export function namespaceCreators(model: PlatformModel): Map<string, Creator[]> {
  const out = new Map<string, Creator[]>();
  const add = (name: string, c: Creator) => out.set(name, [...(out.get(name) ?? []), c]);
  for (const o of model.kind('Namespace')) add(o.object.metadata?.name, { by: o.file, on: o, labels: o.object.metadata?.labels ?? {} });
  for (const type of ['kubernetes_namespace_v1', 'kubernetes_namespace']) {
    for (const r of model.resources(type)) {
      const md = [r.config.metadata].flat()[0] ?? {};
      add(md.name, { by: `${type}.${r.name} (stack ${r.stack})`, on: r, labels: md.labels ?? {} });
    }
  }
  for (const r of model.resources('kubernetes_manifest')) {
    // With `applyManifests`, Terraform applies the manifests' own Namespace objects: the same declaration, one owner.
    if (r.config.manifest?.kind === 'Namespace' && !model.find('Namespace', r.config.manifest.metadata?.name)) add(r.config.manifest.metadata?.name, { by: `kubernetes_manifest.${r.name} (stack ${r.stack})`, on: r, labels: r.config.manifest.metadata?.labels ?? {} });
  }
  for (const r of model.helmReleases()) if (r.createNamespace) add(r.namespace, { by: `helm_release.${r.name} (create_namespace)`, on: r });
  return out;
}

/** Where each object the platform writes lives: manifests, Terraform kubernetes_* objects, Helm releases. */
export function namespaceUsers(model: PlatformModel): Array<{ namespace: string; on: ManifestObject | TerraformObject }> {
  const out: Array<{ namespace: string; on: ManifestObject | TerraformObject }> = [];
  for (const o of model.objects) {
    if (o.object?.kind !== 'Namespace' && o.object?.metadata?.namespace) out.push({ namespace: o.object.metadata.namespace, on: o });
  }
  for (const r of model.terraformObjects) {
    if (r.type === 'helm_release') {
      out.push({ namespace: model.resolve(r.config.namespace) ?? 'default', on: r });
    } else if (r.type === 'kubernetes_manifest') {
      const ns = r.config.manifest?.metadata?.namespace;
      if (ns) out.push({ namespace: ns, on: r });
    } else if (r.type.startsWith('kubernetes_') && !/^kubernetes_namespace(_v1)?$/.test(r.type)) {
      const ns = model.resolve(([r.config.metadata].flat()[0] ?? {}).namespace);
      if (ns) out.push({ namespace: ns, on: r });
    }
  }
  return out;
}

/**
 * Every namespace an object lives in exists, has one owner, and says which Pod Security level it
 * enforces.
 *
 * Upstream: the API server's NamespaceLifecycle admission plugin
 * (kubernetes `plugin/pkg/admission/namespace/lifecycle/admission.go`) refuses an object in a
 * namespace that does not exist (`namespaces "x" not found`); Pod Security admission reads the
 * `pod-security.kubernetes.io/<mode>` and `<mode>-version` labels of the namespace
 * (https://kubernetes.io/docs/concepts/security/pod-security-admission/#pod-security-admission-labels-for-namespaces),
 * and a namespace without them gets the cluster's default, `privileged` on EKS.
 */
export const namespacesCheck: PlatformCheck = {
  id: 'namespaces',
  description: 'Every namespace an object lives in is created once, by a manifest, Terraform or a Helm release, and carries a Pod Security enforce label.',
  upstream: 'kubernetes plugin/pkg/admission/namespace/lifecycle (namespaces "x" not found); https://kubernetes.io/docs/concepts/security/pod-security-admission/ (namespace labels)',
  check(model: PlatformModel): PlatformFinding[] {
    const out: PlatformFinding[] = [];
    const creators = namespaceCreators(model);
    // Missing namespaces: one finding per namespace and construct.
    const reported = new Set<string>();
    for (const u of namespaceUsers(model)) {
      if (BUILT_IN_NAMESPACES.includes(u.namespace) || creators.has(u.namespace)) continue;
      const key = `${u.namespace}\u0000${u.on.path}`;
      if (reported.has(key)) continue;
      reported.add(key);
      out.push(finding('namespaces', u.on,
        `lives in namespace '${u.namespace}', which nothing creates (no Namespace manifest, Terraform namespace or Helm create_namespace): the API server refuses it with 'namespaces "${u.namespace}" not found', and the namespace would carry no Pod Security labels.`,
        `Declare the namespace in the construct with PlatformNamespaces.use(this, '${u.namespace}'), so the platform creates it with its Pod Security labels (or create it yourself, labelled).`));
    }
    for (const [name, list] of creators) {
      if (BUILT_IN_NAMESPACES.includes(name)) continue;
      if (list.length > 1) {
        out.push(finding('namespaces', list[1].on,
          `namespace '${name}' is created by ${list.map((c) => c.by).join(' and ')}: two owners fight over its labels, and the one that deletes it deletes everything in it.`,
          'Create each namespace once: Terraform where Terraform writes into it, else the cluster manifest (PlatformNamespaces); a Helm release into it depends on the namespace instead of create_namespace.'));
      }
      const labelled = list.find((c) => c.labels !== undefined);
      if (!labelled) {
        out.push(finding('namespaces', list[0].on,
          `namespace '${name}' is created by ${list[0].by}, which gives it no labels: Pod Security admission then enforces the cluster default (privileged on EKS) there.`,
          `Create the namespace in Terraform with the pod-security.kubernetes.io labels of its level (the KubernetesStack does for add-on namespaces) and let the release depend on it.`));
        continue;
      }
      const level = labelled.labels![ENFORCE];
      if (!LEVELS.includes(level)) {
        out.push(finding('namespaces', labelled.on,
          level === undefined
            ? `namespace '${name}' has no ${ENFORCE} label: Pod Security admission enforces the cluster default (privileged on EKS), so nothing keeps privileged pods out.`
            : `namespace '${name}' has ${ENFORCE}=${level}, which Pod Security admission does not know (allowed: ${LEVELS.join(', ')}).`,
          `Label it ${ENFORCE}=restricted (or baseline/privileged with a reason: PlatformNamespaces.use(scope, '${name}', { podSecurity, reason })).`));
      }
      for (const mode of ['enforce', 'warn', 'audit']) {
        const version = labelled.labels![`pod-security.kubernetes.io/${mode}-version`];
        if (version !== undefined && !/^(latest|v1\.(0|[1-9][0-9]*))$/.test(version)) {
          out.push(finding('namespaces', labelled.on,
            `namespace '${name}' has pod-security.kubernetes.io/${mode}-version=${version}, which is not 'latest' or 'v1.<minor>'.`,
            `Pin a Kubernetes minor version such as v1.30.`));
        }
      }
    }
    return out;
  },
};
