// The image's HEALTHCHECK (deploy/Dockerfile, compose): one image runs any of the three services,
// and a container runs one, so the service here is the one whose ops port takes the connection;
// its /readyz decides. Exit 0 ready, 1 not (Docker's contract). Prints nothing on success.
const SERVICES = [
  ['GATEWAY_OPS_PORT', 3100],
  ['IDP_OPS_PORT', 3101],
  ['LEGACY_ADAPTER_OPS_PORT', 3102],
] as const;

function opsHost(value: string | undefined): string {
  if (!value || value === '0.0.0.0') return '127.0.0.1';
  if (value === '::') return '[::1]';
  return value.includes(':') ? `[${value}]` : value;
}

function refused(error: unknown): boolean {
  return (error as { cause?: { code?: string } }).cause?.code === 'ECONNREFUSED';
}

export async function healthcheck(env: Record<string, string | undefined> = process.env): Promise<number> {
  const host = opsHost(env.OPS_HOST);
  for (const [variable, fallback] of SERVICES) {
    try {
      const res = await fetch(`http://${host}:${env[variable] || fallback}/readyz`, { signal: AbortSignal.timeout(3000) });
      await res.body?.cancel();
      if (res.ok) return 0;
      console.error(`not ready: /readyz answered ${res.status}`);
      return 1;
    } catch (error) {
      if (refused(error)) continue;
      console.error(`not ready: ${(error as Error).message}`);
      return 1;
    }
  }
  console.error('not ready: no ops port answers');
  return 1;
}

if (import.meta.main) process.exitCode = await healthcheck();
