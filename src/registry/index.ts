export * from './model-registry';
export * from './lineage';
