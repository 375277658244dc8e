// loadTokenizer(url): a model's tokenizer served over HTTP (tokenizer.json, and when present
// tokenizer_config.json, entropix.json, config.json, generation_config.json), read as in Node.
import { baseUrl, fetchJson, refuseUrl, UrlLoadOptions } from '../core/http';
import { isObject } from '../core/validate';
import { Tokenizer, tokenizerFromModelFiles } from './tokenizer';

/**
 * The tokenizer of the model at `url` (its folder, or its model.json). Refuses (INVALID_ARGUMENT,
 * argument 'url') a missing tokenizer.json (the message gives the HTTP status), a file that is
 * not a JSON object, and one over the JSON size limit.
 */
export async function loadTokenizerFromUrl(url: string | URL, options: Pick<UrlLoadOptions, 'fetch' | 'signal'> = {}): Promise<Tokenizer> {
  const base = baseUrl(url);
  const read = async (name: string, required: boolean): Promise<object | null> => {
    const u = new URL(name, base);
    const json = await fetchJson(u, name, { ...options, optional: !required });
    if (json === undefined) return null;
    if (!isObject(json)) throw refuseUrl(`${u.href}: ${name} must hold a JSON object`);
    return json;
  };
  const [tokenizer, tokenizerConfig, entropix, config, generationConfig] = await Promise.all([
    read('tokenizer.json', true), read('tokenizer_config.json', false), read('entropix.json', false),
    read('config.json', false), read('generation_config.json', false),
  ]);
  return tokenizerFromModelFiles({ tokenizer: tokenizer!, tokenizerConfig, entropix, config, generationConfig });
}
