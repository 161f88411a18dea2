import * as fs from 'fs';
import * as path from 'path';
import * as ts from 'typescript';
import { readmeBlocks, ROOT } from './harness/readme';
import { tempDir } from './harness/tools';

/**
 * The README's examples compile: every block marked `<!-- compiled -->` as a module of its own that
 * imports 'mlops-platform-constructs' (resolved to this checkout's src/), every block marked
 * `<!-- compiled: fragment -->` with every export of the library and the names the examples share
 * (`app`, `aws`, `cluster`, `registry`, the endpoints) in scope.
 */
describe('README examples', () => {
  const blocks = readmeBlocks();
  const compiled = blocks.filter((b) => b.marker);

  it('marks its first example, the ones of "Use it in your project" and every construct example as compiled', () => {
    expect(blocks.find((b) => b.lang === 'ts')?.marker).toBe('compiled');
    expect(blocks.filter((b) => b.section === 'Use it in your project' && b.lang === 'ts').every((b) => b.marker === 'compiled')).toBe(true);
    // a ts block that is not compiled is a defect waiting to happen
    expect(blocks.filter((b) => b.lang === 'ts' && !b.marker).map((b) => `README.md:${b.line}`)).toEqual([]);
    expect(compiled.length).toBeGreaterThanOrEqual(6);
  });

  it('type-check against the library', () => {
    // GIVEN each block as a file, fragments behind a prelude of the library's exports and shared names
    const dir = tempDir('mlops-readme-');
    const libraryExports = Object.keys(require('../src')).filter((n) => /^[A-Za-z_$][\w$]*$/.test(n));
    const prelude = [
      `import { ${libraryExports.join(', ')} } from 'mlops-platform-constructs';`,
      'declare const app: PlatformApp; declare const aws: PlatformStack; declare const cluster: GpuTrainingCluster; declare const registry: ModelRegistry;',
      'declare const fraud: ServingEndpoint; declare const recsys: ServingEndpoint; declare const ranker: ServingEndpoint; declare const fraudRetrain: TrainingPipeline;',
      `void [app, aws, cluster, registry, fraud, recsys, ranker, fraudRetrain, ${libraryExports.join(', ')}];`,
    ].join('\n');
    const files = compiled.map((b) => {
      const file = path.join(dir, `readme-${b.line}.ts`);
      fs.writeFileSync(file, b.marker === 'compiled: fragment' ? `${prelude}\n{\n${b.code}}\n` : b.code);
      return { file, block: b, offset: b.marker === 'compiled: fragment' ? prelude.split('\n').length + 1 : 0 };
    });

    // WHEN they are compiled with the project's compiler options, the package name mapped to src/
    const config = ts.parseJsonConfigFileContent(ts.readConfigFile(path.join(ROOT, 'tsconfig.json'), ts.sys.readFile).config, ts.sys, ROOT);
    const program = ts.createProgram(files.map((f) => f.file), {
      ...config.options, noEmit: true, noUnusedLocals: false, noUnusedParameters: false,
      baseUrl: ROOT, paths: { 'mlops-platform-constructs': ['src/index.ts'] },
    });

    // THEN no block has an error (reported at its line in README.md)
    const errors = files.flatMap(({ file, block, offset }) => ts.getPreEmitDiagnostics(program, program.getSourceFile(file)).map((d) => {
      const { line } = d.file!.getLineAndCharacterOfPosition(d.start ?? 0);
      return `README.md:${block.line + 1 + line - offset}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
    }));
    fs.rmSync(dir, { recursive: true, force: true });
    expect(errors).toEqual([]);
  });
});
