/**
 * Shared-memory layout of one SPSC ring (docs/ARCHITECTURE.md): a 64-byte header of Int32 cells
 * followed by a power-of-two data area of length-prefixed records. Every index, flag and size of
 * that SharedArrayBuffer lives here, so producer and consumer can never disagree on an offset.
 *
 * HEAD and TAIL are uint32 byte positions that only grow and wrap modulo 2^32. Because the capacity
 * divides 2^32, `position & (capacity - 1)` stays the right index across that wrap, and
 * `(tail - head) >>> 0` is the used byte count as long as the capacity is at most 2^31.
 */

export const RING_HEADER_BYTES = 64;
export const RING_HEADER_CELLS = RING_HEADER_BYTES / 4;

/** Int32 cell indices inside the header. */
export const HEAD_CELL = 0; // consumer position: everything before it may be overwritten
export const TAIL_CELL = 1; // producer position: everything before it is published
export const CONSUMER_SLEEPING_CELL = 2; // 1 while the consumer may be parked on TAIL
export const PRODUCER_WAITING_CELL = 3; // 1 while the producer may be parked on HEAD
export const CLOSED_CELL = 4; // 1 once either side closed the ring

export const FLAG_CLEAR = 0;
export const FLAG_SET = 1;

/** Record = [u32 payloadBytes][u32 tag][payload] padded to a multiple of 8 bytes. */
export const RECORD_HEADER_BYTES = 8;
export const RECORD_ALIGN_BYTES = 8;
/** Record header word 0: payload length, or the wrap marker. */
export const RECORD_LENGTH_WORD = 0;
/** Record header word 1: the caller's tag (e.g. an operation kind). */
export const RECORD_TAG_WORD = 1;
/** A payload length meaning "the rest of the data area is skipped; continue at index 0". */
export const WRAP_MARKER = 0xffff_ffff;

export const MIN_RING_CAPACITY_BYTES = 4096;
/** Keeps `(tail - head) >>> 0` unambiguous and the buffer well below engine limits. */
export const MAX_RING_CAPACITY_BYTES = 1 << 30;
