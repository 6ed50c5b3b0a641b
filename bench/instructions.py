"""Sends a fixed, seeded sequence of one row's requests, one at a time on one keep-alive
connection, for bench/instructions (which counts the service's instructions meanwhile).

    python3 bench/instructions.py ROW COUNT URL TOKENS_FILE N_USERS [SEED]

ROW is one of typename, following, fanout, follow (a follow and its unfollow in turn). The same arguments send the same requests,
so two builds can be compared request for request. Exits non-zero on any non-2xx answer or
GraphQL error, so that a count is never taken over failures.
"""

import http.client
import json
import random
import sys
from urllib.parse import urlparse

FANOUT = open(__file__.rsplit("/", 1)[0] + "/fanout.graphql").read().strip()
FOLLOWING = "{ following(first: 20) { nodes { id name } } }"
FOLLOW = "mutation($t: ID!) { followUser(target: $t) { target } }"
UNFOLLOW = "mutation($t: ID!) { unfollowUser(target: $t) { target } }"


def requests(row, count, viewers, n_users, rng):
    """(body, token) pairs of the row, `count` of them."""
    viewer = token = target = None
    for sent in range(count):
        if row != "follow" or sent % 2 == 0:
            viewer, token = rng.choice(viewers)
        if row == "typename":
            yield {"query": "{ __typename }"}, None
        elif row == "following":
            yield {"query": FOLLOWING}, token
        elif row == "fanout":
            ids = [str(rng.randint(1, n_users)) for _ in range(50)]
            yield {"query": FANOUT, "variables": {"ids": ids}}, token
        elif row == "follow" and sent % 2 == 0:
            target = rng.randint(1, n_users)
            while target == viewer:
                target = rng.randint(1, n_users)
            yield {"query": FOLLOW, "variables": {"t": str(target)}}, token
        elif row == "follow":
            # The follow undone by the same viewer: every request writes, and the database is
            # as it was after the sequence, so the next run sends the same writes.
            yield {"query": UNFOLLOW, "variables": {"t": str(target)}}, token
        else:
            sys.exit(f"unknown row {row}")


def main():
    row, count, url, tokens_file, n_users = sys.argv[1:6]
    seed = int(sys.argv[6]) if len(sys.argv) > 6 else 1
    rng = random.Random(seed)
    viewers = []
    with open(tokens_file) as lines:
        for line in lines:
            viewer, token = line.split()
            viewers.append((int(viewer), token))
    target = urlparse(url)
    connection = http.client.HTTPConnection(target.hostname, target.port, timeout=120)
    for body, token in requests(row, int(count), viewers, int(n_users), rng):
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        connection.request("POST", "/graphql", json.dumps(body), headers)
        response = connection.getresponse()
        answer = response.read()
        if response.status // 100 != 2 or b'"errors"' in answer:
            sys.exit(f"{row}: {response.status} {answer[:300]!r}")


if __name__ == "__main__":
    main()
