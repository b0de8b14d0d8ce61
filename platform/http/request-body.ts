import secureJson from 'secure-json-parse';
import { HttpError } from './http-error.ts';

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/** Decodes a request body as strict UTF-8: invalid byte sequences are a 400, never replaced silently. */
export function decodeUtf8(body: Buffer): string {
  try {
    return utf8.decode(body);
  } catch {
    throw new HttpError(400, 'invalid_encoding', 'the request body is not valid UTF-8');
  }
}

/** Parses JSON text; malformed JSON is a 400 that says where parsing stopped. */
export function parseJson(text: string, where = 'the request body'): unknown {
  if (text.trim() === '') throw new HttpError(400, 'malformed_json', `${where} is empty; expected JSON`);
  try {
    // Like JSON.parse, but a `__proto__` or `constructor.prototype` key is an error: such keys
    // are how hostile JSON reaches prototypes in code that later merges or walks the value.
    return secureJson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' }) as unknown;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    if (/prototype/i.test(reason)) {
      throw new HttpError(400, 'forbidden_key', `${where} contains a "__proto__" or "constructor.prototype" key, which Vigil refuses`);
    }
    throw new HttpError(400, 'malformed_json', `${where} is not valid JSON: ${reason}`);
  }
}

/** Parses newline-delimited JSON: one value per non-empty line. */
export function parseNdjson(text: string): unknown[] {
  const items: unknown[] = [];
  const lines = text.split('\n');
  for (const [number, line] of lines.entries()) {
    if (line.trim() === '') continue;
    items.push(parseJson(line, `line ${number + 1} of the NDJSON body`));
  }
  if (items.length === 0) throw new HttpError(400, 'malformed_json', 'the NDJSON body holds no events');
  return items;
}

/** The media type of a Content-Type header, lower-cased, without parameters. */
export function mediaType(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0]!.trim().toLowerCase();
}
