export * from './options';
export * from './feature-store';
export * from './model-cards';
export * from './read-gate';
