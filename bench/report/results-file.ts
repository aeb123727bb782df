import * as fs from 'node:fs';
import * as path from 'node:path';

/** A file-name-safe UTC timestamp, e.g. 2026-11-25T09-41-12Z. */
export function resultStamp(date: Date): string {
  return date
    .toISOString()
    .replace(/\.\d+Z$/, 'Z')
    .replace(/:/g, '-');
}

export interface WrittenResults {
  json: string;
  svg: string;
  markdown: string;
}

export function writeResults(
  outDir: string,
  stamp: string,
  data: unknown,
  svg: string,
  markdown: string,
): WrittenResults {
  fs.mkdirSync(outDir, { recursive: true });
  const files = {
    json: path.join(outDir, `${stamp}.json`),
    svg: path.join(outDir, `${stamp}.svg`),
    markdown: path.join(outDir, `${stamp}.md`),
  };
  fs.writeFileSync(files.json, `${JSON.stringify(data, null, 2)}\n`);
  fs.writeFileSync(files.svg, svg);
  fs.writeFileSync(files.markdown, markdown);
  return files;
}
