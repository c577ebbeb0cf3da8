/** A subject token NATS accepts and the wire protocol allows as an instance id. */
const INSTANCE_ID = /^[!-)+-\-/-=?-~]{1,64}$/

/** The subject of one method: `<prefix>.<service>.<method>`. */
export function methodSubject(prefix: string, service: string, method: string): string {
  return `${prefix}.${service}.${method}`
}

/**
 * Whether `id` can name an instance in its own subjects (`<method subject>.<id>`, protocol §7): one NATS token of
 * at most 64 characters.
 */
export function isInstanceId(id: string): boolean {
  return INSTANCE_ID.test(id)
}
