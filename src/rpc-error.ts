import { SystemCode, isSystemCode } from './codes.ts'
import type { AnyContract, MethodError, MethodName } from './contract.ts'

/**
 * The one error class of Switchboard. `code` is a system code or a code the method declares;
 * `status` is its number; `data` is typed per declared code by the contract.
 */
export class RpcError<Code extends string = string, Data = unknown> extends Error {
  override readonly name = 'RpcError'
  readonly code: Code
  readonly status: number
  readonly data: Data

  constructor(code: Code, message: string, options: { status?: number; data?: Data; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.code = code
    this.status = options.status ?? (isSystemCode(code) ? SystemCode[code] : 500)
    this.data = options.data as Data
  }

  /** The error as the wire envelope's fields. */
  toJSON(): { status: Code; message: string; data?: Data } {
    return this.data === undefined ? { status: this.code, message: this.message } : { status: this.code, message: this.message, data: this.data }
  }
}

/** A system error, with its number taken from the code table. */
export function systemError(code: SystemCode, message: string, data?: unknown, cause?: unknown): RpcError<SystemCode> {
  return new RpcError(code, message, { status: SystemCode[code], data, cause })
}

/** True when `err` is an RpcError. */
export function isRpcError(err: unknown): err is RpcError
/** True when `err` is an RpcError that a call of `contract.method` can throw; narrows `code` and `data`. */
export function isRpcError<C extends AnyContract, K extends MethodName<C>>(err: unknown, contract: C, method: K): err is MethodError<C, K>
export function isRpcError(err: unknown, contract?: AnyContract, method?: string): boolean {
  if (!(err instanceof RpcError)) return false
  if (contract === undefined || method === undefined) return true
  return isSystemCode(err.code) || Object.hasOwn(contract.methods[method]?.errors ?? {}, err.code)
}
