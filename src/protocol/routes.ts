import { Dialect } from './dialect.js';

/** What a route does once the request is read. */
export const enum RouteKind {
  /** POST with a JSON body naming a model: routed to a backend and streamed back. */
  Inference = 0,
  /** POST /api/show: routed like inference (needs a backend holding the model), never streamed. */
  ModelInfo,
  /** GET answered by corral from the merged catalog (tags, ps, models, version). */
  Catalog,
  /** GET /internal/*: liveness, readiness, status; and GET /metrics. */
  Internal,
}

export const enum CatalogView { OllamaTags = 0, OllamaPs, OllamaVersion, OpenAIModels }
export const enum InternalView { Health = 0, Ready, Status, Metrics }

export class Route {
  readonly method: 'get' | 'post';
  readonly path: string;
  readonly kind: RouteKind;
  readonly dialect: Dialect;
  /** Catalog/Internal view id; -1 for inference routes. */
  readonly view: number;
  /** Whether a JSON `stream` flag defaults to true when absent (Ollama chat/generate do; OpenAI does not). */
  readonly streamsByDefault: boolean;
  /** Generates text from a prompt (chat, completion): its prompt is checked against the model's context. */
  readonly generates: boolean;
  /** An Ollama route whose body takes `options.num_ctx` (chat, generate): corral sizes the context. */
  readonly sizesContext: boolean;
  constructor(method: 'get' | 'post', path: string, kind: RouteKind, dialect: Dialect, view: number, streamsByDefault: boolean,
    generates = false) {
    this.method = method;
    this.path = path;
    this.kind = kind;
    this.dialect = dialect;
    this.view = view;
    this.streamsByDefault = streamsByDefault;
    this.generates = generates;
    this.sizesContext = generates && dialect === Dialect.Ollama;
  }
}

const O = Dialect.Ollama;
const A = Dialect.OpenAI;

/** Every route corral serves. Paths follow Ollama's docs/api.md and OpenAI's API reference. */
export const ROUTES: readonly Route[] = [
  new Route('post', '/api/chat', RouteKind.Inference, O, -1, true, true),
  new Route('post', '/api/generate', RouteKind.Inference, O, -1, true, true),
  new Route('post', '/api/embed', RouteKind.Inference, O, -1, false),
  new Route('post', '/api/embeddings', RouteKind.Inference, O, -1, false),
  new Route('post', '/api/show', RouteKind.ModelInfo, O, -1, false),
  new Route('get', '/api/tags', RouteKind.Catalog, O, CatalogView.OllamaTags, false),
  new Route('get', '/api/ps', RouteKind.Catalog, O, CatalogView.OllamaPs, false),
  new Route('get', '/api/version', RouteKind.Catalog, O, CatalogView.OllamaVersion, false),
  new Route('post', '/v1/chat/completions', RouteKind.Inference, A, -1, false, true),
  new Route('post', '/v1/completions', RouteKind.Inference, A, -1, false, true),
  new Route('post', '/v1/embeddings', RouteKind.Inference, A, -1, false),
  new Route('get', '/v1/models', RouteKind.Catalog, A, CatalogView.OpenAIModels, false),
  new Route('get', '/internal/health', RouteKind.Internal, A, InternalView.Health, false),
  new Route('get', '/internal/ready', RouteKind.Internal, A, InternalView.Ready, false),
  new Route('get', '/internal/status', RouteKind.Internal, A, InternalView.Status, false),
  new Route('get', '/metrics', RouteKind.Internal, A, InternalView.Metrics, false),
];

const byPath = new Map<string, Route>();
for (const r of ROUTES) byPath.set(r.path, r);

/** The route for a path (without query), or undefined. A trailing slash is tolerated. */
export function findRoute(path: string): Route | undefined {
  const r = byPath.get(path);
  if (r !== undefined || path.length < 2 || path.charCodeAt(path.length - 1) !== 47 /* / */) return r;
  return byPath.get(path.slice(0, -1));
}

/** The dialect a path belongs to, for errors on unknown routes: `/v1/*` and `/internal/*` answer in OpenAI shape. */
export function dialectOfPath(path: string): Dialect {
  return path.startsWith('/api/') || path === '/api' ? Dialect.Ollama : Dialect.OpenAI;
}
