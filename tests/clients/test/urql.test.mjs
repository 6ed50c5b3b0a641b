// urql with its defaults: queries over GET (preferGetMethod "within-url-limit"), mutations over
// POST, the Accept header it sends, and error codes in CombinedError.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Client, cacheExchange, fetchExchange, gql } from '@urql/core';
import { url, users } from '../env.mjs';

function client(user, methods) {
  return new Client({
    url: `${url}/graphql`,
    exchanges: [cacheExchange, fetchExchange],
    fetch: (input, init) => {
      methods.push(init?.method ?? 'GET');
      return fetch(input, init);
    },
    fetchOptions: () => ({ headers: { authorization: `Bearer ${user.token}` } }),
  });
}

test('urql with its defaults follows and reads', async () => {
  const [a, b] = users;
  const methods = [];
  const urql = client(a, methods);
  const follow = gql`mutation Follow($t: ID!) { followUser(target: $t) { target user { id followersCount viewerIsFollowing } } }`;
  const followed = await urql.mutation(follow, { t: b.id }).toPromise();
  assert.equal(followed.error, undefined, String(followed.error));
  assert.equal(followed.data.followUser.user.viewerIsFollowing, true);
  const me = gql`query Me { viewer { id following(first: 10) { totalCount nodes { id } } } }`;
  const read = await urql.query(me, {}, { requestPolicy: 'network-only' }).toPromise();
  assert.equal(read.error, undefined, String(read.error));
  assert.ok(read.data.viewer.following.nodes.some((n) => n.id === b.id));
  assert.deepEqual(methods, ['POST', 'GET'], 'a query by GET, a mutation by POST');
});

test('urql sees the error codes', async () => {
  const [a] = users;
  const urql = client(a, []);
  const self = await urql.mutation(gql`mutation { followUser(target: "${a.id}") { target } }`, {}).toPromise();
  assert.equal(self.error.graphQLErrors[0].extensions.code, 'BAD_USER_INPUT');
  const invalid = await urql.query(gql`query { viewer { nosuchfield } }`, {}).toPromise();
  assert.equal(invalid.error.graphQLErrors[0].extensions.code, 'BAD_USER_INPUT', 'a 400 under graphql-response+json is still read');
  const anonymous = new Client({ url: `${url}/graphql`, exchanges: [fetchExchange] });
  const denied = await anonymous.query(gql`query { viewer { id } }`, {}).toPromise();
  assert.equal(denied.error.graphQLErrors[0].extensions.code, 'UNAUTHENTICATED');
});
