// The public API of entropix-tfjs.
export { tf } from './core/tf';
export { useBackend, backendInfo, describeBackend, BACKEND_NAMES } from './core/backend';
export type { BackendName, BackendInfo, UseBackendOptions } from './core/backend';
export { EntropixError } from './core/errors';
export type { EntropixErrorCode } from './core/errors';
export { computeMetrics } from './sampling/metrics';
export type { Metrics, MetricsOptions } from './sampling/metrics';
export { sampleTokens, DEFAULT_CANDIDATE_CAP } from './sampling/sample-tokens';
export type { SamplingParams, SampleOptions, RowParam } from './sampling/sample-tokens';
export type { Seed } from './sampling/rng';
export { SamplerState, STATE_NAMES } from './sampling/states';
export { DEFAULT_SAMPLER_CONFIG, REGIME_NAMES, resolveSamplerConfig } from './sampling/config';
export type { SamplerConfig, RegimeName, RegimeGate } from './sampling/config';
export type { StateName, RegimeThresholds } from './sampling/states';
export { EntropixSampler } from './sampling/sampler';
export type { SampleStepOptions, SampleResult } from './sampling/sampler';
export { generate } from './decoding/generate';
export type { GenerateOptions, GenerateStep, FinishReason } from './decoding/generate';
export { generateText, encodePrompts } from './decoding/generate-text';
export { calibrate, corpusWindows } from './decoding/calibrate';
export type { CalibrateOptions, Calibration } from './decoding/calibrate';
export { teacherForcedMetrics } from './decoding/teacher-forcing';
export type { TeacherForcingOptions, PositionMetrics } from './decoding/teacher-forcing';
export { thresholdsFromMetrics, regimeShares, DEFAULT_CALIBRATION_QUANTILES } from './sampling/calibration';
export type { CalibrationQuantiles } from './sampling/calibration';
export type { GenerateTextOptions, TextStep } from './decoding/generate-text';
export { tokenizerFromJson, createTextStream } from './text/tokenizer';
export type { Tokenizer, TextStream, EncodeOptions } from './text/tokenizer';
export { renderChatTemplate } from './text/chat-template';
export type { ChatMessage } from './text/chat-template';
export type {
  CausalLM,
  KVCache,
  ForwardResult,
  ForwardOptions,
  GenerationDefaults,
  LanguageModel,
  LanguageModelOutput,
} from './models/causal-lm';
// Type-only: erased from dist/index.js, which stays free of Node built-ins (hf-config.ts reads files).
export type { ModelConfig, HfModelType, Llama3RopeScaling, LinearRopeScaling } from './models/hf-config';
// Models and tokenizers over HTTP (fetch); entropix-tfjs/node's loadModel / loadTokenizer also take a directory.
export { loadModelFromUrl as loadModel } from './models/load-url';
export { loadTokenizerFromUrl as loadTokenizer } from './text/tokenizer-url';
export type { UrlLoadOptions } from './core/http';
export type { WeightsMode, WeightsOption } from './models/weights-option';
