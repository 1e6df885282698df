// Copies the AWS SDK's partition data (the known regions and each partition's regionRegex) into
// src/formats/aws-partitions.json, which the configuration checks region names against.
//
// The SDK ships it as `partitionsInfo` in @aws-sdk/core (submodule "client", util-endpoints/lib/aws/
// partitions.js), but does not export the object itself (only the partition() lookup), so this
// script reads the file. test/unit/region.test.ts fails when the SDK's data and the copy differ:
// after an SDK upgrade, run `node scripts/update-aws-partitions.mjs` and commit the result.
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

export function sdkPartitions() {
  const require = createRequire(import.meta.url);
  const root = dirname(require.resolve("@aws-sdk/core/package.json"));
  const text = readFileSync(join(root, "dist-es/submodules/client/util-endpoints/lib/aws/partitions.js"), "utf8");
  const start = text.indexOf("{");
  const info = JSON.parse(text.slice(start, text.lastIndexOf("}") + 1));
  return {
    source: `@aws-sdk/core ${JSON.parse(readFileSync(join(root, "package.json"), "utf8")).version}`,
    partitions: info.partitions.map((p) => ({
      id: p.id,
      regionRegex: p.regionRegex,
      regions: Object.keys(p.regions)
        .filter((r) => !r.endsWith("-global") && r !== "aws-global")
        .sort(),
    })),
  };
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split("/").pop())) {
  const out = new URL("../src/formats/aws-partitions.json", import.meta.url);
  writeFileSync(out, `${JSON.stringify(sdkPartitions(), null, 1)}\n`);
  console.log(`wrote ${out.pathname}`);
}
