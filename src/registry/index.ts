export * from './model-registry';
export * from './lineage';
export { LINEAGE_TAG_PREFIX, nginxConfig, PROMOTION_PORT, REGISTRY_GATE_SCRIPT } from './promotion-gate';
export { bootstrapSql, DatabaseCaBundle, REGISTRY_DB_SCRIPT, REGISTRY_DB_USER } from './database-access';
