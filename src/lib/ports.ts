import { createServer } from 'node:net';

/**
 * Ports this process handed out lately. The kernel may offer a port again as soon as it is
 * released, so two calls in a row (a server's gRPC and HTTP ports, say) could get the same one;
 * a port handed out here is not handed out again for a while.
 */
const handedOut = new Set<number>();
const REMEMBERED = 4_096;

function askKernel(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Asks the kernel for a free loopback port, never one this process handed out lately. */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await askKernel();
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    if (handedOut.size > REMEMBERED) handedOut.delete(handedOut.values().next().value as number);
    return port;
  }
}
