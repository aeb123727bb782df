/**
 * Real nats-server processes on 127.0.0.1 for the JetStream tests: one server, or a 3-node
 * JetStream cluster (config files with distinct server_name, cluster routes, store dirs), with
 * SIGKILL and restart of single nodes. Also reads a whole stream back for the checks.
 *
 * The binary: `$NATS_SERVER`, else `nats-server` on PATH, else /usr/sbin/nats-server (the Debian
 * package installs it there, which is not on every user's PATH). No vitest here: the mirror
 * benchmark (bench/mirror.ts) starts servers with it too.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { streamInfo } from '../../dist/src/jetstream/connection.js';
import { makeTmpDir, removeTmpDir } from '../helpers/tmp-dir.js';

function findNatsServer(): string | null {
  const candidates = [
    process.env.NATS_SERVER,
    ...(process.env.PATH ?? '').split(path.delimiter).map((d) => path.join(d, 'nats-server')),
    '/usr/sbin/nats-server',
    '/usr/local/bin/nats-server',
  ];
  for (const c of candidates) {
    if (!c) continue;
    try {
      fs.accessSync(c, fs.constants.X_OK);
      if (spawnSync(c, ['--version']).status === 0) return c;
    } catch {
      // not this one
    }
  }
  return null;
}

export const NATS_BIN = findNatsServer();

/** A TCP port free on 127.0.0.1 right now (the OS picks it). */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export interface NatsNode {
  name: string;
  port: number;
  configPath: string;
  process: ChildProcess | null;
  log: string;
}

/** One server or a cluster; `servers` lists every client URL (the client fails over between them). */
export class NatsFleet {
  readonly root: string;
  readonly nodes: NatsNode[] = [];

  private constructor(root: string) {
    this.root = root;
  }

  get servers(): string[] {
    return this.nodes.map((n) => `nats://127.0.0.1:${n.port}`);
  }

  static async start(size: 1 | 3): Promise<NatsFleet> {
    if (!NATS_BIN) throw new Error('nats-server missing');
    const fleet = new NatsFleet(makeTmpDir('walrus-nats'));
    const ports = await Promise.all(Array.from({ length: size }, () => freePort()));
    const clusterPorts = size > 1 ? await Promise.all(Array.from({ length: size }, () => freePort())) : [];
    for (let i = 0; i < size; i++) {
      const name = `n${i}`;
      const storeDir = path.join(fleet.root, name);
      fs.mkdirSync(storeDir);
      const lines = [`server_name: ${name}`, 'listen: 127.0.0.1:' + ports[i], `jetstream { store_dir: "${storeDir}" }`];
      if (size > 1) {
        const routes = clusterPorts.filter((_, j) => j !== i).map((p) => `nats://127.0.0.1:${p}`);
        lines.push(`cluster { name: walrus, listen: 127.0.0.1:${clusterPorts[i]}, routes: [${routes.join(', ')}] }`);
      }
      const configPath = path.join(fleet.root, `${name}.conf`);
      fs.writeFileSync(configPath, lines.join('\n') + '\n');
      fleet.nodes.push({ name, port: ports[i]!, configPath, process: null, log: '' });
    }
    await Promise.all(fleet.nodes.map((n) => fleet.startNode(n)));
    await fleet.waitForJetStream();
    return fleet;
  }

  async startNode(node: NatsNode): Promise<void> {
    const child = spawn(NATS_BIN!, ['-c', node.configPath], { stdio: ['ignore', 'ignore', 'pipe'] });
    node.process = child;
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      node.log = (node.log + chunk).slice(-20_000);
    });
    for (let i = 0; i < 200; i++) {
      if (child.exitCode !== null) throw new Error(`nats-server ${node.name} exited: ${node.log}`);
      if (await canConnect(node.port)) return;
      await delay(50);
    }
    throw new Error(`nats-server ${node.name} did not listen on ${node.port}: ${node.log}`);
  }

  /** Kills a node (SIGKILL by default) and waits until it is gone. */
  async stopNode(node: NatsNode, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = node.process;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill(signal);
    await exited;
    node.process = null;
  }

  /** Until the JetStream API answers (a cluster needs a meta leader first). */
  async waitForJetStream(timeoutMs = 60_000): Promise<void> {
    const nc = await this.connect();
    try {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        try {
          const jsm = await jetstreamManager(nc, { timeout: 2000 });
          await jsm.getAccountInfo();
          return;
        } catch (err) {
          if (Date.now() > deadline) throw err;
          await delay(200);
        }
      }
    } finally {
      await nc.close();
    }
  }

  connect(): Promise<NatsConnection> {
    return connectTo(this.servers);
  }

  async shutdown(): Promise<void> {
    await Promise.all(this.nodes.map((n) => this.stopNode(n, 'SIGKILL')));
    removeTmpDir(this.root);
  }
}

function connectTo(servers: string[]): Promise<NatsConnection> {
  return connect({ servers, maxReconnectAttempts: -1, waitOnFirstConnect: true });
}

export interface StoredEntry {
  namespace: string;
  topic: string;
  seq: number;
  data: Buffer;
  streamSeq: number;
}

/** Every message of `stream`, in stream order, with the mirror's headers decoded. */
export async function readStream(servers: string[], stream: string): Promise<StoredEntry[]> {
  const nc = await connectTo(servers);
  try {
    const jsm = await jetstreamManager(nc, { timeout: 10_000 });
    // The leader's view, as replay takes it: a replica still catching up answers with stale state.
    const info = await streamInfo(jsm, stream);
    if (!info) throw new Error(`stream ${stream} does not exist`);
    const out: StoredEntry[] = [];
    if (info.state.messages === 0) return out;
    const consumer = await jetstream(nc, { timeout: 10_000 }).consumers.get(stream);
    const messages = await consumer.consume({ max_messages: 1000 });
    for await (const m of messages) {
      const h = m.headers!;
      out.push({
        namespace: decodeURIComponent(h.get('Walrus-Namespace')),
        topic: decodeURIComponent(h.get('Walrus-Topic')),
        seq: Number(h.get('Walrus-Seq')),
        data: Buffer.from(m.data),
        streamSeq: m.info.streamSequence,
      });
      // Not `pending === 0`: the consumer may live on a replica still catching up after a restart.
      if (m.info.streamSequence >= info.state.last_seq) break;
    }
    await messages.close();
    return out;
  } finally {
    await nc.close();
  }
}
