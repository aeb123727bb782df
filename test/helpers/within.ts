/**
 * A hang detector, not a timing assertion: the calls it bounds settle long before `ms` on any
 * machine, so a timeout means a call that never settles, reported by name instead of as a stuck
 * test file.
 */
export function within<T>(p: Promise<T>, label: string, ms = 20_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`hung for ${ms} ms: ${label}`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Polls `cond` every `intervalMs` until it holds; the same kind of hang detector as `within`: a
 * condition that does not hold after `ms` fails by name instead of running into the test timeout.
 */
export async function until(
  cond: () => boolean | Promise<boolean>,
  label: string,
  ms = 60_000,
  intervalMs = 25,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`hung for ${ms} ms: ${label}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
