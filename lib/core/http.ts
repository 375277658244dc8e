// Fetching a model's files over HTTP (browser-safe): a server is untrusted input like a model
// directory. Every body is read against a byte limit (and the Content-Length it announced), a
// missing file is told apart from a failing server, and errors name the URL.
import { EntropixError } from './errors';

/** Options of loadModel(url) / loadTokenizer(url). */
export interface UrlLoadOptions {
  /** The fetch to use (default: globalThis.fetch), e.g. one that adds headers. */
  fetch?: typeof fetch;
  /** Aborts the downloads (EntropixError ABORTED). */
  signal?: AbortSignal;
  /** The most bytes of weights to download (default 4 GiB); a larger model is refused before any shard is fetched. */
  maxWeightBytes?: number;
}

/** JSON files (model.json, config.json, tokenizer.json, …) larger than this are refused. */
export const MAX_JSON_BYTES = 64 * 1024 * 1024;

export function refuseUrl(message: string): EntropixError {
  return new EntropixError('INVALID_ARGUMENT', message, 'url');
}

/**
 * The URL of a model's folder, ending in '/': `url` itself, or its folder when it names
 * model.json. A relative URL resolves against the page (document.baseURI) in a browser.
 */
export function baseUrl(url: unknown): URL {
  let u: URL;
  try {
    if (url instanceof URL) u = new URL(url.href);
    else if (typeof url === 'string' && url.length > 0) {
      const page = (globalThis as { document?: { baseURI?: string } }).document?.baseURI;
      u = page ? new URL(url, page) : new URL(url);
    } else throw new Error('not a string');
  } catch {
    throw refuseUrl(`url must be an absolute http(s) URL (or, in a page, one relative to it), got ${JSON.stringify(String(url))}`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw refuseUrl(`url must be http(s), got ${u.protocol} (${u.href}); in Node, load a directory with entropix-tfjs/node`);
  }
  u.search = '';
  u.hash = '';
  if (u.pathname.endsWith('/model.json')) u.pathname = u.pathname.slice(0, -'model.json'.length);
  else if (!u.pathname.endsWith('/')) u.pathname += '/';
  return u;
}

/**
 * `base`/`p` for a relative path named in a model file: an absolute URL, a path with '..', or
 * one that leaves `base` is refused, so that a model.json cannot send us to another server.
 */
export function urlInside(base: URL, p: unknown, refuse: (why: string) => Error): URL {
  if (typeof p !== 'string' || p.length === 0 || p.includes('\0')) throw refuse('is not a file name');
  if (/^[a-z][a-z0-9+.-]*:/i.test(p) || p.startsWith('/') || p.startsWith('\\')) throw refuse('is not a relative path');
  if (p.split(/[\\/]/).includes('..') || /%2e%2e/i.test(p)) throw refuse("escapes the model's folder ('..')");
  const u = new URL(p, base);
  if (u.origin !== base.origin || !u.pathname.startsWith(base.pathname) || u.pathname === base.pathname) {
    throw refuse("is not inside the model's folder");
  }
  return u;
}

function aborted(): EntropixError {
  return new EntropixError('ABORTED', 'loading was aborted', 'signal');
}

/** GET `url`; a 404 (or 410) gives undefined when `optional`, else an error naming `what`. */
export async function get(url: URL, what: string, options: UrlLoadOptions & { optional?: boolean }): Promise<Response | undefined> {
  if (options.signal?.aborted) throw aborted();
  const fetchFn = options.fetch ?? globalThis.fetch;
  if (typeof fetchFn !== 'function') throw refuseUrl('this environment has no fetch: pass options.fetch');
  let res: Response;
  try {
    res = await fetchFn(url.href, { signal: options.signal, credentials: 'same-origin' });
  } catch (cause) {
    if (options.signal?.aborted) throw aborted();
    throw refuseUrl(`${what} could not be fetched from ${url.href}: ${(cause as Error).message ?? String(cause)}`);
  }
  if (res.status === 404 || res.status === 410) {
    void res.body?.cancel().catch(() => undefined);
    if (options.optional) return undefined;
    throw refuseUrl(`${what} is missing: ${url.href} answered HTTP ${res.status}`);
  }
  if (!res.ok) {
    void res.body?.cancel().catch(() => undefined);
    throw refuseUrl(`${what} could not be fetched: ${url.href} answered HTTP ${res.status} ${res.statusText}`.trim());
  }
  return res;
}

/**
 * The byte count a response announced, or null when it did not (or sent it compressed, where
 * Content-Length counts the compressed bytes).
 */
export function announcedLength(res: Response): number | null {
  const encoding = res.headers.get('content-encoding');
  if (encoding && encoding.toLowerCase() !== 'identity') return null;
  const v = res.headers.get('content-length');
  if (v === null || !/^\d+$/.test(v.trim())) return null;
  return Number(v);
}

/**
 * The whole body, at most `limit` bytes (more is refused without reading the rest). A body
 * shorter than its Content-Length (the connection dropped) is refused as truncated.
 */
export async function readBody(res: Response, url: URL, what: string, limit: number, signal?: AbortSignal): Promise<Uint8Array> {
  const announced = announcedLength(res);
  if (announced !== null && announced > limit) {
    void res.body?.cancel().catch(() => undefined);
    throw refuseUrl(`${what} at ${url.href} is too large: ${announced} bytes, at most ${limit} allowed`);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    if (!res.body) {
      const all = new Uint8Array(await res.arrayBuffer());
      chunks.push(all);
      size = all.byteLength;
    } else {
      const reader = res.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        size += value.byteLength;
        if (size > limit) {
          await reader.cancel().catch(() => undefined);
          throw refuseUrl(`${what} at ${url.href} is too large: more than ${limit} bytes`);
        }
        chunks.push(value);
      }
    }
  } catch (cause) {
    if (cause instanceof EntropixError) throw cause;
    if (signal?.aborted) throw aborted();
    throw refuseUrl(`${what} at ${url.href} is truncated: the download broke off after ${size}`
      + `${announced !== null ? ` of ${announced}` : ''} bytes (${(cause as Error).message ?? String(cause)})`);
  }
  if (announced !== null && size !== announced) {
    throw refuseUrl(`${what} at ${url.href} is truncated: got ${size} of the ${announced} bytes announced`);
  }
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/** Fetches and parses a JSON file (undefined when `optional` and missing). */
export async function fetchJson(url: URL, what: string, options: UrlLoadOptions & { optional?: boolean }): Promise<unknown> {
  const res = await get(url, what, options);
  if (res === undefined) return undefined;
  const bytes = await readBody(res, url, what, MAX_JSON_BYTES, options.signal);
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (e) {
    throw refuseUrl(`${url.href}: ${what} is not valid JSON: ${(e as Error).message}`);
  }
}
