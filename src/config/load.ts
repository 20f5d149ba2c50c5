import { readFileSync, existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { createRequire } from 'node:module';
import { BadInputError, ConfigError } from '../core/errors.js';
import { builtInConfig } from './defaults.js';
import { parseConfig } from './parse.js';
import type { QuotaClockConfig } from './schema.js';

export const DEFAULT_CONFIG_FILES = [
  'quotaclock.config.json',
  'quotaclock.config.yaml',
  'quotaclock.config.yml',
];

export interface ConfigSources {
  /** --config; when given, the file must exist. */
  readonly file?: string;
  /** --db, which outranks env and file. */
  readonly store?: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /** --verbose: a YAML syntax error keeps the parser's code frame. */
  readonly verbose?: boolean;
}

/**
 * A YAML syntax error as one line, `file:line:column: reason`, which is what
 * an editor jumps to; the parser's code frame follows only when asked for.
 */
function yamlSyntaxError(path: string, e: unknown, verbose: boolean): ConfigError {
  const err = e as Error & { linePos?: Array<{ line: number; col: number }> };
  const [reason = err.message, frame = ''] = err.message.split(/ at line \d+, column \d+:\n/);
  const pos = err.linePos?.[0];
  const issue = `not valid YAML: ${reason.trim()}${pos ? ` (line ${pos.line}, column ${pos.col})` : ''}`;
  const line = `${pos ? `${path}:${pos.line}:${pos.col}` : path}: not valid YAML: ${reason.trim()}`;
  return new ConfigError([issue], path, verbose && frame ? `${line}\n${frame.trimEnd()}` : line);
}

function readConfigFile(path: string, verbose = false): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(
      [`cannot read config file: ${(e as NodeJS.ErrnoException).code ?? 'error'}`],
      path,
    );
  }
  if (/\.ya?ml$/i.test(path)) {
    try {
      // yaml is loaded only for YAML files: it costs ~25 ms of every cold start otherwise.
      return (createRequire(import.meta.url)('yaml') as typeof import('yaml')).parse(text);
    } catch (e) {
      throw yamlSyntaxError(path, e, verbose);
    }
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ConfigError(
      [`not valid ${/\.ya?ml$/i.test(path) ? 'YAML' : 'JSON'}: ${(e as Error).message}`],
      path,
    );
  }
}

/**
 * Precedence: flags > environment > file > defaults. The file is validated
 * whole before the flags are laid on top, so a bad file is never half-used.
 */
export function loadConfig(sources: ConfigSources = {}): {
  config: QuotaClockConfig;
  file: string | null;
} {
  const env = sources.env ?? process.env;
  const cwd = sources.cwd ?? process.cwd();
  const explicit = sources.file ?? env.QUOTACLOCK_CONFIG;
  let file: string | null = null;
  if (explicit) {
    file = resolve(cwd, explicit);
    if (!existsSync(file)) throw new ConfigError([`config file not found`], file);
  } else {
    const found = DEFAULT_CONFIG_FILES.map((f) => resolve(cwd, f)).find((f) => existsSync(f));
    file = found ?? null;
  }
  const raw = file ? readConfigFile(file, sources.verbose === true) : {};
  if (raw !== null && (typeof raw !== 'object' || Array.isArray(raw))) {
    throw new ConfigError(['(root): expected an object'], file ?? undefined);
  }
  // Validate the file on its own first: a flag or env value must not hide a bad value in it.
  if (file) parseConfig(raw, file);
  const merged: Record<string, unknown> = { ...(raw as Record<string, unknown> | null) };
  if (env.QUOTACLOCK_DB) merged.store = env.QUOTACLOCK_DB;
  if (sources.store !== undefined) {
    if (sources.store.trim() === '') throw new BadInputError('--db: empty store URL', '--db');
    merged.store = sources.store;
  }
  if (env.QUOTACLOCK_LOG_FILE)
    merged.log = { ...(merged.log as object), file: env.QUOTACLOCK_LOG_FILE };
  if (!file) {
    // Nothing to validate but the store URL (checked non-empty above): skip the schema.
    const store = merged.store as string | undefined;
    return {
      config: builtInConfig({
        ...(store ? { store } : {}),
        ...(env.QUOTACLOCK_LOG_FILE ? { logFile: env.QUOTACLOCK_LOG_FILE } : {}),
      }),
      file,
    };
  }
  return { config: parseConfig(merged, file), file };
}
