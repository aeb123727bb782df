/**
 * A one-line progress bar on stderr, redrawn in place. Only on a terminal: piped or redirected
 * stderr (scripts, CI logs) gets nothing, so the output a script parses is never interleaved with
 * carriage returns.
 */
import { formatBytes } from './format.js';

export interface ProgressStream {
  isTTY?: boolean;
  columns?: number;
  write(text: string): boolean;
}

/** Redraws at most this often: a terminal is slower than scanning thousands of small files. */
const REDRAW_EVERY_MS = 100;

export class ProgressBar {
  readonly #stream: ProgressStream;
  readonly #label: string;
  #lastDraw = 0;
  #drawn = false;

  private constructor(stream: ProgressStream, label: string) {
    this.#stream = stream;
    this.#label = label;
  }

  /** A bar on `stream` when it is a terminal, else null (callers use `bar?.update(…)`). */
  static forStream(stream: ProgressStream, label: string): ProgressBar | null {
    return stream.isTTY === true ? new ProgressBar(stream, label) : null;
  }

  update(doneFiles: number, totalFiles: number, doneBytes: number, totalBytes: number): void {
    const now = Date.now();
    const complete = doneFiles === totalFiles;
    if (!complete && now - this.#lastDraw < REDRAW_EVERY_MS) return;
    this.#lastDraw = now;
    this.#stream.write(
      `\r${renderProgressLine(this.#label, doneFiles, totalFiles, doneBytes, totalBytes, this.#stream.columns || 80)}`,
    );
    this.#drawn = true;
  }

  /** Erases the bar, so what is printed next starts on a clean line. */
  clear(): void {
    if (!this.#drawn) return;
    this.#stream.write('\r\x1b[2K');
    this.#drawn = false;
  }
}

/** `label [#####.....]  42%  3/7 files  1.2 MiB/3.0 MiB`, fitted to `columns`. */
export function renderProgressLine(
  label: string,
  doneFiles: number,
  totalFiles: number,
  doneBytes: number,
  totalBytes: number,
  columns: number,
): string {
  const fraction = totalBytes > 0 ? doneBytes / totalBytes : totalFiles > 0 ? doneFiles / totalFiles : 1;
  const percent = `${Math.floor(Math.min(1, fraction) * 100)}%`.padStart(4);
  const tail = ` ${percent}  ${doneFiles}/${totalFiles} files  ${formatBytes(doneBytes)}/${formatBytes(totalBytes)}`;
  const room = columns - 1 - label.length - tail.length - 3;
  const width = Math.max(0, Math.min(40, room));
  if (width < 5) return `${label}${tail}`.slice(0, Math.max(0, columns - 1));
  const filled = Math.round(Math.min(1, fraction) * width);
  return `${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}]${tail}`;
}
