/**
 * What the CLI prints from disk never drives the terminal (issue 12, defect 12): payloads, topic
 * names and the LOCK holder's hostname are anyone's bytes. Control characters (C0, DEL, C1),
 * bidi embeddings, overrides and isolates and the other format characters are shown escaped.
 * Runs `bin/walrus.mjs` on the built package (`npm run build` first).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Walrus } from '../../dist/src/index.js';
import { escapeControl } from '../../src/cli/entry-format.js';
import { TmpDirs } from '../helpers/tmp-dir.js';
import { runWalrus } from './run-walrus.js';

/** Everything a terminal obeys or reorders by: ESC sequences, an 8-bit CSI, DEL, bidi controls, BOM, a tag character. */
const HOSTILE = 'a\u001b[31mred\u001b]0;title\u0007\u009b2J\u007f\u202eevil\u202c\u2066iso\u2069\u200f\ufeff\u{e0041}z';
/** What must not appear in output (a newline ends a line, so it may). Control characters are its point. */
const UNSAFE =
  // eslint-disable-next-line no-control-regex
  /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200b\u200e\u200f\u2028-\u202e\u2060-\u206f\ufeff]|\u{e0041}/u;

describe('output from disk is escaped: no control or format character reaches the terminal', () => {
  it('escapeControl escapes C0, DEL, C1, bidi and format characters, and keeps text, emoji and ZWJ', () => {
    expect(escapeControl(HOSTILE)).toBe(
      'a\\u001b[31mred\\u001b]0;title\\u0007\\u009b2J\\u007f\\u202eevil\\u202c\\u2066iso\\u2069\\u200f\\ufeff\\u{e0041}z',
    );
    expect(escapeControl('line\nnext\ttab\r')).toBe('line\\nnext\\ttab\\r');
    const kept = 'héllo 世界 👩\u200d👩\u200d👧 نص\u200cفارسی';
    expect(escapeControl(kept)).toBe(kept);
  });

  describe('through the CLI', () => {
    const tmp = new TmpDirs();
    let dir: string;
    beforeAll(async () => {
      dir = tmp.make('walrus-escape');
      const wal = await Walrus.open({ dir, fsync: 'none' });
      await wal.append('t', HOSTILE);
      await wal.append(`topic${HOSTILE}`, 'x');
      await wal.close();
    });
    afterAll(() => tmp.removeAll());

    it('tail prints payloads escaped in text and hex formats (json stays exact JSON)', async () => {
      const text = await runWalrus(['tail', dir, 't']);
      expect(text.code).toBe(0);
      expect(text.stdout).toBe(`${escapeControl(HOSTILE)}\n`);
      const hex = await runWalrus(['tail', dir, `topic${HOSTILE}`, '--format', 'hex']);
      expect(hex.code).toBe(0);
      expect(hex.stdout).not.toMatch(UNSAFE);
      const json = await runWalrus(['tail', dir, 't', '--format', 'json']);
      expect(JSON.parse(json.stdout).text).toBe(HOSTILE);
    });

    it('a missing topic is reported with the known names escaped', async () => {
      const run = await runWalrus(['tail', dir, `nope${HOSTILE}`]);
      expect(run.code).toBe(1);
      expect(run.stderr).toContain('no topic');
      expect(run.stderr).not.toMatch(UNSAFE);
    });

    it('stats shows the LOCK holder hostname escaped', async () => {
      fs.writeFileSync(path.join(dir, 'LOCK'), `${process.pid}\nhost${HOSTILE}\ntoken\n`);
      try {
        const run = await runWalrus(['stats', dir]);
        expect(run.code).toBe(0);
        expect(run.stdout).toContain(`on host${escapeControl(HOSTILE)}`);
        expect(run.stdout).not.toMatch(UNSAFE);
      } finally {
        fs.rmSync(path.join(dir, 'LOCK'));
      }
    });
  });
});
