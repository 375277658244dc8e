// Loading a module by name at run time, so that bundlers and tsc neither bundle nor require it:
// optional backends, and Node built-ins in modules that browsers also import.

/** `require(name)`, invisible to bundlers. */
export function runtimeRequire<T = unknown>(name: string): T {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(name) as T;
}
