import type { NatsConnection } from '@nats-io/nats-core'
import { nuid } from '@nats-io/nats-core'
import type { KV } from '@nats-io/kv'
import { encodeBody } from 'switchboard'
import { isConflict, listKeys, openBucket, readValue, writeValue } from '../shared/state.ts'
import { hashPassword } from './password.ts'

export const ACCOUNTS_BUCKET = 'sb_accounts'

/** A stored account. `password` is a salted scrypt hash; it never leaves the user module. */
export interface Account {
  readonly userId: string
  readonly username: string
  readonly role: 'user' | 'admin'
  readonly password: string
  readonly createdAt: number
}

/** Accounts in a KV bucket: `u.<username>` holds the account, `i.<userId>` the username. */
export class Accounts {
  private constructor(readonly kv: KV) {}

  static async open(nc: NatsConnection, replicas: number): Promise<Accounts> {
    return new Accounts(await openBucket(nc, ACCOUNTS_BUCKET, replicas))
  }

  /** Creates an account; returns undefined when the username is taken. */
  async create(username: string, password: string, role: Account['role'] = 'user'): Promise<Account | undefined> {
    const account: Account = { userId: nuid.next(), username, role, password: await hashPassword(password), createdAt: Date.now() }
    await writeValue(this.kv, `i.${account.userId}`, username)
    try {
      await this.kv.create(`u.${username}`, encodeBody(account))
    } catch (err) {
      await this.kv.delete(`i.${account.userId}`).catch(() => undefined)
      if (isConflict(err)) return undefined
      throw err
    }
    return account
  }

  /** Creates the account, or resets the password and role of an existing one (keeping its userId). */
  async upsert(username: string, password: string, role: Account['role']): Promise<Account> {
    const created = await this.create(username, password, role)
    if (created !== undefined) return created
    const cur = (await this.byName(username))!
    const account: Account = { ...cur, role, password: await hashPassword(password) }
    await writeValue(this.kv, `u.${username}`, account)
    return account
  }

  async byName(username: string): Promise<Account | undefined> {
    return (await readValue<Account>(this.kv, `u.${username}`))?.value
  }

  async byId(userId: string): Promise<Account | undefined> {
    const name = (await readValue<string>(this.kv, `i.${userId}`))?.value
    if (name === undefined) return undefined
    const account = await this.byName(name)
    return account?.userId === userId ? account : undefined
  }

  /** How many accounts exist. */
  async count(): Promise<number> {
    return (await listKeys(this.kv, 'u.>')).length
  }
}
