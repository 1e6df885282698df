// The configuration: environment variables read and validated once into a Config.
export * from "./config";
