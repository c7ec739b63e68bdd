/** The two client-facing API dialects corral speaks. Ollama's `/api/*` and OpenAI's `/v1/*`. */
export const enum Dialect { Ollama = 0, OpenAI = 1 }

/** Which dialects an endpoint type speaks. Ollama serves its own API and an OpenAI-compatible `/v1`. */
export const DIALECTS_OF_TYPE: Readonly<Record<'ollama' | 'openai', number>> = {
  ollama: (1 << Dialect.Ollama) | (1 << Dialect.OpenAI),
  openai: 1 << Dialect.OpenAI,
};

export function speaks(dialectMask: number, d: Dialect): boolean {
  return (dialectMask & (1 << d)) !== 0;
}
