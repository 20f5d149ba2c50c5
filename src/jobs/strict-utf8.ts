import { QuotaClockError } from '../core/errors.js';

/**
 * Decodes a whole file as UTF-8, refusing it at the first invalid byte (a
 * lenient decode would store U+FFFD in place of the user's text). The error
 * names the line and the column (in characters) of that byte.
 */
export function decodeUtf8Strict(bytes: Uint8Array, file: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    const { line, column, byte } = firstInvalid(bytes);
    throw new QuotaClockError(
      'IMPORT_INVALID',
      `${file}: line ${line}, column ${column}: not valid UTF-8 (byte 0x${byte.toString(16).toUpperCase().padStart(2, '0')}); nothing was imported. Save the file as UTF-8 and import it again`,
      { where: `line ${line}, column ${column}` },
    );
  }
}

function firstInvalid(bytes: Uint8Array): { line: number; column: number; byte: number } {
  let lineStart = 0;
  let line = 1;
  for (let i = 0; i < bytes.length; i += 1) {
    if (bytes[i] !== 0x0a) continue;
    if (!valid(bytes.subarray(lineStart, i))) break;
    lineStart = i + 1;
    line += 1;
  }
  // Within the bad line, feed one byte at a time: the decoder throws at the byte that cannot belong.
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let text = '';
  let charStart = lineStart;
  for (let i = lineStart; i < bytes.length; i += 1) {
    try {
      const piece = decoder.decode(bytes.subarray(i, i + 1), { stream: true });
      if (piece) charStart = i + 1;
      text += piece;
    } catch {
      return { line, column: [...text].length + 1, byte: bytes[charStart] ?? bytes[i]! };
    }
  }
  // The file ends inside a multi-byte sequence.
  return { line, column: [...text].length + 1, byte: bytes[charStart] ?? 0 };
}

function valid(bytes: Uint8Array): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}
