import type { NatsConnection } from '@nats-io/nats-core'
import type { Worker } from 'switchboard'
import { startAdminWorker } from '../admin/worker.ts'
import { startFriendWorker } from '../friend/worker.ts'
import { startGroupWorker } from '../group/worker.ts'
import { startMessageWorker } from '../message/worker.ts'
import { startUserWorker } from '../user/worker.ts'
import type { ChatOptions } from './options.ts'

/** Starts one worker of a chat module on a connection. */
export type StartModule = (nc: NatsConnection, options?: Partial<ChatOptions>) => Promise<Worker>

/** The chat modules, by name; each runs as its own process (`npm run worker -- <name>`). */
export const MODULES = {
  user: startUserWorker,
  friend: startFriendWorker,
  group: startGroupWorker,
  message: startMessageWorker,
  admin: startAdminWorker,
} as const satisfies Record<string, StartModule>
export type ModuleName = keyof typeof MODULES

/** Every module name, in start order (user first: the others call it). */
export const MODULE_NAMES = Object.keys(MODULES) as ModuleName[]

export function isModuleName(s: string | undefined): s is ModuleName {
  return s !== undefined && Object.hasOwn(MODULES, s)
}
