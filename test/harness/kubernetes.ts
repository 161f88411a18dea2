import * as path from 'path';
import { run } from './tools';

export interface ManifestCheck {
  readonly file: string;
  readonly kind: string;
  readonly name: string;
  readonly error?: string;
}

/**
 * Validates documents against the Kubernetes OpenAPI schema and the CRD schemas of the platform's
 * controllers (kubernetes-models, @kubernetes-models/*), in a separate node process because those
 * packages are ESM-only. An unknown kind is an error.
 */
export function validateManifests(manifests: Record<string, any[]>): ManifestCheck[] {
  const input = Object.entries(manifests).flatMap(([file, docs]) => docs.map((doc) => ({ file, doc })));
  const result = run(process.execPath, [path.join(__dirname, 'validate-manifests.mjs')], { input: JSON.stringify(input) });
  if (result.status !== 0) throw new Error(`manifest validation did not run:\n${result.stderr}`);
  return JSON.parse(result.stdout);
}

/** The failures of a validation, as readable lines (empty when every document is valid). */
export function manifestErrors(manifests: Record<string, any[]>): string[] {
  return validateManifests(manifests).filter((r) => r.error).map((r) => `${r.file}: ${r.kind} '${r.name}': ${r.error}`);
}
