/** The other frameworks bench:peers runs the echo workload through. */
export const PEERS = ['moleculer', 'nest'] as const
export type Peer = (typeof PEERS)[number]

/** Moleculer (fastest-validator) params schema equal to BenchEcho.echo's input schema. */
export const ECHO_PARAMS = { seq: { type: 'number', integer: true, min: 0 }, text: 'string', tags: { type: 'array', items: 'string' } } as const

/** Whether a framework's packages are installed (NestJS is an optional dev dependency). */
export async function available(peer: Peer): Promise<boolean> {
  try {
    if (peer === 'moleculer') await import('moleculer')
    else await Promise.all([import('@nestjs/core'), import('@nestjs/microservices'), import('reflect-metadata')])
    return true
  } catch {
    return false
  }
}
