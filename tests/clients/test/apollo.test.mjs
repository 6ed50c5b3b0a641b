// Apollo Client 4: normalisation by User:id, relayStylePagination with fetchMore, error codes,
// queries over GET (useGETForQueries), and automatic persisted queries over GET.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { ApolloClient, HttpLink, InMemoryCache, gql } from '@apollo/client';
import { PersistedQueryLink } from '@apollo/client/link/persisted-queries';
import { relayStylePagination } from '@apollo/client/utilities';
import { url, users } from '../env.mjs';

function recording(log) {
  return (input, init) => {
    const target = new URL(typeof input === 'string' ? input : input.url);
    const body = init?.body ? JSON.parse(init.body) : null;
    log.push({ method: init?.method ?? 'GET', query: Boolean(body?.query ?? target.searchParams.get('query')) });
    return fetch(input, init);
  };
}

function apollo(user, { get = false, persisted = false, log = [] } = {}) {
  const http = new HttpLink({
    uri: `${url}/graphql`,
    headers: { authorization: `Bearer ${user.token}` },
    useGETForQueries: get,
    fetch: recording(log),
  });
  const sha256 = (text) => createHash('sha256').update(text).digest('hex');
  const link = persisted ? new PersistedQueryLink({ sha256, useGETForHashedQueries: true }).concat(http) : http;
  const cache = new InMemoryCache({
    typePolicies: {
      User: { fields: { following: relayStylePagination(), followers: relayStylePagination() } },
      Query: { fields: { following: relayStylePagination(), followers: relayStylePagination() } },
    },
  });
  return new ApolloClient({ link, cache });
}

const FOLLOW = gql`mutation Follow($t: ID!) { followUser(target: $t) { target user { id followersCount viewerIsFollowing } } }`;
const PROFILE = gql`query Profile($id: ID!) { user(id: $id) { id name followersCount viewerIsFollowing } }`;
const PAGE = gql`query Page($after: String) {
  following(first: 1, after: $after) { edges { cursor node { id name } } pageInfo { hasNextPage endCursor } }
}`;

test('a follow updates the normalised User in the cache', async () => {
  const [, b, c] = users;
  const client = apollo(c, { get: true });
  const before = await client.query({ query: PROFILE, variables: { id: b.id } });
  await client.mutate({ mutation: FOLLOW, variables: { t: b.id } });
  const cached = client.readQuery({ query: PROFILE, variables: { id: b.id } });
  assert.equal(cached.user.viewerIsFollowing, true, 'User:id was updated by the payload');
  assert.equal(cached.user.followersCount, before.data.user.followersCount + 1);
});

test('relayStylePagination pages through the viewer\'s followings with fetchMore', async () => {
  const [a, b, c] = users;
  const client = apollo(a, { get: true });
  await client.mutate({ mutation: FOLLOW, variables: { t: b.id } });
  await client.mutate({ mutation: FOLLOW, variables: { t: c.id } });
  const first = await client.query({ query: PAGE });
  assert.equal(first.data.following.edges.length, 1);
  assert.equal(first.data.following.pageInfo.hasNextPage, true);
  const fresh = apollo(a, { get: true });
  const watched = fresh.watchQuery({ query: PAGE });
  const initial = await fresh.query({ query: PAGE });
  await watched.fetchMore({ variables: { after: initial.data.following.pageInfo.endCursor } });
  const merged = fresh.readQuery({ query: PAGE });
  const ids = merged.following.edges.map((e) => e.node.id);
  assert.deepEqual(new Set(ids), new Set([b.id, c.id]), 'both pages merged, newest first');
});

test('Apollo sees the error codes', async () => {
  const [a] = users;
  const client = apollo(a, { get: true });
  await assert.rejects(client.mutate({ mutation: FOLLOW, variables: { t: a.id } }), (error) => {
    assert.equal(error.errors[0].extensions.code, 'BAD_USER_INPUT');
    return true;
  });
  await assert.rejects(client.query({ query: gql`query { user(id: "1") { nosuchfield } }` }), (error) => {
    assert.equal(error.errors[0].extensions.code, 'BAD_USER_INPUT', 'a 400 body is read as GraphQL');
    return true;
  });
});

test('automatic persisted queries register once and then go by hash over GET', async () => {
  const [a, b] = users;
  const query = gql`query Persisted${Date.now()}($id: ID!) { user(id: $id) { id name } }`;
  const log = [];
  const first = apollo(a, { persisted: true, log });
  const result = await first.query({ query, variables: { id: b.id } });
  assert.equal(result.data.user.id, b.id);
  assert.deepEqual(log, [{ method: 'GET', query: false }, { method: 'POST', query: true }], 'hash, then the document');
  const again = [];
  const second = apollo(a, { persisted: true, log: again });
  const cached = await second.query({ query, variables: { id: b.id } });
  assert.equal(cached.data.user.id, b.id);
  assert.deepEqual(again, [{ method: 'GET', query: false }], 'by hash alone');
});
