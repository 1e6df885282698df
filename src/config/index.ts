// The configuration: environment variables read and validated once into a Config, and the
// warnings for variables that look like the product's but are not read.
export * from "./config";
export * from "./env-names";
