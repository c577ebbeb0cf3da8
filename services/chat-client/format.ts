/** A Message as the gateway pushes it (services/shared/schemas.ts). */
export interface ChatMessage {
  readonly messageId: string
  readonly kind: 'direct' | 'group' | 'broadcast'
  readonly from: string
  readonly to?: string
  readonly groupId?: string
  readonly text?: string
  readonly sentAt: number
  readonly op?: 'edit' | 'delete'
  readonly deleted?: true
  readonly editedAt?: number
}

const pad = (n: number) => String(n).padStart(2, '0')

/** `HH:MM` of an epoch-ms time, local time zone. */
export function clock(ms: number): string {
  const d = new Date(ms)
  return `${pad(d.getHours())}:${pad(d.getMinutes())}`
}

/** One line for a message: `[12:03] bob: hi`, `[12:03] #team bob: hi`, `[12:03] ** admin: notice`. */
export function formatMessage(m: ChatMessage, groupNames: ReadonlyMap<string, string> = new Map()): string {
  const at = `[${clock(m.sentAt)}]`
  const text =
    m.op === 'delete' || m.deleted === true ? '(deleted)' : `${m.text ?? ''}${m.op === 'edit' ? ' (edited)' : m.editedAt !== undefined ? ' (edited)' : ''}`
  if (m.kind === 'broadcast') return `${at} ** ${m.from}: ${text}`
  if (m.kind === 'group') return `${at} #${groupNames.get(m.groupId ?? '') ?? m.groupId} ${m.from}: ${text}`
  return `${at} ${m.from} -> ${m.to ?? 'me'}: ${text}`
}

/** A call error as one line: `error NOT_FOUND (404): no such user`. */
export function formatError(err: unknown): string {
  const e = err as { code?: string; status?: number; message?: string; data?: { issues?: { path: string; message: string }[] } }
  if (e.code === undefined) return `error: ${e.message ?? String(err)}`
  const issues = e.data?.issues?.map((i) => `${i.path || '/'} ${i.message}`).join('; ')
  return `error ${e.code} (${e.status}): ${e.message}${issues ? ` [${issues}]` : ''}`
}
