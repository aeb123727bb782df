import type { Section } from './bench-case.js';
import type { SectionId } from './options.js';
import { durableSection } from './scenarios/durable.js';
import { latencySection } from './scenarios/latency.js';
import { pipelineSection } from './scenarios/pipeline.js';
import { readSection } from './scenarios/read.js';
import { recoverySection } from './scenarios/recovery.js';
import { rssSection } from './scenarios/rss.js';
import { topicsSection } from './scenarios/topics.js';
import { writeSection } from './scenarios/write.js';

/** In run order: the write section first, so the latency section can offer half its maximum. */
export const sections: readonly Section[] = [
  writeSection,
  durableSection,
  readSection,
  pipelineSection,
  latencySection,
  rssSection,
  recoverySection,
  topicsSection,
];

export function sectionById(id: SectionId): Section {
  const section = sections.find((s) => s.id === id);
  if (!section) throw new Error(`unknown section ${id}`);
  return section;
}

/** `one`-size sections run at 1 KiB when selected, else at the largest selected size. */
export function sizesFor(section: Section, sizesBytes: readonly number[]): number[] {
  if (section.sizes === 'each') return [...sizesBytes];
  return [sizesBytes.includes(1024) ? 1024 : Math.max(...sizesBytes)];
}
