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

/** The role of the gateway's second connection, the one its tail of the message stream reads on. */
export const GATEWAY_FEED_ROLE = 'gateway-feed'

/**
 * The gateway calls `rpc.>`; answers presence, broadcast and online requests; gets the ephemeral events of its users
 * (`chat.user.*`); announces presence changes (`evt.gateway.>`) and reads `evt.>`. It touches no JetStream: its tail
 * of the message stream reads on a connection of its own (GATEWAY_FEED_PERMISSIONS).
 */
export const GATEWAY_PERMISSIONS: RolePermissions = {
  publish: { allow: ['rpc.>', '$SRV.>', 'evt.gateway.>'] },
  subscribe: { allow: ['chat.presence.*', 'chat.user.*', 'chat.broadcast', 'chat.online', '_INBOX_gateway.>', 'evt.>'] },
  allowResponses: true,
}

/**
 * What reading one stream through consumers of its own takes, and nothing else. No `allow_responses`, on purpose:
 * nats-server remembers every reply subject it delivers to a connection that may answer requests (up to 2 min), and
 * scans that whole list on each delivery once it holds over 4,096. A consumer's messages arrive with ack subjects an
 * ordered or ack-none consumer never answers, so on an answering connection the list grows by the read rate and the
 * server's CPU goes to the scan (docs/benchmarks.md, second round).
 */
export function streamReaderPermissions(role: string, stream: string): RolePermissions {
  return {
    publish: {
      allow: [
        '$JS.API.INFO',
        `$JS.API.STREAM.INFO.${stream}`,
        `$JS.API.STREAM.MSG.GET.${stream}`,
        `$JS.API.CONSUMER.CREATE.${stream}`,
        `$JS.API.CONSUMER.CREATE.${stream}.>`,
        `$JS.API.CONSUMER.INFO.${stream}.>`,
        `$JS.API.CONSUMER.DELETE.${stream}.>`,
        `$JS.API.CONSUMER.MSG.NEXT.${stream}.>`,
      ],
    },
    subscribe: { allow: [`_INBOX_${role}.>`] },
    allowResponses: false,
  }
}

/** The gateway's tail of the message stream (a connection of its own). */
export const GATEWAY_FEED_PERMISSIONS: RolePermissions = streamReaderPermissions(GATEWAY_FEED_ROLE, 'SB_MESSAGES')

/** The role of a module's second connection, for the stream it reads through consumers (`nats.reads`). */
export const readsRole = (m: Pick<ChatModule, 'name'>) => `${m.name}-reads`

/** CLI, demo, tests and benchmarks: call `rpc.>` and `$SRV.>` discovery, read only their own inbox. */
export const CLIENT_PERMISSIONS: RolePermissions = {
  publish: { allow: ['rpc.>', '$SRV.>'] },
  subscribe: { allow: ['_INBOX_client.>'] },
  allowResponses: false,
}

/** Every role's permissions: the modules in registry order (each followed by its `-reads` role, if any), the gateway's two, the client. */
export function allPermissions(modules: readonly ChatModule[]): [role: string, permissions: RolePermissions][] {
  return [
    ...modules.flatMap((m): [string, RolePermissions][] => [
      [m.name, modulePermissions(m)],
      ...(m.nats.reads === undefined ? [] : [[readsRole(m), streamReaderPermissions(readsRole(m), m.nats.reads.stream)] as [string, RolePermissions]]),
    ]),
    ['gateway', GATEWAY_PERMISSIONS],
    [GATEWAY_FEED_ROLE, GATEWAY_FEED_PERMISSIONS],
    ['client', CLIENT_PERMISSIONS],
  ]
}

const list = (subjects: readonly string[]) => `[${subjects.map((s) => `"${s}"`).join(', ')}]`

/**
 * The `authorization { users = [...] }` block of nats-server's config for `roles`: one user per public key `nkeys`
 * gives a role (two while a rotation is under way, the current key first), each with the role's permissions. A comment
 * names the role of each key. Throws when a role has no key.
 */
export function renderAuthorization(roles: readonly [string, RolePermissions][], nkeys: (role: string) => readonly string[]): string {
  const users = roles.flatMap(([role, p]) => {
    const keys = nkeys(role)
    if (keys.length === 0) throw new Error(`no nkey for role '${role}'`)
    const publish = `{ allow: ${list(p.publish.allow)}${p.publish.deny === undefined ? '' : `, deny: ${list(p.publish.deny)}`} }`
    return keys.map((key, i) =>
      [
        `    # ${role}${i === 0 ? '' : ' (its previous key, until `npm run creds -- retire`)'}`,
        '    {',
        `      nkey: ${key}`,
        '      permissions: {',
        `        publish: ${publish}`,
        `        subscribe: { allow: ${list(p.subscribe.allow)} }`,
        ...(p.allowResponses ? ['        allow_responses: true'] : []),
        '      }',
        '    }',
      ].join('\n'),
    )
  })
  return `authorization {\n  users = [\n${users.join('\n')}\n  ]\n}\n`
}
