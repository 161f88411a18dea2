/**
 * The engine module: the only place in this library that imports the CDK for Terraform and cdk8s
 * core packages (and the Kubernetes API version that cdk8s-plus targets).
 *
 * CDK for Terraform was archived upstream in December 2025 (a community fork continues it) and
 * cdk8s-plus-28 targets Kubernetes 1.28. Moving to another engine or Kubernetes version is a change
 * here; the rest of the library imports these names from this module only (enforced by lint).
 */
export {
  App as TerraformApp,
  Aspects,
  Fn,
  LocalBackend,
  S3Backend,
  TerraformElement,
  TerraformOutput,
  TerraformResource,
  TerraformStack,
  Token,
} from 'cdktf';
export type { AppConfig as TerraformAppConfig, IAspect, ITerraformDependable, TerraformResourceLifecycle } from 'cdktf';
export { Construct } from 'constructs';
export type { IConstruct } from 'constructs';
export { App as KubernetesApp, ApiObject, Chart, JsonPatch, Lazy as KubernetesLazy, Yaml } from 'cdk8s';
export type { ChartProps } from 'cdk8s';
/** Typed Kubernetes API objects (L1) for the Kubernetes version this engine targets. */
export * as k8s from 'cdk8s-plus-28/lib/imports/k8s';

/** The Kubernetes minor version whose API the generated manifests target. */
export const KUBERNETES_API_VERSION = '1.28';
