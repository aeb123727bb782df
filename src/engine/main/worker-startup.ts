/**
 * Starting the threads of an open WAL: the flusher, then one writer per ring. Each worker gets its
 * shared memory (the ring, the progress cells) and its ports in `workerData`, so it can serve the
 * first operation without a handshake; the facade's `open` proves each one answers before it
 * resolves. They start with the Node options worker-options.ts allows, not all of the host's.
 */
import { MessageChannel, Worker } from 'node:worker_threads';
import type { WalError } from '../../errors.js';
import type { ResolvedOptions } from '../../options.js';
import type { OpenedNamespace } from '../../storage/namespace-opening.js';
import type { RecoveredTopic, SegmentSummary } from '../../storage/recover.js';
import { ControlClient, type FlusherControl, type FlusherInit, type WriterInit } from '../shared/control-protocol.js';
import { LatencyStats } from '../shared/latency-stats.js';
import { FLUSHER_CONTROL_CALLS, FLUSHER_DOORBELL, FLUSHER_WAITING, ring } from '../shared/progress-cells.js';
import { createRingBuffer } from '../shared/ring-buffer.js';
import { createRunLog } from '../shared/run-log.js';
import { WriterChannel } from './writer-channel.js';
import { workerStartOptions } from './worker-options.js';
import { workerUrl } from './worker-url.js';

export interface StartedWorkers {
  flusherWorker: Worker;
  flusher: ControlClient<FlusherControl>;
  channels: WriterChannel[];
  appendLatency: LatencyStats;
}

export interface WorkerStartup {
  options: ResolvedOptions;
  ns: OpenedNamespace;
  cells: Int32Array;
  /** The recovered topics each writer owns (its index rebuilds from their runs). */
  topicsByWriter: RecoveredTopic[][];
  /** Summaries open drafted, for the flusher to publish (FlusherInit.summaryDrafts). */
  summaryDrafts: string[];
  /** A writer sealed a segment (a reclamation candidate). */
  onSealed: (summary: SegmentSummary) => void;
  /** Operations are pending: someone must watch for progress. */
  onProgressNeeded: () => void;
  /** A `write()` entry failed or was lost (see WriterChannelOptions). */
  onWriteFailed: (error: WalError) => void;
  /** A writer that refused a `write()` has room again. */
  onDrain: () => void;
  /** Every worker started, so a failed open can terminate them all. */
  started: Worker[];
}

export function startWorkers(startup: WorkerStartup): StartedWorkers {
  const { options, ns, cells } = startup;
  const startOptions = workerStartOptions();
  const flusherPorts = new MessageChannel();
  const flusherInit: FlusherInit = {
    dir: options.namespaceDir,
    epoch: ns.epoch,
    writers: options.writers,
    fsync: options.fsync,
    cells: cells.buffer as SharedArrayBuffer,
    controlPort: flusherPorts.port2,
    summaryDrafts: startup.summaryDrafts,
  };
  const flusherWorker = new Worker(workerUrl('flusher.worker'), {
    ...startOptions,
    workerData: flusherInit,
    transferList: [flusherPorts.port2],
    name: 'walrus-flusher',
  });
  startup.started.push(flusherWorker);
  // The flusher may be blocked in Atomics.wait (fsync 'each'): announce each call and ring it.
  const flusher = new ControlClient<FlusherControl>(flusherPorts.port1, () => {
    Atomics.add(cells, FLUSHER_CONTROL_CALLS, 1);
    ring(cells, FLUSHER_DOORBELL, FLUSHER_WAITING);
  });

  const channels: WriterChannel[] = [];
  const appendLatency = new LatencyStats();
  for (let w = 0; w < options.writers; w++) {
    const control = new MessageChannel();
    const data = new MessageChannel();
    const events = new MessageChannel();
    const ring = createRingBuffer({ capacityBytes: options.ringBytes });
    const runLog = createRunLog();
    const init: WriterInit = {
      dir: options.namespaceDir,
      epoch: ns.epoch,
      writerIndex: w,
      segmentBytes: options.segmentBytes,
      blockBytes: options.blockBytes,
      timeFloorMs: ns.timeFloorMs,
      v1TimeMs: ns.manifest.v1TimeMs ?? 0,
      fsync: options.fsync,
      ring,
      cells: cells.buffer as SharedArrayBuffer,
      runLog,
      topics: startup.topicsByWriter[w]!,
      controlPort: control.port2,
      dataPort: data.port2,
      eventsPort: events.port2,
    };
    const worker = new Worker(workerUrl('writer.worker'), {
      ...startOptions,
      workerData: init,
      transferList: [control.port2, data.port2, events.port2],
      name: `walrus-writer-${w}`,
    });
    startup.started.push(worker);
    channels.push(
      new WriterChannel({
        writerIndex: w,
        worker,
        ring,
        runLog,
        cells,
        controlPort: control.port1,
        dataPort: data.port1,
        eventsPort: events.port1,
        waitDurable: options.fsync === 'each',
        onSealed: (event) => startup.onSealed(event.summary),
        onProgressNeeded: startup.onProgressNeeded,
        onWriteFailed: startup.onWriteFailed,
        onDrain: startup.onDrain,
        appendLatency,
      }),
    );
    events.port1.unref();
  }
  return { flusherWorker, flusher, channels, appendLatency };
}
