/**
 * A retry with the same idempotency key must be the same request. The first
 * request's fingerprint is stored with its event; a later one that carries a
 * different fingerprint is refused. A request without one (the library, the
 * CLI) is not compared, nor is a first request that stored none.
 */
export function fingerprintDiffers(stored: string | null, presented: string | null): boolean {
  return stored !== null && presented !== null && stored !== presented;
}
