export * from './metrics';
export * from './model-server';
export * from './options';
export * from './serving-endpoint';
