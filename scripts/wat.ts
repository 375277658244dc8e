// A minimal WebAssembly text assembler for the hand-written kernels of this package
// (lib/wasm/*.wat): no npm dependency (wabt is not installed here). It reads the subset those
// files use: one module of imported memory and functions with i32/v128 params and locals, exports,
// folded instructions (operands nested inside their instruction), block/loop with labels, br,
// br_if, and the i32, f32 and SIMD opcodes in the table below. Anything else is an error, never
// a guess. It encodes as wabt's wat2wasm does (natural alignment, locals grouped in runs, one
// type per distinct signature), which __tests__/wasm-matmul.test.ts checks on a wabt-made module.
type Sexp = string | Sexp[];

function parse(text: string): Sexp[] {
  const tokens = text
    .replace(/\(;[\s\S]*?;\)/g, ' ')
    .replace(/;;[^\n]*/g, ' ')
    .match(/"(?:[^"\\]|\\.)*"|\(|\)|[^\s()]+/g) ?? [];
  const stack: Sexp[][] = [[]];
  for (const t of tokens) {
    if (t === '(') {
      const list: Sexp[] = [];
      stack[stack.length - 1]!.push(list);
      stack.push(list);
    } else if (t === ')') {
      if (stack.length === 1) throw new Error('wat: unbalanced parentheses');
      stack.pop();
    } else {
      stack[stack.length - 1]!.push(t);
    }
  }
  if (stack.length !== 1) throw new Error('wat: unbalanced parentheses');
  return stack[0]!;
}

const uleb = (n: number): number[] => {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
};

const sleb = (n: number): number[] => {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
};

const utf8 = (s: string): number[] => [...uleb(Buffer.byteLength(s)), ...Buffer.from(s, 'utf8')];
const section = (id: number, body: number[]): number[] => (body.length ? [id, ...uleb(body.length), ...body] : []);
const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];

const VALTYPE: Record<string, number> = { i32: 0x7f, i64: 0x7e, f32: 0x7d, f64: 0x7c, v128: 0x7b };

/** Plain opcodes (no immediates). */
const PLAIN: Record<string, number[]> = {
  'i32.eqz': [0x45], 'i32.eq': [0x46], 'i32.ne': [0x47], 'i32.lt_s': [0x48], 'i32.lt_u': [0x49], 'i32.gt_s': [0x4a],
  'i32.gt_u': [0x4b], 'i32.le_s': [0x4c], 'i32.le_u': [0x4d], 'i32.ge_s': [0x4e], 'i32.ge_u': [0x4f],
  'i32.add': [0x6a], 'i32.sub': [0x6b], 'i32.mul': [0x6c], 'i32.and': [0x71], 'i32.or': [0x72], 'i32.shl': [0x74],
  'i32.shr_s': [0x75], 'i32.shr_u': [0x76], 'f32.add': [0x92], 'f32.sub': [0x93], 'f32.mul': [0x94],
  'f32x4.splat': [0xfd, ...uleb(19)], 'i32x4.splat': [0xfd, ...uleb(17)],
  'v128.and': [0xfd, ...uleb(78)], 'v128.or': [0xfd, ...uleb(80)],
  'i32x4.shl': [0xfd, ...uleb(171)], 'i32x4.shr_u': [0xfd, ...uleb(173)],
  'i32x4.add': [0xfd, ...uleb(174)], 'i32x4.extend_low_i16x8_s': [0xfd, ...uleb(167)],
  'i32x4.extend_high_i16x8_s': [0xfd, ...uleb(168)], 'i32x4.extend_low_i16x8_u': [0xfd, ...uleb(169)],
  'i32x4.extend_high_i16x8_u': [0xfd, ...uleb(170)],
  'f32x4.add': [0xfd, ...uleb(228)], 'f32x4.sub': [0xfd, ...uleb(229)], 'f32x4.mul': [0xfd, ...uleb(230)],
  return: [0x0f], drop: [0x1a], select: [0x1b],
};

/** Memory access opcodes and their natural alignment (log2 bytes). */
const MEMORY: Record<string, [number[], number]> = {
  'i32.load': [[0x28], 2], 'f32.load': [[0x2a], 2], 'i32.store': [[0x36], 2], 'f32.store': [[0x38], 2],
  'v128.load': [[0xfd, ...uleb(0)], 4], 'v128.store': [[0xfd, ...uleb(11)], 4],
  'v128.load64_zero': [[0xfd, ...uleb(93)], 3], 'i32x4.load16x4_u': [[0xfd, ...uleb(6)], 3],
  'v128.load32_splat': [[0xfd, ...uleb(9)], 2],
};

interface Func {
  name: string | null;
  exports: string[];
  params: [string | null, number][];
  results: number[];
  locals: [string | null, number][];
  body: Sexp[];
}

/** Assembles `text` (the subset above) into a WebAssembly binary. */
export function assembleWat(text: string): Uint8Array<ArrayBuffer> {
  const top = parse(text);
  const mod = top[0];
  if (top.length !== 1 || !Array.isArray(mod) || mod[0] !== 'module') throw new Error('wat: expected one (module ...)');
  const imports: number[][] = [];
  const funcs: Func[] = [];
  for (const field of mod.slice(1)) {
    if (!Array.isArray(field)) throw new Error(`wat: unexpected ${field}`);
    if (field[0] === 'import') {
      const [, m, n, desc] = field as [string, string, string, Sexp[]];
      if (!Array.isArray(desc) || desc[0] !== 'memory') throw new Error('wat: only memory imports are read');
      const limits = desc.slice(1).filter((x) => typeof x === 'string' && /^\d+$/.test(x)).map(Number);
      const shared = desc.includes('shared');
      if (shared && limits.length !== 2) throw new Error('wat: a shared memory needs a maximum');
      const lim = limits.length === 2 ? [shared ? 0x03 : 0x01, ...uleb(limits[0]!), ...uleb(limits[1]!)] : [0x00, ...uleb(limits[0]!)];
      imports.push([...utf8(JSON.parse(m)), ...utf8(JSON.parse(n)), 0x02, ...lim]);
      continue;
    }
    if (field[0] !== 'func') throw new Error(`wat: unexpected module field ${String(field[0])}`);
    const f: Func = { name: null, exports: [], params: [], results: [], locals: [], body: [] };
    for (const part of field.slice(1)) {
      if (typeof part === 'string' && part.startsWith('$') && f.name === null && f.body.length === 0) {
        f.name = part;
      } else if (Array.isArray(part) && part[0] === 'export') {
        f.exports.push(JSON.parse(part[1] as string));
      } else if (Array.isArray(part) && (part[0] === 'param' || part[0] === 'local' || part[0] === 'result') && f.body.length === 0) {
        const list = part[0] === 'param' ? f.params : f.locals;
        const rest = part.slice(1) as string[];
        if (part[0] === 'result') f.results.push(...rest.map((t) => VALTYPE[t]!));
        else if (rest[0]?.startsWith('$')) list.push([rest[0], VALTYPE[rest[1]!]!]);
        else list.push(...rest.map((t): [null, number] => [null, VALTYPE[t]!]));
      } else {
        f.body.push(part);
      }
    }
    funcs.push(f);
  }

  const types: string[] = [];
  const typeOf = (f: Func): number => {
    const sig = [0x60, ...vec(f.params.map(([, t]) => [t])), ...vec(f.results.map((t) => [t]))];
    const key = sig.join(',');
    if (!types.includes(key)) types.push(key);
    return types.indexOf(key);
  };
  const funcTypes = funcs.map(typeOf);
  const exportsSec: number[][] = [];
  funcs.forEach((f, i) => f.exports.forEach((name) => exportsSec.push([...utf8(name), 0x00, ...uleb(i)])));
  const code = funcs.map((f) => {
    const names = [...f.params, ...f.locals].map(([n]) => n);
    const groups: [number, number][] = [];
    for (const [, t] of f.locals) {
      const last = groups[groups.length - 1];
      if (last && last[1] === t) last[0]++;
      else groups.push([1, t]);
    }
    const out: number[] = [...uleb(groups.length), ...groups.flatMap(([n, t]) => [...uleb(n), t])];
    const labels: (string | null)[] = [];
    const localIndex = (s: string): number => {
      const i = s.startsWith('$') ? names.indexOf(s) : Number(s);
      if (i < 0 || !Number.isInteger(i)) throw new Error(`wat: unknown local ${s}`);
      return i;
    };
    const labelDepth = (s: string): number => {
      if (!s.startsWith('$')) return Number(s);
      const i = labels.lastIndexOf(s);
      if (i < 0) throw new Error(`wat: unknown label ${s}`);
      return labels.length - 1 - i;
    };
    const emit = (x: Sexp): void => {
      if (!Array.isArray(x)) throw new Error(`wat: expected a folded instruction, got ${x}`);
      const [op, ...args] = x as [string, ...Sexp[]];
      if (op === 'block' || op === 'loop') {
        const label = typeof args[0] === 'string' && args[0].startsWith('$') ? (args.shift() as string) : null;
        out.push(op === 'block' ? 0x02 : 0x03, 0x40);
        labels.push(label);
        args.forEach(emit);
        labels.pop();
        out.push(0x0b);
        return;
      }
      const imms = args.filter((a): a is string => typeof a === 'string');
      args.filter(Array.isArray).forEach(emit);
      if (op === 'local.get' || op === 'local.set' || op === 'local.tee') {
        out.push({ 'local.get': 0x20, 'local.set': 0x21, 'local.tee': 0x22 }[op], ...uleb(localIndex(imms[0]!)));
      } else if (op === 'br' || op === 'br_if') {
        out.push(op === 'br' ? 0x0c : 0x0d, ...uleb(labelDepth(imms[0]!)));
      } else if (op === 'i32.const') {
        out.push(0x41, ...sleb(Number(imms[0])));
      } else if (op === 'v128.const') {
        if (imms[0] !== 'i32x4' || imms.length !== 5) throw new Error('wat: v128.const reads i32x4 with 4 values');
        const b = Buffer.alloc(16);
        imms.slice(1).forEach((v, i) => b.writeInt32LE(Number(v) | 0, 4 * i));
        out.push(0xfd, ...uleb(12), ...b);
      } else if (op === 'f32x4.extract_lane') {
        out.push(0xfd, ...uleb(31), Number(imms[0]));
      } else if (MEMORY[op]) {
        const [bytes, natural] = MEMORY[op]!;
        let offset = 0;
        let align = natural;
        for (const imm of imms) {
          if (imm.startsWith('offset=')) offset = Number(imm.slice(7));
          else if (imm.startsWith('align=')) align = Math.log2(Number(imm.slice(6)));
          else throw new Error(`wat: ${op} does not take ${imm}`);
        }
        out.push(...bytes, ...uleb(align), ...uleb(offset));
      } else if (PLAIN[op]) {
        if (imms.length) throw new Error(`wat: ${op} takes no immediates`);
        out.push(...PLAIN[op]!);
      } else {
        throw new Error(`wat: unknown instruction ${op}`);
      }
    };
    f.body.forEach(emit);
    out.push(0x0b);
    return [...uleb(out.length), ...out];
  });

  return Uint8Array.from([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec(types.map((t) => t.split(',').map(Number)))),
    ...section(2, vec(imports)),
    ...section(3, vec(funcTypes.map((t) => uleb(t)))),
    ...section(7, vec(exportsSec)),
    ...section(10, vec(code)),
  ]);
}

/** A module's text with its memory import `(memory 1)` shared (a maximum is then required: wasm32's 65536 pages). */
export function shareMemory(wat: string): string {
  const shared = wat.replace('(import "env" "memory" (memory 1))', '(import "env" "memory" (memory 1 65536 shared))');
  if (shared === wat) throw new Error('wat: no (import "env" "memory" (memory 1)) to share');
  return shared;
}
