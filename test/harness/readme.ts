import * as fs from 'fs';
import * as path from 'path';

export const ROOT = path.join(__dirname, '..', '..');

/** A fenced code block of the README. */
export interface ReadmeBlock {
  /** The fence's language (`ts`, `json`, `sh`...). */
  readonly lang: string;
  readonly code: string;
  /** The `<!-- compiled -->` marker before the fence: `compiled`, `compiled: fragment`, or undefined. */
  readonly marker?: string;
  /** The 1-based line of the fence. */
  readonly line: number;
  /** The `##` section it is in. */
  readonly section: string;
}

/** Every fenced block of README.md, with its marker and section. */
export function readmeBlocks(file = path.join(ROOT, 'README.md')): ReadmeBlock[] {
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  const blocks: ReadmeBlock[] = [];
  let section = '';
  for (let i = 0; i < lines.length; i++) {
    const heading = /^## (.*)$/.exec(lines[i]);
    if (heading) section = heading[1].trim();
    const fence = /^```(\w*)\s*$/.exec(lines[i]);
    if (!fence) continue;
    const end = lines.indexOf('```', i + 1);
    const marker = /^<!-- (compiled(?:: [\w-]+)?) -->$/.exec(lines[i - 1] ?? '')?.[1];
    blocks.push({ lang: fence[1], code: lines.slice(i + 1, end).join('\n') + '\n', marker, line: i + 1, section });
    i = end;
  }
  return blocks;
}
