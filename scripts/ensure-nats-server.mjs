#!/usr/bin/env node
// Makes sure nats-server is on PATH (or NATS_SERVER points at one). Installs Debian's package when it can.
import { spawnSync } from 'node:child_process'

export function natsServerBin() {
  return process.env.NATS_SERVER || 'nats-server'
}

function found() {
  const r = spawnSync(natsServerBin(), ['--version'], { encoding: 'utf8' })
  return r.status === 0 ? r.stdout.trim() : undefined
}

function canApt() {
  return process.getuid?.() === 0 && spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status === 0
}

export function ensureNatsServer() {
  let version = found()
  if (version) return version
  if (canApt()) {
    console.error('nats-server not found: installing Debian package nats-server (apt-get)…')
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
    spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env })
    spawnSync('apt-get', ['install', '-y', '-qq', 'nats-server'], { stdio: 'inherit', env })
    version = found()
    if (version) return version
  }
  console.error(`nats-server is not installed and could not be installed automatically.
Install it, then run this again:
  Debian/Ubuntu:  sudo apt-get install nats-server
  macOS:          brew install nats-server
  Go toolchain:   go install github.com/nats-io/nats-server/v2@latest
  or set NATS_SERVER=/path/to/nats-server`)
  process.exit(1)
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const v = ensureNatsServer()
  console.error(`using ${v}`)
}
