import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ProtocolError, ResponseError } from '@platformatic/kafka';
import { isCoordinatorNotReady } from '../../platform/kafka/kafka-consumer.ts';

/*
 * A process started against a freshly formatted Kafka joins its consumer group while the broker
 * still creates __consumer_offsets: the join answers NOT_COORDINATOR (or COORDINATOR_NOT_AVAILABLE,
 * COORDINATOR_LOAD_IN_PROGRESS) for a while. Start-up waits and retries for those (up to 60 s)
 * instead of exiting; anything else still fails the start at once. The errors are built the
 * way the client library builds them from a broker's response.
 */
test('the coordinator answers of a fresh cluster are recognised as "retry", nested as the library nests them', () => {
  for (const id of ['NOT_COORDINATOR', 'COORDINATOR_NOT_AVAILABLE', 'COORDINATOR_LOAD_IN_PROGRESS']) {
    assert.equal(isCoordinatorNotReady(new ProtocolError(id)), true, id);
  }
  // JoinGroup (api key 11) answering error code 16 (NOT_COORDINATOR) for the group
  assert.equal(isCoordinatorNotReady(new ResponseError(11, 9, { '/': [16, 'This is not the correct coordinator.'] }, {})), true);
  assert.equal(isCoordinatorNotReady(new ResponseError(11, 9, { '/': [25, null] }, {})), false, 'UNKNOWN_MEMBER_ID is not a coordinator problem');
  assert.equal(isCoordinatorNotReady(new ProtocolError('GROUP_AUTHORIZATION_FAILED')), false);
  assert.equal(isCoordinatorNotReady(new Error('connect ECONNREFUSED')), false);
});
