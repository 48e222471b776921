// A loopback TCP proxy a test puts between a service and a real server (e.g. the adapter and
// MariaDB) to make that server unreachable without stopping it for everyone else:
//   open       bytes flow both ways;
//   blackhole  a network partition: every connection, old and new, stays open and silent;
//   refuse     a crashed server: every connection is reset, new ones at once.
// Going back to `open` resets the connections frozen by a blackhole, as a healed partition whose
// peers have meanwhile given up would; new connections then flow again.
import { createServer, connect, type Server, type Socket } from 'node:net';

export type ProxyMode = 'open' | 'blackhole' | 'refuse';

export interface TcpProxy {
  port: number;
  /** Connections accepted so far, in every mode. */
  connections(): number;
  mode(): ProxyMode;
  setMode(mode: ProxyMode): void;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  let current: ProxyMode = 'open';
  const pairs = new Set<[Socket, Socket | undefined]>();

  const drop = (pair: [Socket, Socket | undefined]) => {
    pair[0].destroy();
    pair[1]?.destroy();
    pairs.delete(pair);
  };

  let accepted = 0;
  const server: Server = createServer((client) => {
    accepted++;
    client.on('error', () => undefined);
    if (current === 'refuse') return void client.resetAndDestroy();
    const pair: [Socket, Socket | undefined] = [client, undefined];
    pairs.add(pair);
    client.once('close', () => drop(pair));
    // A blackholed connection is accepted and never answered.
    if (current === 'blackhole') return void client.pause();
    const upstream = connect(target.port, target.host);
    pair[1] = upstream;
    upstream.on('error', () => undefined);
    upstream.once('close', () => drop(pair));
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };

  return {
    port,
    connections: () => accepted,
    mode: () => current,
    setMode(mode) {
      const previous = current;
      current = mode;
      if (mode === 'blackhole') {
        for (const [client, upstream] of pairs) {
          client.unpipe();
          upstream?.unpipe();
          client.pause();
          upstream?.pause();
        }
      } else if (mode === 'refuse' || previous === 'blackhole') {
        for (const pair of [...pairs]) {
          if (mode === 'refuse') pair[0].resetAndDestroy();
          drop(pair);
        }
      }
    },
    async close() {
      for (const pair of [...pairs]) drop(pair);
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
