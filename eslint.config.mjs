// Lint: the import rules that keep the library fast and its engine swappable.
import tsParser from '@typescript-eslint/parser';

const barrels = ['@cdktf/provider-aws', '@cdktf/provider-kubernetes', '@cdktf/provider-helm'].map((name) => ({
  name,
  message: `The ${name} barrel costs seconds and hundreds of MB for every user; import the resource's module, e.g. '${name}/lib/<resource>'.`,
}));
const engine = ['cdktf', 'cdk8s', 'cdk8s-plus-28', 'cdktn'].map((name) => ({
  name,
  message: `Import ${name} through src/engine.ts, the one module that may name the engine packages.`,
}));
const enginePatterns = [{ group: ['cdktf/*', 'cdk8s/*', 'cdk8s-plus-28/*', 'cdktf-cdk8s', 'cdktf-cdk8s/*'], message: 'Import the engine through src/engine.ts (and never the archived cdktf-cdk8s bridge).' }];

export default [
  { ignores: ['lib/**', 'node_modules/**', 'cdktf.out/**', 'k8s.out/**', '.gen/**'] },
  {
    files: ['**/*.ts', '**/*.mjs', '**/*.js', '**/*.cjs'],
    languageOptions: { parser: tsParser, ecmaVersion: 2022, sourceType: 'module' },
    rules: {
      'no-restricted-imports': ['error', { paths: [...barrels, ...engine], patterns: enginePatterns }],
      'no-restricted-syntax': ['error', {
        selector: "CallExpression[callee.name='require'][arguments.0.value=/^@cdktf\\/provider-(aws|kubernetes|helm)$/]",
        message: 'No provider barrel, not even through require().',
      }, {
        selector: "CallExpression[callee.name='require'][arguments.0.value=/^(cdktf|cdk8s|cdk8s-plus-28|cdktf-cdk8s)(\\/.*)?$/]",
        message: 'Require the engine through src/engine.ts.',
      }],
    },
  },
  {
    files: ['src/engine.ts'],
    rules: { 'no-restricted-imports': ['error', { paths: barrels }] },
  },
];
