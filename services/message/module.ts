import { Access, defineModule } from '../shared/module.ts'
import { MessageService } from './contract.ts'

/**
 * Direct, group and offline messages. Two copies in `npm start`; it alone publishes to its stream's subjects, and
 * reads the stream (feeds, history, unread counts) on a second connection as `message-reads`.
 */
export const messageModule = defineModule({
  contract: MessageService,
  start: async (nc, options, reads) => (await import('./worker.ts')).startMessageWorker(nc, options, reads),
  copies: 2,
  gateway: {
    send: Access.auth,
    sendGroup: Access.auth,
    sync: Access.auth,
    offline: Access.auth,
    seen: Access.internal,
    history: Access.auth,
    read: Access.auth,
    unread: Access.internal,
    typing: Access.auth,
    edit: Access.auth,
    delete: Access.auth,
    stats: Access.internal,
  },
  nats: { publish: ['msg.>'], reads: { stream: 'SB_MESSAGES' } },
})
