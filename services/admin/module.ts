import { Access, defineModule } from '../shared/module.ts'
import { Admin } from './contract.ts'

/** Broadcasts and numbers (role admin); it alone may publish chat.broadcast and ask chat.online. */
export const adminModule = defineModule({
  contract: Admin,
  start: async (nc, options) => (await import('./worker.ts')).startAdminWorker(nc, options),
  gateway: { broadcast: Access.auth, stats: Access.auth },
  nats: { broadcast: true },
})
