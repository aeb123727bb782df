/**
 * Where frames go inside a segment (docs/FORMAT.md §3), shared by the writer that places them and
 * the readers that find them. Offsets can exceed 2^31 (segments reach 4 GiB plus one large
 * write), so this is plain arithmetic, never bitwise.
 */

export const MIN_BLOCK_BYTES = 4 * 1024;
export const MAX_BLOCK_BYTES = 64 * 1024 * 1024;

export function isValidBlockBytes(blockBytes: number): boolean {
  return (
    Number.isInteger(blockBytes) &&
    blockBytes >= MIN_BLOCK_BYTES &&
    blockBytes <= MAX_BLOCK_BYTES &&
    (blockBytes & (blockBytes - 1)) === 0
  );
}

/** The first block boundary strictly after `offset`. */
export function nextBlockBoundary(offset: number, blockBytes: number): number {
  return (Math.floor(offset / blockBytes) + 1) * blockBytes;
}

/** Where a frame of `bytes` may start when the previous one ended at `offset`. */
export function frameStartOffset(offset: number, bytes: number, blockBytes: number): number {
  const used = offset % blockBytes;
  if (used === 0 || bytes <= blockBytes - used) return offset;
  return offset - used + blockBytes;
}

/** Where the frame after one of `bytes` at `offset` may start: a frame larger than a block is followed by a boundary. */
export function nextFrameOffset(offset: number, bytes: number, blockBytes: number): number {
  const end = offset + bytes;
  if (bytes <= blockBytes || end % blockBytes === 0) return end;
  return nextBlockBoundary(end, blockBytes);
}
