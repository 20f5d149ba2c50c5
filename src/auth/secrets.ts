/** Generating and hashing the service's secrets: API keys and session tokens. */
import * as crypto from 'node:crypto';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { API_KEY_PREFIX } from '../core/api-key.js';

export function generateApiKey(): string {
  return API_KEY_PREFIX + randomBytes(32).toString('base64url');
}

export function generateSessionToken(): string {
  return randomBytes(32).toString('base64url');
}

export function generateKeyId(): string {
  return `key_${randomBytes(8).toString('hex')}`;
}

// crypto.hash (Node 20.12+) hashes without building a Hash object: about half the cost of
// createHash, on every authenticated request. Read as a property so older Node 20 falls back.
const oneShot = (crypto as { hash?: typeof crypto.hash }).hash;

/** sha256, hex. The keys carry 256 random bits, so a fast hash is enough (no brute force to slow). */
export function hashSecret(secret: string): string {
  return oneShot
    ? oneShot('sha256', secret, 'hex')
    : createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** Constant-time comparison of two hex hashes of the same length. */
export function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}
