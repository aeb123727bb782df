/**
 * Which frames belong to a topic's recovered prefix: an ENTRY frame counts when it lies inside one
 * of the runs the merge accepted for its topic (same file, offset inside the run, seq inside the
 * accepted count). Valid frames outside them are ignored by recovery (after damage, or superseded
 * by a later epoch), and `dump` and `stats` must not count them.
 */
import type { RecoveredTopic, TopicRun } from '../storage/recover.js';

export class AcceptedFrames {
  /** path → topic id → accepted runs of that topic in that file, by offset. */
  readonly #runs = new Map<string, Map<number, TopicRun[]>>();

  constructor(topics: readonly RecoveredTopic[]) {
    for (const topic of topics) {
      for (const run of topic.runs) {
        let byTopic = this.#runs.get(run.path);
        if (byTopic === undefined) this.#runs.set(run.path, (byTopic = new Map()));
        let list = byTopic.get(topic.id);
        if (list === undefined) byTopic.set(topic.id, (list = []));
        list.push(run);
      }
    }
    for (const byTopic of this.#runs.values())
      for (const list of byTopic.values()) list.sort((a, b) => a.startOffset - b.startOffset);
  }

  /**
   * A matcher for one file's frames, which must be asked about in increasing offset order (each
   * topic's runs are then passed once, not searched per frame).
   */
  inFile(filePath: string): (topicId: number, seq: number, offset: number) => boolean {
    const byTopic = this.#runs.get(filePath);
    const next = new Map<number, number>();
    return (topicId, seq, offset) => {
      const list = byTopic?.get(topicId);
      if (list === undefined) return false;
      let i = next.get(topicId) ?? 0;
      while (i < list.length && list[i]!.endOffset <= offset) i++;
      next.set(topicId, i);
      const run = list[i];
      return run !== undefined && run.startOffset <= offset && seq >= run.firstSeq && seq < run.firstSeq + run.count;
    };
  }
}
