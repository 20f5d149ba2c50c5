/**
 * openapi.json, generated from the zod schemas that validate the requests
 * (schemas.ts). The committed file at the repository root is this function's
 * output; a test fails when they differ.
 */
import { z } from 'zod';
import { ROUTES, type RouteDoc } from './route-docs.js';
import { requestRegistry, responseRegistry } from './schemas.js';

type Json = Record<string, unknown>;

const ref = (id: string) => ({ $ref: `#/components/schemas/${id}` });
const uri = (id: string) => `#/components/schemas/${id}`;

function components(): Json {
  const strip = (schemas: Record<string, Json>) =>
    Object.fromEntries(
      Object.entries(schemas).map(([id, { $schema: _s, $id: _i, ...rest }]) => [id, rest]),
    );
  const requests = z.toJSONSchema(requestRegistry, { uri, io: 'input' }).schemas as Record<
    string,
    Json
  >;
  const responses = z.toJSONSchema(responseRegistry, { uri, io: 'output' }).schemas as Record<
    string,
    Json
  >;
  return { ...strip(requests), ...strip(responses) };
}

const problemResponse = (description: string) => ({
  description,
  content: { 'application/problem+json': { schema: ref('Problem') } },
});

const RATE_LIMIT_HEADERS = {
  'RateLimit-Policy': {
    description:
      'draft-ietf-httpapi-ratelimit-headers-10: "<feature>";q=<limit>;w=<period seconds>. Absent when unlimited.',
    schema: { type: 'string' },
  },
  RateLimit: {
    description:
      '"<feature>";r=<remaining>;t=<seconds until the period ends, rounded up>. Absent when unlimited.',
    schema: { type: 'string' },
  },
};

function queryParameters(schema: z.ZodType | undefined): Json[] {
  if (!schema) return [];
  const js = z.toJSONSchema(schema, { io: 'input' }) as {
    properties?: Record<string, Json>;
    required?: string[];
  };
  return Object.entries(js.properties ?? {}).map(([name, s]) => ({
    name,
    in: 'query',
    required: js.required?.includes(name) ?? false,
    ...(typeof s.description === 'string' ? { description: s.description } : {}),
    schema: Object.fromEntries(Object.entries(s).filter(([k]) => k !== 'description')),
  }));
}

function operation(r: RouteDoc): Json {
  const pathParams = [...r.path.matchAll(/\{(\w+)\}/g)].map((m) => ({
    name: m[1],
    in: 'path',
    required: true,
    schema: { type: 'string', minLength: 1, maxLength: 200 },
  }));
  const headers = r.idempotent
    ? [
        {
          name: 'Idempotency-Key',
          in: 'header',
          required: false,
          description:
            'Raw or as a structured-field string ("…"). Same as the body’s key; if both are sent they must be equal.',
          schema: { type: 'string', minLength: 1, maxLength: 200 },
        },
      ]
    : [];
  const success: Json = {
    description: r.success.description,
    ...(r.success.schema ? { content: { 'application/json': { schema: r.success.schema } } } : {}),
    ...(r.rateLimitHeaders || r.idempotent
      ? {
          headers: {
            ...(r.rateLimitHeaders ? RATE_LIMIT_HEADERS : {}),
            ...(r.idempotent
              ? {
                  'Idempotent-Replayed': {
                    description: '"true" when this answer replays the first answer to the key.',
                    schema: { type: 'string', enum: ['true'] },
                  },
                }
              : {}),
          },
        }
      : {}),
  };
  const errors: Record<string, Json> = {};
  for (const [status, description] of Object.entries(r.errors))
    errors[status] = problemResponse(description);
  if (r.scope) {
    errors['401'] = problemResponse('No key, or a wrong or revoked key (UNAUTHENTICATED).');
    errors['403'] = problemResponse(`The key lacks the ${r.scope} scope (FORBIDDEN).`);
    errors['429'] = problemResponse(
      'Too many failed keys from this address (RATE_LIMITED), with Retry-After.',
    );
    errors['503'] = problemResponse('The store is down (STORE_UNAVAILABLE), with Retry-After.');
  }
  if (r.body) {
    errors['400'] ??= problemResponse('Bad input; `where` names the field.');
    errors['413'] = problemResponse('The body is over 65,536 bytes (PAYLOAD_TOO_LARGE).');
    errors['415'] = problemResponse('The body is not application/json (UNSUPPORTED_MEDIA_TYPE).');
  }
  return {
    operationId: r.operationId,
    summary: r.summary,
    ...(r.tag ? { tags: [r.tag] } : {}),
    ...(r.scope ? { security: [{ apiKey: [r.scope] }] } : { security: [] }),
    ...(pathParams.length + headers.length + (r.query ? 1 : 0) > 0
      ? { parameters: [...pathParams, ...queryParameters(r.query), ...headers] }
      : {}),
    ...(r.body
      ? {
          requestBody: {
            required: true,
            content: { 'application/json': { schema: ref(r.body) } },
          },
        }
      : {}),
    responses: { [String(r.success.status ?? 200)]: success, ...errors },
  };
}

export function openApiDocument(version = '0.1.0'): Json {
  const paths: Record<string, Json> = {};
  for (const r of ROUTES) {
    paths[r.path] ??= {};
    paths[r.path]![r.method.toLowerCase()] = operation(r);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'quotaclock',
      version,
      description:
        'Per-subject usage quotas by plan. Every decision answers 200 (granted or not); errors are RFC 9457 problem+json with a stable `code`.',
      license: { name: 'MIT', identifier: 'MIT' },
    },
    servers: [{ url: 'http://127.0.0.1:8787' }],
    components: {
      securitySchemes: {
        apiKey: {
          type: 'http',
          scheme: 'bearer',
          description:
            'An API key from `quotaclock keys create` (qck_…). Scopes: quota:read, quota:write, admin:read, admin:write.',
        },
      },
      schemas: components(),
    },
    paths,
  };
}
