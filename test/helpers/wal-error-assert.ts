import { expect } from 'vitest';
import { WalError, type WalErrorCode } from '../../src/errors.js';

/** Runs `fn`, expecting it to throw a WalError with `code`; returns the error for further checks. */
export function expectWalError(fn: () => unknown, code: WalErrorCode): WalError {
  let thrown: unknown;
  try {
    fn();
  } catch (err) {
    thrown = err;
  }
  expect(thrown, `expected ${code}`).toBeInstanceOf(WalError);
  expect((thrown as WalError).code).toBe(code);
  return thrown as WalError;
}
