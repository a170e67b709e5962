/**
 * Typed errors of the engine, part of the contract: every front end reads them. Every error that crosses a transport is an
 * `OkError`: a stable machine `code` and a `message` written for people, which
 * says what went wrong and, where it can, what to do about it.
 */
export const ERROR_CODES = [
  'INVALID_INPUT', // a payload or argument failed validation
  'NOT_FOUND', // a row, file or release that was asked for does not exist
  'ALREADY_EXISTS', // a unique name or tag is taken
  'CONFLICT', // the operation does not fit the current state (e.g. VM running)
  'CONSTRAINT', // a database constraint would be violated
  'SCHEMA_TOO_NEW', // the database was written by a newer app
  'DATA_DIR', // the data directory is unusable (unwritable, corrupt)
  'NETWORK', // a transfer failed after retries
  'HTTP', // the server answered with an error status
  'RATE_LIMITED', // the API asked us to come back later
  'CHECKSUM', // a digest did not match
  'DISK_FULL', // not enough free space, or a write failed for lack of it
  'CANCELLED', // the user cancelled
  'ARCHIVE', // an archive was unsafe or malformed
  'VMM', // the VMM is missing, failed to start, or crashed
  'UNSUPPORTED', // the chosen backend cannot do what was asked
  'TIMEOUT', // something took too long
  'INTERNAL', // a bug: anything not otherwise classified
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export interface ErrorPayload {
  code: ErrorCode;
  message: string;
}

export class OkError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'OkError';
    this.code = code;
  }

  toJSON(): ErrorPayload {
    return { code: this.code, message: this.message };
  }
}

export function isOkError(e: unknown): e is OkError {
  return e instanceof OkError;
}

/** Turn anything thrown into the payload that crosses a transport. */
export function toErrorPayload(e: unknown): ErrorPayload {
  if (e instanceof OkError) return e.toJSON();
  if (e instanceof Error) return { code: 'INTERNAL', message: e.message };
  return { code: 'INTERNAL', message: String(e) };
}
