// OpenAI's error object: `{ error: { message, type, param, code } }`, with the HTTP status.

export class ApiError extends Error {
  constructor(
    message: string,
    /** The request field at fault, as a path (`messages[0].content[1].image_url.url`), or null. */
    readonly param: string | null = null,
    readonly status = 400,
    readonly code: string | null = null,
    readonly type = status >= 500 ? 'server_error' : 'invalid_request_error',
  ) {
    super(message);
    this.name = 'ApiError';
  }

  toJSON(): { error: { message: string; type: string; param: string | null; code: string | null } } {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}
