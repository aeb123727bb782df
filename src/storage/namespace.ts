/**
 * Namespace directories (docs/FORMAT.md §1). A key maps to one directory name by walrus's
 * sanitizing rule, so walrus-rust and walrus-ts agree on where a key's data lives.
 */
import * as path from 'node:path';
import { WalError } from '../errors.js';
import { isWellFormedText } from './limits.js';

/** Longest accepted key, in code points: the sanitized name then stays far below NAME_MAX (255 bytes). */
export const MAX_NAMESPACE_KEY_CHARS = 200;

const FNV64_OFFSET_BASIS = 0xcbf29ce484222325n;
const FNV64_PRIME = 0x100000001b3n;
const U64_MASK = 0xffffffffffffffffn;
const KEPT_CHAR = /^[A-Za-z0-9._-]$/;
const ONLY_UNDERSCORES = /^_+$/;

function fnv1a64Hex(bytes: Uint8Array): string {
  let hash = FNV64_OFFSET_BASIS;
  for (const byte of bytes) hash = ((hash ^ BigInt(byte)) * FNV64_PRIME) & U64_MASK;
  return hash.toString(16);
}

/**
 * The directory name of a namespace key: ASCII letters, digits, `-`, `_` and `.` are kept, every
 * other code point becomes `_`; a name made only of `_` becomes `ns_<FNV-1a-64 hex of the key>`.
 */
export function sanitizeKey(key: string): string {
  if (typeof key !== 'string') throw WalError.invalidArgument(`namespace key must be a string, got ${typeof key}`);
  const chars = Array.from(key);
  if (chars.length === 0) throw WalError.invalidArgument('namespace key must not be empty');
  // MANIFEST records the key (docs/FORMAT.md §7): one with a lone surrogate would be stored as U+FFFD
  // and every later open with the same key refused as another key's.
  if (!isWellFormedText(key))
    throw WalError.invalidArgument('namespace key must be well-formed Unicode (it holds a lone surrogate)');
  if (key === '.' || key === '..')
    throw WalError.invalidArgument(`namespace key '${key}' would leave the data directory`);
  if (chars.length > MAX_NAMESPACE_KEY_CHARS) {
    throw WalError.invalidArgument(
      `namespace key is ${chars.length} characters, the limit is ${MAX_NAMESPACE_KEY_CHARS}`,
      {
        actual: chars.length,
        limit: MAX_NAMESPACE_KEY_CHARS,
      },
    );
  }
  const sanitized = chars.map((c) => (KEPT_CHAR.test(c) ? c : '_')).join('');
  if (!ONLY_UNDERSCORES.test(sanitized)) return sanitized;
  return `ns_${fnv1a64Hex(new TextEncoder().encode(key))}`;
}

/** The absolute directory of a namespace: `dir` itself without a key, else `dir/<sanitized key>`. */
export function resolveNamespaceDir(dir: string, key?: string): string {
  if (typeof dir !== 'string' || dir.length === 0) throw WalError.invalidArgument('dir must be a non-empty string');
  if (dir.includes('\0')) throw WalError.invalidArgument('dir must not contain NUL characters');
  return key === undefined ? path.resolve(dir) : path.resolve(dir, sanitizeKey(key));
}
