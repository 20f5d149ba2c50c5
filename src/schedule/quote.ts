/** Quoting for each place an artifact puts a path; each one has its own rules. */

const SAFE = /^[A-Za-z0-9_@+=:,./-]+$/;

/** POSIX sh: bare when safe, else single quotes. */
export function shQuote(value: string): string {
  return SAFE.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

/** A crontab command line: cron turns an unescaped % into a newline. */
export function cronEscape(command: string): string {
  return command.replace(/%/g, '\\%');
}

/** systemd unit values: % starts a specifier; quote words with spaces (systemd.syntax(7)). */
export function systemdWord(value: string): string {
  const escaped = value.replace(/%/g, '%%');
  return SAFE.test(value) ? escaped : `"${escaped.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** A systemd setting that takes one path (WorkingDirectory=, EnvironmentFile=): no quotes, % doubled. */
export function systemdPath(value: string): string {
  return value.replace(/%/g, '%%');
}

/** A Windows command-line argument (the rules node.exe's C runtime parses). */
export function winQuote(value: string): string {
  if (value !== '' && !/[\s"]/.test(value)) return value;
  // Backslashes before a quote are doubled; a trailing run is doubled before the closing quote.
  return `"${value.replace(/(\\*)"/g, '$1$1\\"').replace(/(\\+)$/, '$1$1')}"`;
}

export function xmlEscape(value: string): string {
  return value
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
}

/** A PowerShell single-quoted string. */
export function psQuote(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/** A YAML single-quoted scalar (the style prettier keeps). */
export function yamlString(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}
