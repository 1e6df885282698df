// Lint (npm run lint; npm test runs it): typescript-eslint's type-aware recommended rules plus the
// guardrails the project relies on — at most five parameters, exhaustive switches, no promise
// left floating, no `any`. Formatting is prettier's job, so no style rules here.
import js from "@eslint/js";
import { defineConfig } from "eslint/config";
import tseslint from "typescript-eslint";

/** Node's globals for the plain .mjs/.cjs scripts (no `globals` package needed for a dozen names). */
const NODE_GLOBALS = Object.fromEntries(
  [
    "process",
    "console",
    "Buffer",
    "URL",
    "URLSearchParams",
    "setTimeout",
    "clearTimeout",
    "setInterval",
    "clearInterval",
    "setImmediate",
    "fetch",
    "AbortController",
    "AbortSignal",
    "TextEncoder",
    "TextDecoder",
    "performance",
    "structuredClone",
    "queueMicrotask",
    "require",
    "module",
    "__dirname",
    "__filename",
  ].map((name) => [name, "readonly"]),
);

export default defineConfig(
  { ignores: ["dist/", "node_modules/", ".tmp/", "coverage/", ".serverless/", ".esbuild/", ".bench/", "test/support/eso-template/"] },
  {
    files: ["**/*.ts", "**/*.mts"],
    extends: [js.configs.recommended, tseslint.configs.recommendedTypeChecked],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    linterOptions: { reportUnusedDisableDirectives: "error" },
    rules: {
      "max-params": ["error", 5],
      "@typescript-eslint/switch-exhaustiveness-check": ["error", { considerDefaultExhaustiveForUnions: true }],
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" }],
    },
  },
  {
    // Tests and benchmarks read JSON they parse themselves (reports, manifests, templates) and
    // stand in for async interfaces with plain functions: the `unsafe-*` family and require-await
    // would only flag that. `any` stays banned; the other guardrails stay on.
    files: ["test/**/*.ts", "bench/**/*.ts"],
    rules: {
      "@typescript-eslint/no-unsafe-member-access": "off",
      "@typescript-eslint/no-unsafe-assignment": "off",
      "@typescript-eslint/no-unsafe-argument": "off",
      "@typescript-eslint/no-unsafe-call": "off",
      "@typescript-eslint/no-unsafe-return": "off",
      "@typescript-eslint/require-await": "off",
      "@typescript-eslint/unbound-method": "off",
    },
  },
  {
    // Plain ESM scripts (the build, bench runners, the bin launcher): syntax-level rules only.
    files: ["**/*.mjs", "**/*.cjs"],
    extends: [js.configs.recommended],
    languageOptions: { globals: NODE_GLOBALS },
    rules: { "max-params": ["error", 5], "no-unused-vars": ["error", { argsIgnorePattern: "^_", caughtErrors: "none" }] },
  },
);
