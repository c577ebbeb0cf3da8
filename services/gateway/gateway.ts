import type { NatsConnection, Subscription } from '@nats-io/nats-core'
import type { RawData, WebSocket } from 'ws'
import { client, RpcError, type AnyContract, type Client } from 'switchboard'
import { MessageService } from '../message/contract.ts'
import type { ChatMessage } from '../message/entry.ts'
import { FeedPositions } from '../shared/position.ts'
import { User } from '../user/contract.ts'
import { FeedTail } from './feed-tail.ts'
import { messageFrame } from './frames.ts'
import { Access, CALLABLE, GatewayCall } from './methods.ts'
import { resolveGatewayOptions, type GatewayOptions } from './options.ts'
import { errorReply, GatewayEvent, parseFrame, PROTOCOL_VERSION, rpcErrorReply, type CallFrame } from './protocol.ts'
import { RATED_CALLS, refusal, SendLimiter, type Refusal } from './send-limiter.ts'
import { AdaptiveLimit } from './adaptive-limit.ts'
import { Session } from './session.ts'
import { ChatSubject } from '../shared/presence.ts'
import { readMessage, reply, SessionRegistry } from './session-registry.ts'
import { GATEWAY_SERVICE, GatewayStats } from '../ops/gateway-stats.ts'
import { OpsMonitor } from '../ops/monitor.ts'
import { EdgeLimit, EdgeLimits, FrameBudget } from './edge-limits.ts'
import { GatewayMetrics } from './gateway-metrics.ts'
import { hostPort, listen } from './http-listener.ts'
import { createChatListener } from './chat-listener.ts'
import { startOpsListener, type OpsListener } from './ops-listener.ts'

/** A running gateway. */
export interface Gateway {
  /** The TCP port it listens on. */
  readonly port: number
  /** `ws://host:port` for clients (`wss://` over TLS). */
  readonly url: string
  /** `http(s)://host:port/`: the web chat page. */
  readonly httpUrl: string
  /** `http(s)://host:port/` of the ops listener (dashboard, `/ops/api`, `/ops/events`, `/metrics`); undefined when off. */
  readonly opsUrl: string | undefined
  /** Sockets open now. */
  readonly connections: number
  /** Stops taking sockets, answers the calls in flight, unsubscribes, closes every socket (1001). Keeps `nc` and `feed` open. */
  close(): Promise<void>
}

/**
 * Starts a WebSocket gateway in front of the chat modules: clients send JSON call frames
 * (docs/gateway-protocol.md), the gateway calls the modules over `nc` with typed clients and
 * pushes messages delivered to the users logged in on its sockets. Several gateways may share one NATS.
 *
 * `feed` is the connection its tail of the message stream reads on: role `gateway-feed`, which may not answer
 * requests, so nats-server keeps no list of the stream's ack subjects for it (GATEWAY_FEED_PERMISSIONS says why
 * that matters under load). Against a server without permissions it may be `nc` itself.
 */
export async function startGateway(nc: NatsConnection, feed: NatsConnection, options?: GatewayOptions): Promise<Gateway> {
  const opts = resolveGatewayOptions(options)
  const positions = new FeedPositions(opts.feedKey)
  const registry = new SessionRegistry(nc, positions, opts.logger, (s) => endSession(s, 'fell too far behind while catching up: resume again'))
  const tail = new FeedTail(feed, (seq, entry) => registry.deliver(seq, entry), opts.logger)
  const clients = new Map<AnyContract, Client<AnyContract>>()
  const sessions = new Set<Session>()
  const limiter = new SendLimiter(opts.sendRate)
  const sendLimit = new AdaptiveLimit(opts.sendLimit)
  let inFlight = 0
  let idle: (() => void) | undefined
  let closing: Promise<void> | undefined
  const stats = new GatewayStats()
  const edge = new EdgeLimits(opts.edge)
  const metrics = new GatewayMetrics(() => sessions.size)
  /** Counts one answered frame, in the dashboard's row of the gateway and in the metrics; `error`: its code. */
  const record = (call: string, ms: number, error?: string) => {
    const name = countedCall(call)
    stats.record(name, ms, error)
    metrics.call(name, ms, error)
  }
  /** Counts a refusal of an edge limit. */
  const refused = (limit: EdgeLimit, call: string, code: string) => {
    metrics.refused(limit)
    record(call, 0, code)
  }
  // polls $SRV only once /ops is first asked for; lists this gateway from its own counters
  const monitor = new OpsMonitor(nc, {
    ...opts.ops,
    self: () => stats.micro(sessions.size),
    descriptions: { [GATEWAY_SERVICE]: 'WebSocket gateway (this process, from its own counters)' },
  })

  const clientOf = (contract: AnyContract) => {
    let c = clients.get(contract)
    if (c === undefined) clients.set(contract, (c = client(nc, contract, { timeout: opts.callTimeout, skew: { logger: opts.logger } })))
    return c
  }

  /**
   * The refusal of a rated call (a send, an edit...) past its sender's rate or the gateway's adaptive limit, made
   * before any module is asked and without an Error; undefined when it may go on (it then holds a slot of the limit,
   * which `call` releases).
   */
  const admit = (session: Session, frame: CallFrame): Refusal | undefined => {
    if (session.userId !== undefined) {
      const over = limiter.take(session.userId, frame.call)
      if (over !== undefined) return over
    }
    if (sendLimit.tryAcquire()) return undefined
    return refusal(
      `${frame.call}: the gateway has ${sendLimit.limit} such calls in flight, what the modules answer in time now: retry shortly`,
      sendLimit.options.windowMs,
    )
  }

  /** Makes the call of `frame`; `rated` when it holds a slot of the adaptive limit (see `admit`). */
  const call = async (session: Session, frame: CallFrame, rated: boolean): Promise<unknown> => {
    const t0 = performance.now()
    let congested = false
    try {
      if (frame.call === GatewayCall.resume) return await resume(session, frame.input)
      const target = CALLABLE.get(frame.call)
      if (target === undefined) throw new RpcError('UNIMPLEMENTED', `unknown call '${frame.call}'`)
      const token = session.token
      if (target.access === Access.auth && token === undefined) throw new RpcError('UNAUTHENTICATED', `${frame.call} needs a session: log in first`)
      const headers = target.access === Access.auth ? { Authorization: `Bearer ${token}` } : undefined
      const { input, after } = frame.call === 'user.login' ? withoutAfter(frame.input) : { input: frame.input, after: undefined }
      try {
        const result = await clientOf(target.contract).$call(target.method, input, { headers })
        return await afterCall(session, frame.call, token, result, after)
      } catch (err) {
        congested = err instanceof RpcError && CONGESTION.has(err.code)
        if (err instanceof RpcError && err.code === 'UNAUTHENTICATED' && token !== undefined && session.token === token) endSession(session, err.message)
        throw err
      }
    } finally {
      if (rated) sendLimit.release(performance.now() - t0, congested)
    }
  }

  const afterCall = async (session: Session, call: string, token: string | undefined, result: unknown, after: string | undefined): Promise<unknown> => {
    if (call === 'user.login') {
      const r = result as { token: string; userId: string }
      return { ...r, pos: await attach(session, r.userId, r.token, after) }
    }
    if (call === 'user.logout') {
      if (session.token === token) leave(session)
    } else if (call === 'message.offline' && Array.isArray(result) && session.userId !== undefined) {
      // what a session of this user here was pushed already is not news
      const userId = session.userId
      const sessions = [...registry.sessionsOf(userId)]
      const pushed = (seq: number) => sessions.some((s) => seq > s.since && seq <= s.lastSeq)
      return (result as ChatMessage[]).filter((m) => (m.pos === undefined || !pushed(positions.seqOf(userId, m.pos))) && session.firstSight(m.messageId))
    }
    return result
  }

  const resume = async (session: Session, input: unknown): Promise<unknown> => {
    const { token, after } = (input ?? {}) as { token?: unknown; after?: unknown }
    if (typeof token !== 'string') throw new RpcError('INVALID_ARGUMENT', 'session.resume needs { "token": string, "after"?: string }')
    if (after !== undefined && typeof after !== 'string') throw new RpcError('INVALID_ARGUMENT', 'session.resume: "after" must be a feed position (a string)')
    const who = (await clientOf(User).$call('verify', { token })) as { userId: string }
    return { ...who, pos: await attach(session, who.userId, token, after) }
  }

  /**
   * Logs the socket in as `userId` and, with `after`, first pushes what its feed holds after that position (through
   * `message.sync`), then what the stream's tail brought meanwhile: every entry once, in order, no gap between the
   * two (docs/delivery.md). Resolves with the position the session is at.
   */
  const attach = async (session: Session, userId: string, token: string, after: string | undefined): Promise<string> => {
    const from = after === undefined ? undefined : positions.seqOf(userId, after)
    session.holdLive()
    try {
      await registry.attach(session, userId, token)
      if (!sessions.has(session)) throw new RpcError('UNAVAILABLE', 'the socket closed')
      // the tail holds everything after its position back for this session: catching up may stop there
      const until = tail.ready ? tail.lastSeq : Number.POSITIVE_INFINITY
      session.since = from ?? (Number.isFinite(until) ? until : 0)
      if (from !== undefined) {
        session.lastSeq = from
        await catchUp(session, userId, token, after!, until)
      }
      session.live(Number.isFinite(until) ? until : session.lastSeq)
      return positions.of(userId, session.lastSeq)
    } catch (err) {
      session.dropHeld()
      registry.detach(session)
      throw err
    }
  }

  /** Pushes the feed of `userId` after `after` up to sequence `until`, page by page. */
  const catchUp = async (session: Session, userId: string, token: string, after: string, until: number): Promise<void> => {
    const messages = clientOf(MessageService) as unknown as Client<typeof MessageService>
    let cursor = after
    for (let page = 0; page < opts.maxCatchUpPages; page++) {
      const r = await messages.sync({ after: cursor, limit: CATCH_UP_PAGE }, { headers: { Authorization: `Bearer ${token}` } })
      for (const m of r.messages) {
        const seq = positions.seqOf(userId, m.pos!)
        if (seq > until) return
        session.replay(seq, messageFrame(m as ChatMessage))
      }
      cursor = r.pos
      // everything for the user up to the page's position has been sent
      const at = Math.min(positions.seqOf(userId, r.pos), until)
      if (at > session.lastSeq) session.lastSeq = at
      if (!r.more || at >= until) return
    }
    throw new RpcError(
      'RESOURCE_EXHAUSTED',
      `more than ${opts.maxCatchUpPages * CATCH_UP_PAGE} entries to catch up: resume from a later position, or reload from history`,
    )
  }

  /** The socket leaves its session: its feed position so far is noted, so message.offline skips what it was sent. */
  const leave = (session: Session) => {
    const { userId, token, lastSeq, since } = session
    registry.detach(session)
    if (userId === undefined || token === undefined || lastSeq <= since) return
    const messages = clientOf(MessageService) as unknown as Client<typeof MessageService>
    const seen = { from: positions.of(userId, since), pos: positions.of(userId, lastSeq) }
    messages.seen(seen, { headers: { Authorization: `Bearer ${token}` } }).catch(() => undefined)
  }

  const endSession = (session: Session, reason: string) => {
    registry.detach(session)
    session.send({ event: GatewayEvent.session, userId: null, reason })
  }

  const onFrame = async (session: Session, data: RawData, isBinary: boolean): Promise<void> => {
    const over = session.frames.take()
    if (over !== undefined) return refuseFrame(session, data, over)
    const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as Buffer)
    if (isBinary) return void session.send(errorReply(null, 'INVALID_ARGUMENT', 400, 'binary frames are not supported: send JSON text'))
    if (bytes.length > opts.maxFrameBytes) {
      return void session.send(errorReply(null, 'RESOURCE_EXHAUSTED', 429, `frame of ${bytes.length} bytes is over the limit of ${opts.maxFrameBytes}`))
    }
    const parsed = parseFrame(bytes.toString('utf8'))
    if (!parsed.ok) return void session.send(parsed.reply)
    const { frame } = parsed
    if (closing !== undefined) return void session.send(errorReply(frame.id, 'UNAVAILABLE', 503, 'gateway is shutting down: reconnect'))
    if (session.inFlight >= opts.maxInFlightPerSocket) {
      record(frame.call, 0, 'RESOURCE_EXHAUSTED')
      return void session.send(errorReply(frame.id, 'RESOURCE_EXHAUSTED', 429, `over ${opts.maxInFlightPerSocket} calls in flight on this socket`))
    }
    if (inFlight >= opts.maxInFlight) {
      record(frame.call, 0, 'RESOURCE_EXHAUSTED')
      return void session.send(errorReply(frame.id, 'RESOURCE_EXHAUSTED', 429, `the gateway has ${opts.maxInFlight} calls in flight: retry shortly`))
    }
    if (frame.call === REGISTER) {
      const limited = edge.register(session.address, frame.call)
      if (limited !== undefined) {
        refused(EdgeLimit.registrationsPerIp, frame.call, limited.code)
        return void session.send(errorReply(frame.id, limited.code, limited.status, limited.message, limited.data))
      }
    }
    // rated calls of a logged-in session; the others (and a session not logged in) get their answer from `call`
    const rated = RATED_CALLS.has(frame.call) && session.token !== undefined
    if (rated) {
      const refused = admit(session, frame)
      if (refused !== undefined) {
        record(frame.call, 0, refused.code)
        return void session.send(errorReply(frame.id, refused.code, refused.status, refused.message, refused.data))
      }
    }
    session.inFlight++
    inFlight++
    const t0 = performance.now()
    let failed: string | undefined
    try {
      session.send({ id: frame.id, ok: true, result: await call(session, frame, rated) })
    } catch (err) {
      if (err instanceof RpcError) session.send(rpcErrorReply(frame.id, err))
      else {
        opts.logger.error({ call: frame.call, err }, 'gateway call failed')
        session.send(errorReply(frame.id, 'INTERNAL', 500, 'internal error'))
      }
      failed = err instanceof RpcError ? err.code : 'INTERNAL'
    } finally {
      record(frame.call, performance.now() - t0, failed)
      session.inFlight--
      if (--inFlight === 0) idle?.()
    }
  }

  /**
   * A frame past its socket's rate: refused before it is decoded. A small one is parsed for its id, so the client
   * knows which call was refused; a big one is answered with id null.
   */
  const refuseFrame = (session: Session, data: RawData, over: Refusal) => {
    const size = Array.isArray(data) ? data.reduce((n, b) => n + b.length, 0) : (data as Buffer).length
    const parsed = size <= SMALL_FRAME_BYTES ? parseFrame(String(Array.isArray(data) ? Buffer.concat(data) : data)) : undefined
    const frame = parsed?.ok ? parsed.frame : undefined
    refused(EdgeLimit.framesPerSocket, frame?.call ?? 'other', over.code)
    session.send(errorReply(frame?.id ?? null, over.code, over.status, over.message, over.data))
  }

  const onConnection = (socket: WebSocket, address: string) => {
    const session = new Session(socket, opts.seenPerSession, opts.maxBufferedBytes, address, new FrameBudget(opts.edge.frameRate))
    sessions.add(session)
    socket.on('message', (data, isBinary) => void onFrame(session, data, isBinary).catch((err) => opts.logger.error({ err }, 'frame handling failed')))
    socket.on('error', (err) => opts.logger.debug({ err }, 'socket error'))
    socket.on('close', () => {
      sessions.delete(session)
      leave(session)
    })
    session.send({ event: GatewayEvent.hello, protocol: PROTOCOL_VERSION, maxFrameBytes: opts.maxFrameBytes })
  }

  const subs: Subscription[] = [
    nc.subscribe(ChatSubject.broadcast, {
      callback: (err, msg) => {
        if (err !== null) return
        const message = readMessage(msg, opts.logger)
        if (message !== undefined) reply(msg, { sessions: registry.broadcast(message) })
      },
    }),
    nc.subscribe(ChatSubject.online, { callback: (err, msg) => void (err === null && reply(msg, { userIds: registry.userIds() })) }),
  ]
  await nc.flush()
  void tail.start().catch((err: unknown) => opts.logger.error({ err }, 'cannot read the message stream'))

  const secure = opts.tls !== false
  const { http, wss } = createChatListener({
    tls: opts.tls,
    origins: opts.origins,
    edge,
    maxPayload: opts.hardFrameBytes,
    closing: () => closing !== undefined,
    onRefused: (r) => refused(r.limit, 'connect', r.status === 403 ? 'PERMISSION_DENIED' : 'RESOURCE_EXHAUSTED'),
    onConnection,
    logger: opts.logger,
  })
  let port: number
  let ops: OpsListener | undefined
  try {
    port = await listen(http, opts.host, opts.port, 'gateway port (GATEWAY_PORT)')
    if (opts.opsListen !== false) ops = await startOpsListener(monitor, metrics, opts.opsListen, opts.tls)
  } catch (err) {
    http.close()
    tail.stop()
    for (const s of subs) s.unsubscribe()
    throw err
  }

  const stop = async () => {
    await monitor.stop()
    ops?.close()
    http.close()
    wss.close()
    if (inFlight > 0) {
      let timer: ReturnType<typeof setTimeout> | undefined
      await Promise.race([new Promise<void>((r) => (idle = r)), new Promise<void>((r) => (timer = setTimeout(r, opts.stopTimeout)))])
      clearTimeout(timer)
    }
    for (const s of subs) s.unsubscribe()
    tail.stop()
    registry.clear()
    if (!nc.isClosed()) await nc.flush().catch(() => undefined)
    await Promise.all([...sessions].map((s) => closeSocket(s.socket)))
    http.closeAllConnections()
  }

  return {
    port,
    url: `${secure ? 'wss' : 'ws'}://${hostPort(opts.host, port)}`,
    httpUrl: `${secure ? 'https' : 'http'}://${hostPort(opts.host, port)}/`,
    opsUrl: ops?.url,
    get connections() {
      return sessions.size
    },
    close: () => (closing ??= stop()),
  }
}

/** Answers of a module that tell the adaptive limit the modules are overloaded. */
const CONGESTION: ReadonlySet<string> = new Set(['RESOURCE_EXHAUSTED', 'DEADLINE_EXCEEDED', 'UNAVAILABLE'])

/** What a frame's call is counted as: its name when the gateway knows it, else `other` (names are the client's). */
function countedCall(call: string): string {
  return CALLABLE.has(call) || call === GatewayCall.resume || call === 'connect' ? call : 'other'
}

/** Frames up to this size refused by their socket's rate are still parsed, for the id of the reply. */
const SMALL_FRAME_BYTES = 1_024

/** The call the registrations-per-address limit counts. */
const REGISTER = 'user.register'

/** Entries of one page of catching up. */
const CATCH_UP_PAGE = 200

/** `user.login`'s input without the gateway's own `after` (the position to catch up from). */
function withoutAfter(input: unknown): { input: unknown; after: string | undefined } {
  if (typeof input !== 'object' || input === null || !('after' in input)) return { input, after: undefined }
  const { after, ...rest } = input as { after?: unknown }
  if (typeof after !== 'string') throw new RpcError('INVALID_ARGUMENT', 'user.login: "after" must be a feed position (a string)')
  return { input: rest, after }
}

function closeSocket(socket: WebSocket): Promise<void> {
  if (socket.readyState === socket.CLOSED) return Promise.resolve()
  return new Promise((resolve) => {
    const timer = setTimeout(() => socket.terminate(), 1_000)
    socket.once('close', () => {
      clearTimeout(timer)
      resolve()
    })
    socket.close(1001, 'gateway shutting down')
  })
}
