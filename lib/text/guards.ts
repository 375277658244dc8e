// Bounds on the work a tokenizer.json or a chat template from a model directory can cause: the
// files are untrusted input, and the libraries that run them (@huggingface/tokenizers,
// @huggingface/jinja) do whatever the file says, synchronously.
//
// What is guarded: token ids (the vocabulary is built up to the largest id, so one added token
// with id 1e9 costs minutes), regular expressions with nested unbounded quantifiers (`(a+)+`,
// exponential backtracking), and chat templates' range() (loop length, a total per render) and
// output size. What is not: other slow regular expressions (overlapping alternatives under a
// quantifier) and templates that grow a string by doubling it; a caller who runs strangers'
// tokenizers should run them off the main thread (a Worker with a time budget and, in Node,
// resourceLimits). Browser-safe: no node: imports.
import { EntropixError } from '../core/errors';

/** Largest vocabulary accepted: 4× the largest real one (Gemma 3's 262,144). */
export const MAX_VOCAB_SIZE = 4 * 262_144;
/** Elements all range() calls of one chat-template render may produce together. */
export const MAX_TEMPLATE_RANGE = 100_000;
/** Characters a rendered chat template may have. */
export const MAX_TEMPLATE_OUTPUT = 4_000_000;

const refuse = (message: string, argument = 'tokenizer') => new EntropixError('INVALID_ARGUMENT', message, argument);

/**
 * Where `pattern` puts an unbounded quantifier on a group that holds one itself (star height 2,
 * the shape of catastrophic backtracking), as the offending group; null when there is none.
 */
export function nestedQuantifier(pattern: string): string | null {
  // Per open group: where it starts and whether its body holds an unbounded quantifier.
  const stack: { start: number; unbounded: boolean }[] = [];
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\') {
      i++;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      continue;
    }
    if (c === '[') {
      inClass = true;
      if (pattern[i + 1] === ']') i++; // a leading ] is literal
      continue;
    }
    if (c === '(') {
      stack.push({ start: i, unbounded: false });
      continue;
    }
    const quantifier = unboundedQuantifierAt(pattern, i);
    if (c === ')') {
      const group = stack.pop();
      if (!group) continue; // unbalanced: the regex engine refuses it itself
      const after = unboundedQuantifierAt(pattern, i + 1);
      if (after && group.unbounded) return pattern.slice(group.start, i + 1 + after);
      if ((after || group.unbounded) && stack.length > 0) stack[stack.length - 1]!.unbounded = true;
      if (after) i += after;
      continue;
    }
    if (quantifier && stack.length > 0) stack[stack.length - 1]!.unbounded = true;
    if (quantifier) i += quantifier - 1;
  }
  return null;
}

/** The length of an unbounded quantifier (`*`, `+`, `{n,}`, with a lazy/possessive suffix) at i, or 0. */
function unboundedQuantifierAt(pattern: string, i: number): number {
  const c = pattern[i];
  let n = 0;
  if (c === '*' || c === '+') n = 1;
  else if (c === '{') {
    const m = /^\{\d*,\}/.exec(pattern.slice(i, i + 16));
    if (m) n = m[0].length;
  }
  if (n > 0 && (pattern[i + n] === '?' || pattern[i + n] === '+')) n++;
  return n;
}

/**
 * Refuses, before the vocabulary is built, a tokenizer.json whose ids reach past MAX_VOCAB_SIZE
 * or whose regular expressions nest unbounded quantifiers.
 */
export function checkTokenizerJson(json: object): void {
  const j = json as { added_tokens?: unknown; model?: { vocab?: unknown } };
  const checkId = (id: unknown, what: string) => {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id >= MAX_VOCAB_SIZE) {
      throw refuse(`tokenizer.json: ${what} has id ${String(id)}, not an integer in [0, ${MAX_VOCAB_SIZE})`);
    }
  };
  if (Array.isArray(j.added_tokens)) {
    for (const t of j.added_tokens) checkId((t as { id?: unknown })?.id, `added token ${JSON.stringify((t as { content?: unknown })?.content)}`);
  }
  const vocab = j.model?.vocab;
  if (Array.isArray(vocab)) {
    if (vocab.length > MAX_VOCAB_SIZE) throw refuse(`tokenizer.json: the vocabulary has ${vocab.length} entries, more than ${MAX_VOCAB_SIZE}`);
  } else if (typeof vocab === 'object' && vocab !== null) {
    for (const [piece, id] of Object.entries(vocab)) checkId(id, `vocabulary entry ${JSON.stringify(piece)}`);
  }
  forEachRegex(json, (pattern) => {
    const nested = nestedQuantifier(pattern);
    if (nested !== null) {
      throw refuse(`tokenizer.json: the regular expression ${JSON.stringify(pattern)} nests unbounded quantifiers (${nested}), which can take exponential time`);
    }
  });
}

/** Calls `fn` on every { "Regex": "..." } pattern in the tokenizer's JSON. */
function forEachRegex(node: unknown, fn: (pattern: string) => void, depth = 0): void {
  if (typeof node !== 'object' || node === null || depth > 64) return;
  if (Array.isArray(node)) {
    // Vocabularies and merges are long arrays of strings: nothing to look at there.
    for (const x of node) if (typeof x === 'object') forEachRegex(x, fn, depth + 1);
    return;
  }
  for (const [key, value] of Object.entries(node)) {
    if (key === 'Regex' && typeof value === 'string') fn(value);
    else if (key !== 'vocab' && key !== 'merges') forEachRegex(value, fn, depth + 1);
  }
}

/** The name a bound template calls instead of range() (the engine's own range cannot be replaced). */
export const BOUNDED_RANGE = '__entropix_bounded_range';

/** Points every `range` in a parsed template at BOUNDED_RANGE, which the render must provide. */
export function boundTemplate<T extends { parsed: unknown }>(template: T): T {
  const seen = new Set<object>();
  const walk = (node: unknown): void => {
    if (typeof node !== 'object' || node === null || seen.has(node)) return;
    seen.add(node);
    const n = node as { type?: unknown; value?: unknown };
    if (n.type === 'Identifier' && n.value === 'range') n.value = BOUNDED_RANGE;
    for (const v of Object.values(node)) walk(v);
  };
  walk(template.parsed);
  return template;
}

/** A range() for chat templates that refuses to produce more than MAX_TEMPLATE_RANGE elements per render. */
export function boundedRange(): (start: number, stop?: number, step?: number) => number[] {
  let left = MAX_TEMPLATE_RANGE;
  return (start, stop, step = 1) => {
    if (stop === undefined) [start, stop] = [0, start];
    if (step === 0) throw new Error('range() step must not be zero');
    const n = Math.max(0, Math.ceil((stop - start) / step));
    if (!Number.isFinite(n) || n > left) {
      throw refuse(`the chat template asks range() for more than ${MAX_TEMPLATE_RANGE} elements in one render`, 'chat');
    }
    left -= n;
    return Array.from({ length: n }, (_, i) => start + i * step);
  };
}

/** Refuses a rendered template longer than MAX_TEMPLATE_OUTPUT characters. */
export function checkTemplateOutput(text: string): string {
  if (text.length > MAX_TEMPLATE_OUTPUT) {
    throw refuse(`the chat template rendered ${text.length} characters, more than ${MAX_TEMPLATE_OUTPUT}`, 'chat');
  }
  return text;
}
