// Dual-write (docs/DESIGN.md "Dual-write"): password changes of users who
// came from the legacy site go back to it through an outbox and a relay.
export { createDualWriteMetrics, type DualWriteMetrics } from './metrics.ts';
export { createOutbox, insertPasswordEvent, type DeadReason, type Outbox, type OutboxEvent, type OutboxStats } from './outbox.ts';
export { createRelay, retryDelay, type Relay, type RelayOptions } from './relay.ts';
