/**
 * The Helm provider binding, one module per resource (`@cdktf/provider-helm/lib/<resource>`), never
 * the barrel: the library imports provider classes from here only (enforced by lint), so moving to
 * another binding package (e.g. CDK Terrain's `@cdktn/provider-helm`) is a change in this file.
 */
export { HelmProvider } from '@cdktf/provider-helm/lib/provider';
export { Release } from '@cdktf/provider-helm/lib/release';
