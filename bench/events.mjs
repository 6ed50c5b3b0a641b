// The subscribers of the events row of bench/run: one graphql-transport-ws connection per user of
// SUBSCRIBERS_FILE ("<id> <token>" per line), each subscribed to its followEvents. Prints
// "READY <n>" once every subscription is open, then, on SIGTERM, one JSON line: events received,
// and the delay from each follow's time (the `at` of its event, taken just before its commit) to
// its frame here, in milliseconds.
//
//   node bench/events.mjs ws://127.0.0.1:18081/graphql/ws target/bench/subscribers
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(new URL('../tests/clients/package.json', import.meta.url));
const WebSocket = require('ws');

const [url, file] = process.argv.slice(2);
const subscribers = readFileSync(file, 'utf8').trim().split('\n').map((line) => line.split(' '));
const delays = [];
let open = 0;
let errors = 0;

const query = 'subscription { followEvents { id at } }';

function subscribe([id, token]) {
  const socket = new WebSocket(url, 'graphql-transport-ws');
  socket.on('open', () => {
    socket.send(JSON.stringify({ type: 'connection_init', payload: { Authorization: `Bearer ${token}` } }));
  });
  socket.on('message', (data) => {
    const message = JSON.parse(data);
    if (message.type === 'connection_ack') {
      socket.send(JSON.stringify({ type: 'subscribe', id: 'e', payload: { query } }));
      if (++open === subscribers.length) console.log(`READY ${open}`);
    } else if (message.type === 'next' && message.payload.data) {
      delays.push(Date.now() - Date.parse(message.payload.data.followEvents.at));
    } else if (message.type !== 'ping' && message.type !== 'pong') {
      errors++;
    }
  });
  socket.on('error', () => errors++);
  socket.on('close', () => errors++);
}

subscribers.forEach(subscribe);

process.on('SIGTERM', () => {
  delays.sort((a, b) => a - b);
  const at = (q) => (delays.length ? delays[Math.min(delays.length - 1, Math.floor(q * delays.length))] : 0);
  console.log(JSON.stringify({ events: delays.length, p50: at(0.5), p99: at(0.99), max: at(1), errors }));
  process.exit(0);
});
