import { Access, defineModule } from '../shared/module.ts'
import { Friend } from './contract.ts'

/** Friend lists. */
export const friendModule = defineModule({
  contract: Friend,
  start: async (nc, options) => (await import('./worker.ts')).startFriendWorker(nc, options),
  gateway: { add: Access.auth, remove: Access.auth, list: Access.auth },
})
