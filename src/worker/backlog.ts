/**
 * A bounded first-in, first-out queue: the calls a worker has received but cannot start yet because `maxInFlight`
 * are running. Array plus head index, compacted when half of it is spent, so take() is O(1) amortised.
 */
export class Backlog<T> {
  #items: (T | undefined)[] = []
  #head = 0

  constructor(readonly capacity: number) {}

  get size(): number {
    return this.#items.length - this.#head
  }

  /** Adds `item` at the back; false when the backlog is full. */
  offer(item: T): boolean {
    if (this.size >= this.capacity) return false
    this.#items.push(item)
    return true
  }

  /** Removes and returns the oldest item, or undefined when empty. */
  take(): T | undefined {
    if (this.#head === this.#items.length) return undefined
    const item = this.#items[this.#head]
    this.#items[this.#head++] = undefined
    if (this.#head === this.#items.length) {
      this.#items = []
      this.#head = 0
    } else if (this.#head >= 1024 && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head)
      this.#head = 0
    }
    return item
  }

  /** Removes and returns the items `test` picks, keeping the others in order. Allocates nothing when none is picked. */
  removeWhere(test: (item: T) => boolean): readonly T[] {
    let removed: T[] | undefined
    let kept: (T | undefined)[] | undefined
    for (let i = this.#head; i < this.#items.length; i++) {
      const item = this.#items[i] as T
      if (test(item)) {
        if (removed === undefined) {
          removed = []
          kept = this.#items.slice(this.#head, i)
        }
        removed.push(item)
      } else kept?.push(item)
    }
    if (removed === undefined) return NONE
    this.#items = kept!
    this.#head = 0
    return removed
  }

  /** Removes and returns every item, oldest first. */
  drain(): T[] {
    const rest = this.#items.slice(this.#head) as T[]
    this.#items = []
    this.#head = 0
    return rest
  }
}

const NONE: readonly never[] = Object.freeze([])
