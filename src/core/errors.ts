/**
 * Every error corral answers with is a class with a stable `CORRAL_ERR_*` code, an HTTP status and
 * a default message. Branch on `.code`, never on message text. docs/ERRORS.md documents each code;
 * test/unit/core/errors.test.ts checks that every code here is documented there.
 */
export class CorralError extends Error {
  readonly code: string;
  readonly status: number;
  /** OpenAI-dialect `error.type` (invalid_request_error, server_error, …). */
  readonly type: string;
  constructor(code: string, status: number, type: string, message: string) {
    super(message);
    this.name = 'CorralError';
    this.code = code;
    this.status = status;
    this.type = type;
  }
}

function define(code: string, status: number, type: string, defaultMessage: string) {
  return class extends CorralError {
    static readonly code = code;
    static readonly status = status;
    constructor(message: string = defaultMessage) {
      super(code, status, type, message);
    }
  };
}

export const InvalidJsonError = define('CORRAL_ERR_INVALID_JSON', 400, 'invalid_request_error', 'request body is not valid JSON');
export const InvalidRequestError = define('CORRAL_ERR_INVALID_REQUEST', 400, 'invalid_request_error', 'invalid request');
export const ContextLengthError = define('CORRAL_ERR_CONTEXT_LENGTH', 400, 'invalid_request_error', 'the prompt is longer than the model\'s context');
export const MissingModelError = define('CORRAL_ERR_MISSING_MODEL', 400, 'invalid_request_error', 'model: is required');
export const RequestTimeoutError = define('CORRAL_ERR_REQUEST_TIMEOUT', 408, 'invalid_request_error', 'request body not received within server.body_timeout');
export const UnauthorizedError = define('CORRAL_ERR_UNAUTHORIZED', 401, 'authentication_error', 'missing or invalid credentials');
export const NotFoundError = define('CORRAL_ERR_NOT_FOUND', 404, 'invalid_request_error', 'no such route');
export const ModelNotFoundError = define('CORRAL_ERR_MODEL_NOT_FOUND', 404, 'invalid_request_error', 'model not found on any endpoint');
export const MethodNotAllowedError = define('CORRAL_ERR_METHOD_NOT_ALLOWED', 405, 'invalid_request_error', 'method not allowed');
export const BodyTooLargeError = define('CORRAL_ERR_BODY_TOO_LARGE', 413, 'invalid_request_error', 'request body exceeds server.max_body_size');
export const UnsupportedMediaTypeError = define('CORRAL_ERR_UNSUPPORTED_MEDIA_TYPE', 415, 'invalid_request_error', 'content-type must be application/json');
export const HeadersTooLargeError = define('CORRAL_ERR_HEADERS_TOO_LARGE', 431, 'invalid_request_error', 'request headers too large');
export const ModelLoadError = define('CORRAL_ERR_MODEL_LOAD', 502, 'server_error', 'the model could not be loaded');
export const NoCapacityError = define('CORRAL_ERR_NO_CAPACITY', 503, 'server_error', 'no endpoint has room for this model');
export const QueueFullError = define('CORRAL_ERR_QUEUE_FULL', 503, 'server_error', 'the model\'s admission queue is full');
export const QueueTimeoutError = define('CORRAL_ERR_QUEUE_TIMEOUT', 503, 'server_error', 'the request waited queue.timeout for a free slot');
export const UpstreamError = define('CORRAL_ERR_UPSTREAM', 502, 'server_error', 'upstream endpoint failed');
export const NoEndpointError = define('CORRAL_ERR_NO_ENDPOINT', 503, 'server_error', 'no healthy endpoint can serve this request');
export const DialectUnsupportedError = define('CORRAL_ERR_DIALECT_UNSUPPORTED', 503, 'server_error', 'no endpoint serving this model speaks this API');
export const ShuttingDownError = define('CORRAL_ERR_SHUTTING_DOWN', 503, 'server_error', 'corral is shutting down');
export const UpstreamTimeoutError = define('CORRAL_ERR_UPSTREAM_TIMEOUT', 504, 'server_error', 'upstream endpoint timed out');
export const InternalError = define('CORRAL_ERR_INTERNAL', 500, 'server_error', 'internal error');

/** Not an HTTP error: a configuration problem. `problems` lists every one, each naming its key path. */
export class ConfigError extends Error {
  static readonly code = 'CORRAL_ERR_CONFIG';
  readonly code = 'CORRAL_ERR_CONFIG';
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** Every HTTP error class, for documentation checks and tests that exercise each code. */
export const HTTP_ERRORS = [
  InvalidJsonError, InvalidRequestError, ContextLengthError, MissingModelError, RequestTimeoutError, UnauthorizedError, NotFoundError,
  ModelNotFoundError, MethodNotAllowedError, BodyTooLargeError, UnsupportedMediaTypeError,
  HeadersTooLargeError, ModelLoadError, UpstreamError, NoEndpointError, NoCapacityError, QueueFullError, QueueTimeoutError, DialectUnsupportedError,
  ShuttingDownError, UpstreamTimeoutError, InternalError,
] as const;

/** An error that is no answer to a client (a start-up or a backend problem), with its stable code. */
function defineOperational(code: string, name: string) {
  return class extends Error {
    static readonly code = code;
    readonly code = code;
    constructor(message: string) {
      super(message);
      this.name = name;
    }
  };
}

/**
 * Not an HTTP error: a backend's discovery answer (GET /api/tags, /v1/models, …) that corral cannot
 * use at all. The message names the request and the defect (`GET /v1/models: data is an object, not
 * an array`); it becomes that endpoint's `last_error`, and that endpoint only is marked down.
 */
export const DiscoveryError = defineOperational('CORRAL_ERR_DISCOVERY', 'DiscoveryError');

/**
 * Not an HTTP error: corral cannot listen where the configuration says (a port another process
 * holds, a privileged port, an address this host does not have). Printed without a stack.
 */
export const ListenError = defineOperational('CORRAL_ERR_LISTEN', 'ListenError');

/**
 * Not an HTTP error: `corral status` cannot get the status view from the URL it was given (or the
 * management port of the configuration): nothing listens there, it does not answer in time, or
 * what answers is not corral. Printed without a stack; the command exits 1.
 */
export const StatusUnreachableError = defineOperational('CORRAL_ERR_STATUS_UNREACHABLE', 'StatusUnreachableError');
