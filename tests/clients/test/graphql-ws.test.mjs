// The graphql-ws client: the token in connectionParams, operations as over HTTP, 4403 for a
// bad token.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { users, wsUrl } from '../env.mjs';

function client(connectionParams, on = {}) {
  return createClient({ url: wsUrl, webSocketImpl: WebSocket, connectionParams, retryAttempts: 0, lazy: true, on });
}

async function once(ws, payload) {
  const iterator = ws.iterate(payload);
  const results = [];
  for await (const result of iterator) results.push(result);
  return results;
}

test('queries and mutations run over graphql-ws for the token in connectionParams', async () => {
  const [a, b] = users;
  const ws = client({ Authorization: `Bearer ${b.token}` });
  try {
    const follow = await once(ws, { query: `mutation { followUser(target: "${a.id}") { user { id viewerIsFollowing } } }` });
    assert.equal(follow[0].data.followUser.user.viewerIsFollowing, true);
    const viewer = await once(ws, { query: '{ viewer { id following(first: 5) { nodes { id } } } }' });
    assert.equal(viewer[0].data.viewer.id, b.id);
    assert.ok(viewer[0].data.viewer.following.nodes.some((n) => n.id === a.id));
  } finally {
    await ws.dispose();
  }
});

test('a bad token closes the socket with 4403', async () => {
  let closed;
  const ws = client({ Authorization: 'Bearer forged' }, { closed: (event) => { closed = event.code; } });
  await assert.rejects(once(ws, { query: '{ __typename }' }));
  assert.equal(closed, 4403);
  await ws.dispose();
});

test('a subscription over graphql-ws hears a new follower live', async () => {
  const [a, , c] = users;
  const asA = client({ Authorization: `Bearer ${a.token}` });
  const asC = client({ Authorization: `Bearer ${c.token}` });
  try {
    // A may follow C already (another test): unfollow first, so that the follow is new.
    await once(asA, { query: `mutation { unfollowUser(target: "${c.id}") { target } }` });
    const since = new Date();
    const events = asC.iterate({
      query: 'subscription($after: ID) { followEvents(after: $after) { id kind at actor { id } } }',
      variables: { after: '0' },
    });
    await once(asA, { query: `mutation { followUser(target: "${c.id}") { target } }` });
    let heard;
    for await (const result of events) {
      assert.equal(result.errors, undefined, JSON.stringify(result.errors));
      const event = result.data.followEvents;
      if (event.actor.id === a.id && new Date(event.at) >= new Date(since.getTime() - 1000)) {
        heard = event;
        break;
      }
    }
    assert.equal(heard.kind, 'FOLLOWED');
    assert.match(heard.id, /^[1-9][0-9]*$/);
  } finally {
    await asA.dispose();
    await asC.dispose();
  }
});
