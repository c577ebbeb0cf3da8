/** Slots of a new table; it doubles while half full and halves on `compact()` while an eighth full. */
const MIN_SLOTS = 64

/** What a table holds: anything with a `token` field for the table to set. */
export interface Tokened {
  token: number
}

/**
 * Entries by token in a direct-mapped array of slots (token & mask), where a new entry takes the next token whose
 * slot is free: the Caller's calls waiting for a reply, the Worker's contexts whose signal exists. Tokens only grow,
 * so a late reply to a finished call finds another token in its slot, or none.
 *
 * Not a `Map`: a `Map` that gains and loses an entry per call rehashes its table every few hundred calls, and V8
 * allocates each new table in the generation of the one it replaces and links the retired table to it. Once one
 * table lives long enough to be promoted (say, through a lull), every later table is born in the old generation,
 * and each retired one keeps the calls it held alive until a full GC, so they are promoted too. From then on the
 * GC time per call is about four times higher, and bench:rpc's callers spent ~6 instead of ~4 µs of CPU
 * per call (docs/benchmarks.md, fourth round). One array that lives as long as the connection does not churn.
 */
export class PendingTable<T extends Tokened> {
  #slots: (T | undefined)[] = emptySlots(MIN_SLOTS)
  #mask = MIN_SLOTS - 1
  #size = 0
  #last = 0

  get size(): number {
    return this.#size
  }

  /** Stores `entry` under a new token, sets `entry.token` and returns it. */
  add(entry: T): number {
    if (this.#size * 2 >= this.#slots.length) this.#resize(this.#slots.length * 2)
    let token = this.#last + 1
    while (this.#slots[token & this.#mask] !== undefined) token++
    this.#last = token
    entry.token = token
    this.#slots[token & this.#mask] = entry
    this.#size++
    return token
  }

  /** Removes and returns the entry of `token`; undefined when it is not (or no longer) in the table. */
  take(token: number): T | undefined {
    const i = token & this.#mask
    const entry = this.#slots[i]
    if (entry === undefined || entry.token !== token) return undefined
    this.#slots[i] = undefined
    this.#size--
    return entry
  }

  /** The entry of `token`, left in the table; undefined when it is not (or no longer) there. */
  get(token: number): T | undefined {
    const entry = this.#slots[token & this.#mask]
    return entry !== undefined && entry.token === token ? entry : undefined
  }

  /** The entries, in a new array (so the caller may take them while it goes through them). */
  entries(): T[] {
    const out: T[] = []
    for (const e of this.#slots) if (e !== undefined) out.push(e)
    return out
  }

  /** Gives memory back after a burst: halves the slots while at most an eighth of them are taken. */
  compact(): void {
    let size = this.#slots.length
    while (size > MIN_SLOTS && this.#size * 8 <= size) size /= 2
    if (size < this.#slots.length) this.#resize(size)
  }

  /** Moves every entry to a table of `size` slots, or of more when two tokens would share a slot. */
  #resize(size: number): void {
    for (;;) {
      const slots = emptySlots<T>(size)
      const mask = size - 1
      let fits = true
      for (const e of this.#slots) {
        if (e === undefined) continue
        if (slots[e.token & mask] !== undefined) {
          fits = false
          break
        }
        slots[e.token & mask] = e
      }
      if (fits) {
        this.#slots = slots
        this.#mask = mask
        return
      }
      size *= 2
    }
  }
}

function emptySlots<T>(n: number): (T | undefined)[] {
  return new Array<T | undefined>(n).fill(undefined)
}
