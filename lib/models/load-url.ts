// loadModel(url): a converted model served over HTTP (model.json + shards, config.json,
// entropix.json) as the same CausalLM as a directory gives in Node, with the same checks:
// model.json and config.json are validated, the shards' Content-Length must add up to what the
// manifest needs before any weights are read, every body is read against its limit, and nothing
// is allocated until all of it has arrived whole.
import { tf } from '../core/tf';
import { EntropixError } from '../core/errors';
import { announcedLength, baseUrl, fetchJson, get, readBody, refuseUrl, UrlLoadOptions, urlInside } from '../core/http';
import type { CausalLM } from './causal-lm';
import { checkEntropixJson } from './entropix-json';
import { checkConvertedArtifacts, convertedLlama } from './graph-model';
import { bufferReader, GraphMatrices, packGraphMatrices } from './graph-matrices';
import { packedWeights, WeightsOption } from './weights-option';
import type { NodeDefJson } from '../graphdef/json';
import { parseHfConfig } from './hf-config';
import { checkGroupSize, checkModelJson, graphModelFromArtifacts } from './model-json';

const DEFAULT_MAX_WEIGHT_BYTES = 4 * 1024 ** 3;

/**
 * Loads the converted model at `url` (its folder, or its model.json) on the current backend.
 * Refuses (EntropixError INVALID_ARGUMENT, argument 'url') a file the server does not have (the
 * message gives the HTTP status), a bad model.json or config.json, shard paths that leave the
 * folder, shards whose sizes disagree with the manifest, a truncated download and a model over
 * `maxWeightBytes`; ABORTED when `signal` fires. Nothing stays allocated when it throws.
 */
export async function loadModelFromUrl(url: string | URL, options: UrlLoadOptions & WeightsOption = {}): Promise<CausalLM> {
  const pack = packedWeights(options);
  const base = baseUrl(url);
  const maxWeightBytes = options.maxWeightBytes ?? DEFAULT_MAX_WEIGHT_BYTES;
  if (typeof maxWeightBytes !== 'number' || !(maxWeightBytes > 0)) {
    throw new EntropixError('INVALID_ARGUMENT', `maxWeightBytes must be a positive number, got ${String(maxWeightBytes)}`, 'maxWeightBytes');
  }
  const at = (name: string) => new URL(name, base);
  const configUrl = at('config.json');
  const config = parseHfConfig(await fetchJson(configUrl, 'config.json', options), configUrl.href);
  const defaultsUrl = at('entropix.json');
  const entropixJson = await fetchJson(defaultsUrl, 'entropix.json', { ...options, optional: true });
  const defaults = entropixJson === undefined ? { eosTokenIds: config.eosTokenIds }
    : checkEntropixJson(entropixJson, defaultsUrl.href, config);
  const jsonUrl = at('model.json');
  const { modelJson, groups } = checkModelJson(await fetchJson(jsonUrl, 'model.json', options), jsonUrl.href, 'url');

  const needed = groups.reduce((a, g) => a + g.bytes, 0);
  if (needed > maxWeightBytes) {
    throw refuseUrl(`${jsonUrl.href} needs ${needed} bytes of weights, more than maxWeightBytes (${maxWeightBytes})`);
  }

  // All shards are requested at once; one failure aborts the others.
  const controller = new AbortController();
  const stop = () => controller.abort();
  options.signal?.addEventListener('abort', stop);
  const shardOptions = { ...options, signal: controller.signal };
  try {
    const shards = groups.map((g) => g.paths.map((p) => ({
      name: p,
      url: urlInside(base, p, (why) => refuseUrl(`${jsonUrl.href}: weight path ${JSON.stringify(p)} ${why}`)),
    })));
    const responses = await Promise.all(shards.map((group) => Promise.all(group.map(async (s) => {
      const res = await get(s.url, `weight shard '${s.name}'`, shardOptions);
      return { ...s, res: res!, length: announcedLength(res!) };
    }))));
    // Sizes first, from Content-Length where the server sent it: a bad shard is refused before
    // any weights are read. Without it, each body is read up to its group's need and checked after.
    responses.forEach((group, gi) => {
      if (group.every((s) => s.length !== null)) checkGroupSize(groups[gi]!, group.map((s) => s.length!), jsonUrl.href, 'url');
    });
    const weightData = await Promise.all(responses.map(async (group, gi) => {
      const bytes = await Promise.all(group.map((s) =>
        readBody(s.res, s.url, `weight shard '${s.name}'`, s.length ?? groups[gi]!.bytes, shardOptions.signal)));
      checkGroupSize(groups[gi]!, bytes.map((b) => b.byteLength), jsonUrl.href, 'url');
      return bytes.map((b) => (b.byteOffset === 0 && b.byteLength === b.buffer.byteLength
        ? b.buffer as ArrayBuffer : b.slice().buffer as ArrayBuffer));
    }));
    const artifacts = tf.io.getModelArtifactsForJSONSync(modelJson, groups.flatMap((g) => g.weights), weightData.flat());
    const format = checkConvertedArtifacts(artifacts, config, jsonUrl.href, 'url');
    const nodes = (artifacts.modelTopology as { node: NodeDefJson[] }).node;
    const matrices: GraphMatrices | null = pack ? await packGraphMatrices(artifacts, nodes, bufferReader(artifacts.weightData!)) : null;
    let model;
    try {
      model = graphModelFromArtifacts(artifacts, jsonUrl.href, 'url');
    } catch (e) {
      matrices?.packed.dispose();
      throw e;
    }
    return convertedLlama(config, defaults, model, nodes, format, matrices);
  } catch (e) {
    controller.abort();
    if (options.signal?.aborted && !(e instanceof EntropixError && e.code === 'ABORTED')) {
      throw new EntropixError('ABORTED', 'loading was aborted', 'signal');
    }
    throw e;
  } finally {
    options.signal?.removeEventListener('abort', stop);
  }
}
