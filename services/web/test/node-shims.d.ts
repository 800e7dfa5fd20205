// The two Node functions the tests use (the package has no @types/node).
declare module "node:fs" {
  export function existsSync(path: string): boolean;
}
declare module "node:url" {
  export function fileURLToPath(url: URL | string): string;
}
