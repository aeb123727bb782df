/** Messages between the fuzz runner (fuzz/run.ts) and its worker (fuzz/worker.ts). */
export interface WorkerData {
  target: string;
  corpus: Uint8Array[];
  durationMs: number;
  randomSeed: number;
  /** Int32 slots (started count, running flag, input length) then the running input's bytes. */
  shared: SharedArrayBuffer;
  maxArrayBufferBytes: number;
}

export type FindingKind = 'crash' | 'hang' | 'huge-allocation' | 'worker-died';

export type WorkerMessage =
  | { type: 'started'; features: number }
  | { type: 'progress'; execs: number; features: number; corpus: number }
  | { type: 'corpus'; input: Uint8Array }
  | { type: 'finding'; kind: FindingKind; input: Uint8Array; message: string; stack: string }
  | {
      type: 'done';
      execs: number;
      features: number;
      corpus: number;
      coverage: Array<{ file: string; blocks: number; covered: number }>;
    };
