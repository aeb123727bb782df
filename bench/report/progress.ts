/**
 * One status line on stderr while the run goes: rewritten in place on a terminal, one line per
 * step otherwise (CI logs), so stdout stays the table.
 */
export interface ProgressSink {
  update(text: string): void;
  /** Prints a lasting line (above the status line). */
  note(text: string): void;
  done(): void;
}

function clock(ms: number): string {
  const s = Math.floor(ms / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

export function createProgress(stream: NodeJS.WriteStream = process.stderr): ProgressSink {
  const startMs = performance.now();
  const live = stream.isTTY === true;
  let shown = false;
  const clear = (): void => {
    if (live && shown) stream.write('\r\x1b[2K');
    shown = false;
  };
  return {
    update(text) {
      const line = `${clock(performance.now() - startMs)} ${text}`;
      if (live) {
        clear();
        stream.write(line.slice(0, (stream.columns || 120) - 1));
        shown = true;
      } else {
        stream.write(`${line}\n`);
      }
    },
    note(text) {
      clear();
      stream.write(`${text}\n`);
    },
    done() {
      clear();
    },
  };
}
