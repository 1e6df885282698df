// npm run package [-- --param key=value …] [--region R] [--out DIR]
//
// The release artifact, offline: the function zip (dist/ecr-token-rotator-<version>.zip, the
// handler bundled like `osls package` bundles it, byte-for-byte reproducible) with its SHA-256
// (…zip.sha256, `sha256sum -c` format), and the standalone CloudFormation template rendered for
// the given stage parameters (dist/template.json and dist/template.yaml, deployable with
// `aws cloudformation deploy`), plus the member-account template for fleets
// (dist/member-account.{json,yaml}).
//
// Before anything is written, the parameters go through the stack's checks and through the
// function's own configuration validator (src/config loadConfig, on exactly the environment the
// deployed function would get): a configuration the function would refuse is refused here.
// Writes only its own files into the output directory (never removes dist/).
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { pathToFileURL } from "node:url";
import { crc32, deflateRawSync } from "node:zlib";
import { build } from "esbuild";
import { dump } from "js-yaml";
import { nodeBundleOptions, splitOptions } from "./esbuild-options.mjs";

const require = createRequire(import.meta.url);
const { renderTemplate, functionEnvironment } = require("../infra/cloudformation/template.cjs");
const { renderMemberTemplate } = require("../infra/cloudformation/member-account.cjs");

function parseArgs(argv) {
  const options = { params: {}, region: "", out: "dist", skipZip: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) fail(`${arg} needs a value`);
      return argv[++i];
    };
    if (arg === "--param") {
      const text = value();
      const eq = text.indexOf("=");
      if (eq < 1) fail(`--param ${text}: expected key=value`);
      options.params[text.slice(0, eq)] = text.slice(eq + 1);
    } else if (arg === "--region") options.region = value();
    else if (arg === "--out") options.out = value();
    else if (arg === "--no-zip") options.skipZip = true;
    else fail(`unknown argument ${arg} (expected --param key=value, --region R, --out DIR)`);
  }
  return options;
}

function fail(message) {
  console.error(`package: ${message}`);
  process.exit(1);
}

/** The function's own configuration validator (src/config), bundled on the fly (no build needed). */
async function loadFunctionValidator(work) {
  const out = join(work, "config.mjs");
  await build({ ...nodeBundleOptions, entryPoints: ["src/config/config.ts"], outfile: out, minify: false, logLevel: "error" });
  return import(pathToFileURL(out).href);
}

/** Bundles handlers/rotate.ts like serverless.yml's custom.esbuild: handlers/rotate.mjs + handlers/chunks/*. */
async function bundleHandler(work) {
  const outdir = join(work, "zip", "handlers");
  await build({ ...nodeBundleOptions, ...splitOptions, entryPoints: { rotate: "handlers/rotate.ts" }, outdir, chunkNames: "chunks/[name]-[hash]" });
  return join(work, "zip");
}

/** A zip of `root` (deflated, fixed timestamps and modes, sorted): the same input, the same bytes. */
function zipDirectory(root) {
  const files = readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(root, join(e.parentPath, e.name)).split("\\").join("/"))
    .sort();
  const locals = [];
  const centrals = [];
  let offset = 0;
  const DOS_TIME = 0; // 00:00:00
  const DOS_DATE = (1 << 5) | 1; // 1980-01-01
  for (const name of files) {
    const data = readFileSync(join(root, name));
    const deflated = deflateRawSync(data, { level: 9 });
    const crc = crc32(data);
    const nameBytes = Buffer.from(name, "utf8");
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x0800, 6); // UTF-8 names
    local.writeUInt16LE(8, 8);
    local.writeUInt16LE(DOS_TIME, 10);
    local.writeUInt16LE(DOS_DATE, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(deflated.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(nameBytes.length, 26);
    local.writeUInt16LE(0, 28);
    locals.push(local, nameBytes, deflated);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE((3 << 8) | 20, 4); // made by Unix
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt16LE(8, 10);
    central.writeUInt16LE(DOS_TIME, 12);
    central.writeUInt16LE(DOS_DATE, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(deflated.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(nameBytes.length, 28);
    central.writeUInt32LE(((0o100644 << 16) >>> 0) >>> 0, 38); // -rw-r--r--
    central.writeUInt32LE(offset, 42);
    centrals.push(central, nameBytes);
    offset += local.length + nameBytes.length + deflated.length;
  }
  const centralBytes = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(files.length, 8);
  end.writeUInt16LE(files.length, 10);
  end.writeUInt32LE(centralBytes.length, 12);
  end.writeUInt32LE(offset, 16);
  return { bytes: Buffer.concat([...locals, centralBytes, end]), files };
}

function writeTemplate(out, base, template) {
  writeFileSync(join(out, `${base}.json`), `${JSON.stringify(template, null, 2)}\n`);
  writeFileSync(join(out, `${base}.yaml`), dump(template, { lineWidth: -1, noRefs: true, quotingType: '"' }));
}

const options = parseArgs(process.argv.slice(2));
const { version } = JSON.parse(readFileSync("package.json", "utf8"));
const work = mkdtempSync(join(tmpdir(), "ecr-rotator-package-"));
try {
  const zipName = `ecr-token-rotator-${version}.zip`;
  let bytes;
  let fileCount = 0;
  if (!options.skipZip) {
    const zipped = zipDirectory(await bundleHandler(work));
    bytes = zipped.bytes;
    fileCount = zipped.files.length;
  }
  const sha256 = bytes ? createHash("sha256").update(bytes).digest("hex") : "not-packaged";

  let rendered;
  try {
    rendered = await renderTemplate({ params: options.params, region: options.region, version, codeKey: zipName, sha256 });
  } catch (error) {
    fail(`refused: ${error.message}`);
  }
  // The function's own validator, on the environment the deployed function gets.
  const { loadConfig } = await loadFunctionValidator(work);
  const env = { ...functionEnvironment(rendered.settings), AWS_REGION: options.region || "us-east-1" };
  try {
    loadConfig(env);
  } catch (error) {
    fail(`refused: the function would refuse this configuration:\n${error.message}`);
  }

  mkdirSync(options.out, { recursive: true });
  if (bytes) {
    writeFileSync(join(options.out, zipName), bytes);
    writeFileSync(join(options.out, `${zipName}.sha256`), `${sha256}  ${zipName}\n`);
  }
  writeTemplate(options.out, "template", rendered.template);
  writeTemplate(options.out, "member-account", renderMemberTemplate({ version }));
  const resources = Object.keys(rendered.template.Resources).length;
  console.log(
    `package: ${options.out}/${zipName} (${bytes ? `${bytes.length} bytes, ${fileCount} files, sha256 ${sha256}` : "skipped"}), ` +
      `${options.out}/template.{json,yaml} (${resources} resources${options.region ? `, ${options.region}` : ""}), ${options.out}/member-account.{json,yaml}`,
  );
} finally {
  rmSync(work, { recursive: true, force: true });
}
