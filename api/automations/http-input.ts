import type { FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { decodeUtf8, mediaType, parseJson } from '../../platform/http/request-body.ts';
import type { ValidationError } from '../../schemas/automation.ts';
import { HttpError } from '../../platform/http/http-error.ts';

/** One problem in a request: where (a path such as `trigger.within`, `actions[0].text`) and what. */
export interface PathProblem {
  readonly path: string;
  readonly message: string;
}

function isJson(type: string): boolean {
  return type === 'application/json' || type.endsWith('+json');
}

/** A JSON request body: strict UTF-8 JSON sent as application/json; 400 when empty or malformed, 415 for other types. */
export function jsonBody(request: FastifyRequest, example: string): unknown {
  const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
  if (body.length === 0) throw new HttpError(400, 'malformed_json', `the request body is empty; expected JSON, e.g. ${example}`);
  const type = mediaType(request.headers['content-type']);
  if (!isJson(type)) {
    throw new HttpError(415, 'unsupported_media_type', `${type ? `content type "${type}" is not supported` : 'the Content-Type header is missing'}; send JSON as application/json`);
  }
  return parseJson(decodeUtf8(body));
}

/**
 * A path as the API writes it: dotted names, array indexes in brackets (`actions[0].text`,
 * `trigger.triggers[1].within`). The schemas report indexes as dotted segments.
 */
function apiPath(path: string | readonly PropertyKey[]): string {
  const segments = typeof path === 'string' ? (path === '' ? [] : path.split('.')) : path.map(String);
  return segments.reduce<string>((text, segment) => (/^\d+$/.test(segment) ? `${text}[${segment}]` : text === '' ? segment : `${text}.${segment}`), '');
}

function describe(problems: readonly PathProblem[]): string {
  const first = problems[0];
  if (!first) return '';
  return `${first.path ? `${first.path}: ` : ''}${first.message}${problems.length > 1 ? ` (and ${problems.length - 1} more)` : ''}`;
}

/** 422 with every problem by path. */
export function unprocessable(code: string, what: string, problems: readonly PathProblem[]): HttpError {
  return new HttpError(422, code, `${what}: ${describe(problems)}`, { details: { errors: problems.slice(0, 100) } });
}

/** 422 `invalid_automation` from the schema's validation errors, their paths under `prefix` (e.g. `automation`). */
export function invalidAutomation(errors: readonly ValidationError[], prefix = ''): HttpError {
  const problems = errors.flatMap((error) => {
    const at = (...parts: string[]): string => apiPath([prefix, error.path, ...parts].filter((part) => part !== '').join('.'));
    // The schema names unknown fields in the message at their parent's path: report each at its own path.
    const unknown = /^unknown fields?: (.+)$/.exec(error.message);
    if (unknown) return unknown[1]!.split(', ').map((key) => ({ path: at(key), message: 'unknown field' }));
    return [{ path: at(), message: error.message }];
  });
  return unprocessable('invalid_automation', 'the automation is invalid', problems);
}

/** zod issues as path problems (unknown keys: one problem per key, at its own path). */
export function zodProblems(error: z.ZodError, prefix: readonly PropertyKey[] = []): PathProblem[] {
  return error.issues.flatMap((issue) => {
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({ path: apiPath([...prefix, ...issue.path, key]), message: 'unknown field' }));
    }
    return [{ path: apiPath([...prefix, ...issue.path]), message: issue.message }];
  });
}

/** A request body validated with `schema`: 422 `code` with path-level problems. */
export function parseBody<T extends z.ZodType>(schema: T, value: unknown, code: string, what: string): z.infer<T> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw unprocessable(code, what, zodProblems(parsed.error));
  return parsed.data;
}

/** Query parameters validated with `schema`: 400 `invalid_query` naming the parameter. */
export function parseQuery<T extends z.ZodType>(schema: T, request: FastifyRequest): z.infer<T> {
  const query = request.query as Record<string, unknown>;
  for (const [key, value] of Object.entries(query)) {
    if (Array.isArray(value)) {
      throw new HttpError(400, 'invalid_query', `query parameter ${key}: must be given once`, { details: { errors: [{ path: key, message: 'must be given once' }] } });
    }
  }
  const parsed = schema.safeParse(query);
  if (!parsed.success) {
    const problems = parsed.error.issues.flatMap((issue) =>
      issue.code === 'unrecognized_keys' ? issue.keys.map((key) => ({ path: key, message: 'unknown query parameter' })) : [{ path: apiPath(issue.path), message: issue.message }],
    );
    const first = problems[0]!;
    throw new HttpError(400, 'invalid_query', `query parameter ${first.path || '(unknown)'}: ${first.message}`, { details: { errors: problems } });
  }
  return parsed.data;
}
