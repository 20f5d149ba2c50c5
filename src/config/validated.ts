/** Config objects that passed validation (parseConfig, or the built-in defaults), so they are not validated again. */
const validated = new WeakSet<object>();

export function markValidated<T extends object>(config: T): T {
  validated.add(config);
  return config;
}

export function isValidated(config: unknown): boolean {
  return typeof config === 'object' && config !== null && validated.has(config);
}
