import type { CatalogModel, ResolvedType } from '../core/catalog.js';

/**
 * The context a prompt for `model` is checked against (segment model info, maxContext): the most
 * any endpoint serving it takes — an Ollama endpoint the model's maximum from `/api/show`
 * (`ollamaMax`; Ollama sizes num_ctx up to it), an OpenAI-compatible one what it publishes
 * (`published`: llama-server's slot n_ctx, vLLM's max_model_len). 0 (nothing refused) while any
 * of them is unknown: that endpoint might take the prompt.
 *
 * One figure per model, not per (endpoint, model): the up-front refusal is for a prompt no
 * endpoint can take. Endpoints that disagree (two llama-servers started with different -c) are
 * rare, and the larger one decides; a prompt that fits only it may still be routed to the smaller,
 * which then refuses it itself (routing by context is not done).
 */
export function servedContext(model: CatalogModel, typeOf: (endpoint: number) => ResolvedType, ollamaMax: number,
  published: (endpoint: number, name: string) => number): number {
  let most = 0;
  for (const e of model.endpoints) {
    const c = typeOf(e) === 'ollama' ? ollamaMax : published(e, model.name);
    if (c <= 0) return 0;
    if (c > most) most = c;
  }
  return most;
}
