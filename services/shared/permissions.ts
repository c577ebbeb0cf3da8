import type { ChatModule } from './module.ts'

/** The permissions of one NATS user, in nats-server's terms. */
export interface RolePermissions {
  readonly publish: { readonly allow: readonly string[]; readonly deny?: readonly string[] }
  readonly subscribe: { readonly allow: readonly string[] }
  /** May reply to requests it received. */
  readonly allowResponses: boolean
}

/** Subjects only the admin module publishes: a broadcast to every session, and the question who is online. */
const BROADCAST_SUBJECTS = ['chat.broadcast', 'chat.online'] as const

/**
 * What a module's user may do (DESIGN §6): serve only its own `rpc.<module>.>` and answer `$SRV.>` discovery; reply
 * to requests and call any module; use JetStream (API, KV, acks, flow control); publish its events `evt.<module>.>`
 * and read everyone's; publish chat subjects (real-time delivery and presence requests) but the broadcast ones;
 * read only its own inbox `_INBOX_<module>.>`. Plus what the module declares (`nats` in its module.ts).
 */
export function modulePermissions(m: ChatModule): RolePermissions {
  return {
    publish: {
      allow: ['rpc.>', '$JS.API.>', '$KV.>', '$JS.ACK.>', '$JS.FC.>', 'chat.>', ...(m.nats.publish ?? []), `evt.${m.name}.>`],
      ...(m.nats.broadcast === true ? {} : { deny: BROADCAST_SUBJECTS }),
    },
    subscribe: { allow: [`rpc.${m.name}.>`, '$SRV.>', `_INBOX_${m.name}.>`, 'evt.>', ...(m.nats.subscribe ?? [])] },
    allowResponses: true,
  }
}

/**
 * The gateway calls `rpc.>`; reads the message stream (and only it) through its own consumers; answers presence,
 * broadcast and online requests; gets the ephemeral events of its users (`chat.user.*`); announces presence changes
 * (`evt.gateway.>`) and reads `evt.>`.
 */
export const GATEWAY_PERMISSIONS: RolePermissions = {
  publish: {
    allow: [
      'rpc.>',
      '$SRV.>',
      'evt.gateway.>',
      '$JS.API.INFO',
      '$JS.API.STREAM.INFO.SB_MESSAGES',
      '$JS.API.CONSUMER.CREATE.SB_MESSAGES',
      '$JS.API.CONSUMER.CREATE.SB_MESSAGES.>',
      '$JS.API.CONSUMER.INFO.SB_MESSAGES.>',
      '$JS.API.CONSUMER.DELETE.SB_MESSAGES.>',
      '$JS.API.CONSUMER.MSG.NEXT.SB_MESSAGES.>',
    ],
  },
  subscribe: { allow: ['chat.presence.*', 'chat.user.*', 'chat.broadcast', 'chat.online', '_INBOX_gateway.>', 'evt.>'] },
  allowResponses: true,
}

/** CLI, demo, tests and benchmarks: call `rpc.>` and `$SRV.>` discovery, read only their own inbox. */
export const CLIENT_PERMISSIONS: RolePermissions = {
  publish: { allow: ['rpc.>', '$SRV.>'] },
  subscribe: { allow: ['_INBOX_client.>'] },
  allowResponses: false,
}

/** Every role's permissions, modules first (in registry order), then the gateway and the client. */
export function allPermissions(modules: readonly ChatModule[]): [role: string, permissions: RolePermissions][] {
  return [...modules.map((m) => [m.name, modulePermissions(m)] as [string, RolePermissions]), ['gateway', GATEWAY_PERMISSIONS], ['client', CLIENT_PERMISSIONS]]
}

const list = (subjects: readonly string[]) => `[${subjects.map((s) => `"${s}"`).join(', ')}]`

/** The `authorization { users = [...] }` block of nats-server's config for `roles`, with a password for each. */
export function renderAuthorization(roles: readonly [string, RolePermissions][], password: (role: string) => string): string {
  const users = roles.map(([role, p]) => {
    const publish = `{ allow: ${list(p.publish.allow)}${p.publish.deny === undefined ? '' : `, deny: ${list(p.publish.deny)}`} }`
    const lines = [
      '    {',
      `      user: ${role}`,
      `      password: "${password(role)}"`,
      '      permissions: {',
      `        publish: ${publish}`,
      `        subscribe: { allow: ${list(p.subscribe.allow)} }`,
      ...(p.allowResponses ? ['        allow_responses: true'] : []),
      '      }',
      '    }',
    ]
    return lines.join('\n')
  })
  return `authorization {\n  users = [\n${users.join('\n')}\n  ]\n}\n`
}
