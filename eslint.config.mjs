// Lint: the import rules that keep the library fast and its engine swappable.
import tsParser from '@typescript-eslint/parser';

const barrels = ['@cdktf/provider-aws', '@cdktf/provider-kubernetes', '@cdktf/provider-helm'].map((name) => ({
  name,
  message: `The ${name} barrel costs seconds and hundreds of MB for every user; import the resource's module, e.g. '${name}/lib/<resource>'.`,
}));
// Every engine package, whatever its version or fork: cdktf and its fork cdktn, cdk8s, any cdk8s-plus-<k8s minor>.
const enginePatterns = [{
  regex: '^(cdktf|cdktn|cdk8s|cdk8s-plus-[0-9]+|cdktf-cdk8s)(/.*)?$',
  message: 'Import the engine through src/engine.ts, the one module that may name the engine packages (and never the archived cdktf-cdk8s bridge).',
}];
// Provider barrels of either engine (@cdktf/provider-*, @cdktn/provider-*).
const barrelPatterns = [{
  regex: '^@(cdktf|cdktn)/provider-[a-z0-9-]+$',
  message: 'A provider barrel costs seconds and hundreds of MB for every user; import the resource\'s module, e.g. \'@cdktf/provider-aws/lib/s3-bucket\'.',
}];

// Provider classes come from the library's one module per provider (src/providers/<provider>.ts), so that
// a provider package rename (e.g. to CDK Terrain's @cdktn/provider-aws) is a change in one file.
const providerDeepPatterns = [{
  regex: '^@(cdktf|cdktn)/provider-[a-z0-9-]+/',
  message: 'Import provider classes from src/providers/<provider>.ts, the one module per provider that names the binding package.',
}];

export default [
  { ignores: ['lib/**', 'node_modules/**', 'cdktf.out/**', 'k8s.out/**', '.gen/**'] },
  {
    files: ['**/*.ts', '**/*.mjs', '**/*.js', '**/*.cjs'],
    languageOptions: { parser: tsParser, ecmaVersion: 2022, sourceType: 'module' },
    rules: {
      'no-restricted-imports': ['error', { paths: barrels, patterns: [...enginePatterns, ...barrelPatterns, ...providerDeepPatterns] }],
      'no-restricted-syntax': ['error', {
        selector: "CallExpression[callee.name='require'][arguments.0.value=/^@(cdktf|cdktn)\\/provider-[a-z0-9-]+$/]",
        message: 'No provider barrel, not even through require().',
      }, {
        selector: "CallExpression[callee.name='require'][arguments.0.value=/^(cdktf|cdktn|cdk8s|cdk8s-plus-[0-9]+|cdktf-cdk8s)(\\/.*)?$/]",
        message: 'Require the engine through src/engine.ts.',
      }],
    },
  },
  {
    files: ['src/providers/*.ts'],
    rules: { 'no-restricted-imports': ['error', { paths: barrels, patterns: [...enginePatterns, ...barrelPatterns] }] },
  },
  {
    files: ['src/engine.ts'],
    rules: { 'no-restricted-imports': ['error', { paths: barrels, patterns: barrelPatterns }] },
  },
];
