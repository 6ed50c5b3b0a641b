// What tests/api/clients.rs hands the client tests: the service's URL and three users with tokens.
export const url = process.env.FG_URL;
export const wsUrl = url.replace(/^http/, 'ws') + '/graphql/ws';
export const users = ['A', 'B', 'C'].map((name) => ({
  id: process.env[`FG_USER_${name}`],
  token: process.env[`FG_TOKEN_${name}`],
}));
export const redis = process.env.FG_REDIS === '1';
