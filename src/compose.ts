/** A middleware: gets the context and `next`, which runs the rest of the chain and resolves to its result. */
export type Middleware<Ctx, R = unknown> = (ctx: Ctx, next: () => Promise<R>) => Promise<R>

/**
 * Composes middleware into one function that runs them in order around `last`.
 * Calling `next()` twice in one middleware is an error.
 */
export function compose<Ctx, R>(middleware: readonly Middleware<Ctx, R>[], last: (ctx: Ctx) => Promise<R>): (ctx: Ctx) => Promise<R> {
  if (middleware.length === 0) return last
  return function composed(ctx: Ctx): Promise<R> {
    let index = -1
    const dispatch = (i: number): Promise<R> => {
      if (i <= index) return Promise.reject(new Error('next() called more than once'))
      index = i
      if (i === middleware.length) return last(ctx)
      try {
        return middleware[i]!(ctx, () => dispatch(i + 1))
      } catch (err) {
        return Promise.reject(err)
      }
    }
    return dispatch(0)
  }
}
