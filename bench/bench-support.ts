/**
 * What the bed benchmarks share: namespace creation straight to the API server (admin, not
 * counted), the Lambda heap flags, and running a bundled runner in a child process (so its
 * peak RSS is the product's alone; the token goes through stdin, never argv).
 */
import { spawn } from "node:child_process";
import { Agent, request } from "node:https";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Bed } from "../test/bed";

export const ROOT = process.env.ECR_ROTATOR_ROOT || resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const NODE = join(ROOT, "node_modules", ".bin", "node");

/** The number after `--name` on the command line, `fallback` without one. */
export function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isFinite(v) || v < 0) throw new Error(`--${name} needs a number`);
  return v;
}

/** `--json`: the result goes to stdout as JSON, so progress lines go to stderr. */
export const JSON_OUT = process.argv.includes("--json");
export const log = (msg: string): void => void (JSON_OUT ? process.stderr : process.stdout).write(`${msg}\n`);

/** Admin requests straight to the API server, `parallel` at once; `accept` says which statuses are fine. */
async function adminRequests(
  bed: Bed,
  count: number,
  parallel: number,
  one: (index: number) => { method: string; path: string; contentType: string; body: unknown; accept: number[] },
): Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: parallel, ca: Buffer.from(bed.caData, "base64") });
  const url = new URL(bed.apiServerUrl);
  const send = (index: number) =>
    new Promise<void>((ok, fail) => {
      const r = one(index);
      const req = request(
        {
          agent,
          host: url.hostname,
          port: url.port,
          path: r.path,
          method: r.method,
          headers: { authorization: `Bearer ${bed.adminToken}`, "content-type": r.contentType },
        },
        (res) => {
          res.resume();
          res.on("end", () => (r.accept.includes(res.statusCode ?? 0) ? ok() : fail(new Error(`${r.method} ${r.path}: HTTP ${res.statusCode}`))));
        },
      );
      req.on("error", fail);
      req.end(JSON.stringify(r.body));
    });
  let next = 0;
  try {
    await Promise.all(
      Array.from({ length: parallel }, async () => {
        while (next < count) await send(next++);
      }),
    );
  } finally {
    agent.destroy();
  }
}

/** Admin POSTs of labelled namespaces, `parallel` at once (409 = already there). */
export function createNamespaces(bed: Bed, names: string[], labels: (name: string, index: number) => Record<string, string>, parallel = 32): Promise<void> {
  return adminRequests(bed, names.length, parallel, (i) => ({
    method: "POST",
    path: "/api/v1/namespaces",
    contentType: "application/json",
    body: { apiVersion: "v1", kind: "Namespace", metadata: { name: names[i]!, labels: labels(names[i]!, i) } },
    accept: [201, 409],
  }));
}

/** Admin merge-patches adding labels to the Secret `name` in each namespace. */
export function labelSecrets(bed: Bed, namespaces: string[], name: string, labels: (index: number) => Record<string, string>, parallel = 32): Promise<void> {
  return adminRequests(bed, namespaces.length, parallel, (i) => ({
    method: "PATCH",
    path: `/api/v1/namespaces/${namespaces[i]!}/secrets/${name}`,
    contentType: "application/merge-patch+json",
    body: { metadata: { labels: labels(i) } },
    accept: [200],
  }));
}

/**
 * The V8 heap flags the Lambda Node.js runtime passes for a function of `memoryMb` (its bootstrap
 * sizes the young generation to a tenth of the memory: semi-space = memory / 20, old space =
 * memory − memory / 10). Node's own defaults (16 MB semi-spaces) would let garbage pile up far
 * beyond what a Lambda process keeps. `memoryMb` 0 runs with Node's defaults.
 */
export function lambdaHeapFlags(memoryMb: number): string[] {
  if (memoryMb <= 0) return [];
  return [`--max-semi-space-size=${Math.floor(memoryMb / 20)}`, `--max-old-space-size=${memoryMb - Math.floor(memoryMb / 10)}`];
}

/** Runs a bundled runner with `input` on stdin; resolves with the JSON it prints. */
export function runChild<T>(runner: string, input: unknown, nodeFlags: string[] = []): Promise<T> {
  return new Promise((ok, fail) => {
    const child = spawn(NODE, [...nodeFlags, runner], { stdio: ["pipe", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString()));
    child.on("error", fail);
    child.on("exit", (code) => {
      if (code !== 0) return fail(new Error(`runner exited with ${code}`));
      try {
        ok(JSON.parse(out) as T);
      } catch {
        fail(new Error("runner printed no result"));
      }
    });
    child.stdin.end(JSON.stringify(input));
  });
}

/** A password as large as a real ECR one (~2.5 KB: base64 of a JSON envelope), distinct per `tag`. */
export function benchPassword(tag: string): string {
  return Buffer.from(
    JSON.stringify({ payload: `${tag}-${"P".repeat(1400)}`, datakey: "K".repeat(300), version: "2", type: "DATA_KEY", expiration: 1795550000 }),
  ).toString("base64");
}
