import type { Server, ServerResponse } from 'node:http';

export interface GracefulServer {
  /**
   * Stops accepting connections, lets requests in flight finish (answering them with
   * `Connection: close`), closes keep-alive connections as soon as they are idle, and after
   * `timeoutMs` drops whatever is still open. Resolves `forced: true` when it had to drop some.
   */
  close(timeoutMs: number): Promise<{ forced: boolean }>;
  /** Whether close() has been called. */
  readonly draining: boolean;
}

/**
 * Makes an HTTP server closable without keep-alive connections holding it open. Call right after
 * creating the server, before it serves requests. (Node's server.close() only closes the
 * connections idle at that moment; a client that keeps reusing its connection keeps it alive.)
 */
export function gracefulServer(server: Server): GracefulServer {
  const inFlight = new Set<ServerResponse>();
  let draining = false;
  let closing: Promise<{ forced: boolean }> | undefined;

  server.on('request', (_req, res: ServerResponse) => {
    inFlight.add(res);
    if (draining) res.shouldKeepAlive = false;
    res.once('close', () => {
      inFlight.delete(res);
      // The connection this answer went out on may now be idle: let it go.
      if (draining) setImmediate(() => server.closeIdleConnections());
    });
  });

  return {
    get draining() {
      return draining;
    },
    close(timeoutMs) {
      closing ??= new Promise((resolve) => {
        draining = true;
        for (const res of inFlight) if (!res.headersSent) res.shouldKeepAlive = false;
        let forced = false;
        const timer = setTimeout(() => {
          forced = inFlight.size > 0;
          server.closeAllConnections();
        }, timeoutMs);
        server.close(() => {
          clearTimeout(timer);
          resolve({ forced });
        });
        server.closeIdleConnections();
      });
      return closing;
    },
  };
}
