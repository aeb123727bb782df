import type { BenchEnv, CaseContext } from '../bench-case.js';
import type { WalrusApi, WalrusLog, WalrusOpenOptions } from '../walrus-module.js';

export const benchTopic = 'bench';

/** The topics of a row: just `bench` for one, `bench-0` … `bench-<n-1>` for more. */
export function benchTopics(count: number): string[] {
  return Array.from({ length: count }, (_, i) => (count === 1 ? benchTopic : `${benchTopic}-${i}`));
}

export function walrusApi(env: BenchEnv): WalrusApi {
  if (!env.walrus.ok) throw new Error(env.walrus.reason);
  return env.walrus.api;
}

/** The options every benchmark open uses: `dir`, the run's `--writers`, then the case's own. */
export function walrusOpenOptions(
  ctx: CaseContext,
  dir: string,
  options: Omit<WalrusOpenOptions, 'dir'> = {},
): WalrusOpenOptions {
  const writers = ctx.env.options.writers;
  return { dir, ...(writers === undefined ? {} : { writers }), ...options };
}

export function openWalrus(
  ctx: CaseContext,
  dir: string,
  options: Omit<WalrusOpenOptions, 'dir'> = {},
): Promise<WalrusLog> {
  return walrusApi(ctx.env).open(walrusOpenOptions(ctx, dir, options));
}

/** Opens a log in the repetition's directory, runs `body`, and closes it (closing is not timed). */
export async function withWalrus<T>(
  ctx: CaseContext,
  options: Omit<WalrusOpenOptions, 'dir'>,
  body: (wal: WalrusLog) => Promise<T>,
): Promise<T> {
  const wal = await openWalrus(ctx, ctx.repDir, options);
  try {
    return await body(wal);
  } finally {
    await wal.close();
  }
}
