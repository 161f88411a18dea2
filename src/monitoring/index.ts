export * from './promql';
export * from './drift';
export * from './rules';
export * from './subgroups';
export * from './dashboard';
export * from './alerting';
export * from './monitoring-stack';
