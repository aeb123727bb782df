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
