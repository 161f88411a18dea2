export * from './options';
export * from './canary-rollout';
