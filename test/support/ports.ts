import { createServer, type Server } from "node:net";

/**
 * Ports for test servers.
 *
 * A server in this process listens on port 0 and reads the port the kernel gave it
 * ({@link listenOnPort0}): nothing can take it in between. A server in a child process that must
 * be told its port up front (kube-apiserver refuses `--secure-port 0`; etcd, moto, the registry,
 * the Lambda emulator take theirs from their arguments) gets a port reserved by
 * {@link reservePort} and is started by {@link startOnFreePorts}, which starts it again on new
 * ports when the child reports the port taken ({@link PortClashError}) — another process may bind
 * a reserved port between its release and the child's bind.
 */

/** Listens on 127.0.0.1, port 0, and returns the port the kernel chose. */
export async function listenOnPort0(server: Pick<Server, "listen" | "address" | "once" | "off">): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("could not read the port of a listening server");
  return address.port;
}

/**
 * A port of 127.0.0.1 that was free a moment ago (the probe socket is closed again). Only for a
 * child process's server started through {@link startOnFreePorts}, or for "nothing listens here".
 */
export async function reservePort(): Promise<number> {
  const server = createServer();
  server.unref();
  const port = await listenOnPort0(server);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** The port a child was given is taken (thrown by a start function of {@link startOnFreePorts}). */
export class PortClashError extends Error {
  constructor(what: string, ports: number[], output: string) {
    super(`${what}: port ${ports.join("/")} already in use: ${output.slice(-500)}`);
    this.name = "PortClashError";
  }
}

/** Whether a child's output says it could not bind (Go, Python and etcd all say it this way). */
export function saysAddressInUse(output: string): boolean {
  return /address already in use|EADDRINUSE/i.test(output);
}

/**
 * Starts a server that must be given its ports: `start` gets `count` reserved ports and throws
 * {@link PortClashError} (after stopping its child) when one was taken; then it is started again
 * on new ports, up to `attempts` times. Any other error ends it at once.
 */
export async function startOnFreePorts<T>(count: number, start: (ports: number[]) => Promise<T>, attempts = 5): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    const ports: number[] = [];
    while (ports.length < count) {
      const port = await reservePort();
      if (!ports.includes(port)) ports.push(port);
    }
    try {
      return await start(ports);
    } catch (error) {
      if (!(error instanceof PortClashError) || attempt >= attempts) throw error;
    }
  }
}

/** Polls `probe` until it resolves true or the deadline passes. */
export async function waitFor(what: string, probe: () => Promise<boolean>, timeoutMs = 30_000, intervalMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      if (await probe()) return;
    } catch (error) {
      if (error instanceof PortClashError) throw error;
      lastError = error;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  const cause = lastError instanceof Error ? `: ${String(lastError)}` : lastError === undefined ? "" : `: ${JSON.stringify(lastError)}`;
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${cause}`);
}
