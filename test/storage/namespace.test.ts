import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { WalError as BuiltWalError, Walrus } from '../../dist/src/index.js';
import { MAX_NAMESPACE_KEY_CHARS, resolveNamespaceDir, sanitizeKey } from '../../src/storage/namespace.js';
import { TmpDirs } from '../helpers/tmp-dir.js';
import { expectWalError } from '../helpers/wal-error-assert.js';

/** Reference FNV-1a-64 written independently of the implementation (plain 64-bit arithmetic on BigInt). */
function fnvHex(text: string): string {
  let h = 14695981039346656037n;
  for (const b of Buffer.from(text, 'utf8')) h = BigInt.asUintN(64, (h ^ BigInt(b)) * 1099511628211n);
  return h.toString(16);
}

describe('sanitizeKey (FORMAT §1, the walrus rule)', () => {
  it('keeps ASCII letters, digits, - _ . and turns everything else into _', () => {
    expect(sanitizeKey('prod/payments::v1')).toBe('prod_payments__v1');
    expect(sanitizeKey('Az09-_.')).toBe('Az09-_.');
    expect(sanitizeKey('a b\tc\\d')).toBe('a_b_c_d');
  });

  it('turns each non-ASCII code point into one _ (astral characters included)', () => {
    expect(sanitizeKey('café')).toBe('caf_');
    expect(sanitizeKey('x😀y')).toBe('x_y');
  });

  it('falls back to ns_<FNV-1a-64 hex> when only underscores remain', () => {
    expect(sanitizeKey('///')).toBe(`ns_${fnvHex('///')}`);
    expect(sanitizeKey('___')).toBe(`ns_${fnvHex('___')}`);
    expect(sanitizeKey('日本')).toBe(`ns_${fnvHex('日本')}`);
    // The reference hash itself checked against the published FNV-1a-64 vector for "a".
    expect(fnvHex('a')).toBe('af63dc4c8601ec8c');
    expect(sanitizeKey('/?')).not.toBe(sanitizeKey('?/'));
  });

  it('keeps keys that mix underscores and kept characters as they are', () => {
    expect(sanitizeKey('_a_')).toBe('_a_');
    expect(sanitizeKey('...')).toBe('...');
  });

  it('rejects empty, ".", "..", over-long and non-string keys with ERR_INVALID_ARGUMENT', () => {
    for (const bad of [
      '',
      '.',
      '..',
      'k'.repeat(MAX_NAMESPACE_KEY_CHARS + 1),
      '😀'.repeat(MAX_NAMESPACE_KEY_CHARS + 1),
    ]) {
      expectWalError(() => sanitizeKey(bad), 'ERR_INVALID_ARGUMENT');
    }
    for (const bad of [undefined, null, 42, {}, ['a']])
      expectWalError(() => sanitizeKey(bad as unknown as string), 'ERR_INVALID_ARGUMENT');
  });

  it('accepts a key of exactly the limit, counted in code points', () => {
    expect(sanitizeKey('k'.repeat(MAX_NAMESPACE_KEY_CHARS))).toHaveLength(MAX_NAMESPACE_KEY_CHARS);
    expect(sanitizeKey(`a${'😀'.repeat(MAX_NAMESPACE_KEY_CHARS - 1)}`)).toBe(
      `a${'_'.repeat(MAX_NAMESPACE_KEY_CHARS - 1)}`,
    );
  });
});

describe('resolveNamespaceDir', () => {
  it('is the directory itself without a key, and a sanitized child with one; always absolute', () => {
    expect(resolveNamespaceDir('/data/wal')).toBe('/data/wal');
    expect(resolveNamespaceDir('/data/wal', 'prod/payments::v1')).toBe('/data/wal/prod_payments__v1');
    expect(resolveNamespaceDir('rel', 'k')).toBe(path.resolve('rel', 'k'));
  });

  it('never leaves the base directory, whatever the key', () => {
    for (const key of ['../x', '/etc', 'a/../../b', '\0', '~']) {
      expect(path.dirname(resolveNamespaceDir('/data/wal', key))).toBe('/data/wal');
    }
    expectWalError(() => resolveNamespaceDir('/data/wal', '..'), 'ERR_INVALID_ARGUMENT');
  });

  it('rejects an empty or non-string dir', () => {
    expectWalError(() => resolveNamespaceDir(''), 'ERR_INVALID_ARGUMENT');
    expectWalError(() => resolveNamespaceDir(7 as unknown as string), 'ERR_INVALID_ARGUMENT');
    expectWalError(() => resolveNamespaceDir('a\0b'), 'ERR_INVALID_ARGUMENT');
  });
});

describe('a namespace key is well-formed Unicode: it is recorded in MANIFEST and must read back as itself (FORMAT §1, §7)', () => {
  const tmp = new TmpDirs();
  afterEach(() => tmp.removeAll());

  it('a key with a lone surrogate is refused with ERR_INVALID_ARGUMENT, at open, creating nothing', async () => {
    for (const key of ['\uD800', 'orders-\uDC00', 'a\uDC00\uD800b']) {
      expectWalError(() => sanitizeKey(key), 'ERR_INVALID_ARGUMENT');
      const dir = tmp.make('walrus-keys');
      const err = await Walrus.open({ dir, key, fsync: 'none' }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(BuiltWalError);
      expect((err as BuiltWalError).code).toBe('ERR_INVALID_ARGUMENT');
      expect(fs.readdirSync(dir)).toEqual([]);
    }
  });

  it('NFC and NFD forms of one key are distinct byte strings, hence distinct namespaces (no normalization)', async () => {
    const nfc = 'caf\u00e9';
    const nfd = 'cafe\u0301';
    expect(nfc.normalize('NFD')).toBe(nfd);
    expect(sanitizeKey(nfc)).not.toBe(sanitizeKey(nfd));
    const dir = tmp.make('walrus-keys');
    for (const key of [nfc, nfd, nfc]) {
      const wal = await Walrus.open({ dir, key, fsync: 'none' });
      try {
        await wal.append('t', key);
      } finally {
        await wal.close();
      }
    }
    const wal = await Walrus.open({ dir, key: nfd, fsync: 'none' });
    try {
      expect((await wal.batchRead('t', { maxBytes: Infinity, checkpoint: false })).map((e) => e.text())).toEqual([nfd]);
    } finally {
      await wal.close();
    }
  });
});
