import type { BuildOptions } from "esbuild";
export declare const ESM_REQUIRE_BANNER: string;
export declare const nodeBundleOptions: BuildOptions;
export declare const splitOptions: BuildOptions;
