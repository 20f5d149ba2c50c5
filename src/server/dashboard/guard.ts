/**
 * The CSP allows our own script and stylesheet and data: images (the charts),
 * nothing inline, no framing, and forms that post only to this origin.
 */
export const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy': CSP,
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'same-origin',
  'Cross-Origin-Opener-Policy': 'same-origin',
};

function originOf(url: string): string | null {
  try {
    const u = new URL(url);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.origin : null;
  } catch {
    return null;
  }
}

/**
 * Whether a POST comes from our own pages: its Origin (or, when a browser
 * sends none, its Referer) must be this server's origin. A POST with neither
 * is refused too: every browser sends one of them on a form post, so only a
 * non-browser client lacks both, and it should use the JSON API with a key.
 */
export function sameOrigin(
  headers: { origin?: string | undefined; referer?: string | undefined },
  expected: string,
): boolean {
  if (headers.origin !== undefined)
    return headers.origin !== 'null' && originOf(headers.origin) === expected;
  if (headers.referer !== undefined) return originOf(headers.referer) === expected;
  return false;
}
