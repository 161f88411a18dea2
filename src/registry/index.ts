export * from './model-registry';
export * from './lineage';
export { ALIAS_GATE_SCRIPT, nginxConfig, PROMOTION_PORT } from './promotion-gate';
