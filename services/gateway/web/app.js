// The web chat page: talks to the gateway's JSON WebSocket protocol only (docs/gateway-protocol.md), through the
// protocol client it shares with the terminal client (gateway-client.js).
import { CallError, GatewayClient } from './gateway-client.js'

const CALL_TIMEOUT_MS = 10_000
const PRESENCE_EVERY_MS = 5_000
const HISTORY_LIMIT = 50
const RECONNECT_MAX_MS = 5_000
const TOKEN_KEY = 'switchboard.token'

const $ = (id) => document.getElementById(id)
const el = (tag, cls, text) => {
  const e = document.createElement(tag)
  if (cls) e.className = cls
  if (text !== undefined) e.textContent = text
  return e
}

// ---- connection -------------------------------------------------------------------------------------------------

const conn = {
  /** @type {GatewayClient | null} */
  client: null,
  retryMs: 250,
  wasOpen: false,
}

function connect() {
  const socket = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`)
  const client = new GatewayClient(socket, { timeout: CALL_TIMEOUT_MS })
  conn.client = client
  setStatus('connecting', 'connecting…')
  client.onEvent((e) => {
    if (e.event === 'unmatched') {
      const frame = /** @type {any} */ (e.frame)
      if (!frame?.ok) showError(explain('', frame?.error))
    } else onEvent(e)
  })
  socket.addEventListener('open', () => {
    conn.retryMs = 250
  })
  socket.addEventListener('close', () => {
    setStatus('offline', 'disconnected — reconnecting…')
    if (state.user) showError('Lost the connection to the server. Reconnecting…')
    setTimeout(connect, conn.retryMs)
    conn.retryMs = Math.min(conn.retryMs * 2, RECONNECT_MAX_MS)
  })
}

function call(name, input = {}) {
  if (conn.client === null) return Promise.reject(new CallError('UNAVAILABLE', 503, 'not connected to the gateway'))
  return conn.client.call(name, input)
}

function onEvent(frame) {
  if (frame.event === 'hello') return void onHello()
  if (frame.event === 'message') return receive(frame.message, false)
  if (frame.event === 'broadcast') return showBanner(frame.message)
  if (frame.event === 'session' && frame.userId === null) {
    sessionStorage.removeItem(TOKEN_KEY)
    signedOut()
    showError(`Your session ended (${frame.reason}). Please log in again.`)
  }
}

async function onHello() {
  setStatus('online', 'connected')
  const reconnect = conn.wasOpen
  conn.wasOpen = true
  const token = sessionStorage.getItem(TOKEN_KEY)
  if (!token) return
  try {
    const who = await call('session.resume', { token })
    if (reconnect) hideError()
    await signedIn(who.userId, who.username)
  } catch (err) {
    sessionStorage.removeItem(TOKEN_KEY)
    signedOut()
    if (err.code !== 'UNAUTHENTICATED') showError(explain('session.resume', err))
  }
}

// ---- errors in plain words --------------------------------------------------------------------------------------

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

/** An error reply (or CallError) in plain words for people. */
function explain(callName, err) {
  const code = err?.code ?? 'INTERNAL'
  const plain = PLAIN[code]
  return plain ? plain(callName, { message: err?.message ?? '', data: err?.data }) : sentence(err?.message || code)
}

function notFound(message) {
  const user = /no user '([^']+)'/.exec(message)
  if (user) return `User not found: there is no user "${user[1]}".`
  const friend = /'([^']+)' is not your friend/.exec(message)
  if (friend) return `"${friend[1]}" is not your friend yet: add them first.`
  if (/not a member/.test(message)) return 'You are not a member of this group.'
  if (/group/.test(message)) return 'Group not found: check the group id.'
  return sentence(message || 'Not found.')
}

function denied(message) {
  if (/not a member/.test(message)) return 'You are not a member of this group.'
  if (/owner/.test(message)) return 'Only the owner of the group may do that.'
  if (/admin/.test(message)) return 'Only an administrator may do that.'
  return sentence(message || 'You are not allowed to do that.')
}

function invalid(e) {
  const issues = Array.isArray(e.data?.issues) ? e.data.issues : []
  const paths = issues.map((i) => i.path)
  if (paths.includes('/username')) return 'Usernames are 3 to 32 characters: lower-case letters, digits or _.'
  if (paths.includes('/password')) return 'Passwords need at least 8 characters.'
  if (paths.includes('/text')) return 'Messages must be 1 to 4000 characters.'
  if (paths.includes('/name')) return 'Group names must be 1 to 64 characters.'
  if (paths.includes('/groupId')) return 'That is not a valid group id.'
  return sentence(e.message || 'That input is not valid.')
}

const sentence = (s) => {
  const t = String(s).trim()
  return t.charAt(0).toUpperCase() + t.slice(1) + (/[.!?]$/.test(t) ? '' : '.')
}

function showError(text) {
  $('error').textContent = text
  $('error').hidden = false
}

function hideError() {
  $('error').hidden = true
  $('error').textContent = ''
}

/** Runs `f`; shows any failure of `callName` in plain words. Resolves with f's value or undefined. */
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

function setStatus(s, text) {
  $('status').dataset.state = s
  $('status').textContent = text
}

// ---- state ------------------------------------------------------------------------------------------------------

const state = {
  user: null, // { userId, username }
  friends: [],
  groups: [],
  current: null, // { kind: 'direct', username } | { kind: 'group', groupId, name }
  conversations: new Map(), // key -> Map<messageId, message>
  unread: new Map(), // key -> count
  loaded: new Set(), // keys whose history was fetched
  presenceTimer: null,
}

const keyOf = (c) => (c.kind === 'group' ? `g:${c.groupId}` : `u:${c.username}`)

function conversationOf(m) {
  if (m.kind === 'group') return { kind: 'group', groupId: m.groupId, name: state.groups.find((g) => g.groupId === m.groupId)?.name ?? m.groupId }
  if (m.kind === 'direct') return { kind: 'direct', username: m.from === state.user.username ? m.to : m.from }
  return null
}

// ---- auth -------------------------------------------------------------------------------------------------------

function credentials() {
  return { username: $('username').value.trim(), password: $('password').value }
}

async function logIn() {
  const creds = credentials()
  const r = await attempt('user.login', () => call('user.login', creds))
  if (r === undefined) return
  sessionStorage.setItem(TOKEN_KEY, r.token)
  $('password').value = ''
  await signedIn(r.userId, creds.username)
}

async function register() {
  const creds = credentials()
  const r = await attempt('user.register', () => call('user.register', creds))
  if (r !== undefined) await logIn()
}

async function logOut() {
  await call('user.logout').catch(() => undefined)
  sessionStorage.removeItem(TOKEN_KEY)
  signedOut()
}

async function signedIn(userId, username) {
  state.user = { userId, username }
  $('me').textContent = username
  $('logout').hidden = false
  $('auth').hidden = true
  $('chat').hidden = false
  document.title = `${username} — Switchboard chat`
  await Promise.all([refreshFriends(), refreshGroups()])
  await fetchOffline()
  clearInterval(state.presenceTimer)
  state.presenceTimer = setInterval(() => void refreshFriends(true), PRESENCE_EVERY_MS)
  if (state.current) await openConversation(state.current)
}

function signedOut() {
  clearInterval(state.presenceTimer)
  Object.assign(state, { user: null, friends: [], groups: [], current: null, conversations: new Map(), unread: new Map(), loaded: new Set() })
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

async function refreshFriends(quiet = false) {
  try {
    state.friends = await call('friend.list')
    renderFriends()
  } catch (err) {
    if (!quiet) showError(explain('friend.list', err))
  }
}

async function refreshGroups() {
  const groups = await attempt('group.mine', () => call('group.mine'))
  if (groups === undefined) return
  state.groups = groups
  renderGroups()
}

function renderFriends() {
  const items = state.friends.map((f) => {
    const c = { kind: 'direct', username: f.username }
    const li = item(c, f.username)
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

function item(c, label) {
  const key = keyOf(c)
  const li = el('li')
  li.dataset.key = key
  if (state.current && keyOf(state.current) === key) li.classList.add('active')
  li.append(el('span', 'name', label))
  const n = state.unread.get(key) ?? 0
  if (n > 0) li.append(el('span', 'unread', String(n)))
  li.onclick = () => void openConversation(c)
  return li
}

async function addFriend(e) {
  e.preventDefault()
  const username = $('friend-name').value.trim()
  if ((await attempt('friend.add', () => call('friend.add', { username }))) === undefined) return
  $('friend-name').value = ''
  await refreshFriends()
}

async function createGroup(e) {
  e.preventDefault()
  const name = $('group-name').value.trim()
  const r = await attempt('group.create', () => call('group.create', { name }))
  if (r === undefined) return
  $('group-name').value = ''
  await refreshGroups()
  await openConversation({ kind: 'group', groupId: r.groupId, name })
}

async function joinGroup(e) {
  e.preventDefault()
  const groupId = $('group-id').value.trim()
  if ((await attempt('group.join', () => call('group.join', { groupId }))) === undefined) return
  $('group-id').value = ''
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

function store(m) {
  const c = conversationOf(m)
  if (c === null) return null
  const key = keyOf(c)
  let list = state.conversations.get(key)
  if (list === undefined) state.conversations.set(key, (list = new Map()))
  if (list.has(m.messageId)) return null
  list.set(m.messageId, m)
  return key
}

/** A message pushed live or fetched from offline storage. */
function receive(m, offline) {
  if (!state.user || !m) return
  if (m.kind === 'broadcast') return showBanner(m)
  const key = store(m)
  if (key === null) return
  const c = conversationOf(m)
  const open = state.current && keyOf(state.current) === key
  if (open) renderMessages()
  else if (m.from !== state.user.username) state.unread.set(key, (state.unread.get(key) ?? 0) + 1)
  if (offline) addOffline(m)
  if (c.kind === 'direct' && !state.friends.some((f) => f.username === c.username)) void refreshFriends(true)
  renderFriends()
  renderGroups()
}

async function fetchOffline() {
  const list = await attempt('message.offline', () => call('message.offline'))
  for (const m of list ?? []) receive(m, true)
}

function addOffline(m) {
  const where = m.kind === 'group' ? ` in # ${conversationOf(m).name}` : ''
  const li = el('li', null, `${m.from}${where}: ${m.text}`)
  li.onclick = () => void openConversation(conversationOf(m))
  $('offline-list').append(li)
  $('offline').hidden = false
}

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
      for (const m of history) store(m)
    }
  }
  if (state.current && keyOf(state.current) === key) renderMessages()
  if (c.kind === 'group') {
    const members = await call('group.members', { groupId: c.groupId }).catch(() => undefined)
    if (members && state.current && keyOf(state.current) === key)
      $('conv-info').textContent = `group id ${c.groupId} · ${members.length} members: ${members.map((p) => p.username).join(', ')}`
  }
}

function renderConversation() {
  const c = state.current
  $('conv-title').textContent = c === null ? 'Pick a friend or a group' : c.kind === 'group' ? `# ${c.name}` : c.username
  $('conv-info').textContent = c?.kind === 'group' ? `group id ${c.groupId}` : ''
  $('leave-group').hidden = c?.kind !== 'group'
  $('text').disabled = $('send').disabled = c === null
  renderMessages()
  if (c !== null) $('text').focus()
}

function renderMessages() {
  const c = state.current
  const list = c === null ? [] : [...(state.conversations.get(keyOf(c))?.values() ?? [])].sort((a, b) => a.sentAt - b.sentAt)
  $('messages').replaceChildren(
    ...list.map((m) => {
      const li = el('li', m.from === state.user?.username ? 'msg mine' : 'msg')
      li.dataset.messageId = m.messageId
      li.append(el('div', 'meta', `${m.from} · ${new Date(m.sentAt).toLocaleTimeString()}`), el('div', 'text', m.text))
      return li
    }),
  )
  $('messages').scrollTop = $('messages').scrollHeight
}

async function send(e) {
  e.preventDefault()
  const c = state.current
  const text = $('text').value
  if (c === null || text.trim() === '') return
  const name = c.kind === 'group' ? 'message.sendGroup' : 'message.send'
  const input = c.kind === 'group' ? { groupId: c.groupId, text } : { to: c.username, text }
  const r = await attempt(name, () => call(name, input))
  if (r === undefined) return
  $('text').value = ''
  const m = { messageId: r.messageId, kind: c.kind, from: state.user.username, fromId: state.user.userId, text, sentAt: Date.now() }
  if (c.kind === 'group') m.groupId = c.groupId
  else m.to = c.username
  if (store(m) !== null && state.current && keyOf(state.current) === keyOf(c)) renderMessages()
}

function showBanner(m) {
  $('banner-text').textContent = `${m.from}: ${m.text}`
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
$('banner-close').addEventListener('click', () => ($('banner').hidden = true))
connect()
