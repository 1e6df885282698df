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

/** Admin POSTs of labelled namespaces, `parallel` at once, straight to the API server (409 = already there). */
export async function createNamespaces(
  bed: Bed,
  names: string[],
  labels: (name: string, index: number) => Record<string, string>,
  parallel = 32,
): Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: parallel, ca: Buffer.from(bed.caData, "base64") });
  const url = new URL(bed.apiServerUrl);
  const post = (name: string, index: number) =>
    new Promise<void>((ok, fail) => {
      const body = JSON.stringify({ apiVersion: "v1", kind: "Namespace", metadata: { name, labels: labels(name, index) } });
      const req = request(
        {
          agent,
          host: url.hostname,
          port: url.port,
          path: "/api/v1/namespaces",
          method: "POST",
          headers: { authorization: `Bearer ${bed.adminToken}`, "content-type": "application/json" },
        },
        (res) => {
          res.resume();
          res.on("end", () =>
            res.statusCode === 201 || res.statusCode === 409 ? ok() : fail(new Error(`creating namespace ${name}: HTTP ${res.statusCode}`)),
          );
        },
      );
      req.on("error", fail);
      req.end(body);
    });
  let next = 0;
  try {
    await Promise.all(
      Array.from({ length: parallel }, async () => {
        while (next < names.length) {
          const i = next++;
          await post(names[i]!, i);
        }
      }),
    );
  } finally {
    agent.destroy();
  }
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
