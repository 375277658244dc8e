// Loading a model directory's tokenizer (Node: reads files).
import * as fs from 'node:fs/promises';
import * as nodePath from 'node:path';
import { EntropixError } from '../core/errors';
import { readJsonFileIfExists } from '../core/files';
import { isObject } from '../core/validate';
import { ChatMessage, renderChatTemplate } from './chat-template';
import { Tokenizer, tokenizerFromModelFiles } from './tokenizer';

async function readJson(path: string, required: boolean): Promise<object | null> {
  const json = await readJsonFileIfExists(path, 'modelDir');
  if (json === undefined) {
    if (required) throw new EntropixError('INVALID_ARGUMENT', `${path} does not exist: the model directory has no tokenizer`, 'modelDir');
    return null;
  }
  if (!isObject(json)) throw new EntropixError('INVALID_ARGUMENT', `${path} is not valid JSON: not a JSON object`, 'modelDir');
  return json;
}

/**
 * The tokenizer of a model directory: tokenizer.json (+ tokenizer_config.json). Its eos ids are the
 * union of entropix.json's eosTokenIds, config.json's and generation_config.json's eos_token_id and
 * tokenizer_config.json's eos_token.
 */
export async function loadTokenizer(modelDir: string): Promise<Tokenizer> {
  if (typeof modelDir !== 'string' || modelDir.length === 0) {
    throw new EntropixError('INVALID_ARGUMENT', 'modelDir must be a non-empty path', 'modelDir');
  }
  try {
    if (!(await fs.stat(modelDir)).isDirectory()) throw new Error();
  } catch {
    throw new EntropixError('INVALID_ARGUMENT', `${modelDir} is not a directory`, 'modelDir');
  }
  const file = (name: string) => nodePath.join(modelDir, name);
  return tokenizerFromModelFiles({
    tokenizer: (await readJson(file('tokenizer.json'), true))!,
    tokenizerConfig: await readJson(file('tokenizer_config.json'), false),
    entropix: await readJson(file('entropix.json'), false),
    config: await readJson(file('config.json'), false),
    generationConfig: await readJson(file('generation_config.json'), false),
  });
}

/**
 * Formats chat messages with the model directory's chat template (tokenizer_config.json). The
 * text holds the template's own special tokens (e.g. the BOS): encode it with
 * `{ addSpecialTokens: false }`, as transformers' apply_chat_template(tokenize=True) does.
 */
export async function applyChatTemplate(
  modelDir: string, messages: ChatMessage[], options: { addGenerationPrompt?: boolean } = {},
): Promise<string> {
  const config = await readJson(nodePath.join(modelDir, 'tokenizer_config.json'), false);
  if (config === null) throw new EntropixError('INVALID_ARGUMENT', `${modelDir} has no tokenizer_config.json, so no chat template`, 'chat');
  return renderChatTemplate(config, messages, options);
}
