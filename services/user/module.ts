import { Access, defineModule } from '../shared/module.ts'
import { User } from './contract.ts'

/** Accounts and sessions. Two copies in `npm start`: every other module calls it. */
export const userModule = defineModule({
  contract: User,
  start: async (nc, options) => (await import('./worker.ts')).startUserWorker(nc, options),
  copies: 2,
  gateway: {
    register: Access.public,
    login: Access.public,
    logout: Access.auth,
    whoami: Access.auth,
    verify: Access.internal,
    lookup: Access.internal,
    profiles: Access.internal,
    stats: Access.internal,
  },
})
