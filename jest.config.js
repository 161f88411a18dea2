/**
 * Jest transpiles TypeScript file by file (ts-jest in isolated mode: no type check here;
 * `npm run typecheck` does that once for the whole project). Each run gets its own temporary folder
 * (test/harness/global-setup.js), removed at the end.
 */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.json' }] },
  moduleFileExtensions: ['ts', 'js', 'json'],
  testTimeout: 300000,
  maxWorkers: 2,
  globalSetup: '<rootDir>/test/harness/global-setup.js',
  globalTeardown: '<rootDir>/test/harness/global-teardown.js',
  reporters: ['default', '<rootDir>/test/harness/summary-reporter.js'],
};
