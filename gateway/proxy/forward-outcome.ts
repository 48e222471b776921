// What a forward reports once the client has its answer: the streaming and the lean forwarder
// both report it, the dispatcher and the login shadow read it; apart from both forwarders so
// that neither imports the other.
import type { UpstreamFailure } from './gateway-error.ts';

export interface ForwardOutcome {
  /** The status the client got (499: it went away before an answer). */
  status: number;
  /** Seconds until the upstream's response headers; undefined when there were none. */
  upstreamSeconds: number | undefined;
  /** When the gateway answered instead of the upstream: `timeout` (504), `unreachable` (502) or `client_timeout` (408). */
  failure?: UpstreamFailure['failure'];
  /** The upstream's Location header (the login shadow reads the legacy decision from it). */
  location?: string;
}
