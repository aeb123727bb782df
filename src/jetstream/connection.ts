/**
 * The NATS side shared by `mirror` and `replay`: a connection that keeps reconnecting (the client
 * library does the reconnecting; we only ask it never to give up), and the stream the mirror
 * writes to (created when missing, if allowed).
 */
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/transport-node';
import { JetStreamApiError, type JetStreamManager, type StreamInfo } from '@nats-io/jetstream';
import { WalError } from '../errors.js';
import { sleep } from './backoff.js';

export interface ConnectionOptions {
  /** NATS server URLs (`nats://127.0.0.1:4222`, or `host:port`). Ignored when `connection` is given. */
  servers?: string | string[];
  /** An existing connection to use instead; it is left open when the mirror or replay ends. */
  connection?: NatsConnection;
}

/** How long the client waits between attempts to reach a server (jittered by the client). */
const RECONNECT_WAIT_MS = 250;

export interface OwnedConnection {
  nc: NatsConnection;
  /** Closes the connection if this module opened it. */
  release(): Promise<void>;
}

/**
 * Connects (or adopts `options.connection`). With `waitForServers` the first connection is retried
 * like a reconnect, so a mirror started before its brokers simply waits for them; without it (replay)
 * an unreachable broker rejects at once.
 */
export async function openConnection(
  options: ConnectionOptions,
  name: string,
  signal: AbortSignal,
  waitForServers: boolean,
): Promise<OwnedConnection | null> {
  if (options.connection) return { nc: options.connection, release: async () => {} };
  const pending = connect({
    servers: options.servers,
    name,
    waitOnFirstConnect: waitForServers,
    maxReconnectAttempts: -1,
    reconnectTimeWait: RECONNECT_WAIT_MS,
  });
  const aborted = new Promise<null>((resolve) => {
    if (signal.aborted) resolve(null);
    signal.addEventListener('abort', () => resolve(null), { once: true });
  });
  const nc = await Promise.race([pending, aborted]);
  if (nc === null) {
    // connect() cannot be cancelled: close the connection whenever it does come up.
    pending.then((late) => late.close()).catch(() => {});
    return null;
  }
  return {
    nc,
    release: async () => {
      await nc.close().catch(() => {});
    },
  };
}

export function validateConnectionOptions(options: ConnectionOptions): void {
  if (options.connection !== undefined) {
    if (typeof options.connection !== 'object' || options.connection === null)
      throw WalError.invalidArgument('connection must be a NatsConnection');
    return;
  }
  const servers = options.servers;
  const ok =
    typeof servers === 'string'
      ? servers.length > 0
      : Array.isArray(servers) && servers.length > 0 && servers.every((s) => typeof s === 'string' && s.length > 0);
  if (!ok) throw WalError.invalidArgument('servers must be a URL or a non-empty array of URLs (or pass connection)');
}

/** JetStream's "stream not found" API error code. */
const STREAM_NOT_FOUND_CODE = 10059;

/**
 * The stream's info as its leader knows it, or null when it does not exist. While a replicated
 * stream has no leader (an election, a node catching up after a restart) a replica may answer with
 * its own, stale state — seen here: a restarted node reporting 3,000 messages of 8,000 — so an
 * answer that names no leader is asked again until one does, for at most `leaderWaitMs`.
 */
export async function streamInfo(
  jsm: JetStreamManager,
  stream: string,
  leaderWaitMs = LEADER_WAIT_MS,
): Promise<StreamInfo | null> {
  const deadline = Date.now() + leaderWaitMs;
  for (;;) {
    let info: StreamInfo;
    try {
      info = await jsm.streams.info(stream);
    } catch (err) {
      if (err instanceof JetStreamApiError && err.code === STREAM_NOT_FOUND_CODE) return null;
      throw err;
    }
    const replicated = (info.cluster?.replicas?.length ?? 0) > 0;
    if (!replicated || info.cluster?.leader) return info;
    if (Date.now() >= deadline) {
      throw new WalError(
        'ERR_IO',
        `stream ${stream} has no leader after ${leaderWaitMs} ms: its state cannot be trusted yet`,
        { stream },
      );
    }
    await sleep(LEADER_POLL_MS);
  }
}

const LEADER_WAIT_MS = 30_000;
const LEADER_POLL_MS = 200;

/** `err_code` JetStream answers a publish with when its `Nats-Expected-Last-Sequence` did not hold. */
export const WRONG_LAST_SEQUENCE_CODE = 10071;
/** `err_code` JetStream answers a publish with when its `Nats-Expected-Last-Msg-Id` did not hold. */
export const WRONG_LAST_MSG_ID_CODE = 10070;

/** A publish the stream rejected because the mirror's prediction of its last message was stale (no broker problem). */
export function isStalePrediction(err: unknown): boolean {
  return (
    err instanceof JetStreamApiError && (err.code === WRONG_LAST_SEQUENCE_CODE || err.code === WRONG_LAST_MSG_ID_CODE)
  );
}

export function describeError(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return String(err);
}
