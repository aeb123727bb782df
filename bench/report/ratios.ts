/**
 * Ratios are taken on a section's primary figure, between rows of the same run and entry size:
 * every row against its walrus-ts row, and each walrus-ts row against its ceiling.
 */
import type { Section } from '../bench-case.js';
import type { CaseResult } from '../runner.js';

export function findResult(results: readonly CaseResult[], key: string, sizeBytes: number): CaseResult | undefined {
  return results.find((r) => r.key === key && r.sizeBytes === sizeBytes);
}

export function primaryValue(result: CaseResult | undefined, section: Section): number | undefined {
  if (!result || result.error || result.skipped) return undefined;
  return result.median[section.primary];
}

function ratio(numerator: number | undefined, denominator: number | undefined): number | undefined {
  if (numerator === undefined || denominator === undefined || denominator === 0) return undefined;
  return numerator / denominator;
}

/** This row's figure ÷ the walrus-ts row it is compared with. */
export function versusWalrus(result: CaseResult, results: readonly CaseResult[], section: Section): number | undefined {
  if (result.compareTo === undefined) return undefined;
  return ratio(
    primaryValue(result, section),
    primaryValue(findResult(results, result.compareTo, result.sizeBytes), section),
  );
}

/** A walrus-ts row's figure ÷ its ceiling row's. */
export function versusCeiling(
  result: CaseResult,
  results: readonly CaseResult[],
  section: Section,
): number | undefined {
  if (result.ceiling === undefined) return undefined;
  return ratio(
    primaryValue(result, section),
    primaryValue(findResult(results, result.ceiling, result.sizeBytes), section),
  );
}
