/**
 * One unreadable message never aborts a replay (issue 12, defect 12; docs/SCALE-OUT.md): anyone who
 * can publish to the stream can write mirror headers with a malformed `%` escape, a topic name the
 * WAL refuses, a seq that is no number, or a msgpack payload that does not decode. Each is skipped
 * and reported, and the rest of the stream is restored. Against one real nats-server.
 */
import { jetstreamManager, jetstream } from '@nats-io/jetstream';
import { connect, headers } from '@nats-io/transport-node';
import { expect, it } from 'vitest';
import { Walrus } from '../../dist/src/index.js';
import { replay } from '../../dist/src/jetstream/index.js';
import { parseMirrorHeaders } from '../../dist/src/jetstream/replay.js';
import { describeWithNats } from './nats-harness.js';

interface Message {
  topic: string;
  seq: string;
  data: string;
  codec?: string;
}

describeWithNats('replay reports a malformed message and keeps going', 1, (suite) => {
  it('skips and lists each unreadable message; every readable one of every topic is restored', async () => {
    const nc = await connect({ servers: suite.fleet.servers });
    try {
      const jsm = await jetstreamManager(nc);
      await jsm.streams.add({ name: 'BAD', subjects: ['BAD.>'] });
      const js = jetstream(nc);
      const messages: Message[] = [
        { topic: 'a', seq: '0', data: 'a0' },
        { topic: '%E0%A4%A', seq: '1', data: 'bad escape' }, // stream sequence 2
        { topic: 'a', seq: '1', data: 'a1' },
        { topic: '%ED%A0%80', seq: '0', data: 'lone surrogate, as UTF-8 no decoder accepts' }, // 4
        { topic: 'b', seq: 'zero', data: 'no seq' }, // 5
        { topic: 'b', seq: '0', data: 'b0' },
        { topic: 'c', seq: '0', data: '\x92\x01', codec: 'msgpack' }, // 7: an array of 2 holding 1 value
        { topic: 'a', seq: '2', data: 'a2' },
        { topic: '%25', seq: '0', data: 'percent' },
      ];
      for (const m of messages) {
        const h = headers();
        h.set('Walrus-Namespace', 'ns');
        h.set('Walrus-Topic', m.topic);
        h.set('Walrus-Seq', m.seq);
        if (m.codec) h.set('Walrus-Codec', m.codec);
        await js.publish('BAD.x', Buffer.from(m.data, 'latin1'), { headers: h });
      }
    } finally {
      await nc.close();
    }

    const wal = await Walrus.open({ dir: suite.tmp.make('walrus-replay-bad'), fsync: 'none' });
    try {
      const report = await replay('BAD', wal, { servers: suite.fleet.servers });
      expect(report.complete).toBe(true);
      expect(report.messages).toBe(9);
      expect(report.malformedCount).toBe(4);
      expect(report.malformed.map((m) => m.streamSequence)).toEqual([2, 4, 5, 7]);
      expect(report.malformed[0]!.reason).toMatch(/URIError/);
      expect(report.topics.a).toEqual({ appended: 3, skipped: 0, nextSeq: 3 });
      expect(report.topics.b).toEqual({ appended: 1, skipped: 0, nextSeq: 1 });
      expect(report.topics['%']).toEqual({ appended: 1, skipped: 0, nextSeq: 1 });
      expect(report.topics.c).toEqual({ appended: 0, skipped: 0, nextSeq: 0 });
      const a = await wal.batchRead('a', { maxBytes: Infinity, checkpoint: false });
      expect(a.map((e) => e.text())).toEqual(['a0', 'a1', 'a2']);
    } finally {
      await wal.close();
    }
  });
});

it('parseMirrorHeaders: what a mirror wrote decodes; anything else is a reason, never a throw', () => {
  expect(parseMirrorHeaders('ns', encodeURIComponent('päth.with dots\n'), '42')).toEqual({
    namespace: 'ns',
    topic: 'päth.with dots\n',
    seq: 42,
  });
  for (const [namespace, topic, seq] of [
    ['%', 't', '0'],
    ['ns', '%E0%A4%A', '0'],
    ['ns', '%ED%A0%80', '0'],
    ['ns', '', '0'],
    ['ns', 'x'.repeat(4097), '0'],
    ['ns', 't', ''],
    ['ns', 't', '-1'],
    ['ns', 't', '1e3'],
    ['ns', 't', '9007199254740992'],
  ] as const) {
    expect(typeof parseMirrorHeaders(namespace, topic, seq), `${namespace} ${topic.slice(0, 9)} ${seq}`).toBe('string');
  }
});
