export * from './instances';
export * from './options';
export * from './network';
export * from './storage';
export * from './karpenter';
export * from './gpu-cluster';
export * from './training-job';
export { PRIORITY_CLASSES, DEVICE_PLUGIN_IMAGE, DCGM_EXPORTER_IMAGE } from './cluster-workloads';
