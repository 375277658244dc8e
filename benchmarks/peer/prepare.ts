// The peer's inputs for `npm run bench`: the random SmolLM2-135M-shaped float32 checkpoint that the
// bench converts for its own SmolLM2 jobs (kept in benchmarks/peer/out/smollm, written once), and
// the ONNX export of those same bytes that onnxruntime-node runs (export_onnx.py, made once when
// Python has torch, transformers, onnx and onnxscript). The peer stays optional: every missing
// piece becomes a reason the report prints.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { hfConfigJson, Shape, writeRandomCheckpoint } from '../random-checkpoint';

export const PEER_ROOT = join(__dirname, 'out');
export const EXPORT_SCRIPT = 'benchmarks/peer/export_onnx.py';
export const PIP = 'pip install --index-url file:///opt/pypi/simple --extra-index-url file:///opt/pypi-more/simple '
  + 'torch transformers onnx onnxscript safetensors';

/** What export_onnx.py records beside model.onnx. */
export interface OnnxMeta { checkpointSha256: string; exporter: string; opset: number; torch: string }

export interface PeerSetup {
  /** The ONNX export's folder (config.json, model.onnx, onnx.json) when the peer can run. */
  dir?: string;
  skipped?: string;
  meta?: OnnxMeta;
  onnxruntime?: string; // its version
  python?: string;
  exportCommand: string;
  exportSeconds?: number; // when this run made the export
}

const sha256 = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');

/**
 * The float32 checkpoint of `shape` in `dir`, written when absent or of another shape (the writer
 * is seeded: the same shape gives the same bytes). Returns true when it was written now.
 */
export async function ensureCheckpoint(dir: string, shape: Shape): Promise<boolean> {
  const want = JSON.stringify(hfConfigJson(shape, 'float32'));
  const config = join(dir, 'config.json');
  if (existsSync(config) && existsSync(join(dir, 'model.safetensors'))
    && JSON.stringify(JSON.parse(readFileSync(config, 'utf8'))) === want) return false;
  mkdirSync(dir, { recursive: true });
  await writeRandomCheckpoint(dir, 'F32', shape);
  return true;
}

/** The Python that runs the export: ENTROPIX_PYTHON, else python3. */
export const pythonCommand = (): string => process.env.ENTROPIX_PYTHON || 'python3';

/** Why this Python cannot export (a missing module), or undefined when it can. */
function pythonMissing(python: string): string | undefined {
  const r = spawnSync(python, ['-c', 'import importlib.util as u, sys; '
    + 'print(",".join(m for m in ["torch", "transformers", "onnx", "onnxscript", "safetensors"] if u.find_spec(m) is None))'],
  { encoding: 'utf8' });
  if (r.error || r.status !== 0) return `${python} does not run (${r.error?.message ?? r.stderr.trim().slice(-200)})`;
  const missing = r.stdout.trim();
  return missing ? `${python} lacks ${missing.split(',').join(', ')}` : undefined;
}

/**
 * Whether onnxruntime-node can run on the export of the checkpoint in `dir`; exports it first when
 * there is none (or it is of other weights) and `mayExport` and Python has what it needs.
 * `log` receives the export's output.
 */
export function preparePeer(dir: string, mayExport: boolean, log: (text: string) => void): PeerSetup {
  const python = pythonCommand();
  const exportCommand = `${python} ${EXPORT_SCRIPT} ${relative(join(__dirname, '..', '..'), dir)}`;
  const setup: PeerSetup = { exportCommand, python };
  try {
    setup.onnxruntime = (JSON.parse(readFileSync(require.resolve('onnxruntime-node/package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return { ...setup, skipped: 'onnxruntime-node is not installed (a devDependency: ONNXRUNTIME_NODE_INSTALL=skip npm install)' };
  }
  const sha = sha256(join(dir, 'model.safetensors'));
  const metaFile = join(dir, 'onnx.json');
  const current = (): OnnxMeta | undefined => {
    if (!existsSync(join(dir, 'model.onnx')) || !existsSync(metaFile)) return undefined;
    const meta = JSON.parse(readFileSync(metaFile, 'utf8')) as OnnxMeta;
    return meta.checkpointSha256 === sha ? meta : undefined;
  };
  let meta = current();
  if (!meta) {
    const why = existsSync(metaFile) ? 'the ONNX export is of other weights' : 'no ONNX export yet';
    if (!mayExport) return { ...setup, skipped: `${why} (${exportCommand}; or run without --no-export)` };
    const missing = pythonMissing(python);
    // Without onnx/onnxscript there is no export to run (the fallback would be PyTorch eager; not built).
    if (missing) return { ...setup, skipped: `${why}, and ${missing} (${PIP}; ENTROPIX_PYTHON=that python)` };
    const t0 = Date.now();
    const r = spawnSync(python, [join(__dirname, 'export_onnx.py'), dir], { encoding: 'utf8', maxBuffer: 64 << 20 });
    log(`${r.stdout}${r.stderr}`);
    setup.exportSeconds = (Date.now() - t0) / 1000;
    if (r.status !== 0) return { ...setup, skipped: `${exportCommand} failed (exit ${r.status}): ${r.stderr.trim().slice(-300)}` };
    meta = current();
    if (!meta) return { ...setup, skipped: `${exportCommand} wrote no export of these weights` };
  }
  return { ...setup, dir, meta };
}
