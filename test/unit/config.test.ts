import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig, defaultConfig } from '../../src/config/parse.js';
import { loadConfig, DEFAULT_CONFIG_FILES } from '../../src/config/load.js';
import { ConfigError, type QuotaClockError } from '../../src/core/errors.js';

/** Runs fn, which must throw a CONFIG_INVALID error, and returns that error. */
function configErrorOf(fn: () => unknown): QuotaClockError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    const err = e as QuotaClockError;
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.exitCode).toBe(2);
    return err;
  }
  throw new Error('expected a configuration error, got none');
}

const issuesOf = (input: unknown) => configErrorOf(() => parseConfig(input)).details;

describe('parseConfig: defaults', () => {
  it('an empty config gives the reference plans, free by default, monthly UTC calendar periods', () => {
    const c = defaultConfig();
    expect(c.plans).toEqual({
      free: { limits: { stock_reports: 10 } },
      pro: { limits: { stock_reports: 45 } },
      pro_plus: { limits: { stock_reports: 100 } },
      enterprise: { limits: { stock_reports: null } },
    });
    expect(c.defaultPlan).toBe('free');
    expect(c.period).toEqual({ every: 'month', anchor: 'calendar', timeZone: 'UTC' });
    expect(c.autoCreateSubjects).toBe(true);
    expect(c.retention.periods).toBe(24);
    expect(c.schedule).toEqual({ cron: '1 0 1 * *', timeZone: 'UTC' });
    expect(c.store).toBe('./quotaclock.db');
  });

  it('undefined and null read as an empty config', () => {
    expect(parseConfig(undefined)).toEqual(defaultConfig());
    expect(parseConfig(null)).toEqual(defaultConfig());
  });

  it('is idempotent: a parsed config parses to itself', () => {
    const c = parseConfig({
      period: { every: 'week', timeZone: 'Asia/Kolkata' },
      retention: { periods: 6 },
    });
    expect(parseConfig(c)).toEqual(c);
  });

  it('custom plans replace the reference plans', () => {
    const c = parseConfig({
      plans: { basic: { limits: { exports: 3, stock_reports: null } } },
      defaultPlan: 'basic',
    });
    expect(Object.keys(c.plans)).toEqual(['basic']);
    expect(c.plans.basic!.limits).toEqual({ exports: 3, stock_reports: null });
  });
});

describe('parseConfig: every error names its path', () => {
  it.each([-1, 1.5, '10', true, Number.POSITIVE_INFINITY, Number.NaN, {}])(
    'plans.pro.limits.stock_reports = %s is refused with the spec message',
    (bad) => {
      const plans = {
        free: { limits: { stock_reports: 10 } },
        pro: { limits: { stock_reports: bad } },
      };
      expect(issuesOf({ plans })).toEqual([
        'plans.pro.limits.stock_reports: expected integer ≥ 0 or null',
      ]);
    },
  );

  it('0 and null are valid limits', () => {
    const c = parseConfig({ plans: { free: { limits: { a: 0, b: null } } } });
    expect(c.plans.free!.limits).toEqual({ a: 0, b: null });
  });

  it('reports every problem at once, not just the first', () => {
    const issues = issuesOf({
      plans: { free: { limits: { stock_reports: -5 } }, pro: { limits: { stock_reports: 2.5 } } },
      period: { every: 'fortnight' },
      retention: { periods: 0 },
    });
    expect(issues).toEqual(
      expect.arrayContaining([
        'plans.free.limits.stock_reports: expected integer ≥ 0 or null',
        'plans.pro.limits.stock_reports: expected integer ≥ 0 or null',
        expect.stringMatching(/^period\.every: /),
        expect.stringMatching(/^retention\.periods: /),
      ]),
    );
    expect(issues).toHaveLength(4);
  });

  it('names unknown keys at the root and nested', () => {
    expect(issuesOf({ stroe: 'x.db' })).toEqual(['(root): unknown key "stroe"']);
    expect(issuesOf({ period: { every: 'month', tz: 'UTC' } })).toEqual([
      'period: unknown key "tz"',
    ]);
    expect(issuesOf({ plans: { free: { limts: { a: 1 } } } })).toEqual(
      expect.arrayContaining(['plans.free: unknown key "limts"']),
    );
    expect(issuesOf({ a: 1, b: 2 })).toEqual(['(root): unknown keys "a", "b"']);
  });

  it('refuses a bad time zone in the period rule and in the schedule', () => {
    expect(issuesOf({ period: { timeZone: 'Mars/Olympus_Mons' } })).toEqual([
      'period.timeZone: "Mars/Olympus_Mons" is not an IANA time zone',
    ]);
    expect(issuesOf({ schedule: { timeZone: 'Europe/Atlantis' } })).toEqual([
      'schedule.timeZone: "Europe/Atlantis" is not an IANA time zone',
    ]);
    // A fixed offset has no DST rules; it is refused too.
    expect(issuesOf({ period: { timeZone: '+02:00' } })).toEqual([
      'period.timeZone: "+02:00" is not an IANA time zone',
    ]);
  });

  it('refuses a bad cron expression and names schedule.cron', () => {
    for (const cron of ['not a cron', '61 0 1 * *', '1 0 32 * *', '']) {
      const issues = issuesOf({ schedule: { cron } });
      expect(issues).toHaveLength(1);
      expect(issues[0]).toMatch(/^schedule\.cron: invalid cron expression/);
    }
    expect(parseConfig({ schedule: { cron: '1 0 1 * *' } }).schedule.cron).toBe('1 0 1 * *');
  });

  it('refuses a defaultPlan that is not one of the plans', () => {
    expect(issuesOf({ defaultPlan: 'gold' })).toEqual([
      'defaultPlan: "gold" is not one of the plans (free, pro, pro_plus, enterprise)',
    ]);
    expect(issuesOf({ plans: { basic: { limits: { stock_reports: 1 } } } })).toEqual([
      'defaultPlan: "free" is not one of the plans (basic)',
    ]);
  });

  it('refuses an empty plan set, bad plan and feature names, and wrong types', () => {
    expect(issuesOf({ plans: {}, defaultPlan: 'free' })).toEqual(
      expect.arrayContaining(['plans: at least one plan is required']),
    );
    expect(issuesOf({ plans: { Pro: { limits: {} } }, defaultPlan: 'Pro' })[0]).toMatch(
      /^plans\.Pro: /,
    );
    expect(issuesOf({ plans: { free: { limits: { 'Stock Reports': 1 } } } })[0]).toMatch(
      /^plans\.free\.limits\.Stock Reports: /,
    );
    expect(issuesOf({ autoCreateSubjects: 'yes' })[0]).toMatch(/^autoCreateSubjects: /);
    expect(issuesOf([])).toEqual([expect.stringMatching(/^\(root\): /)]);
  });

  it('the error message lists every issue and the source file', () => {
    const err = configErrorOf(() =>
      parseConfig({ defaultPlan: 'gold', retention: { periods: -1 } }, '/etc/qc.json'),
    );
    expect(err.message).toContain('/etc/qc.json');
    expect(err.message).toContain('defaultPlan: "gold"');
    expect(err.message).toContain('retention.periods: ');
    expect(err.where).toBe('/etc/qc.json');
  });
});

describe('loadConfig: files and precedence', () => {
  const dirs: string[] = [];
  const tempDir = () => {
    const d = mkdtempSync(join(tmpdir(), 'qc-config-'));
    dirs.push(d);
    return d;
  };
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('with no file anywhere: the defaults', () => {
    const cwd = tempDir();
    const { config, file } = loadConfig({ cwd, env: {} });
    expect(file).toBeNull();
    expect(config).toEqual(defaultConfig());
  });

  it('finds quotaclock.config.json in the working directory', () => {
    const cwd = tempDir();
    writeFileSync(
      join(cwd, 'quotaclock.config.json'),
      JSON.stringify({ store: 'from-file.db', defaultPlan: 'pro' }),
    );
    const { config, file } = loadConfig({ cwd, env: {} });
    expect(file).toBe(join(cwd, 'quotaclock.config.json'));
    expect(config.store).toBe('from-file.db');
    expect(config.defaultPlan).toBe('pro');
  });

  it('accepts YAML (found by name, and given with --config)', () => {
    const yaml = [
      'store: sqlite:./from-yaml.db',
      'period:',
      '  every: month',
      '  anchor: signup',
      '  timeZone: America/New_York',
      'plans:',
      '  free:',
      '    limits:',
      '      stock_reports: 5',
      '  enterprise:',
      '    limits:',
      '      stock_reports: null',
      '',
    ].join('\n');
    const cwd = tempDir();
    writeFileSync(join(cwd, 'quotaclock.config.yaml'), yaml);
    const found = loadConfig({ cwd, env: {} });
    expect(found.file).toBe(join(cwd, 'quotaclock.config.yaml'));
    expect(found.config.store).toBe('sqlite:./from-yaml.db');
    expect(found.config.period).toEqual({
      every: 'month',
      anchor: 'signup',
      timeZone: 'America/New_York',
    });
    expect(found.config.plans).toEqual({
      free: { limits: { stock_reports: 5 } },
      enterprise: { limits: { stock_reports: null } },
    });

    const other = tempDir();
    writeFileSync(join(other, 'custom.yml'), yaml);
    expect(
      loadConfig({ cwd: other, file: 'custom.yml', env: {} }).config.plans.free!.limits
        .stock_reports,
    ).toBe(5);
  });

  it('the JSON file wins over the YAML one when both exist (documented search order)', () => {
    expect(DEFAULT_CONFIG_FILES[0]).toBe('quotaclock.config.json');
    const cwd = tempDir();
    writeFileSync(join(cwd, 'quotaclock.config.json'), JSON.stringify({ store: 'json.db' }));
    writeFileSync(join(cwd, 'quotaclock.config.yaml'), 'store: yaml.db\n');
    expect(loadConfig({ cwd, env: {} }).config.store).toBe('json.db');
  });

  it('a bad value in a YAML file is reported with its path and the file', () => {
    const cwd = tempDir();
    const path = join(cwd, 'quotaclock.config.yaml');
    writeFileSync(path, 'plans:\n  free:\n    limits:\n      stock_reports: -1\n');
    const err = configErrorOf(() => loadConfig({ cwd, env: {} }));
    expect(err.details).toEqual(['plans.free.limits.stock_reports: expected integer ≥ 0 or null']);
    expect(err.where).toBe(path);
  });

  it('reports unparsable JSON and YAML, and a non-object document', () => {
    const cwd = tempDir();
    writeFileSync(join(cwd, 'bad.json'), '{ "store": ');
    expect(configErrorOf(() => loadConfig({ cwd, file: 'bad.json', env: {} })).details[0]).toMatch(
      /^not valid JSON/,
    );
    writeFileSync(join(cwd, 'bad.yaml'), 'store: [unclosed\n');
    expect(configErrorOf(() => loadConfig({ cwd, file: 'bad.yaml', env: {} })).details[0]).toMatch(
      /^not valid YAML/,
    );
    writeFileSync(join(cwd, 'list.json'), '[1, 2]');
    expect(configErrorOf(() => loadConfig({ cwd, file: 'list.json', env: {} })).details).toEqual([
      '(root): expected an object',
    ]);
  });

  it('a --config file that does not exist is an error, not the defaults', () => {
    const cwd = tempDir();
    const err = configErrorOf(() => loadConfig({ cwd, file: 'missing.json', env: {} }));
    expect(err.details).toEqual(['config file not found']);
    expect(err.where).toBe(join(cwd, 'missing.json'));
  });

  it('QUOTACLOCK_CONFIG names the file when --config is absent; --config wins over it', () => {
    const cwd = tempDir();
    writeFileSync(join(cwd, 'env.json'), JSON.stringify({ store: 'env-file.db' }));
    writeFileSync(join(cwd, 'flag.json'), JSON.stringify({ store: 'flag-file.db' }));
    expect(loadConfig({ cwd, env: { QUOTACLOCK_CONFIG: 'env.json' } }).config.store).toBe(
      'env-file.db',
    );
    expect(
      loadConfig({ cwd, file: 'flag.json', env: { QUOTACLOCK_CONFIG: 'env.json' } }).config.store,
    ).toBe('flag-file.db');
  });

  it('precedence for the store: flag > QUOTACLOCK_DB > file > default', () => {
    const cwd = tempDir();
    expect(loadConfig({ cwd, env: {} }).config.store).toBe('./quotaclock.db');
    writeFileSync(
      join(cwd, 'quotaclock.config.json'),
      JSON.stringify({ store: 'file.db', defaultPlan: 'pro' }),
    );
    expect(loadConfig({ cwd, env: {} }).config.store).toBe('file.db');
    expect(loadConfig({ cwd, env: { QUOTACLOCK_DB: 'env.db' } }).config.store).toBe('env.db');
    const both = loadConfig({ cwd, env: { QUOTACLOCK_DB: 'env.db' }, store: 'flag.db' }).config;
    expect(both.store).toBe('flag.db');
    // Only the store moved: the rest of the file still applies.
    expect(both.defaultPlan).toBe('pro');
  });

  it('QUOTACLOCK_LOG_FILE sets log.file over the file and keeps the other log settings', () => {
    const cwd = tempDir();
    writeFileSync(
      join(cwd, 'quotaclock.config.json'),
      JSON.stringify({ log: { file: 'a.log', level: 'warn' } }),
    );
    const { config } = loadConfig({ cwd, env: { QUOTACLOCK_LOG_FILE: 'b.log' } });
    expect(config.log.file).toBe('b.log');
    expect(config.log.level).toBe('warn');
  });

  it('a bad file is refused whole even when a flag would replace the bad value', () => {
    const cwd = tempDir();
    writeFileSync(join(cwd, 'quotaclock.config.json'), JSON.stringify({ store: 42 }));
    const err = configErrorOf(() =>
      loadConfig({ cwd, env: { QUOTACLOCK_DB: 'env.db' }, store: 'flag.db' }),
    );
    expect(err.details).toEqual([expect.stringMatching(/^store: /)]);
    expect(err.where).toBe(join(cwd, 'quotaclock.config.json'));
  });
});
