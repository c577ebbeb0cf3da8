import type { MethodSpec } from '../contract.ts'
import { SystemCode, isSystemCode } from '../codes.ts'
import { RpcError } from '../rpc-error.ts'
import type { Logger } from '../logger.ts'
import { validatorsOf } from '../validator.ts'
import type { Failure } from '../wire/codec.ts'

export type { Failure } from '../wire/codec.ts'

const INTERNAL: Failure = { code: 'INTERNAL', status: 500, message: 'internal error' }

/**
 * Maps whatever a handler threw to the failure sent back. Declared and system codes pass; the data of a declared
 * code (a system code the method declares too) is checked against its schema; anything else becomes a generic
 * INTERNAL, with details only in the log.
 */
export function toFailure(err: unknown, spec: MethodSpec, log: Logger, where: object): Failure {
  if (err instanceof RpcError) {
    const declared = spec.errors !== undefined && Object.hasOwn(spec.errors, err.code) ? spec.errors[err.code] : undefined
    if (isSystemCode(err.code) && declared === undefined) return { code: err.code, status: SystemCode[err.code], message: err.message, data: err.data }
    if (declared !== undefined) {
      const v = validatorsOf(spec).errors.get(err.code)
      const status = isSystemCode(err.code) ? SystemCode[err.code] : declared.status
      if (v === undefined || v.Check(err.data)) return { code: err.code, status, message: err.message, data: err.data }
      log.error({ ...where, code: err.code, err }, `data of declared error ${err.code} does not match its schema`)
      return INTERNAL
    }
    log.error({ ...where, code: err.code, err }, `handler threw undeclared error code ${err.code}`)
    return INTERNAL
  }
  log.error({ ...where, err }, 'handler failed')
  return INTERNAL
}
