// The real clients users run (`openai`, `ollama`), set up the way the integration tests need them,
// and the outcome record they compare across clients.
import OpenAI from 'openai';
import { Ollama } from 'ollama';
import type { CorralProcess } from './corral-process.js';
import { HI, MODEL } from './sim.js';

/** An openai client that never retries by itself (maxRetries 0), so every retry seen is corral's. */
export function openaiClient(corral: CorralProcess, timeout = 15_000): OpenAI {
  return new OpenAI({ baseURL: `${corral.url}/v1`, apiKey: 'unused', maxRetries: 0, timeout });
}

/** An Ollama client that remembers the headers of the last response it got (the client hides them). */
export function ollamaClient(corral: CorralProcess): { client: Ollama; last: () => Headers | null } {
  let last: Headers | null = null;
  const client = new Ollama({
    host: corral.url,
    fetch: async (input, init) => {
      const res = await fetch(input, init);
      last = res.headers;
      return res;
    },
  });
  return { client, last: () => last };
}

/** What one request through a client came to, with corral's routing headers: comparable across clients. */
export interface Outcome {
  kind: string;
  status: number;
  endpoint: string;
  retries: number;
  content: string;
}

/** An Outcome from a response's status, headers (x-corral-endpoint, x-corral-retries) and content. */
export function fromHeaders(kind: string, status: number, h: Headers | null | undefined, content: string): Outcome {
  return {
    kind,
    status,
    endpoint: h?.get('x-corral-endpoint') ?? '',
    retries: Number(h?.get('x-corral-retries') ?? NaN),
    content,
  };
}

/** A non-streamed openai chat of MODEL, as an Outcome. */
export async function openaiWhole(ai: OpenAI): Promise<Outcome> {
  const { data, response } = await ai.chat.completions.create({ model: MODEL, messages: HI }).withResponse();
  return fromHeaders('openai', response.status, response.headers, data.choices[0]?.message.content ?? '');
}

/** A streamed openai chat of MODEL, as an Outcome; content flagged when no chunk carried a finish_reason. */
export async function openaiStream(ai: OpenAI): Promise<Outcome> {
  const { data: stream, response } = await ai.chat.completions.create({ model: MODEL, messages: HI, stream: true }).withResponse();
  let content = '';
  let finished = false;
  for await (const chunk of stream) {
    content += chunk.choices[0]?.delta.content ?? '';
    if (chunk.choices[0]?.finish_reason) finished = true;
  }
  return fromHeaders('openai-stream', response.status, response.headers, finished ? content : `${content} (no finish_reason)`);
}

/** A streamed ollama chat of MODEL, as an Outcome; content flagged when no part said done. */
export async function ollamaChatStream(o: ReturnType<typeof ollamaClient>): Promise<Outcome> {
  let content = '';
  let done = false;
  for await (const part of await o.client.chat({ model: MODEL, messages: HI, stream: true })) {
    content += part.message.content;
    if (part.done) done = true;
  }
  return fromHeaders('ollama-chat-stream', 200, o.last(), done ? content : `${content} (no done)`);
}

/**
 * The text a stream yielded until it ended or threw, and what it threw (null when it ended):
 * the mid-stream failure tests check both. `stream` may be the client call's promise, so a throw
 * before the first item is caught too.
 */
export async function readUntilError<T>(stream: AsyncIterable<T> | Promise<AsyncIterable<T>>,
  text: (item: T) => string): Promise<{ content: string; error: unknown }> {
  let content = '';
  try {
    for await (const item of await stream) content += text(item);
  } catch (err) {
    return { content, error: err };
  }
  return { content, error: null };
}
