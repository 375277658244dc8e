// Chat templates: tokenizer_config.json's Jinja template rendered with @huggingface/jinja.
import { Template } from '@huggingface/jinja';
import { EntropixError } from '../core/errors';
import { BOUNDED_RANGE, boundedRange, boundTemplate, checkTemplateOutput } from './guards';

export interface ChatMessage {
  role: string;
  content: string;
}

/** The template's source: a string, or the "default" entry of a list of named templates. */
export function chatTemplateSource(tokenizerConfig: object): string | null {
  const t = (tokenizerConfig as { chat_template?: unknown }).chat_template;
  if (typeof t === 'string') return t;
  if (Array.isArray(t)) {
    const named = t.find((x) => x?.name === 'default') ?? t[0];
    return typeof named?.template === 'string' ? named.template : null;
  }
  return null;
}

const special = (v: unknown): string =>
  typeof v === 'string' ? v : typeof (v as { content?: unknown })?.content === 'string' ? (v as { content: string }).content : '';

/** Renders `messages` with the config's chat template (bos_token, eos_token and add_generation_prompt set). */
export function renderChatTemplate(
  tokenizerConfig: object, messages: ChatMessage[], options: { addGenerationPrompt?: boolean } = {},
): string {
  const source = chatTemplateSource(tokenizerConfig);
  if (source === null) {
    throw new EntropixError('INVALID_ARGUMENT', 'this model has no chat template (tokenizer_config.json chat_template)', 'chat');
  }
  if (!Array.isArray(messages) || messages.some((m) => typeof m?.role !== 'string' || typeof m?.content !== 'string')) {
    throw new EntropixError('INVALID_ARGUMENT', 'messages must be an array of { role, content } strings', 'messages');
  }
  const cfg = tokenizerConfig as { bos_token?: unknown; eos_token?: unknown };
  try {
    return checkTemplateOutput(boundTemplate(new Template(source)).render({
      [BOUNDED_RANGE]: boundedRange(), messages, add_generation_prompt: options.addGenerationPrompt ?? true,
      bos_token: special(cfg.bos_token), eos_token: special(cfg.eos_token),
    }));
  } catch (e) {
    throw new EntropixError('INVALID_ARGUMENT', `the chat template failed to render: ${(e as Error).message}`, 'chat');
  }
}
