import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import ipaddr from 'ipaddr.js';
import { createHttpClient } from '../../actions/http.ts';
import { createEgressGuard, refusalReason } from '../../actions/egress-guard.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../stand-ins/webhook-receiver.ts';
import { fastRetry, startActionsHarness, type ActionsHarness } from './harness.ts';

const refused = [
  '127.0.0.1',
  '127.0.0.2',
  '0.0.0.0',
  '10.1.2.3',
  '172.16.0.1',
  '192.168.1.10',
  '169.254.169.254', // AWS, GCP, Azure metadata
  '100.100.100.200', // Alibaba metadata (carrier-grade NAT range)
  '::1',
  '::',
  'fe80::1',
  'fd00:ec2::254', // AWS metadata over IPv6
  '::ffff:127.0.0.1',
  '::ffff:10.0.0.1',
  '224.0.0.1',
  '255.255.255.255',
];

describe('egress guard: addresses', () => {
  for (const address of refused) {
    test(`refuses ${address}`, () => {
      assert.ok(refusalReason(address, []), `${address} should be refused`);
    });
  }
  for (const address of ['93.184.215.14', '1.1.1.1', '2606:4700:4700::1111']) {
    test(`allows public ${address}`, () => {
      assert.equal(refusalReason(address, []), undefined);
    });
  }
  test('an allowlist entry (CIDR or address) lets a private address through', () => {
    const allowlist = [ipaddr.parseCIDR('10.20.0.0/16'), ipaddr.parseCIDR('127.0.0.1/32')];
    assert.equal(refusalReason('10.20.5.5', allowlist), undefined);
    assert.equal(refusalReason('127.0.0.1', allowlist), undefined);
    assert.ok(refusalReason('10.21.0.1', allowlist));
    assert.ok(refusalReason('127.0.0.2', allowlist));
  });
});

describe('egress guard: requests', () => {
  let allowed: WebhookReceiver;
  let internal: WebhookReceiver;

  before(async () => {
    allowed = await startWebhookReceiver({ host: '127.0.0.1' });
    internal = await startWebhookReceiver({ host: '127.0.0.2' });
  });
  after(async () => {
    await allowed.close();
    await internal.close();
  });

  const call = async (guardOptions: Parameters<typeof createEgressGuard>[0], url: string) => {
    const guard = createEgressGuard(guardOptions);
    try {
      return await createHttpClient(guard.dispatcher)({ url, method: 'POST', body: '{}', headers: { 'idempotency-key': 'k' }, timeoutMs: 2_000 });
    } finally {
      await guard.close();
    }
  };

  test('a literal loopback address is refused without an allowlist', async () => {
    await assert.rejects(call({}, `${allowed.url}/x`), /refused to connect to 127\.0\.0\.1/);
    assert.equal(allowed.requests.length, 0);
  });

  test('a DNS name resolving to loopback (localhost) is refused: the check is on the resolved address', async () => {
    await assert.rejects(call({}, `http://localhost:${allowed.port}/x`), /refused to connect to localhost/);
  });

  test('a DNS name resolving to a private address is refused', async () => {
    const lookup = (host: string) => Promise.resolve(host === 'internal.example.com' ? ['10.0.0.7'] : ['93.184.215.14']);
    await assert.rejects(call({ lookup }, 'http://internal.example.com/admin'), /10\.0\.0\.7 is a private address/);
  });

  test('a name with one public and one private address is refused', async () => {
    const lookup = () => Promise.resolve(['93.184.215.14', '169.254.169.254']);
    await assert.rejects(call({ lookup }, 'http://mixed.example.com/'), /169\.254\.169\.254 is a linkLocal address/);
  });

  test('a name resolved to an allowlisted address is allowed', async () => {
    const lookup = () => Promise.resolve(['127.0.0.1']);
    const response = await call({ lookup, allowlist: ['127.0.0.1'] }, `http://receiver.internal.test:${allowed.port}/ok`);
    assert.equal(response.status, 200);
  });

  test('a redirect to a non-allowlisted address is refused, and that address sees nothing', async () => {
    allowed.redirect('/go', `${internal.url}/metadata`);
    await assert.rejects(call({ allowlist: ['127.0.0.1'] }, `${allowed.url}/go`), /refused to connect to 127\.0\.0\.2/);
    assert.equal(internal.requests.length, 0);
  });

  test('a redirect to an allowlisted address is followed', async () => {
    allowed.redirect('/hop', `${allowed.url}/landed`);
    const response = await call({ allowlist: ['127.0.0.1'] }, `${allowed.url}/hop`);
    assert.equal(response.status, 200);
    assert.ok(allowed.requests.some((request) => request.path === '/landed'));
  });
});

describe('egress guard: call-webhook actions', () => {
  let harness: ActionsHarness;
  let internal: WebhookReceiver;
  before(async () => {
    harness = await startActionsHarness({ allowlist: [] });
    internal = await startWebhookReceiver({ host: '127.0.0.2' });
  });
  after(async () => {
    await harness.close();
    await internal.close();
  });

  test('an action aimed at a private address fails permanently, without a retry', async () => {
    const id = await harness.fire({ kind: 'call-webhook', url: `${internal.url}/hook`, retry: fastRetry });
    const run = await harness.waitForRun(id, 'failed');
    assert.equal(run.attempts, 1);
    assert.match(run.error ?? '', /refused to connect to 127\.0\.0\.2/);
    assert.equal(internal.requests.length, 0);
  });

  test('cloud metadata is refused', async () => {
    const id = await harness.fire({ kind: 'call-webhook', url: 'http://169.254.169.254/latest/meta-data/', method: 'GET', retry: fastRetry });
    const run = await harness.waitForRun(id, 'failed');
    assert.match(run.error ?? '', /169\.254\.169\.254 is a linkLocal address/);
  });
});
