import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { OptionsError, parseBytes, parseDurationMs, parseOptions, sectionIds, systemIds } from '../options.js';

describe('parseOptions', () => {
  it('defaults to every section and system, 100 B and 1 KiB, 3 s × 3, full-size scenarios', () => {
    const o = parseOptions([]);
    expect(o.sections).toEqual([...sectionIds]);
    expect(o.systems).toEqual([...systemIds]);
    expect(o.sizesBytes).toEqual([100, 1024]);
    expect(o.durationMs).toBe(3000);
    expect(o.repeat).toBe(3);
    expect(o.ingestBytes).toBe(4 * 1024 ** 3);
    expect(o.recoveryBytes).toBe(2 * 1024 ** 3);
    expect(o.topicCount).toBe(100_000);
    expect(o.baseDir).toBe(os.tmpdir());
    expect(o.cold).toBe(true);
    expect(o.quick).toBe(false);
  });

  it('--quick scales down, and explicit options still win over it', () => {
    const quick = parseOptions(['--quick']);
    expect(quick.durationMs).toBeLessThan(1000);
    expect(quick.ingestBytes).toBeLessThan(4 * 1024 ** 3);
    expect(quick.repeat).toBeGreaterThanOrEqual(3);
    const both = parseOptions(['--quick', '--duration', '2s', '--ingest-bytes=1GiB']);
    expect(both.durationMs).toBe(2000);
    expect(both.ingestBytes).toBe(1024 ** 3);
    expect(both.quick).toBe(true);
  });

  it('keeps the canonical order of sections and systems and sorts sizes', () => {
    const o = parseOptions(['--scenarios', 'topics,write', '--systems=lmdb,walrus-ts', '--sizes', '1KiB,100,1k']);
    expect(o.sections).toEqual(['write', 'topics']);
    expect(parseOptions(['--scenarios', 'topics,pipeline,read']).sections).toEqual(['read', 'pipeline', 'topics']);
    expect(o.systems).toEqual(['walrus-ts', 'lmdb']);
    expect(o.sizesBytes).toEqual([100, 1024]);
  });

  it('resolves directories and reads the flags without values', () => {
    const o = parseOptions(['--dir', 'some/where', '--out', 'x', '--no-cold', '--help', '--window', '1_000']);
    expect(o.baseDir).toBe(path.resolve('some/where'));
    expect(o.outDir).toBe(path.resolve('x'));
    expect(o.cold).toBe(false);
    expect(o.help).toBe(true);
    expect(o.windowOps).toBe(1000);
  });

  it.each([
    [['--scenarios', 'nope']],
    [['--systems', 'postgres']],
    [['--repeat', '0']],
    [['--repeat', '1.5']],
    [['--duration']],
    [['--sizes', '1 parsec']],
    [['--frobnicate']],
  ])('rejects %j with an OptionsError', (argv) => {
    expect(() => parseOptions(argv)).toThrow(OptionsError);
  });
});

describe('units', () => {
  it('parses byte sizes in binary units', () => {
    expect(parseBytes('100')).toBe(100);
    expect(parseBytes('1KiB')).toBe(1024);
    expect(parseBytes('256MiB')).toBe(256 * 1024 ** 2);
    expect(parseBytes('0.5g')).toBe(1024 ** 3 / 2);
    expect(() => parseBytes('0')).toThrow(OptionsError);
  });

  it('parses durations in ms or s', () => {
    expect(parseDurationMs('250')).toBe(250);
    expect(parseDurationMs('250ms')).toBe(250);
    expect(parseDurationMs('1.5s')).toBe(1500);
    expect(() => parseDurationMs('soon')).toThrow(OptionsError);
  });
});
