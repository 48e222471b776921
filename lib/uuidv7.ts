// Time-ordered ids (RFC 9562 UUIDv7) for rows of tables that grow to millions: a random UUIDv4
// primary key sends each insert to a random page of the clustered index (InnoDB), which stops
// fitting the buffer pool as the table grows; ids that increase land on its last page.
import { randomFillSync } from 'node:crypto';

const MAX_SEQUENCE = 0xfff;
// Random bytes drawn 256 ids at a time: one randomBytes(16) per id cost most of the time the
// bulk import spent making a row (some 10 ms of CPU per batch of 1,000).
const pool = Buffer.alloc(16 * 256);
let poolAt = pool.length;
let lastMs = -1;
let sequence = 0;

/**
 * A version 7 UUID: 48 bits of Unix milliseconds, then a 12-bit sequence (RFC 9562 "method 1")
 * that keeps the ids of one process strictly increasing within a millisecond and across a
 * clock stepped back, then 62 random bits. Same text form as randomUUID, so it fits the same
 * columns and compares as text in time order.
 */
export function uuidv7(now: number = Date.now()): string {
  if (poolAt === pool.length) {
    randomFillSync(pool);
    poolAt = 0;
  }
  // A view of the pool's next 16 bytes, used once: written below and turned to text at once.
  const bytes = pool.subarray(poolAt, (poolAt += 16));
  let ms = Math.max(Math.floor(now), lastMs);
  if (ms === lastMs) {
    sequence++;
    // 4096 ids in one millisecond: borrow the next one rather than repeat or go back.
    if (sequence > MAX_SEQUENCE) {
      ms++;
      sequence = 0;
    }
  } else {
    // A random start in the lower half leaves room to count up within the millisecond.
    sequence = bytes.readUInt16BE(6) & 0x7ff;
  }
  lastMs = ms;
  bytes.writeUIntBE(ms, 0, 6);
  bytes[6] = 0x70 | (sequence >> 8);
  bytes[7] = sequence & 0xff;
  bytes[8] = 0x80 | ((bytes[8] ?? 0) & 0x3f);
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
