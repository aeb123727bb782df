// What every SIGKILL crash child shares: its argument conventions, a seeded random source (so a
// failing seed replays), the next index of each topic, and the acknowledgement lines. A line is
// printed only after the operation it reports resolved; lines are buffered and written every 2 ms
// (one write per line would make the child's I/O, not the WAL, the bottleneck). A line still in
// the buffer when the kill lands is an acknowledgement the parent never saw: it only makes the
// parent's check weaker for that entry, never wrong.

/** 'interval' is { intervalMs: 20 }: short, so a kill lands between rounds and during them. */
export function parseFsync(arg) {
  return arg === 'interval' ? { intervalMs: 20 } : arg;
}

/** A deterministic random source in [0, 1) from a 32-bit seed. */
export function seededRandom(seedArg) {
  let seed = Number(seedArg) >>> 0;
  return () => {
    seed = (Math.imul(seed ^ (seed >>> 15), 0x2c1b3c6d) + 0x9e3779b9) >>> 0;
    return seed / 2 ** 32;
  };
}

/** The next index (== seq) to append to each topic, from the reopened WAL's stats. */
export function nextIndexes(stats, topics) {
  return new Map(topics.map((t) => [t, stats.topics[t]?.appended ?? 0]));
}

/**
 * Buffered acknowledgement lines on stdout; `ack(line)` after the operation resolved.
 * `ack.flush()` writes what is buffered now (before a line that must follow every earlier one).
 */
export function acknowledgements() {
  let out = '';
  const flush = () => {
    if (out.length > 0) {
      process.stdout.write(out);
      out = '';
    }
  };
  setInterval(flush, 2).unref();
  const ack = (line) => {
    out += `${line}\n`;
  };
  ack.flush = flush;
  return ack;
}
