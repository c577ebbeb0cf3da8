// @ts-check
// The web chat page: talks to the gateway's JSON WebSocket protocol only (docs/gateway-protocol.md), through the
// connection it shares with the terminal client (chat-connection.js): it reconnects by itself and resumes from the
// last feed position it saw, so a dropped socket misses nothing.
import { ChatConnection } from './chat-connection.js'

const PRESENCE_EVERY_MS = 5_000
const HISTORY_LIMIT = 50
const TYPING_EVERY_MS = 2_000
const TYPING_SHOWN_MS = 4_000

/**
 * @typedef {{ messageId: string, kind: string, from: string, fromId?: string, to?: string, groupId?: string, text?: string, sentAt: number, pos?: string, op?: string, editedAt?: number, deleted?: boolean }} Message
 * @typedef {{ kind: 'direct', username: string } | { kind: 'group', groupId: string, name: string }} Conversation
 * @typedef {{ userId: string, username: string, online: boolean, unread?: number }} Friend
 * @typedef {{ groupId: string, name: string, unread?: number }} GroupItem
 */

/**
 * @param {string} id
 * @returns {HTMLElement}
 */
const $ = (id) => {
  const e = document.getElementById(id)
  if (e === null) throw new Error(`the page has no #${id}`)
  return e
}
/** @param {string} id */
const $input = (id) => /** @type {HTMLInputElement} */ ($(id))
/**
 * @param {string} tag
 * @param {string | null} [cls]
 * @param {string} [text]
 */
const el = (tag, cls, text) => {
  const e = document.createElement(tag)
  if (cls) e.className = cls
  if (text !== undefined) e.textContent = text
  return e
}

/** sessionStorage as the connection's store: the token and positions of this tab live through a reload. */
const store = {
  /** @param {string} k */
  get: (k) => sessionStorage.getItem(`switchboard.${k}`),
  /** @param {string} k @param {string} v */
  set: (k, v) => sessionStorage.setItem(`switchboard.${k}`, v),
  /** @param {string} k */
  remove: (k) => sessionStorage.removeItem(`switchboard.${k}`),
}

const conn = new ChatConnection({ url: `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`, WebSocket, store })

/** @template [T=any] @param {string} name @param {unknown} [input] @returns {Promise<T>} */
const call = (name, input = {}) => conn.call(name, input)

// ---- state ------------------------------------------------------------------------------------------------------

const state = {
  /** @type {{ userId: string, username: string } | null} */
  user: null,
  /** @type {Friend[]} */
  friends: [],
  /** @type {GroupItem[]} */
  groups: [],
  /** @type {Conversation | null} */
  current: null,
  /** @type {Map<string, Map<string, Message>>} key -> messageId -> message */
  conversations: new Map(),
  /** @type {Map<string, number>} key -> unread count */
  unread: new Map(),
  /** @type {Set<string>} keys whose history was fetched */
  loaded: new Set(),
  /** @type {Map<string, { from: string, until: number }>} key -> who types there */
  typing: new Map(),
  /** @type {ReturnType<typeof setInterval> | undefined} */
  presenceTimer: undefined,
  lastTypingSent: 0,
}

/** @param {Conversation} c */
const keyOf = (c) => (c.kind === 'group' ? `#${c.groupId}` : `@${c.username}`)

/** @param {Message} m @returns {Conversation | null} */
function conversationOf(m) {
  if (m.kind === 'group') return { kind: 'group', groupId: m.groupId ?? '', name: state.groups.find((g) => g.groupId === m.groupId)?.name ?? m.groupId ?? '' }
  if (m.kind === 'direct') return { kind: 'direct', username: (m.from === state.user?.username ? m.to : m.from) ?? '' }
  return null
}

/** @param {Conversation | null} c */
const isOpen = (c) => c !== null && state.current !== null && keyOf(state.current) === keyOf(c)

// ---- the connection ---------------------------------------------------------------------------------------------

conn.onState((s) => {
  setStatus(s, s === 'online' ? 'connected' : s === 'connecting' ? 'connecting…' : 'disconnected — reconnecting…')
  if (s === 'offline' && state.user) showError('Lost the connection to the server. Reconnecting… (nothing will be missed)')
})

conn.onEvent((e) => {
  if (e.event === 'message') return receive(/** @type {Message} */ (e.message), false)
  if (e.event === 'edited' || e.event === 'deleted') return changed(/** @type {Message} */ (e.message))
  if (e.event === 'typing') return typing(/** @type {{ conversation: string, from: string }} */ (/** @type {unknown} */ (e)))
  if (e.event === 'read') return readElsewhere(String(e.conversation))
  if (e.event === 'broadcast') return showBanner(/** @type {Message} */ (e.message))
  if (e.event === 'resuming') {
    // what was missed arrives before the resume's answer: be ready for it
    const me = /** @type {{ userId: string, username: string }} */ (e.me)
    if (!state.user) showSignedIn(me.userId, me.username)
    return
  }
  if (e.event === 'resumed') {
    hideError()
    void signedIn(state.user?.userId ?? '', state.user?.username ?? '', false)
    return
  }
  if (e.event === 'reload') {
    state.loaded.clear()
    if (state.current) void openConversation(state.current)
    return
  }
  if (e.event === 'signed-out') {
    signedOut()
    showError(`Your session ended (${String(e.reason)}). Please log in again.`)
  }
})

// ---- errors in plain words --------------------------------------------------------------------------------------

/** @type {Record<string, (call: string, e: { message: string, data?: any }) => string>} */
const PLAIN = {
  BAD_CREDENTIALS: () => 'Wrong username or password.',
  USERNAME_TAKEN: () => 'That username is already taken. Pick another one.',
  UNAUTHENTICATED: () => 'You are not logged in (or your session expired). Please log in again.',
  UNAVAILABLE: () => 'The server is unavailable right now. Try again in a moment.',
  DEADLINE_EXCEEDED: () => 'The server took too long to answer. Try again.',
  INTERNAL: () => 'The server hit an internal error. Try again later.',
  UNIMPLEMENTED: () => 'The server does not support that.',
  CANCELLED: () => 'The request was cancelled.',
  ALREADY_EXISTS: (call, e) => (call === 'friend.add' ? 'You are already friends.' : sentence(e.message)),
  RESOURCE_EXHAUSTED: (_call, e) => (/failed logins/.test(e.message) ? sentence(e.message) : 'Too many requests at once. Slow down and try again.'),
  NOT_FOUND: (_call, e) => notFound(e.message),
  PERMISSION_DENIED: (_call, e) => denied(e.message),
  FAILED_PRECONDITION: (_call, e) => sentence(e.message),
  INVALID_ARGUMENT: (_call, e) => invalid(e),
}

/** An error reply (or CallError) in plain words for people. @param {string} callName @param {any} err */
function explain(callName, err) {
  const code = err?.code ?? 'INTERNAL'
  const plain = PLAIN[code]
  return plain ? plain(callName, { message: err?.message ?? '', data: err?.data }) : sentence(err?.message || code)
}

/** @param {string} message */
function notFound(message) {
  const user = /no user '([^']+)'/.exec(message)
  if (user) return `User not found: there is no user "${user[1]}".`
  const friend = /'([^']+)' is not your friend/.exec(message)
  if (friend) return `"${friend[1]}" is not your friend yet: add them first.`
  if (/not a member/.test(message)) return 'You are not a member of this group.'
  if (/group/.test(message)) return 'Group not found: check the group id.'
  return sentence(message || 'Not found.')
}

/** @param {string} message */
function denied(message) {
  if (/not a member/.test(message)) return 'You are not a member of this group.'
  if (/owner/.test(message)) return 'Only the owner of the group may do that.'
  if (/admin/.test(message)) return 'Only an administrator may do that.'
  return sentence(message || 'You are not allowed to do that.')
}

/** @param {{ message: string, data?: any }} e */
function invalid(e) {
  const issues = Array.isArray(e.data?.issues) ? e.data.issues : []
  const paths = issues.map((/** @type {{ path: string }} */ i) => i.path)
  if (paths.includes('/username')) return 'Usernames are 3 to 32 characters: lower-case letters, digits or _.'
  if (paths.includes('/password')) return 'Passwords need at least 8 characters.'
  if (paths.includes('/text')) return 'Messages must be 1 to 4000 characters.'
  if (paths.includes('/name')) return 'Group names must be 1 to 64 characters.'
  if (paths.includes('/groupId')) return 'That is not a valid group id.'
  return sentence(e.message || 'That input is not valid.')
}

/** @param {unknown} s */
const sentence = (s) => {
  const t = String(s).trim()
  return t.charAt(0).toUpperCase() + t.slice(1) + (/[.!?]$/.test(t) ? '' : '.')
}

/** @param {string} text */
function showError(text) {
  $('error').textContent = text
  $('error').hidden = false
}

function hideError() {
  $('error').hidden = true
  $('error').textContent = ''
}

/**
 * Runs `f`; shows any failure of `callName` in plain words. Resolves with f's value or undefined.
 * @template T
 * @param {string} callName
 * @param {() => Promise<T>} f
 * @returns {Promise<T | undefined>}
 */
async function attempt(callName, f) {
  try {
    const v = await f()
    hideError()
    return v
  } catch (err) {
    showError(explain(callName, err))
    return undefined
  }
}

/** @param {string} s @param {string} text */
function setStatus(s, text) {
  $('status').dataset.state = s
  $('status').textContent = text
}

// ---- auth -------------------------------------------------------------------------------------------------------

function credentials() {
  return { username: $input('username').value.trim(), password: $input('password').value }
}

async function logIn() {
  const creds = credentials()
  const r = await attempt('user.login', () => conn.login(creds.username, creds.password))
  if (r === undefined) return
  $input('password').value = ''
  await signedIn(r.userId, creds.username, true)
}

async function register() {
  const creds = credentials()
  const r = await attempt('user.register', () => call('user.register', creds))
  if (r !== undefined) await logIn()
}

async function logOut() {
  await conn.logout()
  signedOut()
}

/** @param {string} userId @param {string} username @param {boolean} fresh a login, not a resumed session */
async function signedIn(userId, username, fresh) {
  showSignedIn(userId, username)
  await Promise.all([refreshFriends(), refreshGroups()])
  if (fresh) await fetchOffline()
  clearInterval(state.presenceTimer)
  state.presenceTimer = setInterval(() => void refreshFriends(true), PRESENCE_EVERY_MS)
  if (state.current) await openConversation(state.current)
}

/** @param {string} userId @param {string} username */
function showSignedIn(userId, username) {
  state.user = { userId, username }
  $('me').textContent = username
  $('logout').hidden = false
  $('auth').hidden = true
  $('chat').hidden = false
  document.title = `${username} — Switchboard chat`
}

function signedOut() {
  clearInterval(state.presenceTimer)
  Object.assign(state, {
    user: null,
    friends: [],
    groups: [],
    current: null,
    conversations: new Map(),
    unread: new Map(),
    loaded: new Set(),
    typing: new Map(),
  })
  $('me').textContent = ''
  $('logout').hidden = true
  $('auth').hidden = false
  $('chat').hidden = true
  $('offline').hidden = true
  $('offline-list').replaceChildren()
  $('messages').replaceChildren()
  document.title = 'Switchboard chat'
}

// ---- friends and groups -----------------------------------------------------------------------------------------

/** The server's unread counts, taken as they are except for the conversation open now (read as it arrives). */
function takeUnread(/** @type {{ unread?: number }[]} */ items, /** @type {(i: any) => string} */ key) {
  for (const i of items) {
    const k = key(i)
    if (i.unread === undefined) continue
    if (state.current && keyOf(state.current) === k) state.unread.delete(k)
    else state.unread.set(k, i.unread)
  }
}

async function refreshFriends(quiet = false) {
  try {
    state.friends = await call('friend.list')
    takeUnread(state.friends, (f) => `@${f.username}`)
    renderFriends()
  } catch (err) {
    if (!quiet) showError(explain('friend.list', err))
  }
}

async function refreshGroups() {
  const groups = await attempt('group.mine', () => call('group.mine'))
  if (groups === undefined) return
  state.groups = groups
  takeUnread(groups, (g) => `#${g.groupId}`)
  renderGroups()
}

function renderFriends() {
  const items = state.friends.map((f) => {
    const li = item({ kind: 'direct', username: f.username }, f.username)
    li.dataset.username = f.username
    li.dataset.online = String(f.online)
    li.prepend(el('span', f.online ? 'dot on' : 'dot'))
    li.append(el('span', 'presence', f.online ? 'online' : 'offline'))
    return li
  })
  $('friends').replaceChildren(...(items.length ? items : [el('li', 'empty', 'No friends yet: add one by username.')]))
}

function renderGroups() {
  const items = state.groups.map((g) => {
    const li = item({ kind: 'group', groupId: g.groupId, name: g.name }, `# ${g.name}`)
    li.dataset.groupId = g.groupId
    return li
  })
  $('groups').replaceChildren(...(items.length ? items : [el('li', 'empty', 'No groups yet.')]))
}

/** @param {Conversation} c @param {string} label */
function item(c, label) {
  const key = keyOf(c)
  const li = el('li')
  li.dataset.key = key
  if (state.current && keyOf(state.current) === key) li.classList.add('active')
  li.append(el('span', 'name', label))
  const n = state.unread.get(key) ?? 0
  if (n > 0) li.append(el('span', 'unread', n >= 100 ? '99+' : String(n)))
  const t = state.typing.get(key)
  if (t && t.until > Date.now()) li.append(el('span', 'typing', 'typing…'))
  li.onclick = () => void openConversation(c)
  return li
}

/** @param {Event} e */
async function addFriend(e) {
  e.preventDefault()
  const username = $input('friend-name').value.trim()
  if ((await attempt('friend.add', () => call('friend.add', { username }))) === undefined) return
  $input('friend-name').value = ''
  await refreshFriends()
}

/** @param {Event} e */
async function createGroup(e) {
  e.preventDefault()
  const name = $input('group-name').value.trim()
  const r = await attempt('group.create', () => call('group.create', { name }))
  if (r === undefined) return
  $input('group-name').value = ''
  await refreshGroups()
  await openConversation({ kind: 'group', groupId: r.groupId, name })
}

/** @param {Event} e */
async function joinGroup(e) {
  e.preventDefault()
  const groupId = $input('group-id').value.trim()
  if ((await attempt('group.join', () => call('group.join', { groupId }))) === undefined) return
  $input('group-id').value = ''
  await refreshGroups()
  await openConversation({ kind: 'group', groupId, name: state.groups.find((g) => g.groupId === groupId)?.name ?? groupId })
}

async function leaveGroup() {
  const c = state.current
  if (c?.kind !== 'group') return
  if ((await attempt('group.leave', () => call('group.leave', { groupId: c.groupId }))) === undefined) return
  state.current = null
  renderConversation()
  await refreshGroups()
}

// ---- messages ---------------------------------------------------------------------------------------------------

/** Keeps `m` in its conversation; returns its key, or null when it is not a conversation's or is known already. @param {Message} m */
function store1(m) {
  const c = conversationOf(m)
  if (c === null) return null
  const key = keyOf(c)
  let list = state.conversations.get(key)
  if (list === undefined) state.conversations.set(key, (list = new Map()))
  if (list.has(m.messageId)) return null
  list.set(m.messageId, m)
  return key
}

/** A message pushed live (or caught up after a reconnect), or fetched from the offline view. @param {Message} m @param {boolean} offline */
function receive(m, offline) {
  if (!state.user || !m) return
  if (m.kind === 'broadcast') return showBanner(m)
  const key = store1(m)
  if (key === null) return
  const c = conversationOf(m)
  if (c === null) return
  state.typing.delete(key)
  if (isOpen(c)) {
    renderMessages()
    markRead(c)
  } else if (m.from !== state.user.username) state.unread.set(key, (state.unread.get(key) ?? 0) + 1)
  if (offline) addOffline(m)
  if (c.kind === 'direct' && !state.friends.some((f) => f.username === c.username)) void refreshFriends(true)
  renderFriends()
  renderGroups()
}

/** An edit or delete of a message: shown wherever the message is. @param {Message} e */
function changed(e) {
  const c = conversationOf(e)
  if (c === null) return
  const m = state.conversations.get(keyOf(c))?.get(e.messageId)
  if (m === undefined) return
  if (e.op === 'delete') Object.assign(m, { text: undefined, deleted: true, editedAt: e.editedAt })
  else Object.assign(m, { text: e.text, editedAt: e.editedAt })
  if (isOpen(c)) renderMessages()
}

/** Someone types in a conversation of mine. @param {{ conversation: string, from: string }} e */
function typing(e) {
  const key = e.conversation
  state.typing.set(key, { from: e.from, until: Date.now() + TYPING_SHOWN_MS })
  renderTyping()
  renderFriends()
  renderGroups()
  setTimeout(() => {
    if ((state.typing.get(key)?.until ?? 0) <= Date.now()) {
      state.typing.delete(key)
      renderTyping()
      renderFriends()
      renderGroups()
    }
  }, TYPING_SHOWN_MS + 50)
}

function renderTyping() {
  const t = state.current && state.typing.get(keyOf(state.current))
  $('typing').textContent = t && t.until > Date.now() ? `${t.from} is typing…` : ''
}

/** Another session of mine read a conversation: its badge clears here too. @param {string} key */
function readElsewhere(key) {
  state.unread.delete(key)
  renderFriends()
  renderGroups()
}

/** Stores my read position in a conversation: the newest message of it I have. @param {Conversation} c */
function markRead(c) {
  const list = [...(state.conversations.get(keyOf(c))?.values() ?? [])].filter((m) => m.pos !== undefined)
  const last = list.sort((a, b) => a.sentAt - b.sentAt).at(-1)
  if (last?.pos !== undefined) void call('message.read', { conversation: keyOf(c), pos: last.pos }).catch(() => undefined)
}

async function fetchOffline() {
  const list = await attempt('message.offline', () => call('message.offline'))
  for (const m of list ?? []) receive(m, true)
}

/** @param {Message} m */
function addOffline(m) {
  const c = conversationOf(m)
  if (c === null) return
  const where = c.kind === 'group' ? ` in # ${c.name}` : ''
  const li = el('li', null, `${m.from}${where}: ${m.text ?? ''}`)
  li.onclick = () => void openConversation(c)
  $('offline-list').append(li)
  $('offline').hidden = false
}

/** @param {Conversation} c */
async function openConversation(c) {
  state.current = c
  const key = keyOf(c)
  state.unread.delete(key)
  renderConversation()
  renderFriends()
  renderGroups()
  if (!state.loaded.has(key)) {
    const input = c.kind === 'group' ? { groupId: c.groupId, limit: HISTORY_LIMIT } : { with: c.username, limit: HISTORY_LIMIT }
    const history = await attempt('message.history', () => call('message.history', input))
    if (history !== undefined) {
      state.loaded.add(key)
      for (const m of history) {
        const known = state.conversations.get(key)?.get(m.messageId)
        if (known) Object.assign(known, m)
        else store1(m)
      }
    }
  }
  if (isOpen(c)) {
    renderMessages()
    markRead(c)
  }
  if (c.kind === 'group') {
    const members = await call('group.members', { groupId: c.groupId }).catch(() => undefined)
    if (members && isOpen(c))
      $('conv-info').textContent =
        `group id ${c.groupId} · ${members.length} members: ${members.map((/** @type {{ username: string }} */ p) => p.username).join(', ')}`
  }
}

function renderConversation() {
  const c = state.current
  $('conv-title').textContent = c === null ? 'Pick a friend or a group' : c.kind === 'group' ? `# ${c.name}` : c.username
  $('conv-info').textContent = c?.kind === 'group' ? `group id ${c.groupId}` : ''
  $('leave-group').hidden = c?.kind !== 'group'
  $input('text').disabled = /** @type {HTMLButtonElement} */ ($('send')).disabled = c === null
  renderMessages()
  renderTyping()
  if (c !== null) $('text').focus()
}

function renderMessages() {
  const c = state.current
  const list = c === null ? [] : [...(state.conversations.get(keyOf(c))?.values() ?? [])].sort((a, b) => a.sentAt - b.sentAt)
  $('messages').replaceChildren(
    ...list.map((m) => {
      const mine = m.from === state.user?.username
      const li = el('li', mine ? 'msg mine' : 'msg')
      li.dataset.messageId = m.messageId
      const meta = `${m.from} · ${new Date(m.sentAt).toLocaleTimeString()}${m.deleted ? '' : m.editedAt ? ' · edited' : ''}`
      li.append(el('div', 'meta', meta), m.deleted ? el('div', 'text deleted', 'message deleted') : el('div', 'text', m.text ?? ''))
      if (mine && !m.deleted) {
        const edit = el('button', 'edit', 'Edit')
        edit.onclick = () => void editMessage(m)
        const del = el('button', 'delete', 'Delete')
        del.onclick = () => void deleteMessage(m)
        li.append(el('span', 'actions'))
        li.lastElementChild?.append(edit, del)
      }
      return li
    }),
  )
  $('messages').scrollTop = $('messages').scrollHeight
}

/** @param {Message} m */
async function editMessage(m) {
  const text = prompt('Edit your message', m.text ?? '')
  if (text === null || text.trim() === '' || text === m.text) return
  await attempt('message.edit', () => call('message.edit', { messageId: m.messageId, text }))
}

/** @param {Message} m */
async function deleteMessage(m) {
  await attempt('message.delete', () => call('message.delete', { messageId: m.messageId }))
}

/** @param {Event} e */
async function send(e) {
  e.preventDefault()
  const c = state.current
  const text = $input('text').value
  if (c === null || text.trim() === '' || state.user === null) return
  const name = c.kind === 'group' ? 'message.sendGroup' : 'message.send'
  const input = c.kind === 'group' ? { groupId: c.groupId, text } : { to: c.username, text }
  const r = await attempt(name, () => call(name, input))
  if (r === undefined) return
  $input('text').value = ''
  /** @type {Message} */
  const m = { messageId: r.messageId, kind: c.kind, from: state.user.username, fromId: state.user.userId, text, sentAt: Date.now(), pos: r.pos }
  if (c.kind === 'group') m.groupId = c.groupId
  else m.to = c.username
  if (store1(m) !== null && isOpen(c)) renderMessages()
}

/** Tells the other side I am typing, at most every TYPING_EVERY_MS. */
function typed() {
  const c = state.current
  const now = Date.now()
  if (c === null || now - state.lastTypingSent < TYPING_EVERY_MS) return
  state.lastTypingSent = now
  void call('message.typing', c.kind === 'group' ? { groupId: c.groupId } : { to: c.username }).catch(() => undefined)
}

/** @param {Message} m */
function showBanner(m) {
  $('banner-text').textContent = `${m.from}: ${m.text ?? ''}`
  $('banner').hidden = false
}

// ---- wiring -----------------------------------------------------------------------------------------------------

$('auth-form').addEventListener('submit', (e) => {
  e.preventDefault()
  void logIn()
})
$('register').addEventListener('click', () => void register())
$('logout').addEventListener('click', () => void logOut())
$('add-friend').addEventListener('submit', (e) => void addFriend(e))
$('new-group').addEventListener('submit', (e) => void createGroup(e))
$('join-group').addEventListener('submit', (e) => void joinGroup(e))
$('leave-group').addEventListener('click', () => void leaveGroup())
$('send-form').addEventListener('submit', (e) => void send(e))
$('text').addEventListener('input', () => typed())
$('banner-close').addEventListener('click', () => ($('banner').hidden = true))
// for the browser test: close the socket as a network drop would (the connection reconnects by itself)
Object.defineProperty(window, 'switchboard', { value: { drop: () => conn.dropSocket(), connection: conn } })
conn.start()
