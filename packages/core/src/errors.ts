/**
 * The Matrix error envelope. Every failure a client or peer can cause is a MatrixError with an
 * errcode and HTTP status; anything else that escapes a handler is a bug and answers 500 M_UNKNOWN.
 */
export class MatrixError extends Error {
  readonly errcode: string;
  readonly httpStatus: number;
  readonly extra: Record<string, unknown>;

  constructor(httpStatus: number, errcode: string, message: string, extra: Record<string, unknown> = {}) {
    super(message);
    this.name = 'MatrixError';
    this.httpStatus = httpStatus;
    this.errcode = errcode;
    this.extra = extra;
  }

  toJSON(): Record<string, unknown> {
    return { errcode: this.errcode, error: this.message, ...this.extra };
  }
}

export const errors = {
  badJson: (msg: string) => new MatrixError(400, 'M_BAD_JSON', msg),
  notJson: (msg = 'Content not JSON.') => new MatrixError(400, 'M_NOT_JSON', msg),
  invalidParam: (msg: string) => new MatrixError(400, 'M_INVALID_PARAM', msg),
  missingParam: (msg: string) => new MatrixError(400, 'M_MISSING_PARAM', msg),
  unknownToken: (msg = 'Unrecognised access token.', softLogout = false) =>
    new MatrixError(401, 'M_UNKNOWN_TOKEN', msg, softLogout ? { soft_logout: true } : {}),
  missingToken: (msg = 'Missing access token.') => new MatrixError(401, 'M_MISSING_TOKEN', msg),
  forbidden: (msg: string) => new MatrixError(403, 'M_FORBIDDEN', msg),
  notFound: (msg = 'Not found.') => new MatrixError(404, 'M_NOT_FOUND', msg),
  unrecognized: (msg = 'Unrecognized request') => new MatrixError(404, 'M_UNRECOGNIZED', msg),
  methodNotAllowed: (msg = 'Unrecognized request') => new MatrixError(405, 'M_UNRECOGNIZED', msg),
  tooLarge: (msg = 'Request body too large.') => new MatrixError(413, 'M_TOO_LARGE', msg),
  limitExceeded: (retryAfterMs: number) =>
    new MatrixError(429, 'M_LIMIT_EXCEEDED', 'Too many requests.', { retry_after_ms: retryAfterMs }),
  unknown: (msg = 'Internal server error.') => new MatrixError(500, 'M_UNKNOWN', msg),
  unavailable: (msg: string) => new MatrixError(503, 'M_UNKNOWN', msg),
};
