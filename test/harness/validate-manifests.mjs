// Validates Kubernetes manifests against the Kubernetes OpenAPI schemas (kubernetes-models) and the
// CRD schemas of the controllers the platform installs (@kubernetes-models/*). These packages are
// ESM-only, so the check runs in its own node process: `node validate-manifests.mjs < docs.json`,
// where the input is [{ file, doc }]; it prints [{ file, kind, name, error? }].
import { readFileSync } from 'node:fs';

const CRD_PACKAGES = {
  'argoproj.io': ['@kubernetes-models/argo-rollouts', '@kubernetes-models/argo-workflows'],
  'monitoring.coreos.com': ['@kubernetes-models/prometheus-operator'],
  'karpenter.sh': ['@kubernetes-models/karpenter'],
  'karpenter.k8s.aws': ['@kubernetes-models/karpenter'],
  'keda.sh': ['@kubernetes-models/keda'],
  'networking.istio.io': ['@kubernetes-models/istio'],
  'security.istio.io': ['@kubernetes-models/istio'],
  'gateway.networking.k8s.io': ['@kubernetes-models/gateway-api'],
};

const modules = new Map();
async function load(specifier) {
  if (!modules.has(specifier)) {
    modules.set(specifier, await import(specifier).catch(() => undefined));
  }
  return modules.get(specifier);
}

async function modelFor(apiVersion, kind) {
  const group = apiVersion.includes('/') ? apiVersion.split('/')[0] : '';
  const candidates = [`kubernetes-models/${apiVersion}`, ...(CRD_PACKAGES[group] ?? []).map((p) => `${p}/${apiVersion}`)];
  for (const specifier of candidates) {
    const mod = await load(specifier);
    const cls = mod?.[kind];
    if (cls && cls.apiVersion === apiVersion && cls.kind === kind) return cls;
  }
  return undefined;
}

const input = JSON.parse(readFileSync(0, 'utf8'));
const results = [];
for (const { file, doc } of input) {
  const entry = { file, kind: doc?.kind, name: doc?.metadata?.name };
  try {
    if (!doc || typeof doc.apiVersion !== 'string' || typeof doc.kind !== 'string') throw new Error('not a Kubernetes object: apiVersion and kind are required');
    const Model = await modelFor(doc.apiVersion, doc.kind);
    if (!Model) throw new Error(`no schema for ${doc.apiVersion} ${doc.kind}: unknown kinds fail the check`);
    new Model(doc).validate();
  } catch (e) {
    entry.error = e.message;
  }
  results.push(entry);
}
process.stdout.write(JSON.stringify(results));
