export * from './model-registry';
export * from './lineage';
export { LINEAGE_TAG_PREFIX, nginxConfig, PROMOTION_PORT, REGISTRY_GATE_SCRIPT } from './promotion-gate';
