/**
 * The Kubernetes provider binding, one module per resource (`@cdktf/provider-kubernetes/lib/<resource>`), never
 * the barrel: the library imports provider classes from here only (enforced by lint), so moving to
 * another binding package (e.g. CDK Terrain's `@cdktn/provider-kubernetes`) is a change in this file.
 */
export { ConfigMapV1 } from '@cdktf/provider-kubernetes/lib/config-map-v1';
export { Manifest } from '@cdktf/provider-kubernetes/lib/manifest';
export { NamespaceV1 } from '@cdktf/provider-kubernetes/lib/namespace-v1';
export { PersistentVolumeV1 } from '@cdktf/provider-kubernetes/lib/persistent-volume-v1';
export { KubernetesProvider } from '@cdktf/provider-kubernetes/lib/provider';
export { SecretV1 } from '@cdktf/provider-kubernetes/lib/secret-v1';
