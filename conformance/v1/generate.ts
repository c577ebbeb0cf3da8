/**
 * Writes the conformance files of wire protocol v1 (contract.json and the three vector files) from the tables
 * below: `npx tsx conformance/v1/generate.ts`. The JSON files are the artifact; test/conformance/ checks that they
 * are what this script writes. Well-formed bodies are encoded with the framework's codec; malformed ones are
 * written here byte by byte.
 */
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { encodeBody, SystemCode, type MethodsSpec } from 'switchboard'
import { infoOf, type MicroHost } from 'switchboard/internal'
import { Conformance } from './contract.ts'
import { hexOf, toTagged, type CallerVector, type Expect, type ReplySpec, type SrvVector, type Tagged, type WorkerVector } from './vectors.ts'

const PREFIX = 'rpc'
const SERVICE = Conformance.name
const SE = 'Nats-Service-Error'
const SEC = 'Nats-Service-Error-Code'
const UM = 'Rpc-Unknown-Method'
const INSTANCE = 'Rpc-Instance'

const R = {
  subjects: '§1 Subjects',
  srv: '§1 $SRV discovery (ADR-32)',
  body: '§2 Body',
  deadline: '§2 Rpc-Deadline',
  id: '§2 Rpc-Id',
  trace: '§2 traceparent, tracestate',
  auth: '§2 Authorization',
  envelope: '§3 Envelope',
  serviceError: '§3 Nats-Service-Error',
  instance: '§3 Rpc-Instance',
  unknown: '§3 Rpc-Unknown-Method',
  malformedReply: '§3 Malformed reply',
  noResponders: '§3 No responders',
  codes: '§4 System codes',
  declared: '§4 Declared codes',
  retries: '§5 Retries',
  pipeline: '§6.1 Worker pipeline',
  headerNames: '§6.5 Header names',
} as const

const enc = (v: unknown): string => hexOf(encodeBody(v))
/** Hex written with spaces between its parts, for reading. */
const hex = (s: string): string => s.replace(/\s+/g, '')
const str = (s: string): string => {
  const b = Buffer.from(s, 'utf8')
  if (b.length >= 32) throw new Error('fixstr only')
  return (0xa0 + b.length).toString(16) + b.toString('hex')
}

// ---- worker vectors -----------------------------------------------------------------------------------------

type Body = { readonly value: unknown } | { readonly hex: string; readonly malformed: string } | { readonly hex: string; readonly value: unknown }
const value = (v: unknown): Body => ({ value: v })
const bad = (h: string, malformed: string): Body => ({ hex: hex(h), malformed })
const EMPTY: Body = { hex: '', value: undefined }

interface W {
  readonly method: string
  readonly body: Body
  readonly headers?: Record<string, string>
  readonly instance?: boolean
  readonly note?: string
  readonly requires?: readonly string[]
}

function worker(name: string, rule: string, w: W, expect: Expect): WorkerVector {
  const b = w.body
  const bodyHex = 'hex' in b ? b.hex : enc(b.value)
  const body = 'malformed' in b ? undefined : b.value === undefined ? undefined : toTagged(b.value)
  return {
    name,
    rule,
    ...(w.note !== undefined && { note: w.note }),
    ...(w.requires !== undefined && { requires: w.requires }),
    request: {
      method: w.method,
      subject: `${PREFIX}.${SERVICE}.${w.method}${w.instance ? '.{id}' : ''}`,
      headers: w.headers ?? {},
      body_hex: bodyHex,
      ...(body !== undefined && { body }),
      ...('malformed' in b && { malformed: b.malformed }),
    },
    expect,
  }
}

function ok(result: unknown, more: Partial<Expect> = {}): Expect {
  return {
    status: 'OK',
    ...(result === undefined ? { result_absent: true as const } : { result: toTagged(result) }),
    ...more,
    headers_absent: [SE, SEC, UM, ...(more.headers_absent ?? [])],
  }
}

function err(code: string, number: number, more: Partial<Expect> = {}): Expect {
  const absent = [...(more.headers?.[UM] === undefined ? [UM] : []), ...(more.headers_absent ?? [])]
  return {
    status: code,
    ...more,
    headers: { [SEC]: String(number), ...more.headers },
    headers_present: [SE, ...(more.headers_present ?? [])],
    ...(absent.length > 0 && { headers_absent: absent }),
  }
}

const sys = (code: keyof typeof SystemCode, more?: Partial<Expect>) => err(code, SystemCode[code], more)
const declared = Conformance.methods.fail.errors
/** Nested arrays `levels` deep around 0. */
const nest = (levels: number): unknown => (levels === 0 ? 0 : [nest(levels - 1)])
const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'
const TRACESTATE = 'vendor=opaque,other=1'
const LONG_MESSAGE = `line one\r\nline two\nline three ${'x'.repeat(300)}`

export function workerVectors(): WorkerVector[] {
  const echo = (body: Body, more: Partial<W> = {}) => ({ method: 'echo', body, ...more })
  const fail = (input: unknown) => ({ method: 'fail', body: value(input) })
  const thrown = (code: string, message: string, data?: unknown) => fail({ kind: 'throw', code, message, ...(data !== undefined && { data }) })
  const invalid = (path: string, more: Partial<Expect> = {}) => sys('INVALID_ARGUMENT', { data_match: { issues: [{ path }] }, ...more })
  const notMsgpack = sys('INVALID_ARGUMENT')

  return [
    // §3 envelope, OK
    worker('ok: echo', R.envelope, { ...echo(value({ text: 'hi' })), note: 'the §8 example: body 81 a4 "text" a2 "hi"' }, ok({ text: 'hi' })),
    worker(
      'ok: every msgpack type in a body',
      R.body,
      echo(value({ text: 'héllo ✓', n: 7, nested: { list: [1, -1, 2.5, true, false, null, 'x', new Uint8Array([0, 255])], empty: {}, none: [] } })),
      ok({ text: 'héllo ✓', n: 7, nested: { list: [1, -1, 2.5, true, false, null, 'x', new Uint8Array([0, 255])], empty: {}, none: [] } }),
    ),
    worker(
      'ok: non-minimal encodings are read as their values',
      R.body,
      {
        method: 'echo',
        body: { hex: hex(`de 0002 ${str('text')} d9 02 6869 ${str('n')} cd 0005`), value: { text: 'hi', n: 5 } },
        note: 'map16, str8 and uint16 where a fixmap, a fixstr and a positive fixint would do',
      },
      ok({ text: 'hi', n: 5 }),
    ),
    worker(
      'ok: input fields the schema does not name are allowed',
      R.body,
      { ...echo(value({ text: 'hi', extra: 1 })), note: 'contract schemas are open (no additionalProperties: false); echo drops the field' },
      ok({ text: 'hi' }),
    ),
    worker(
      'ok: a method without input or output, empty body',
      R.body,
      { method: 'nothing', body: EMPTY, note: 'the empty body is undefined; no result: the envelope has no result key' },
      ok(undefined),
    ),

    // §2 the empty body and nil
    worker('invalid: empty body where an object is expected', R.body, { ...echo(EMPTY), note: 'the empty body is undefined, not {}' }, invalid('/')),
    worker('invalid: msgpack nil is a value, not the empty body', R.body, { method: 'nothing', body: value(null) }, invalid('/')),
    worker('invalid: an empty map where no value is expected', R.body, { method: 'nothing', body: value({}) }, invalid('/')),

    // §4 INVALID_ARGUMENT by schema, with data.issues
    worker('invalid: string over maxLength', R.codes, echo(value({ text: 'x'.repeat(65) })), invalid('/text')),
    worker('invalid: wrong type', R.codes, echo(value({ text: 5 })), invalid('/text')),
    worker(
      'invalid: missing required property',
      R.codes,
      { ...echo(value({ n: 1 })), note: 'a missing property is an issue of the object that lacks it: the root, path "/"' },
      invalid('/'),
    ),
    worker('invalid: integer over maximum', R.codes, echo(value({ text: 'a', n: 1001 })), invalid('/n')),
    worker('invalid: float where an integer is expected', R.codes, echo(value({ text: 'a', n: 1.5 })), invalid('/n')),
    worker('invalid: an array where an object is expected', R.codes, echo(value([1])), invalid('/')),

    // §2 bodies that are not valid msgpack
    worker(
      'malformed: truncated map',
      R.body,
      echo(bad(`81 ${str('te')}`, 'the map announces one entry; its key is cut short and its value missing')),
      notMsgpack,
    ),
    worker('malformed: trailing bytes', R.body, echo(bad(`81 ${str('text')} ${str('hi')} c0`, 'a complete map followed by one more value')), notMsgpack),
    worker('malformed: the never-used type byte 0xc1', R.body, echo(bad('c1', '0xc1 is not a msgpack type')), notMsgpack),
    worker('malformed: string longer than the body', R.body, echo(bad('a5 6869', 'a fixstr of 5 bytes with 2 bytes left')), notMsgpack),
    worker('malformed: a binary map key', R.body, echo(bad(`81 c4 04 74657874 ${str('hi')}`, 'map keys are strings')), notMsgpack),
    worker(
      'malformed: __proto__ key',
      R.body,
      echo(
        bad(
          `82 ${str('__proto__')} 81 ${str('admin')} c3 ${str('text')} ${str('hi')}`,
          '{"__proto__": {"admin": true}, "text": "hi"}: __proto__ keys are refused',
        ),
      ),
      notMsgpack,
    ),
    worker(
      'malformed: __proto__ key nested',
      R.body,
      echo(bad(`82 ${str('text')} ${str('hi')} ${str('nested')} 81 ${str('__proto__')} 80`, '{"text": "hi", "nested": {"__proto__": {}}}')),
      notMsgpack,
    ),

    // §2 depth
    worker(
      'depth: 64 levels are accepted',
      R.body,
      { ...echo(value({ text: 'd', nested: nest(63) })), note: 'the root map and 63 nested arrays: 64 containers, around the integer 0' },
      ok({ text: 'd', nested: nest(63) }),
    ),
    worker(
      'depth: 65 levels are refused',
      R.body,
      echo(bad(enc({ text: 'd', nested: nest(64) }), 'the root map and 64 nested arrays: 65 containers, deeper than 64 levels')),
      notMsgpack,
    ),
    worker('depth: 65 nested maps are refused', R.body, echo(bad(`${'81 a1 61 '.repeat(65)}00`, '{"a": {"a": … 0}} with 65 maps')), notMsgpack),

    // §2 extensions
    worker('ext: unknown extension type 5 as the body', R.body, echo(bad('d4 05 00', 'fixext1 of type 5')), notMsgpack),
    worker(
      'ext: unknown extension type 1 nested',
      R.body,
      echo(bad(`82 ${str('text')} ${str('x')} ${str('nested')} c7 03 01 616263`, 'ext8 of type 1 inside the input')),
      notMsgpack,
    ),
    worker(
      'ext: negative extension type other than -1',
      R.body,
      echo(bad(`82 ${str('text')} ${str('x')} ${str('nested')} d4 fe 00`, 'fixext1 of type -2')),
      notMsgpack,
    ),
    worker(
      'ext: timestamp 32 is a date',
      R.body,
      {
        method: 'echo',
        body: { hex: hex(`82 ${str('text')} ${str('t')} ${str('nested')} d6 ff 65920080`), value: { text: 't', nested: new Date('2024-01-01T00:00:00Z') } },
      },
      ok({ text: 't', nested: new Date('2024-01-01T00:00:00Z') }),
    ),
    worker(
      'ext: timestamp 64 is a date',
      R.body,
      {
        method: 'echo',
        body: {
          hex: hex(`82 ${str('text')} ${str('t')} ${str('nested')} d7 ff 3b9aca00 65920080`),
          value: { text: 't', nested: new Date('2024-01-01T00:00:00.250Z') },
        },
      },
      ok({ text: 't', nested: new Date('2024-01-01T00:00:00.250Z') }),
    ),
    worker(
      'ext: timestamp 96 is a date',
      R.body,
      {
        method: 'echo',
        body: { hex: hex(`82 ${str('text')} ${str('t')} ${str('nested')} c7 0c ff 00000000 ffffffffffffffff`), value: { text: 't', nested: new Date(-1000) } },
        note: 'one second before the epoch',
      },
      ok({ text: 't', nested: new Date(-1000) }),
    ),

    // §2 Rpc-Deadline
    worker('deadline: in the future', R.deadline, echo(value({ text: 'hi' }), { headers: { 'Rpc-Deadline': '{now+5000}' } }), ok({ text: 'hi' })),
    worker(
      'deadline: passed on arrival',
      R.deadline,
      { ...echo(value({ text: 'hi' }), { headers: { 'Rpc-Deadline': '{now-1000}' } }), note: 'answered without running the handler' },
      sys('DEADLINE_EXCEEDED'),
    ),
    worker(
      'deadline: equal to the time of sending',
      R.deadline,
      { ...echo(value({ text: 'hi' }), { headers: { 'Rpc-Deadline': '{now}' } }), note: 'at or past its deadline on arrival' },
      sys('DEADLINE_EXCEEDED'),
    ),
    worker('deadline: not a number', R.deadline, echo(value({ text: 'hi' }), { headers: { 'Rpc-Deadline': 'soon' } }), sys('INVALID_ARGUMENT')),
    worker('deadline: negative', R.deadline, echo(value({ text: 'hi' }), { headers: { 'Rpc-Deadline': '-5' } }), sys('INVALID_ARGUMENT')),
    ...(['0x19AC4C8F000', '1e13', '+9999999999999', '9999999999999.0'] as const).map((raw) =>
      worker(
        `deadline: not plain decimal digits (${raw.trim()})`,
        R.deadline,
        echo(value({ text: 'hi' }), { headers: { 'Rpc-Deadline': raw } }),
        sys('INVALID_ARGUMENT'),
      ),
    ),
    worker('deadline: zero', R.deadline, echo(value({ text: 'hi' }), { headers: { 'Rpc-Deadline': '0' } }), sys('INVALID_ARGUMENT')),
    worker('deadline: not an integer', R.deadline, echo(value({ text: 'hi' }), { headers: { 'Rpc-Deadline': '{now+5000}.5' } }), sys('INVALID_ARGUMENT')),
    worker(
      'deadline: a handler that finishes in time',
      R.deadline,
      { method: 'slow', body: value({ ms: 20 }), headers: { 'Rpc-Deadline': '{now+3000}' } },
      ok({ slept: 20 }),
    ),
    worker(
      'deadline: a result ready after the deadline is not sent',
      R.deadline,
      { method: 'slow', body: value({ ms: 300 }), headers: { 'Rpc-Deadline': '{now+100}' }, note: 'the handler returns 200 ms after the deadline' },
      sys('DEADLINE_EXCEEDED'),
    ),
    worker(
      'headers: names are case-sensitive',
      R.headerNames,
      { ...echo(value({ text: 'hi' }), { headers: { 'rpc-deadline': '0' } }), note: 'rpc-deadline is not Rpc-Deadline: ignored, so no deadline' },
      ok({ text: 'hi' }),
    ),
    worker('headers: unknown headers are ignored', R.headerNames, echo(value({ text: 'hi' }), { headers: { 'X-Conformance': 'yes' } }), ok({ text: 'hi' })),

    // §2 Rpc-Id, trace context, Authorization
    worker('id: the handler sees Rpc-Id', R.id, { method: 'ids', body: value({}), headers: { 'Rpc-Id': 'conformance-id-1' } }, ok({ id: 'conformance-id-1' })),
    worker('id: made by the worker when absent', R.id, { method: 'ids', body: value({}) }, ok({}, { result_match: { '/id': '^.+$' } })),
    worker(
      'trace: the handler sees traceparent and tracestate',
      R.trace,
      { method: 'ids', body: value({}), headers: { 'Rpc-Id': 't-1', traceparent: TRACEPARENT, tracestate: TRACESTATE } },
      ok({ id: 't-1', traceparent: TRACEPARENT, tracestate: TRACESTATE }),
    ),
    worker(
      'auth: the handler sees Authorization',
      R.auth,
      { method: 'ids', body: value({}), headers: { 'Rpc-Id': 'a-1', Authorization: 'Bearer conformance-token' } },
      ok({ id: 'a-1', authorization: 'Bearer conformance-token' }),
    ),
    worker(
      'nested: a nested call gets <Rpc-Id>.1',
      R.id,
      {
        method: 'ids',
        body: value({ nested: true }),
        headers: { 'Rpc-Id': 'parent-7' },
        requires: ['nested-calls'],
        note: "the nested call's deadline is its client's own timeout",
      },
      ok({ id: 'parent-7', nested: { id: 'parent-7.1' } }, { result_match: { '/nested/deadline': '^[1-9][0-9]*$' } }),
    ),
    worker(
      'nested: a nested call inherits the deadline',
      R.deadline,
      {
        method: 'ids',
        body: value({ nested: true }),
        headers: { 'Rpc-Id': 'parent-8', 'Rpc-Deadline': '{now+2000}' },
        requires: ['nested-calls'],
        note: "assumes the nested client's own timeout is longer than 2 s",
      },
      ok({ id: 'parent-8', deadline: '{now+2000}', nested: { id: 'parent-8.1', deadline: '{now+2000}' } }),
    ),
    worker(
      'nested: trace context is passed on',
      R.trace,
      {
        method: 'ids',
        body: value({ nested: true }),
        headers: { 'Rpc-Id': 'parent-9', traceparent: TRACEPARENT, tracestate: TRACESTATE },
        requires: ['nested-calls'],
      },
      ok(
        { id: 'parent-9', traceparent: TRACEPARENT, tracestate: TRACESTATE, nested: { id: 'parent-9.1', tracestate: TRACESTATE } },
        {
          result_match: {
            '/nested/deadline': '^[1-9][0-9]*$',
            '/nested/traceparent': '^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-[0-9a-f]{2}$',
          },
        },
      ),
    ),
    worker(
      'nested: Authorization is passed on',
      R.auth,
      {
        method: 'ids',
        body: value({ nested: true }),
        headers: { 'Rpc-Id': 'parent-10', Authorization: 'Bearer conformance-token' },
        requires: ['nested-calls'],
      },
      ok(
        { id: 'parent-10', authorization: 'Bearer conformance-token', nested: { id: 'parent-10.1', authorization: 'Bearer conformance-token' } },
        { result_match: { '/nested/deadline': '^[1-9][0-9]*$' } },
      ),
    ),

    // §3 unknown methods, §1 instance subjects
    worker(
      'unknown method: UNIMPLEMENTED with Rpc-Unknown-Method',
      R.unknown,
      { method: 'nosuch', body: value({}), note: 'through the catch-all <prefix>.<service>.*' },
      sys('UNIMPLEMENTED', { headers: { [UM]: 'nosuch' } }),
    ),
    worker(
      'unknown method: answered before the body is read',
      R.unknown,
      { method: 'nosuch', body: bad('c1', 'not msgpack; the method is unknown first') },
      sys('UNIMPLEMENTED', { headers: { [UM]: 'nosuch' } }),
    ),
    worker(
      'unknown method: an UNIMPLEMENTED a handler throws has no Rpc-Unknown-Method',
      R.unknown,
      thrown('UNIMPLEMENTED', 'not in this edition'),
      sys('UNIMPLEMENTED', { message: 'not in this edition' }),
    ),
    worker(
      'instance: a queue-group reply names the instance',
      R.instance,
      { ...echo(value({ text: 'hi' })), requires: ['instance-subjects'] },
      ok({ text: 'hi' }, { headers: { [INSTANCE]: '{id}' } }),
    ),
    worker(
      'instance: a queue-group error reply names the instance',
      R.instance,
      { ...thrown('GONE', 'gone'), requires: ['instance-subjects'] },
      err('GONE', 410, { headers: { [INSTANCE]: '{id}' } }),
    ),
    worker(
      'instance: a call on the instance subject',
      R.subjects,
      {
        ...echo(value({ text: 'hi' }), { instance: true }),
        requires: ['instance-subjects'],
        note: 'replies to calls on an instance subject do not repeat Rpc-Instance',
      },
      ok({ text: 'hi' }, { headers_absent: [INSTANCE] }),
    ),
    worker(
      'instance: an unknown method on the instance subject',
      R.unknown,
      { method: 'nosuch', body: value({}), instance: true, requires: ['instance-subjects'] },
      sys('UNIMPLEMENTED', { headers: { [UM]: 'nosuch' }, headers_absent: [INSTANCE] }),
    ),

    // §4 declared codes
    worker(
      'declared: a code with data',
      R.declared,
      thrown('OUT_OF_STOCK', 'no more A-1', { sku: 'A-1', left: 0 }),
      err('OUT_OF_STOCK', declared.OUT_OF_STOCK.status, { message: 'no more A-1', data: { sku: 'A-1', left: 0 } }),
    ),
    worker(
      'declared: a code without data',
      R.declared,
      thrown('GONE', 'gone for good'),
      err('GONE', declared.GONE.status, { message: 'gone for good', data_absent: true }),
    ),
    worker(
      'declared: a system code declared with a data schema',
      R.declared,
      thrown('FAILED_PRECONDITION', 'version moved', { version: 3 }),
      sys('FAILED_PRECONDITION', { message: 'version moved', data: { version: 3 } }),
    ),
    worker(
      'declared: a system code declared with a data schema, thrown with data that fails it, is INTERNAL',
      R.declared,
      thrown('FAILED_PRECONDITION', 'secret detail', { version: 'three' }),
      sys('INTERNAL', { message_excludes: 'secret', data_absent: true }),
    ),
    worker(
      'declared: data that fails its schema is INTERNAL',
      R.declared,
      thrown('OUT_OF_STOCK', 'secret detail', { sku: 7 }),
      sys('INTERNAL', { message_excludes: 'secret', data_absent: true }),
    ),

    // §4 INTERNAL
    worker('internal: an undeclared code', R.codes, thrown('TEAPOT', 'secret detail'), sys('INTERNAL', { message_excludes: 'secret', data_absent: true })),
    worker(
      'internal: a plain exception',
      R.codes,
      fail({ kind: 'crash', message: 'secret detail' }),
      sys('INTERNAL', { message_excludes: 'secret', data_absent: true }),
    ),
    worker('internal: output that fails its schema', R.codes, fail({ kind: 'bad-output' }), sys('INTERNAL', { data_absent: true })),
    worker('internal: the handler ran and returned', R.codes, fail({ kind: 'ok' }), ok({ done: true })),

    // §4 system codes a handler throws pass as they are
    ...(
      [
        'INVALID_ARGUMENT',
        'UNAUTHENTICATED',
        'PERMISSION_DENIED',
        'NOT_FOUND',
        'ALREADY_EXISTS',
        'RESOURCE_EXHAUSTED',
        'CANCELLED',
        'INTERNAL',
        'UNAVAILABLE',
        'DEADLINE_EXCEEDED',
      ] as const
    ).map((code) =>
      worker(
        `system: a handler throws ${code}`,
        R.codes,
        thrown(code, `handler says ${code}`),
        sys(code, { message: `handler says ${code}`, data_absent: true }),
      ),
    ),
    worker(
      'system: a system code a handler throws keeps its data',
      R.codes,
      thrown('NOT_FOUND', 'no such item', { id: 'x-1' }),
      sys('NOT_FOUND', { message: 'no such item', data: { id: 'x-1' } }),
    ),

    // §3 Nats-Service-Error, §4 reply over max_payload
    worker(
      'service error: CR/LF become spaces, at most 256 characters',
      R.serviceError,
      { ...thrown('GONE', LONG_MESSAGE), note: 'a run of CR and LF characters becomes one space; the envelope keeps the message as it is' },
      err('GONE', declared.GONE.status, { message: LONG_MESSAGE, headers: { [SE]: LONG_MESSAGE.replace(/[\r\n]+/g, ' ').slice(0, 256) } }),
    ),
    worker(
      'resource exhausted: a reply over max_payload',
      R.codes,
      { method: 'big', body: value({ bytes: 2_000_000 }), note: "assumes the server's default max_payload of 1 MiB" },
      sys('RESOURCE_EXHAUSTED'),
    ),
  ]
}

// ---- caller vectors -----------------------------------------------------------------------------------------

const reply = (v: unknown, headers?: Record<string, string>, malformed?: string): ReplySpec => ({
  ...(headers !== undefined && { headers }),
  body_hex: enc(v),
  body: toTagged(v),
  ...(malformed !== undefined && { malformed }),
})
const okReply = (result: unknown): ReplySpec => reply({ status: 'OK', result })
const errReply = (code: string, message: string, number: number, data?: unknown): ReplySpec =>
  reply({ status: code, message, ...(data !== undefined && { data }) }, { [SE]: message, [SEC]: String(number) })
const rawReply = (h: string, malformed: string, headers?: Record<string, string>): ReplySpec => ({ ...(headers && { headers }), body_hex: hex(h), malformed })
const NO_RESPONDERS: ReplySpec = { status_line: '503', body_hex: '' }
const MALFORMED = { status: 'INTERNAL', number: 500, message_contains: 'malformed reply' } as const

function caller(
  name: string,
  rule: string,
  method: string,
  input: unknown,
  replies: ReplySpec[],
  expect: CallerVector['expect'],
  more: Partial<CallerVector> = {},
): CallerVector {
  const call = { method, ...(input !== undefined && { input: toTagged(input) }), timeout_ms: more.call?.timeout_ms ?? 2000 }
  return { name, rule, ...more, call, replies, expect }
}

export function callerVectors(): CallerVector[] {
  const hi = { text: 'hi' }
  const throwIt = { kind: 'throw' }
  const once = { requests: 1 }
  return [
    caller('ok: the result', R.envelope, 'echo', hi, [okReply(hi)], {
      status: 'OK',
      result: hi,
      requests: 1,
      request: { body: hi, headers_present: ['Rpc-Id'] },
    }),
    caller('ok: result before status', R.envelope, 'echo', hi, [reply({ result: hi, status: 'OK' })], { status: 'OK', result: hi }, { note: 'any key order' }),
    caller('ok: unknown envelope keys are ignored', R.envelope, 'echo', hi, [reply({ status: 'OK', result: hi, extra: 1 })], { status: 'OK', result: hi }),
    caller('ok: no result is undefined', R.envelope, 'nothing', undefined, [reply({ status: 'OK' })], {
      status: 'OK',
      result_absent: true,
      request: { body_hex: '' },
    }),
    caller(
      'ok: a nil result is null',
      R.envelope,
      'echo',
      hi,
      [okReply(null)],
      { status: 'OK', result: null },
      { note: 'the caller does not check results against the output schema' },
    ),
    caller('ok: a timestamp in the result is a date', R.envelope, 'echo', hi, [okReply({ text: 'hi', nested: new Date('2024-01-01T00:00:00Z') })], {
      status: 'OK',
      result: toTagged({ text: 'hi', nested: new Date('2024-01-01T00:00:00Z') }),
    }),
    caller('error: a declared code with data', R.declared, 'fail', throwIt, [errReply('OUT_OF_STOCK', 'no more A-1', 409, { sku: 'A-1', left: 0 })], {
      status: 'OUT_OF_STOCK',
      number: 409,
      message: 'no more A-1',
      data: { sku: 'A-1', left: 0 },
      ...once,
    }),
    caller('error: a declared code without data', R.declared, 'fail', throwIt, [errReply('GONE', 'gone for good', 410)], {
      status: 'GONE',
      number: 410,
      message: 'gone for good',
      data_absent: true,
    }),
    caller(
      'error: a system code with data',
      R.codes,
      'fail',
      throwIt,
      [
        errReply('INVALID_ARGUMENT', 'invalid input for conformance.fail: /kind must be string', 400, {
          issues: [{ path: '/kind', message: 'must be string' }],
        }),
      ],
      { status: 'INVALID_ARGUMENT', number: 400, data: { issues: [{ path: '/kind', message: 'must be string' }] } },
    ),
    ...(Object.keys(SystemCode) as (keyof typeof SystemCode)[]).map((code) =>
      caller(
        `error: the envelope of ${code}`,
        R.codes,
        'fail',
        throwIt,
        [errReply(code, `a ${code} answer`, SystemCode[code])],
        { status: code, number: SystemCode[code], message_contains: `a ${code} answer`, requests: 1 },
        { note: 'a method that is not idempotent: no retry, whatever the code' },
      ),
    ),
    caller(
      'error: the envelope decides, not the headers',
      R.codes,
      'fail',
      throwIt,
      [reply({ status: 'NOT_FOUND', message: 'no such item' }, { [SE]: 'something else', [SEC]: '400' })],
      { status: 'NOT_FOUND', number: 404, message: 'no such item' },
      { note: "a system code's number is its number in §4 whatever Nats-Service-Error-Code says" },
    ),
    caller(
      'error: an unknown code with a number',
      R.codes,
      'fail',
      throwIt,
      [errReply('TEAPOT', 'short and stout', 418)],
      { status: 'TEAPOT', number: 418, message: 'short and stout' },
      { note: 'not defined by protocol.md: reported as it is, its number from Nats-Service-Error-Code (see README)' },
    ),
    caller(
      'error: an unknown code without a number',
      R.codes,
      'fail',
      throwIt,
      [reply({ status: 'TEAPOT', message: 'short and stout' })],
      { status: 'TEAPOT', number: 500, message: 'short and stout' },
      { note: 'not defined by protocol.md: without Nats-Service-Error-Code the number is 500 (see README)' },
    ),

    // §3 malformed replies
    caller('malformed: an array', R.malformedReply, 'echo', hi, [reply([1, 2], undefined, 'not a map')], MALFORMED),
    caller('malformed: a string', R.malformedReply, 'echo', hi, [reply('OK', undefined, 'not a map')], MALFORMED),
    caller('malformed: an integer', R.malformedReply, 'echo', hi, [reply(200, undefined, 'not a map')], MALFORMED),
    caller('malformed: no status', R.malformedReply, 'echo', hi, [reply({ result: hi }, undefined, 'no status')], MALFORMED),
    caller(
      'malformed: a status that is not a string',
      R.malformedReply,
      'echo',
      hi,
      [reply({ status: 200, result: hi }, undefined, 'status is an integer')],
      MALFORMED,
    ),
    caller('malformed: an error without message', R.malformedReply, 'fail', throwIt, [reply({ status: 'GONE' }, { [SEC]: '410' }, 'no message')], MALFORMED),
    caller(
      'malformed: a message that is not a string',
      R.malformedReply,
      'fail',
      throwIt,
      [reply({ status: 'GONE', message: null }, undefined, 'message is nil')],
      MALFORMED,
    ),
    caller(
      'malformed: not msgpack',
      R.malformedReply,
      'echo',
      hi,
      [rawReply(`82 ${str('status')} ${str('OK')} ${str('result')}`, 'truncated: the result is missing')],
      MALFORMED,
    ),
    caller('malformed: an empty body without status 503', R.malformedReply, 'echo', hi, [{ body_hex: '', malformed: 'empty' }], MALFORMED),

    // §3 no responders, §5 retries
    caller(
      'no responders: UNAVAILABLE',
      R.noResponders,
      'fail',
      throwIt,
      [NO_RESPONDERS],
      { status: 'UNAVAILABLE', number: 503, ...once },
      { note: 'what nats-server sends when nobody subscribes the subject: status 503, no body; fail is not idempotent, so it is not retried' },
    ),
    caller(
      'retry: an idempotent method is retried on no responders',
      R.retries,
      'echo',
      hi,
      [NO_RESPONDERS, okReply(hi)],
      { status: 'OK', result: hi, requests: 2, same_rpc_id: true, request: { headers_present: ['Rpc-Id', 'Rpc-Deadline'] } },
      { requires: ['retries'] },
    ),
    caller(
      'retry: an idempotent method is retried on UNAVAILABLE',
      R.retries,
      'echo',
      hi,
      [errReply('UNAVAILABLE', 'busy', 503), okReply(hi)],
      { status: 'OK', result: hi, requests: 2, same_rpc_id: true, request: { headers_present: ['Rpc-Id', 'Rpc-Deadline'] } },
      { requires: ['retries'] },
    ),
    caller(
      'retry: an idempotent method is retried on DEADLINE_EXCEEDED',
      R.retries,
      'echo',
      hi,
      [errReply('DEADLINE_EXCEEDED', 'late', 504), okReply(hi)],
      { status: 'OK', result: hi, requests: 2, same_rpc_id: true },
      { requires: ['retries'] },
    ),
    caller('retry: a method not idempotent is not retried', R.retries, 'fail', throwIt, [errReply('UNAVAILABLE', 'busy', 503), okReply({ done: true })], {
      status: 'UNAVAILABLE',
      number: 503,
      message: 'busy',
      ...once,
    }),
    caller('retry: INTERNAL is not retried', R.retries, 'echo', hi, [errReply('INTERNAL', 'internal error', 500), okReply(hi)], {
      status: 'INTERNAL',
      number: 500,
      message: 'internal error',
      ...once,
    }),
    caller(
      'deadline: no reply in time',
      R.deadline,
      'fail',
      throwIt,
      [{ silent: true }],
      { status: 'DEADLINE_EXCEEDED', number: 504, ...once },
      { call: { method: 'fail', input: throwIt, timeout_ms: 300 } },
    ),
    caller(
      'unknown method: UNIMPLEMENTED with Rpc-Unknown-Method',
      R.unknown,
      'fail',
      throwIt,
      [errReply('UNIMPLEMENTED', 'conformance 0.9.0 has no method fail', 501)].map((r) => ({ ...r, headers: { ...r.headers, [UM]: 'fail' } })),
      { status: 'UNIMPLEMENTED', number: 501, requests_max: 17 },
      { note: 'the call did not run: a caller may send it on to other instances (at most 16 more times, §7 item 6) before it reports UNIMPLEMENTED' },
    ),
    caller(
      'unknown method: an UNIMPLEMENTED without the header is not sent again',
      R.unknown,
      'fail',
      throwIt,
      [errReply('UNIMPLEMENTED', 'not in this edition', 501)],
      {
        status: 'UNIMPLEMENTED',
        number: 501,
        message: 'not in this edition',
        ...once,
      },
    ),
    caller(
      'client: input that fails the schema is not sent',
      R.codes,
      'echo',
      { text: 5 },
      [okReply(hi)],
      { status: 'INVALID_ARGUMENT', number: 400, data_match: { issues: [{ path: '/text' }] }, requests: 0 },
      { requires: ['input-validation'], note: 'the client checks input before sending (§4 INVALID_ARGUMENT, given by client)' },
    ),
  ]
}

// ---- $SRV vectors and contract.json -------------------------------------------------------------------------

/** The INFO reply of the conformance service, with `{id}` for the instance id. */
export function referenceInfo() {
  const host: MicroHost = { id: '{id}', contract: Conformance, started: new Date(0), options: { prefix: PREFIX, queue: undefined }, stats: () => [] }
  return infoOf(host)
}

export function contractJson() {
  const info = referenceInfo()
  const methods = Object.fromEntries(
    Object.entries(Conformance.methods as MethodsSpec).map(([name, spec]) => {
      return [
        name,
        {
          subject: `${PREFIX}.${SERVICE}.${name}`,
          idempotent: spec.idempotent === true,
          description: spec.description,
          input: JSON.parse(JSON.stringify(spec.input)),
          output: JSON.parse(JSON.stringify(spec.output)),
          errors: JSON.parse(JSON.stringify(spec.errors ?? {})),
        },
      ]
    }),
  )
  return {
    $comment:
      'The conformance contract of wire protocol v1 (conformance/v1/contract.ts) as data. methods: its JSON Schemas, readable; info: the $SRV.INFO reply a worker of it sends, exactly, with {id} for its instance id (the metadata strings, hashes included, are what INFO publishes). Written by generate.ts.',
    name: Conformance.name,
    version: Conformance.version,
    description: Conformance.description,
    prefix: PREFIX,
    queue_group: SERVICE,
    methods,
    info,
  }
}

const STAT_FIELDS = {
  name: 'string',
  subject: 'string',
  num_requests: 'integer',
  num_errors: 'integer',
  last_error: 'string',
  processing_time: 'integer',
  average_processing_time: 'integer',
}

export function srvVectors(): SrvVector[] {
  const info = referenceInfo()
  const identity = (type: string) => ({ type, name: info.name, id: '{id}', version: info.version, metadata: info.metadata as unknown as Tagged })
  const forms = (verb: string) => [`$SRV.${verb}`, `$SRV.${verb}.${SERVICE}`, `$SRV.${verb}.${SERVICE}.{id}`]
  const names = Object.keys(Conformance.methods)
  return [
    ...forms('PING').map((subject) => ({
      name: `ping: ${subject}`,
      rule: R.srv,
      request: { subject },
      expect: { schema: 'ping_response.json', json: identity('io.nats.micro.v1.ping_response') },
    })),
    ...forms('INFO').map((subject) => ({
      name: `info: ${subject}`,
      rule: R.srv,
      note: 'every method is an endpoint: subject <prefix>.<service>.<method>, queue group <service>, its schemas, declared errors and hashes in metadata',
      request: { subject },
      expect: { schema: 'info_response.json', json_ref: 'contract.json#/info' },
    })),
    ...forms('STATS').map((subject) => ({
      name: `stats: ${subject}`,
      rule: R.srv,
      note: 'started is RFC 3339; times in nanoseconds',
      request: { subject },
      expect: {
        schema: 'stats_response.json',
        match: identity('io.nats.micro.v1.stats_response'),
        endpoint_names: names,
        endpoint_fields: STAT_FIELDS,
      },
    })),
    {
      name: 'stats: a call is counted',
      rule: R.srv,
      request: { subject: `$SRV.STATS.${SERVICE}.{id}` },
      after_call: { method: 'echo', body_hex: enc({ text: 'hi' }), body: { text: 'hi' } },
      expect: { schema: 'stats_response.json', endpoint: 'echo', num_requests_delta: 1, num_errors_delta: 0 },
    },
    {
      name: 'stats: an error is counted, with last_error "<number>:<message>"',
      rule: R.srv,
      request: { subject: `$SRV.STATS.${SERVICE}.{id}` },
      after_call: {
        method: 'fail',
        body_hex: enc({ kind: 'throw', code: 'GONE', message: 'gone for good' }),
        body: { kind: 'throw', code: 'GONE', message: 'gone for good' },
      },
      expect: { schema: 'stats_response.json', endpoint: 'fail', num_requests_delta: 1, num_errors_delta: 1, last_error: '410:gone for good' },
    },
    {
      name: 'ping: another service name gets no reply',
      rule: R.srv,
      request: { subject: '$SRV.PING.nobody' },
      expect: { no_reply: true },
    },
  ]
}

// ---- files --------------------------------------------------------------------------------------------------

const COMMENTS = {
  worker:
    'Requests a worker of the conformance contract (contract.json) must answer as expect says. See conformance/README.md for the fields, placeholders and checks. Written by generate.ts.',
  caller:
    'Replies a caller of the conformance contract receives (from a fake responder) and what it must report. See conformance/README.md. Written by generate.ts.',
  srv: 'NATS micro discovery requests a worker of the conformance contract must answer. See conformance/README.md. Written by generate.ts.',
}

function file<V>(comment: string, vectors: V[]) {
  return { $comment: comment, protocol: 1 as const, service: SERVICE, prefix: PREFIX, vectors }
}

/**
 * JSON with one vector per object: the file's own keys and each vector's keys one per line, deeper values on one
 * line (contract.json is plain 2-space JSON).
 */
export function formatVectors(doc: { vectors: readonly unknown[] } & Record<string, unknown>): string {
  const line = (v: unknown) => JSON.stringify(v)
  const head = Object.entries(doc)
    .filter(([k]) => k !== 'vectors')
    .map(([k, v]) => `  ${line(k)}: ${line(v)},`)
  const vectors = doc.vectors.map((vector) => {
    const fields = Object.entries(vector as Record<string, unknown>).map(([k, v]) => {
      if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
        const inner = Object.entries(v).map(([ik, iv]) => `        ${line(ik)}: ${line(iv)}`)
        return `      ${line(k)}: {\n${inner.join(',\n')}\n      }`
      }
      return `      ${line(k)}: ${line(v)}`
    })
    return `    {\n${fields.join(',\n')}\n    }`
  })
  return `{\n${head.join('\n')}\n  "vectors": [\n${vectors.join(',\n')}\n  ]\n}\n`
}

/** Every file this script writes, by name, with its text. */
export function files(): Record<string, string> {
  return {
    'contract.json': `${JSON.stringify(contractJson(), null, 2)}\n`,
    'worker-vectors.json': formatVectors(file(COMMENTS.worker, workerVectors())),
    'caller-vectors.json': formatVectors(file(COMMENTS.caller, callerVectors())),
    'srv-vectors.json': formatVectors(file(COMMENTS.srv, srvVectors())),
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const [name, text] of Object.entries(files())) {
    await writeFile(join(import.meta.dirname, name), text)
    console.log(`wrote conformance/v1/${name}`)
  }
}
