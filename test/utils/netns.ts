import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { promisify } from 'node:util'

/**
 * Linux network namespaces for multi-host tests: N node namespaces, each
 * with one interface `eth0` on a private test subnet, joined by a bridge
 * that lives in a separate "switch" namespace. Every link, address and
 * route exists only inside namespaces created here (nothing is added to the
 * host's own namespace), and teardown deletes them all, which removes their
 * interfaces with them.
 *
 * The test subnet is 10.213.<k>.0/24 with k derived from the process id, so
 * concurrent runs do not share addresses; node i gets 10.213.<k>.<i+1>.
 * Namespace names carry the prefix NETNS_PREFIX, so a run can also remove
 * namespaces a killed earlier run of this test left behind.
 */

const exec = promisify(execFile)

export const NETNS_PREFIX = 'h12t-'
/** `ip` commands are quick; a hang means something is badly wrong. */
const IP_TIMEOUT_MS = 10_000

export interface NetnsNode {
  /** Namespace name. */
  ns: string
  /** The node's address on the test subnet. */
  ip: string
}

export interface Topology {
  nodes: NetnsNode[]
  switchNs: string
  subnet: string
}

async function ip(...args: string[]): Promise<string> {
  const { stdout } = await exec('ip', args, { timeout: IP_TIMEOUT_MS })
  return stdout
}

/**
 * Why multi-host tests cannot run here, or undefined when they can: they need
 * root, the `ip` tool, and the right to create a namespace (a container may
 * deny it even to root; that is probed by creating and deleting one).
 */
export async function netnsUnavailable(): Promise<string | undefined> {
  if (process.platform !== 'linux') return `network namespaces need Linux (this is ${process.platform})`
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return 'not running as root (network namespaces need CAP_SYS_ADMIN)'
  const found = ['/usr/sbin/ip', '/sbin/ip', '/usr/bin/ip', '/bin/ip'].some((p) => existsSync(p))
  if (!found) return 'the `ip` tool (iproute2) is not installed'
  const probe = `${NETNS_PREFIX}${process.pid}-probe`
  try {
    await ip('netns', 'add', probe)
  } catch (err) {
    return `cannot create a network namespace: ${(err as Error).message.trim()}`
  }
  await ip('netns', 'del', probe).catch(() => undefined)
  return undefined
}

/** Namespaces of this test left by an earlier run that was killed before its teardown. */
export async function removeStaleNamespaces(): Promise<void> {
  const list = await ip('netns', 'list').catch(() => '')
  for (const line of list.split('\n')) {
    const name = line.split(' ')[0]?.trim()
    if (name === undefined || !name.startsWith(NETNS_PREFIX)) continue
    // Only ones whose creating process is gone: a concurrent run's namespaces stay.
    const pid = Number(/-(\d+)-/.exec(name)?.[1])
    if (Number.isInteger(pid) && pidAlive(pid)) continue
    await ip('netns', 'del', name).catch(() => undefined)
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/**
 * Creates `count` node namespaces bridged together. On any failure, whatever
 * was created is deleted before the error is rethrown.
 */
export async function createTopology(count: number): Promise<Topology> {
  const k = (process.pid % 250) + 1
  const subnet = `10.213.${k}.0/24`
  const base = `${NETNS_PREFIX}${process.pid}-`
  const topo: Topology = { nodes: [], switchNs: `${base}sw`, subnet }
  const created: string[] = []
  try {
    await ip('netns', 'add', topo.switchNs)
    created.push(topo.switchNs)
    await ip('-n', topo.switchNs, 'link', 'add', 'br0', 'type', 'bridge')
    await ip('-n', topo.switchNs, 'link', 'set', 'br0', 'up')
    for (let i = 0; i < count; i++) {
      const node: NetnsNode = { ns: `${base}n${i + 1}`, ip: `10.213.${k}.${i + 1}` }
      await ip('netns', 'add', node.ns)
      created.push(node.ns)
      // Both ends are created inside the switch namespace; one moves straight into the node's.
      await ip('-n', topo.switchNs, 'link', 'add', `p${i + 1}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', node.ns)
      await ip('-n', topo.switchNs, 'link', 'set', `p${i + 1}`, 'master', 'br0', 'up')
      await ip('-n', node.ns, 'addr', 'add', `${node.ip}/24`, 'dev', 'eth0')
      await ip('-n', node.ns, 'link', 'set', 'eth0', 'up')
      await ip('-n', node.ns, 'link', 'set', 'lo', 'up')
      topo.nodes.push(node)
    }
  } catch (err) {
    await deleteNamespaces(created)
    throw err
  }
  return topo
}

async function deleteNamespaces(names: string[]): Promise<string[]> {
  const failed: string[] = []
  for (const name of [...names].reverse()) {
    await ip('netns', 'del', name).catch((err: Error) => failed.push(`${name}: ${err.message.trim()}`))
  }
  return failed
}

/** Deletes every namespace of the topology; resolves with the ones that could not be deleted. */
export function destroyTopology(topo: Topology): Promise<string[]> {
  return deleteNamespaces([topo.switchNs, ...topo.nodes.map((n) => n.ns)])
}

/** Names of the namespaces that currently exist (to check a teardown). */
export async function listNamespaces(): Promise<string[]> {
  const list = await ip('netns', 'list')
  return list.split('\n').map((l) => l.split(' ')[0]!.trim()).filter((n) => n !== '')
}

/** Runs `command` inside namespace `ns` (`ip netns exec` execs it, so the child's pid is the command's). */
export function spawnInNamespace(ns: string, command: string, args: string[], env: NodeJS.ProcessEnv = process.env): ChildProcess {
  return spawn('ip', ['netns', 'exec', ns, command, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] })
}
