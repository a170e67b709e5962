import type { ErrorCode } from '@contract/errors';

/** The exit code the CLI uses for each error code, so scripts can branch. */
export function exitCodeFor(code: ErrorCode): number {
  switch (code) {
    case 'INVALID_INPUT':
      return 2;
    case 'NOT_FOUND':
      return 3;
    case 'ALREADY_EXISTS':
    case 'CONFLICT':
    case 'CONSTRAINT':
      return 4;
    case 'NETWORK':
    case 'HTTP':
    case 'RATE_LIMITED':
    case 'TIMEOUT':
      return 5;
    case 'CHECKSUM':
    case 'ARCHIVE':
      return 6;
    case 'VMM':
    case 'UNSUPPORTED':
      return 7;
    case 'DATA_DIR':
    case 'SCHEMA_TOO_NEW':
    case 'DISK_FULL':
      return 8;
    case 'CANCELLED':
      return 130;
    default:
      return 1;
  }
}
