// The browser demo: the bundled kjv-tiny model over HTTP, generating live on the backend picked,
// each token coloured by its regime (the CLI's colours) beside the CLI's entropy/varentropy plot,
// redrawn per token. Served by serve.mjs (`npm run demo`).
import {
  backendInfo, EntropixError, generateText, loadModel, loadTokenizer, resolveSamplerConfig, tf, useBackend,
} from '../../lib';
import type { BackendName, CausalLM, Tokenizer } from '../../lib';
import { REGIME_COLORS } from '../../lib/cli/colors';
import { plotSvg } from '../../lib/cli/plot';
import { regimeCounts, regimeName, Trace, TraceToken } from '../../lib/cli/trace';
import { STATE_NAMES } from '../../lib/sampling/states';
import { generateOptions, RunSettings, SamplerChoice, THRESHOLD_KEYS } from './settings';

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const BACKENDS: BackendName[] = ['webgpu', 'webgl', 'wasm'];

/** What the page exposes for tests and the curious: the last run, token by token. */
interface DemoState {
  status: 'loading' | 'ready' | 'running' | 'done' | 'stopped' | 'error';
  backend: string;
  adapter: string;
  settings: RunSettings | null;
  text: string;
  tokens: TraceToken[];
  tokensPerSecond: number;
  unavailable: Record<string, string>;
  /** tf.memory().numTensors before the last run started and after it ended. */
  tensorsBefore: number;
  tensorsAfter: number;
}
const demo: DemoState = {
  status: 'loading', backend: '', adapter: '', settings: null, text: '', tokens: [], tokensPerSecond: 0, unavailable: {}, tensorsBefore: 0, tensorsAfter: 0,
};
(window as unknown as { demo: DemoState }).demo = demo;

let model: CausalLM | null = null;
let tokenizer: Tokenizer | null = null;
let controller: AbortController | null = null;
let running: Promise<void> = Promise.resolve();

function setStatus(status: DemoState['status'], line?: string): void {
  demo.status = status;
  document.body.dataset.status = status;
  if (line !== undefined) $('status').textContent = line;
}
function showMessage(text: string): void {
  $('message').textContent = text;
}
const errorText = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** Why a backend cannot run here, or null when it can (probed before the picker is drawn). */
async function unavailableReason(name: BackendName): Promise<string | null> {
  if (name === 'wasm') return typeof WebAssembly === 'object' ? null : 'this browser has no WebAssembly';
  if (name === 'webgl') {
    const c = document.createElement('canvas');
    return c.getContext('webgl2') || c.getContext('webgl') ? null : 'this browser gives no WebGL context';
  }
  const gpu = (navigator as unknown as { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
  if (!gpu) return 'this browser has no WebGPU (navigator.gpu)';
  const adapter = await gpu.requestAdapter().catch(() => null);
  return adapter ? null : 'WebGPU found no adapter';
}

async function drawBackendPicker(): Promise<void> {
  const box = $('backends');
  for (const name of BACKENDS) {
    const reason = await unavailableReason(name);
    if (reason) demo.unavailable[name] = reason;
    const label = document.createElement('label');
    label.innerHTML = `<input type="radio" name="backend" value="${name}"> ${name} <span class="reason"></span>`;
    const input = label.querySelector('input')!;
    if (reason) {
      input.disabled = true;
      label.classList.add('disabled');
      label.title = reason;
      label.querySelector('.reason')!.textContent = `(${reason})`;
    }
    input.addEventListener('change', () => void switchBackend(name));
    box.append(label);
  }
  // ?backend=wasm picks one; else the first that works, in the order above.
  const asked = new URLSearchParams(location.search).get('backend');
  const first = box.querySelector<HTMLInputElement>(`input[value="${asked}"]:not([disabled])`)
    ?? box.querySelector<HTMLInputElement>('input:not([disabled])');
  if (first) first.checked = true;
}

const selectedBackend = () => (document.querySelector<HTMLInputElement>('input[name=backend]:checked')?.value ?? 'wasm') as BackendName;

/** Starts `name` and (re)loads the model on it: weights live on the backend that made them. */
async function switchBackend(name: BackendName): Promise<void> {
  controller?.abort();
  await running; // the run releases its tensors before the backend changes
  setStatus('loading', `starting ${name}…`);
  showMessage('');
  try {
    await useBackend(name, { wasmPaths: new URL('wasm/', document.baseURI).href });
  } catch (e) {
    setStatus('error', `backend ${name} failed`);
    showMessage(errorText(e));
    return;
  }
  const info = backendInfo();
  demo.backend = info.backend;
  demo.adapter = info.adapter ? [info.adapter.vendor, info.adapter.architecture, info.adapter.description].filter(Boolean).join(' ') : '';
  await load();
}

async function load(): Promise<void> {
  const url = $<HTMLInputElement>('model-url').value;
  setStatus('loading', `loading ${url} on ${demo.backend}…`);
  model?.dispose();
  model = null;
  try {
    [model, tokenizer] = await Promise.all([loadModel(url), loadTokenizer(url)]);
  } catch (e) {
    setStatus('error', 'no model loaded');
    showMessage(`The model failed to load: ${errorText(e)}`);
    return;
  }
  showMessage('');
  fillSliders(model);
  setStatus('ready', `${backendLine()} · model ${url} ready (context ${model.config.maxPositions} tokens)`);
}

function backendLine(): string {
  return `backend ${demo.backend}${demo.adapter ? ` (adapter: ${demo.adapter})` : ''}`;
}

const SLIDERS = ['max-tokens', 'temperature', 'topK', 'topP', 'minP'];
function bindOutput(input: HTMLInputElement): void {
  const out = input.parentElement!.querySelector('output')!;
  const show = () => { out.textContent = input.value; };
  input.addEventListener('input', show);
  show();
}

let slidersFilled = false;
/** Sliders start at the model's own sampler settings (entropix.json). */
function fillSliders(m: CausalLM): void {
  if (slidersFilled) return;
  slidersFilled = true;
  const c = resolveSamplerConfig(m.generationDefaults.sampler ?? {});
  for (const k of ['temperature', 'topK', 'topP', 'minP'] as const) $<HTMLInputElement>(k).value = String(c[k]);
  const box = $('thresholds');
  for (const k of THRESHOLD_KEYS) {
    const label = document.createElement('label');
    label.innerHTML = `${k} <input type="range" id="${k}" min="0" max="8" step="0.001"><output></output>`;
    box.append(label);
    const input = label.querySelector('input')!;
    input.value = String(c[k]);
    bindOutput(input);
    input.addEventListener('input', drawChart);
  }
  for (const id of SLIDERS) bindOutput($<HTMLInputElement>(id));
}

function readSettings(): RunSettings {
  const num = (id: string) => Number($<HTMLInputElement>(id).value);
  return {
    prompt: $<HTMLTextAreaElement>('prompt').value,
    seed: Math.trunc(num('seed')),
    maxNewTokens: num('max-tokens'),
    sampler: (document.querySelector<HTMLInputElement>('input[name=sampler]:checked')?.value ?? 'entropix') as SamplerChoice,
    temperature: num('temperature'), topK: num('topK'), topP: num('topP'), minP: num('minP'),
    thresholds: Object.fromEntries(THRESHOLD_KEYS.map((k) => [k, num(k)])) as unknown as RunSettings['thresholds'],
  };
}

function trace(): Trace {
  const s = demo.settings;
  return {
    version: 1, model: $<HTMLInputElement>('model-url').value, backend: demo.backend, sampler: s?.sampler ?? 'entropix',
    seed: s?.seed ?? null, thresholds: s?.sampler === 'entropix' ? readSettings().thresholds : null,
    prompts: [s?.prompt ?? ''], texts: [demo.text], finishReasons: [null], tokens: demo.tokens,
  };
}

function drawChart(): void {
  $('chart').innerHTML = plotSvg(trace(), { width: 560, height: 400 }).replace(/^<\?xml[^>]*>\n/, '');
  const counts = regimeCounts(demo.tokens);
  $('counts').innerHTML = STATE_NAMES.filter((r) => counts[r] > 0)
    .map((r) => `<span class="count" data-regime="${r}" style="color:${REGIME_COLORS[r]}">${r}: <b>${counts[r]}</b></span>`).join('')
    + `<span>total: <b id="total">${demo.tokens.length}</b></span>`;
}

function tokenSpan(t: TraceToken): HTMLSpanElement {
  const span = document.createElement('span');
  span.className = `token ${t.regime}`;
  span.textContent = t.text;
  if (t.regime !== 'base') span.style.color = REGIME_COLORS[t.regime];
  const n = (v: number) => (Number.isFinite(v) ? v.toFixed(3) : 'n/a');
  span.title = `${t.regime} · token ${t.tokenId} · log p ${n(t.logprob)}\n`
    + `entropy ${n(t.entropy)} · varentropy ${n(t.varentropy)} bits\n`
    + `attention entropy ${n(t.attnEntropy)} · varentropy ${n(t.attnVarentropy)}\n`
    + `agreement ${n(t.agreement)} · interaction ${n(t.interactionStrength)}`;
  return span;
}

async function start(): Promise<void> {
  if (!model || !tokenizer || demo.status === 'running') {
    showMessage(model ? 'a run is going: stop it first' : 'no model is loaded: load one first');
    return;
  }
  const settings = readSettings();
  showMessage('');
  $('note').textContent = '';
  if (settings.prompt.length === 0) {
    showMessage('The prompt is empty: type something for the model to continue.');
    return;
  }
  // The library refuses a prompt longer than the context; the page says so and keeps its end.
  const ids = tokenizer.encode(settings.prompt);
  const context = model.config.maxPositions;
  if (ids.length > context) {
    const keep = Math.max(1, context - Math.min(settings.maxNewTokens, context >> 1) - 2);
    $('note').textContent = `The prompt is ${ids.length} tokens, longer than the model's context of ${context}: `
      + `kept its last ${keep} characters.`;
    settings.prompt = settings.prompt.slice(-keep);
    $<HTMLTextAreaElement>('prompt').value = settings.prompt;
  }
  demo.settings = settings;
  demo.text = '';
  demo.tokens = [];
  const box = $('text');
  box.innerHTML = '';
  const promptSpan = document.createElement('span');
  promptSpan.className = 'prompt';
  promptSpan.textContent = settings.prompt;
  box.append(promptSpan);
  drawChart();
  controller = new AbortController();
  $<HTMLButtonElement>('start').disabled = true;
  $<HTMLButtonElement>('stop').disabled = false;
  setStatus('running', `${backendLine()} · generating…`);
  demo.tensorsBefore = tf.memory().numTensors;
  const began = performance.now();
  let step = 0;
  let finish = 'length';
  try {
    for await (const { delta, step: s } of generateText(model, tokenizer, settings.prompt, generateOptions(model, settings, controller.signal))) {
      if (s.tokenIds[0]! < 0) break;
      const t: TraceToken = {
        row: 0, step, tokenId: s.tokenIds[0]!, text: delta[0]!, state: s.states[0]!, regime: regimeName(s.states[0]!),
        logprob: s.logprobs[0]!, entropy: s.metrics.entropy[0]!, varentropy: s.metrics.varentropy[0]!,
        attnEntropy: s.metrics.attnEntropy[0]!, attnVarentropy: s.metrics.attnVarentropy[0]!,
        agreement: s.metrics.agreement[0]!, interactionStrength: s.metrics.interactionStrength[0]!,
      };
      step++;
      demo.tokens.push(t);
      demo.text += t.text;
      box.append(tokenSpan(t));
      drawChart();
      demo.tokensPerSecond = step / ((performance.now() - began) / 1000);
      $('status').textContent = `${backendLine()} · ${step} tokens · ${demo.tokensPerSecond.toFixed(1)} tokens/s`;
      if (s.finishReason[0]) finish = s.finishReason[0];
    }
    setStatus('done', `${backendLine()} · ${step} tokens · ${demo.tokensPerSecond.toFixed(1)} tokens/s · finished: ${finish}`);
  } catch (e) {
    if (e instanceof EntropixError && e.code === 'ABORTED') {
      setStatus('stopped', `${backendLine()} · stopped after ${step} tokens`);
    } else {
      setStatus('error', `${backendLine()} · failed after ${step} tokens`);
      showMessage(errorText(e));
    }
  } finally {
    demo.tensorsAfter = tf.memory().numTensors;
    controller = null;
    $<HTMLButtonElement>('start').disabled = false;
    $<HTMLButtonElement>('stop').disabled = true;
  }
}

async function main(): Promise<void> {
  $('start').addEventListener('click', () => { running = start(); });
  $('stop').addEventListener('click', () => controller?.abort());
  $('load').addEventListener('click', () => void load());
  await drawBackendPicker();
  drawChart();
  const backend = selectedBackend();
  if (demo.unavailable[backend]) {
    setStatus('error', 'no backend');
    showMessage(`No backend works in this browser: ${Object.entries(demo.unavailable).map(([k, v]) => `${k}: ${v}`).join('; ')}`);
    return;
  }
  await switchBackend(backend);
}

void main();
