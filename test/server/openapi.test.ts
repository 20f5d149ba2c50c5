import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Validator } from '@seriousme/openapi-schema-validator';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log/logger.js';
import { createQuotaClock } from '../../src/quotaclock.js';
import { buildServer } from '../../src/server/app.js';
import { openApiDocument } from '../../src/server/openapi.js';
import { ROUTES } from '../../src/server/route-docs.js';
import { ROOT } from '../helpers/cli.js';

const FILE = join(ROOT, 'openapi.json');
const render = () => `${JSON.stringify(openApiDocument(), null, 2)}\n`;

describe('openapi.json', () => {
  it('the committed file is what the code generates (UPDATE_OPENAPI=1 rewrites it)', () => {
    if (process.env.UPDATE_OPENAPI === '1') writeFileSync(FILE, render());
    expect(readFileSync(FILE, 'utf8')).toBe(render());
  });

  it('is a valid OpenAPI 3.1 document (@seriousme/openapi-schema-validator)', async () => {
    const validator = new Validator();
    const result = await validator.validate(JSON.parse(readFileSync(FILE, 'utf8')) as object);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
    const resolved = await validator.validateBundle([JSON.parse(readFileSync(FILE, 'utf8'))]);
    expect(resolved.valid).toBe(true);
  });

  it('lists exactly the routes the server registers', async () => {
    const qc = createQuotaClock({ config: { store: 'sqlite::memory:' } });
    const { app, state } = await buildServer({ qc, logger: createLogger({ level: 'silent' }) });
    await app.ready();
    await app.close();
    await qc.close();
    const documented = ROUTES.map((r) => `${r.method} ${r.path.replace(/\{(\w+)\}/g, ':$1')}`);
    // The dashboard's HTML pages under /admin are not part of the JSON API (docs/dashboard.md).
    const api = state.routes.filter((r) => !/^\w+ \/admin(\/|$)/.test(r));
    expect(api.sort()).toEqual([...documented].sort());
  });

  it('request bodies are the validating schemas: consume refuses what the document forbids', () => {
    const doc = openApiDocument() as {
      components: {
        schemas: Record<
          string,
          { properties: Record<string, unknown>; additionalProperties?: boolean }
        >;
      };
    };
    const consume = doc.components.schemas.ConsumeRequest!;
    expect(consume.additionalProperties).toBe(false);
    expect(Object.keys(consume.properties).sort()).toEqual([
      'amount',
      'feature',
      'key',
      'meta',
      'subject',
    ]);
    expect(consume.properties.amount).toMatchObject({ type: 'integer', minimum: 1, default: 1 });
    expect(ROUTES.length).toBeGreaterThan(20);
  });
});
