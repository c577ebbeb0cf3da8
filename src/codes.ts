/**
 * The closed set of system status codes of wire protocol v1, with their numbers.
 * A method may declare more codes of its own in its contract.
 */
export const SystemCode = {
  INVALID_ARGUMENT: 400,
  UNAUTHENTICATED: 401,
  PERMISSION_DENIED: 403,
  NOT_FOUND: 404,
  ALREADY_EXISTS: 409,
  FAILED_PRECONDITION: 412,
  RESOURCE_EXHAUSTED: 429,
  CANCELLED: 499,
  INTERNAL: 500,
  UNIMPLEMENTED: 501,
  UNAVAILABLE: 503,
  DEADLINE_EXCEEDED: 504,
} as const

/** One of the system status codes. */
export type SystemCode = keyof typeof SystemCode

/** The status of a successful call. */
export const OK = 'OK'

/** Codes that an idempotent method retries automatically. */
export const RETRYABLE_CODES: ReadonlySet<string> = new Set<SystemCode>(['UNAVAILABLE', 'DEADLINE_EXCEEDED'])

/** True when `code` is one of the system codes. */
export function isSystemCode(code: unknown): code is SystemCode {
  return typeof code === 'string' && Object.hasOwn(SystemCode, code)
}

/** Declared error codes are UPPER_SNAKE. */
export const ERROR_CODE_PATTERN = /^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*$/
