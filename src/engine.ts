/**
 * The engine module: the only place in this library that imports the CDK for Terraform and cdk8s
 * core packages (and the Kubernetes API version that cdk8s-plus targets).
 *
 * CDK for Terraform was archived upstream in December 2025; its maintained fork is CDK Terrain
 * (`cdktn`), which CI runs the whole suite on as a second leg (the core package aliased). The typed
 * Kubernetes API comes from cdk8s-plus-34 (Kubernetes 1.34). Moving to another engine or Kubernetes
 * version is a change here; the rest of the library imports these names from this module only
 * (enforced by lint and a test), and recognises engine objects with the engines' own `isX()`
 * functions, never `instanceof` (two copies of a core package must not silently disagree).
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
export * as k8s from 'cdk8s-plus-34/lib/imports/k8s';

/** The Kubernetes minor version whose API the generated manifests target. */
export const KUBERNETES_API_VERSION = '1.34';
