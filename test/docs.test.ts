import * as fs from 'fs';
import * as path from 'path';
import { DIAGRAM_FILE, referencePlatformDocument } from '../stacks/diagram';
import { run, tempDir } from './harness/tools';

const ROOT = path.join(__dirname, '..');

describe('docs', () => {
  it('docs/reference-platform.md is the diagram of the reference platform as it is now (npm run docs:diagram)', () => {
    expect(DIAGRAM_FILE).toBe(path.join(ROOT, 'docs', 'reference-platform.md'));
    const text = referencePlatformDocument();
    expect(text).toContain('```mermaid\nflowchart LR\n  subgraph platform[');
    expect(fs.readFileSync(DIAGRAM_FILE, 'utf8')).toBe(text);
  });

  it('every export of the library has a doc comment, and no public member lost or lacks one (npm run docs:check)', () => {
    const r = run(process.execPath, [path.join(ROOT, 'scripts', 'docs-check.mjs')], { cwd: ROOT });
    expect({ status: r.status, problems: r.stderr.split('\n').filter((l) => l && !l.startsWith('docs:check:')) }).toEqual({ status: 0, problems: [] });
  });

  it('the docs check fails on an exported symbol without a doc comment', () => {
    // GIVEN a module that exports an undocumented function, read the way the check reads src/index.ts
    const dir = tempDir('mlops-docs-check-');
    try {
      fs.writeFileSync(path.join(dir, 'index.ts'), `export * from ${JSON.stringify(path.join(ROOT, 'src', 'index'))};\nexport function undocumented(): number { return 1; }\n`);
      const script = `import(${JSON.stringify(path.join(ROOT, 'scripts', 'docs-check.mjs'))}).then((m) => {
        const missing = m.apiReference(${JSON.stringify(path.join(dir, 'index.ts'))}).filter((e) => !e.doc && !e.name.includes('.')).map((e) => e.name);
        process.stdout.write(JSON.stringify(missing));
      })`;
      const r = run(process.execPath, ['-e', script], { cwd: ROOT });
      // THEN it is named
      expect(JSON.parse(r.stdout || '[]')).toEqual(['undocumented']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
