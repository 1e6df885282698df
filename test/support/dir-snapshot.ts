import { existsSync, readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";

/** A directory's files with size and modification time (null when the directory does not exist). */
export type DirSnapshot = Record<string, { size: number; mtimeMs: number }> | null;

export function snapshotDir(dir: string): DirSnapshot {
  if (!existsSync(dir)) return null;
  const out: Record<string, { size: number; mtimeMs: number }> = {};
  const walk = (d: string): void => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const path = join(d, entry.name);
      if (entry.isDirectory()) walk(path);
      else {
        const { size, mtimeMs } = statSync(path);
        out[relative(dir, path)] = { size, mtimeMs };
      }
    }
  };
  walk(dir);
  return out;
}
