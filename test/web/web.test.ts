import { randomBytes } from 'node:crypto'
import type { Page } from 'playwright-core'
import t, { type Test } from 'tap'
import { GatewayConnection } from '../../services/chat-client/connection.ts'
import { startGateway, type Gateway } from '../../services/gateway/gateway.ts'
import { MODULE_NAMES } from '../../services/registry.ts'
import { confSecurity, connectAs } from '../fixtures/nats-conf.ts'
import { serverFor } from '../harness/index.ts'
import { startSystem } from '../harness/system.ts'
import { launchBrowser, screenshotPath } from './browser.ts'

const ADMIN_PASSWORD = 'web-test-admin-pw'
const WAIT_MS = 10_000
const suffix = randomBytes(3).toString('hex')
const alice = { username: `alice_${suffix}`, password: 'alice-password' }
const bob = { username: `bob_${suffix}`, password: 'bob-password' }

/** Waits until an element matching `selector` and containing `text` is visible; fails with what the page shows. */
async function sees(t: Test, page: Page, selector: string, text: string | RegExp, what: string): Promise<void> {
  const target = page.locator(selector, { hasText: text }).first()
  try {
    await target.waitFor({ state: 'visible', timeout: WAIT_MS })
    t.pass(what)
  } catch {
    const shown = await page
      .locator(selector)
      .allInnerTexts()
      .catch(() => [])
    t.fail(`${what}: no visible ${selector} with ${String(text)}; shows ${JSON.stringify(shown)}`)
  }
}

async function fill(page: Page, fields: Record<string, string>): Promise<void> {
  for (const [id, value] of Object.entries(fields)) await page.fill(`#${id}`, value)
}

/** Sum of the requests column of `method` rows in `service`'s card on the dashboard (0 when absent). */
async function dashboardRequests(page: Page, service: string, method: string): Promise<number> {
  const cells = await page
    .locator(`[data-service="${service}"] tr[data-method="${method}"]`)
    .evaluateAll((rows) => rows.map((r) => Number((r as HTMLElement).dataset.requests)))
  return cells.reduce((a, b) => a + b, 0)
}

async function instanceCount(page: Page, service: string): Promise<number> {
  return page.locator(`[data-service="${service}"] tr[data-instance]`).count()
}

/** Polls `f` until it returns true or WAIT_MS passes. */
async function until(f: () => Promise<boolean>, ms = WAIT_MS): Promise<boolean> {
  const end = Date.now() + ms
  while (Date.now() < end) {
    if (await f()) return true
    await new Promise((r) => setTimeout(r, 200))
  }
  return f()
}

t.test('web - chat page and operations dashboard in headless Chromium against a real system', async (t) => {
  const browser = await launchBrowser(t)
  // the shipped users and permissions: the gateway polls $SRV as NATS user `gateway`, like under npm start
  const server = await serverFor(t, { extra: confSecurity() })
  const system = await startSystem(t, { natsUrl: server.url, env: { SWITCHBOARD_ADMIN_PASSWORD: ADMIN_PASSWORD } })
  const gwNc = await connectAs(server.url, 'gateway')
  const feedNc = await connectAs(server.url, 'gateway-feed')
  const started: Gateway[] = []
  t.teardown(async () => {
    await Promise.all(started.map((g) => g.close()))
    await Promise.all([gwNc.close(), feedNc.close()])
  })
  const gw = await startGateway(gwNc, feedNc, { port: 0, opsListen: { port: 0 }, ops: { intervalMs: 1_000, windowMs: 5_000 } })
  started.push(gw)

  const ops = await (await browser.newContext({ viewport: { width: 1360, height: 1000 } })).newPage()

  await t.test('ops dashboard - lists the five modules and the gateway', async (t) => {
    const res = await fetch(`${gw.opsUrl}ops/api`)
    t.equal(res.status, 200, 'GET /ops/api answers on the ops listener')
    await ops.goto(`${gw.opsUrl}ops`)
    for (const name of [...MODULE_NAMES, 'gateway']) await sees(t, ops, `[data-service="${name}"] h3`, name, `the dashboard lists ${name}`)
    t.equal(await instanceCount(ops, 'user'), 1, 'one user instance')
    await sees(t, ops, '[data-service="gateway"] tr[data-instance]', /connections/, 'the gateway row shows its connections')
  })

  const before = await dashboardRequests(ops, 'message', 'send')
  const ctxA = await browser.newContext({ viewport: { width: 1100, height: 720 } })
  const ctxB = await browser.newContext({ viewport: { width: 1100, height: 720 } })
  const a = await ctxA.newPage()
  let b = await ctxB.newPage()

  await t.test('web chat - register, log in, errors in plain words', async (t) => {
    const errors: string[] = []
    a.on('pageerror', (e) => errors.push(e.message))
    await a.goto(gw.httpUrl)
    await sees(t, a, '#status', 'connected', 'the page connects to the gateway')
    await fill(a, alice)
    await a.click('#login')
    await sees(t, a, '#error', 'Wrong username or password', 'logging in before registering says wrong username or password')
    await fill(a, { username: 'A!', password: 'short' })
    await a.click('#register')
    await sees(t, a, '#error', 'Usernames are 3 to 32 characters', 'a bad username is explained')
    await fill(a, alice)
    await a.click('#register')
    await sees(t, a, '#me', alice.username, 'alice registered and is logged in')
    t.ok(await a.locator('#error').isHidden(), 'the error is gone after success')

    await b.goto(gw.httpUrl)
    await sees(t, b, '#status', 'connected', 'bob connects')
    await fill(b, bob)
    await b.click('#register')
    await sees(t, b, '#me', bob.username, 'bob registered and is logged in')
    t.same(errors, [], 'no script errors')
  })

  await t.test('web chat - friends, presence, one-to-one both ways, group, broadcast', async (t) => {
    await a.fill('#friend-name', `nobody_${suffix}`)
    await a.click('#add-friend button')
    await sees(t, a, '#error', `User not found: there is no user "nobody_${suffix}"`, 'adding an unknown user says user not found')
    await a.fill('#friend-name', bob.username)
    await a.click('#add-friend button')
    await sees(t, a, `#friends li[data-username="${bob.username}"][data-online="true"]`, 'online', 'alice sees bob online')

    await a.click(`#friends li[data-username="${bob.username}"]`)
    await a.fill('#text', 'hi bob, from the browser')
    await a.click('#send')
    await sees(t, a, '#messages .msg.mine', 'hi bob, from the browser', 'alice sees her message')
    await sees(t, b, `#friends li[data-username="${alice.username}"] .unread`, '1', 'bob gets it live: an unread badge on alice')
    await b.click(`#friends li[data-username="${alice.username}"]`)
    await sees(t, b, '#messages .msg', 'hi bob, from the browser', 'bob reads it')
    await b.fill('#text', 'hi alice!')
    await b.press('#text', 'Enter')
    await sees(t, a, '#messages .msg:not(.mine)', 'hi alice!', 'alice gets the reply live in the open conversation')

    await b.fill('#group-id', 'no_such_group')
    await b.click('#join-group button')
    await sees(t, b, '#error', /Group not found|not a member/, 'joining an unknown group is explained')

    await a.fill('#group-name', 'team')
    await a.click('#new-group button')
    await sees(t, a, '#conv-title', '# team', 'alice created and opened the group')
    const groupId = (await a.locator('#groups li').first().getAttribute('data-group-id'))!
    t.match(groupId, /^[A-Za-z0-9_-]+$/, 'the group has an id')
    await b.fill('#group-id', groupId)
    await b.click('#join-group button')
    await sees(t, b, '#conv-title', '# team', 'bob joined the group by id')
    await a.fill('#text', 'hello team')
    await a.click('#send')
    await sees(t, b, '#messages .msg', 'hello team', 'bob gets the group message live')

    const admin = await GatewayConnection.open(gw.url, { timeout: 8_000 })
    t.teardown(() => admin.close())
    await admin.call('user.login', { username: 'admin', password: ADMIN_PASSWORD })
    await admin.call('admin.broadcast', { text: `maintenance at 5 (${suffix})` })
    await sees(t, a, '#banner', `maintenance at 5 (${suffix})`, 'alice sees the broadcast banner')
    await sees(t, b, '#banner', `maintenance at 5 (${suffix})`, 'bob sees the broadcast banner')
  })

  await t.test('web chat - offline messages are shown at login', async (t) => {
    await b.close()
    await sees(t, a, `#friends li[data-username="${bob.username}"][data-online="false"]`, 'offline', 'alice sees bob go offline')
    await a.click(`#friends li[data-username="${bob.username}"]`)
    await a.fill('#text', 'are you there? (sent while you were away)')
    await a.click('#send')
    await sees(t, a, '#messages .msg.mine', 'are you there?', 'alice sent it')

    b = await ctxB.newPage()
    await b.goto(gw.httpUrl)
    await sees(t, b, '#status', 'connected', 'bob opens the page again')
    t.ok(await b.locator('#auth').isVisible(), 'a new page asks bob to log in')
    await fill(b, { username: bob.username, password: 'wrong-password' })
    await b.click('#login')
    await sees(t, b, '#error', 'Wrong username or password', 'a wrong password is explained')
    await fill(b, bob)
    await b.click('#login')
    await sees(t, b, '#offline li', 'are you there? (sent while you were away)', 'bob sees the offline message at login')
    await sees(t, b, `#friends li[data-username="${alice.username}"] .unread`, '1', 'and an unread badge on alice')
    await b.click('#offline li')
    await sees(t, b, '#messages .msg', 'hi alice!', 'opening the conversation shows its history')
    await sees(t, b, '#messages .msg', 'are you there?', 'with the offline message in it')
    await b.screenshot({ path: await screenshotPath('chat.png') })
  })

  await t.test('web chat - a page offline misses nothing: back online it shows every missed message once, with the unread badge', async (t) => {
    await b.click('#groups li[data-group-id]')
    await sees(t, b, '#conv-title', '# team', 'bob looks at the group')
    await b.evaluate(() => (window as unknown as { switchboard: { connection: { close(): void } } }).switchboard.connection.close())
    await sees(t, b, '#status', /disconnected/, "bob's page is offline")
    await a.click(`#friends li[data-username="${bob.username}"]`)
    for (const n of [1, 2, 3]) {
      await a.fill('#text', `missed ${n} (${suffix})`)
      await a.click('#send')
      await sees(t, a, '#messages .msg.mine', `missed ${n} (${suffix})`, `alice sent missed ${n}`)
    }
    await new Promise((r) => setTimeout(r, 500))
    t.equal(await b.locator('#friends .unread').count(), 0, 'nothing reaches the offline page')
    await b.evaluate(() => (window as unknown as { switchboard: { connection: { start(): void } } }).switchboard.connection.start())
    await sees(t, b, '#status', 'connected', 'bob is back online')
    await sees(t, b, `#friends li[data-username="${alice.username}"] .unread`, '3', 'the unread badge counts the 3 missed messages')
    await b.click(`#friends li[data-username="${alice.username}"]`)
    for (const n of [1, 2, 3]) await sees(t, b, '#messages .msg', `missed ${n} (${suffix})`, `missed ${n} is shown`)
    t.equal(await b.locator('#messages .msg', { hasText: `(${suffix})` }).count(), 3, 'each exactly once')
    t.equal(await b.locator(`#friends li[data-username="${alice.username}"] .unread`).count(), 0, 'the badge cleared when bob opened the conversation')
  })

  await t.test("web chat - an edit and a delete show on the other user's page", async (t) => {
    const mine = a.locator('#messages .msg.mine', { hasText: `missed 2 (${suffix})` })
    a.once('dialog', (d) => void d.accept(`fixed 2 (${suffix})`))
    await mine.locator('button.edit').click()
    await sees(t, b, '#messages .msg', `fixed 2 (${suffix})`, 'bob sees the new text')
    await sees(t, b, '#messages .msg .meta', 'edited', 'marked edited')
    await a
      .locator('#messages .msg.mine', { hasText: `missed 3 (${suffix})` })
      .locator('button.delete')
      .click()
    await sees(t, b, '#messages .msg .text.deleted', 'message deleted', 'bob sees the delete')
    t.equal(await b.locator('#messages .msg', { hasText: `missed 3 (${suffix})` }).count(), 0, 'the deleted text is gone from his page')
  })

  await t.test('ops dashboard - counts rise after the chat; workers coming and going show up', async (t) => {
    t.ok(await until(async () => (await dashboardRequests(ops, 'message', 'send')) >= before + 3), 'message.send requests rose by the three direct messages')
    t.ok((await dashboardRequests(ops, 'gateway', 'message.send')) >= 3, 'the gateway counts its message.send calls')
    t.ok((await dashboardRequests(ops, 'gateway', 'user.login')) >= 4, 'and its logins, failed ones included')
    // biome-ignore lint/performance/useDomNodeTextContent: Playwright's Locator.innerText(), not the DOM property
    const gatewayErrors = Number(await ops.locator('[data-service="gateway"] tr[data-method="user.login"] td').nth(2).innerText())
    t.ok(gatewayErrors >= 2, 'the failed logins count as errors')
    t.ok(await ops.locator('#overall-chart svg polyline.req').count(), 'the overall chart draws requests/s')

    const extra = await system.add('friend')
    t.ok(await until(async () => (await instanceCount(ops, 'friend')) === 2), 'a started friend worker shows up')
    await ops.screenshot({ path: await screenshotPath('ops.png'), fullPage: true })
    await extra.stop()
    t.ok(await until(async () => (await instanceCount(ops, 'friend')) === 1), 'a stopped friend worker goes away')
  })
})
