// An answer other than success, with the lines that say why: the server writes it as {"errors": [...]}.
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly errors: string[],
    /** headers the status calls for: Allow with 405, WWW-Authenticate with 401 */
    readonly headers: Record<string, string> = {},
  ) {
    super(errors.join('; '));
  }
}
