import { Access, defineModule } from '../shared/module.ts'
import { Group } from './contract.ts'

/** Groups and membership. */
export const groupModule = defineModule({
  contract: Group,
  start: async (nc, options) => (await import('./worker.ts')).startGroupWorker(nc, options),
  gateway: {
    create: Access.auth,
    join: Access.auth,
    leave: Access.auth,
    kick: Access.auth,
    members: Access.auth,
    mine: Access.auth,
    memberIds: Access.internal,
    groupIds: Access.internal,
    stats: Access.internal,
  },
})
