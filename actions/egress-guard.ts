import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';
import { Agent, buildConnector, interceptors, type Dispatcher } from 'undici';
import { PermanentActionError } from '../platform/ports/action-queue.ts';

/*
 * The egress guard: outgoing action requests may only reach public unicast addresses, unless
 * the address is in the configured allowlist. The check runs on the IP the connection is about
 * to use (after DNS resolution, on every connection, including redirect hops), so a DNS name
 * pointing at 10.0.0.1 or a redirect to 169.254.169.254 is refused just like the literal address.
 */

export interface EgressOptions {
  /** CIDRs or single addresses that may be reached even though they are not public, e.g. "10.20.0.0/16", "127.0.0.1". */
  readonly allowlist?: readonly string[];
  /** DNS resolution (tests inject names that resolve to private addresses). Default: the system resolver. */
  readonly lookup?: (hostname: string) => Promise<readonly string[]>;
  /** Redirects followed per request (each hop is checked again). Default 3. */
  readonly maxRedirections?: number;
  /** Connections kept per origin. Default 32. */
  readonly connectionsPerOrigin?: number;
}

/** The destination is not allowed; never retried. */
export class EgressRefusedError extends PermanentActionError {
  override readonly name = 'EgressRefusedError';
}

type Range = [ipaddr.IPv4 | ipaddr.IPv6, number];

function parseAllowlist(entries: readonly string[]): Range[] {
  return entries.map((entry) => {
    const trimmed = entry.trim();
    if (trimmed.includes('/')) return ipaddr.parseCIDR(trimmed);
    const address = ipaddr.parse(trimmed);
    return [address, address.kind() === 'ipv4' ? 32 : 128];
  });
}

/** Named ranges of ipaddr.js that are never reachable without an allowlist entry: everything but public unicast. */
function publicUnicast(address: ipaddr.IPv4 | ipaddr.IPv6): boolean {
  return address.range() === 'unicast';
}

/** Why an address is refused, or undefined when it may be reached. */
export function refusalReason(ip: string, allowlist: readonly Range[]): string | undefined {
  let address: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    address = ipaddr.process(ip); // IPv4-mapped IPv6 becomes IPv4
  } catch {
    return `"${ip}" is not an IP address`;
  }
  for (const [network, bits] of allowlist) {
    if (address.kind() === network.kind() && address.match([network, bits] as Range)) return undefined;
  }
  if (publicUnicast(address)) {
    // NAT64 and 6to4 embed IPv4 addresses that may be private: check the embedded one too.
    if (address.kind() === 'ipv6') {
      const v6 = address as ipaddr.IPv6;
      if (v6.range() !== 'unicast') return `${ip} is a ${v6.range()} address`;
    }
    return undefined;
  }
  return `${ip} is a ${address.range()} address (loopback, private, link-local and cloud-metadata addresses need an egress allowlist entry)`;
}

async function systemLookup(hostname: string): Promise<readonly string[]> {
  const records = await dnsLookup(hostname, { all: true, verbatim: true });
  return records.map((record) => record.address);
}

export interface EgressGuard {
  /** An undici dispatcher whose every connection is checked (and which follows redirects, checking each hop). */
  readonly dispatcher: Dispatcher;
  /** Resolves the host and returns the address to connect to; rejects with EgressRefusedError. */
  check(hostname: string): Promise<string>;
  close(): Promise<void>;
}

export function createEgressGuard(options: EgressOptions = {}): EgressGuard {
  const allowlist = parseAllowlist(options.allowlist ?? []);
  const resolve = options.lookup ?? systemLookup;

  async function check(hostname: string): Promise<string> {
    const host = hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
    let addresses: readonly string[];
    if (isIP(host) !== 0) {
      addresses = [host];
    } else {
      try {
        addresses = await resolve(host);
      } catch (error) {
        throw new EgressRefusedError(`cannot resolve ${host}: ${error instanceof Error ? error.message : String(error)}`);
      }
      if (addresses.length === 0) throw new EgressRefusedError(`${host} has no address`);
    }
    // Every address must pass: a name resolving to one public and one private address is refused.
    for (const address of addresses) {
      const reason = refusalReason(address, allowlist);
      if (reason) throw new EgressRefusedError(`refused to connect to ${host}: ${reason}`);
    }
    return addresses[0]!;
  }

  const baseConnect = buildConnector({ timeout: 10_000 });
  const agent = new Agent({
    connections: options.connectionsPerOrigin ?? 32,
    keepAliveTimeout: 4_000,
    connect(connectOptions, callback) {
      check(connectOptions.hostname).then(
        (ip) => {
          const servername = connectOptions.servername ?? (isIP(connectOptions.hostname) === 0 ? connectOptions.hostname : undefined);
          baseConnect({ ...connectOptions, hostname: ip, ...(servername ? { servername } : {}) }, callback);
        },
        (error: Error) => callback(error, null),
      );
    },
  });
  const dispatcher = agent.compose(interceptors.redirect({ maxRedirections: options.maxRedirections ?? 3 }));
  return {
    dispatcher,
    check,
    async close() {
      await agent.close();
    },
  };
}
