// The real OpenAI Node SDK (npm `openai`, unmodified) against usher's
// gateway (tests/scripts/openai_sdk_test.sh starts `usher mock-model` and
// `usher serve`, then runs this). It starts nothing itself: the node, the
// mock upstream, the keys and the access log come from the environment, or
// from NAME=VALUE arguments that override it:
//
//   USHER_URL   http://127.0.0.1:PORT of the node (the SDK's baseURL is USHER_URL/v1)
//   MOCK_URL    http://127.0.0.1:PORT of the mock upstream (its GET /_stats)
//   KEY_BASIC   an account for the plain checks (a, b, c)
//   KEY_FULL    limit 1, no queue (d: 429)
//   KEY_SLOW    limit 1, queue max_depth 1, max_wait 0.3 s (e: 408)
//   KEY_CANCEL  limit 1 (f: abort mid-stream)
//   KEY_PROP    limit 8, queue max_depth 1000, max_wait 60 s (g: property run)
//   KEY_RT      the exclusive family: 1 at a time, 5 connections (i: realtime)
//   UPSTREAM_KEY  the gateway's upstream_key (h)
//   ACCESS_LOG  the node's access log file (h)
//   SDK_CALLS   the property run's call count (1000); SDK_SEED its seed (20260601)
//   SDK_CHECKS  the checks to run, as letters (abcdefghi)
//
// Account names in /metrics: basic, full, slow, cancel, prop, rt. Each check prints
// `ok - name` or `not ok - name: why`; the exit status is 1 if any failed.
import OpenAI from 'openai';
import { OpenAIRealtimeWebSocket } from 'openai/realtime/websocket';
import { OpenAIRealtimeWS } from 'openai/realtime/ws';
import { connect as tcpConnect } from 'node:net';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

const env = { ...process.env };
for (const arg of process.argv.slice(2)) {
  const eq = arg.indexOf('=');
  if (eq > 0) env[arg.slice(0, eq)] = arg.slice(eq + 1);
}
const need = (name) => {
  if (!env[name]) {
    console.log(`not ok - setup: ${name} is not set`);
    process.exit(2);
  }
  return env[name];
};
const usherUrl = need('USHER_URL').replace(/\/$/, '');
const mockUrl = need('MOCK_URL').replace(/\/$/, '');
const keys = {
  basic: need('KEY_BASIC'),
  full: need('KEY_FULL'),
  slow: need('KEY_SLOW'),
  cancel: need('KEY_CANCEL'),
  prop: need('KEY_PROP'),
  rt: need('KEY_RT'),
};
const upstreamKey = need('UPSTREAM_KEY');
const accessLog = need('ACCESS_LOG');
const propertyCalls = Number(env.SDK_CALLS ?? 1000);
const seed = Number(env.SDK_SEED ?? 20260601);
const only = env.SDK_CHECKS ?? 'abcdefghi';

// The streams seed's own client settings.
const sdk = (account, extra = {}) =>
  new OpenAI({ baseURL: `${usherUrl}/v1`, apiKey: keys[account], timeout: 65000, maxRetries: 2, ...extra });

// ------------------------------------------------------------------ helpers

class Failure extends Error {}
const expect = (cond, why) => {
  if (!cond) throw new Failure(why);
};

// A promise that rejects after `ms` (named), so nothing here can hang.
const within = (ms, what, promise) => {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Failure(`${what}: no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
};

async function getJson(url, key) {
  const res = await fetch(url, { headers: key ? { Authorization: `Bearer ${key}` } : {} });
  expect(res.ok, `GET ${url}: ${res.status}`);
  return res.json();
}

const mockStats = () => getJson(`${mockUrl}/_stats`);
const userStats = async (user) => (await mockStats()).users?.[user] ?? {};
const usedCost = async (account) =>
  (await getJson(`${usherUrl}/account/concurrency`, keys[account])).used_cost;

// usher_outcomes_total{account="A",code="C"} from the node's /metrics (0 if absent).
async function outcomes(account, code) {
  const res = await fetch(`${usherUrl}/metrics`);
  expect(res.ok, `GET /metrics: ${res.status}`);
  const text = await res.text();
  const line = text
    .split('\n')
    .find((l) => l.startsWith(`usher_outcomes_total{account="${account}",code="${code}"} `));
  return line ? Number(line.split(' ').pop()) : 0;
}

// Polls `ready` every 50 ms for up to `ms`; true once it holds.
async function eventually(ready, ms = 10000) {
  const until = Date.now() + ms;
  for (;;) {
    if (await ready()) return true;
    if (Date.now() > until) return false;
    await sleep(50);
  }
}

const chat = (user, extra = {}) => ({
  model: 'mock-model',
  messages: [{ role: 'user', content: 'hi' }],
  user,
  ...extra,
});

// Starts a stream that stalls after its first chunk, and waits for that
// chunk: the account's slot stays held until release().
async function holdSlot(account, user) {
  const controller = new AbortController();
  const stream = await within(
    10000,
    'the holding stream',
    sdk(account).chat.completions.create(chat(user, { stream: true, mock: { stall_after: 1 } }), {
      signal: controller.signal,
    }),
  );
  const it = stream[Symbol.asyncIterator]();
  const first = await within(10000, 'the holding stream\'s first chunk', it.next());
  expect(!first.done, 'the holding stream ended at once');
  expect(await eventually(async () => (await usedCost(account)) === 1), `${account}: the slot is not held`);
  return {
    async release() {
      controller.abort();
      await it.next().catch(() => {});
      expect(await eventually(async () => (await usedCost(account)) === 0), `${account}: the slot stays held`);
    },
  };
}

// A seeded PRNG (mulberry32): the property run is the same for a seed.
function mulberry32(a) {
  return () => {
    a |= 0;
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

let failures = 0;
async function check(letter, name, fn) {
  if (!only.includes(letter)) return;
  const started = Date.now();
  try {
    const note = await fn();
    console.log(`ok - ${letter}. ${name} (${Date.now() - started} ms${note ? `; ${note}` : ''})`);
  } catch (e) {
    failures++;
    const why = e instanceof Failure ? e.message : `${e?.constructor?.name}: ${e?.message}`;
    console.log(`not ok - ${letter}. ${name}: ${why}`);
  }
}

// ------------------------------------------------------------------- checks

await check('a', 'plain chat completion', async () => {
  const { data, response } = await sdk('basic')
    .chat.completions.create(chat('sdk-plain'))
    .withResponse();
  const message = data.choices?.[0]?.message;
  expect(message?.role === 'assistant', `choices[0].message: ${JSON.stringify(message)}`);
  expect(typeof message.content === 'string' && message.content.length > 0, 'no content');
  expect(response.headers.get('x-ratelimit-limit-concurrency') === '4',
         `x-ratelimit-limit-concurrency: ${response.headers.get('x-ratelimit-limit-concurrency')}`);
  expect(response.headers.get('x-ratelimit-remaining-concurrency') === '3',
         `x-ratelimit-remaining-concurrency: ${response.headers.get('x-ratelimit-remaining-concurrency')}`);
});

await check('b', 'streamed chat completion', async () => {
  const stream = await sdk('basic').chat.completions.create(chat('sdk-stream', { stream: true }));
  const chunks = [];
  await within(10000, 'the stream', (async () => {
    for await (const chunk of stream) chunks.push(chunk);
  })());
  expect(chunks.length >= 8, `${chunks.length} chunks`);
  expect(chunks.every((c) => c.object === 'chat.completion.chunk'), 'a chunk of another kind');
  expect(chunks.at(-1).choices[0].finish_reason === 'stop',
         `the last chunk: ${JSON.stringify(chunks.at(-1))}`);
  const text = chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('');
  expect(text.length > 0, 'no text');
  expect(await eventually(async () => (await usedCost('basic')) === 0), 'the slot stays held');
  return `${chunks.length} chunks`;
});

await check('c', 'embeddings', async () => {
  const client = sdk('basic');
  // The SDK asks for base64 unless told otherwise, and decodes it.
  const b64 = await client.embeddings.create({ model: 'mock-model', input: ['a', 'b'], user: 'sdk-embed' });
  expect(b64.data?.length === 2, `data: ${JSON.stringify(b64.data)?.slice(0, 200)}`);
  expect(b64.data.every((d) => d.embedding.length > 0 && d.embedding.every(Number.isFinite)),
         'an embedding is not a list of numbers');
  const floats = await client.embeddings.create({
    model: 'mock-model', input: 'a', encoding_format: 'float', user: 'sdk-embed',
  });
  expect(floats.data?.length === 1 && Array.isArray(floats.data[0].embedding), 'float embedding');
  expect(floats.data[0].embedding.length === b64.data[0].embedding.length, 'the two forms differ in length');
});

await check('d', '429 when full, after the SDK\'s 2 retries; each counted once, none upstream', async () => {
  const holder = await holdSlot('full', 'sdk-full');
  try {
    const before = await outcomes('full', 429);
    const started = Date.now();
    let error;
    try {
      await within(30000, 'the refused call', sdk('full').chat.completions.create(chat('sdk-full')));
    } catch (e) {
      error = e;
    }
    const took = Date.now() - started;
    expect(error instanceof OpenAI.RateLimitError, `got ${error?.constructor?.name}: ${error?.message}`);
    expect(error.status === 429, `status ${error.status}`);
    expect(error.type === 'rate_limit_error', `error.type ${error.type}`);
    expect(error.headers?.get('retry-after-ms') != null, 'no retry-after-ms');
    const counted = (await outcomes('full', 429)) - before;
    expect(counted === 3, `usher counted ${counted} refusals, expected 3 (1 + 2 retries)`);
    const s = await userStats('sdk-full');
    expect(s.requests === 1, `the upstream saw ${s.requests} requests of the account, expected 1 (the holder)`);
    return `${took} ms for 3 attempts, retry-after-ms ${error.headers.get('retry-after-ms')}`;
  } finally {
    await holder.release();
  }
});

await check('e', '408 after the queue\'s max_wait, after 2 retries; each counted once, none upstream', async () => {
  const holder = await holdSlot('slow', 'sdk-slow');
  try {
    const before408 = await outcomes('slow', 408);
    const before429 = await outcomes('slow', 429);
    const started = Date.now();
    let error;
    try {
      await within(30000, 'the timed-out call', sdk('slow').chat.completions.create(chat('sdk-slow')));
    } catch (e) {
      error = e;
    }
    const took = Date.now() - started;
    expect(error instanceof OpenAI.APIError, `got ${error?.constructor?.name}: ${error?.message}`);
    expect(error.status === 408, `status ${error.status}`);
    expect(error.type === 'timeout_error', `error.type ${error.type}`);
    const counted = (await outcomes('slow', 408)) - before408;
    expect(counted === 3, `usher counted ${counted} × 408, expected 3 (1 + 2 retries)`);
    const refused = (await outcomes('slow', 429)) - before429;
    expect(refused === 0, `usher counted ${refused} × 429 as well`);
    const s = await userStats('sdk-slow');
    expect(s.requests === 1, `the upstream saw ${s.requests} requests of the account, expected 1 (the holder)`);
    return `${took} ms for 3 attempts`;
  } finally {
    await holder.release();
  }
});

await check('f', 'AbortController mid-stream frees the slot and cancels upstream', async () => {
  const controller = new AbortController();
  const stream = await sdk('cancel').chat.completions.create(
    chat('sdk-abort', { stream: true, mock: { tokens: 100000, tokens_per_s: 50 } }),
    { signal: controller.signal },
  );
  let chunks = 0;
  let error;
  try {
    await within(10000, 'the stream', (async () => {
      for await (const _ of stream) {
        if (++chunks === 2) controller.abort();
      }
    })());
  } catch (e) {
    error = e;
  }
  // The SDK ends the iteration quietly when its request is aborted mid-stream.
  expect(error === undefined || error instanceof OpenAI.APIUserAbortError,
         `the loop ended with ${error?.constructor?.name}: ${error?.message}`);
  // Chunks the SDK had already read may still come out after the abort; the
  // stream (100,000 tokens at 50/s) must end long before its end.
  expect(chunks >= 2 && chunks < 50, `${chunks} chunks after the abort at the 2nd`);
  expect(await eventually(async () => (await usedCost('cancel')) === 0), 'the slot stays held');
  expect(await eventually(async () => (await userStats('sdk-abort')).client_gone === 1),
         `the upstream did not see the client go: ${JSON.stringify(await userStats('sdk-abort'))}`);
  const s = await userStats('sdk-abort');
  expect(s.in_flight === 0, `upstream in_flight ${s.in_flight}`);
});

await check('g', `property run: ${propertyCalls} streams over limit 8, seed ${seed}`, async () => {
  const random = mulberry32(seed);
  const client = sdk('prop', { maxRetries: 0 });
  const user = 'sdk-prop';
  const before = { 408: await outcomes('prop', 408), 429: await outcomes('prop', 429) };
  // Each call's plan, drawn up front so the run is the seed's.
  const plans = Array.from({ length: propertyCalls }, () => {
    const r = random();
    if (r < 0.05) return { kind: 'error' };
    if (r < 0.08) return { kind: 'drop', after: 1 + Math.floor(random() * 6) };
    if (r < 0.58) {
      // Abort after n chunks (0: as soon as the answer starts), or, 1 in 8,
      // after a random delay, perhaps while still queued. An aborted answer is
      // long (100 tokens, 0.5 s), so the abort always comes mid-stream: Node's
      // fetch (undici) never settles a body read when the request is aborted
      // after the whole body has arrived but before it was read (nodejs/node
      // #56917), which is not the gateway's to test.
      if (random() < 0.125) return { kind: 'abort-early', ms: Math.floor(random() * 300) };
      return { kind: 'abort', after: Math.floor(random() * 21) };
    }
    return { kind: 'whole' };
  });
  const tally = {};
  const bad = [];
  const note = (kind, result) => {
    const k = `${kind}:${result}`;
    tally[k] = (tally[k] ?? 0) + 1;
  };

  async function one(i) {
    const plan = plans[i];
    const controller = new AbortController();
    let timer;
    if (plan.kind === 'abort-early') timer = setTimeout(() => controller.abort(), plan.ms);
    const mock = plan.kind === 'error' ? { status: 500 }
               : plan.kind === 'drop' ? { drop_after: plan.after }
               : plan.kind.startsWith('abort') ? { tokens: 100 } : undefined;
    let chunks = 0;
    let last;
    try {
      const stream = await client.chat.completions.create(
        chat(user, { stream: true, ...(mock ? { mock } : {}) }),
        { signal: controller.signal },
      );
      if (plan.kind === 'abort' && plan.after === 0) controller.abort();
      for await (const chunk of stream) {
        chunks++;
        last = chunk;
        if (plan.kind === 'abort' && chunks === plan.after) controller.abort();
      }
      if (plan.kind === 'error') bad.push(`call ${i} (status 500 upstream) resolved`);
      // An abort mid-stream ends the SDK's iteration quietly, but early.
      if (plan.kind.startsWith('abort') && last?.choices?.[0]?.finish_reason === 'stop')
        bad.push(`call ${i} (aborted) got its whole answer, ${chunks} chunks`);
      if (plan.kind === 'whole' && last?.choices?.[0]?.finish_reason !== 'stop')
        bad.push(`call ${i} ended without finish_reason stop after ${chunks} chunks`);
      note(plan.kind, controller.signal.aborted ? 'ended by the abort' : 'resolved');
    } catch (e) {
      if (plan.kind === 'whole') bad.push(`call ${i} rejected: ${e?.constructor?.name}: ${e?.message}`);
      if (plan.kind === 'error' && e?.status !== 500)
        bad.push(`call ${i} (status 500 upstream) rejected with ${e?.constructor?.name} ${e?.status}: ${e?.message}`);
      if (plan.kind.startsWith('abort') && !(e instanceof OpenAI.APIUserAbortError))
        bad.push(`call ${i} (aborted) rejected with ${e?.constructor?.name}: ${e?.message}`);
      note(plan.kind, e instanceof OpenAI.APIUserAbortError ? 'aborted' : `rejected ${e?.status ?? e?.constructor?.name}`);
    } finally {
      clearTimeout(timer);
    }
  }

  // At most 64 calls in flight; each must settle within 70 s (the SDK's
  // 65 s timeout covers the wait in the queue).
  let next = 0;
  let hung = 0;
  const worker = async () => {
    while (next < plans.length) {
      const i = next++;
      await within(70000, `call ${i} (${JSON.stringify(plans[i])})`, one(i)).catch((e) => {
        hung++;
        bad.push(e.message);
      });
    }
  };
  await Promise.all(Array.from({ length: 64 }, worker));

  expect(hung === 0, `${hung} calls did not settle: ${bad.slice(0, 5).join('; ')}`);
  expect(bad.length === 0, `${bad.length} calls went wrong: ${bad.slice(0, 5).join('; ')}`);
  expect(await eventually(async () => (await usedCost('prop')) === 0),
         `slots still held: used_cost ${await usedCost('prop')}`);
  expect(await eventually(async () => (await userStats(user)).in_flight === 0),
         `upstream in_flight ${(await userStats(user)).in_flight}`);
  const s = await userStats(user);
  expect(s.max_in_flight <= 8, `the upstream saw ${s.max_in_flight} of the account at once (limit 8)`);
  expect(s.requests <= propertyCalls, `the upstream saw ${s.requests} requests for ${propertyCalls} calls`);
  for (const code of [408, 429]) {
    const n = (await outcomes('prop', code)) - before[code];
    expect(n === 0, `usher refused ${n} with ${code} (queue of 1000, 60 s)`);
  }
  const summary = Object.entries(tally).sort().map(([k, v]) => `${k} ${v}`).join(', ');
  return `${summary}; upstream: ${s.requests} requests, max_in_flight ${s.max_in_flight}, ` +
         `completed ${s.completed}, client_gone ${s.client_gone}, dropped ${s.dropped}`;
});

// The SDK's two realtime clients: OpenAIRealtimeWS (the `ws` package; the key
// in Authorization) and OpenAIRealtimeWebSocket (a runtime's global
// WebSocket, as in browsers; the key as the subprotocol
// openai-insecure-api-key.KEY). Both always dial wss://: a provider puts TLS
// in front of usher; here each is pointed at the plain port instead (ws:
// its createConnection; the other: its onURL hook).
function realtimeEvents(rt) {
  const seen = [];
  const waiters = [];
  const errors = [];
  rt.on('event', (e) => {
    seen.push(e);
    for (const w of [...waiters]) if (w.match(e)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(e); }
  });
  rt.on('error', (err) => errors.push(err));
  return {
    errors,
    next: (what, match) => within(10000, what, new Promise((resolve) => {
      const found = seen.find(match);
      if (found) { seen.splice(seen.indexOf(found), 1); resolve(found); return; }
      waiters.push({ match: (e) => { if (!match(e)) return false; seen.splice(seen.indexOf(e), 1); return true; }, resolve });
    })),
  };
}

await check('i', 'realtime sessions through both SDK clients: one response at a time, refusals as error events', async () => {
  const client = sdk('rt');
  const before = (await mockStats()).realtime_responses ?? {};
  const viaWs = new OpenAIRealtimeWS({
    model: 'mock-model',
    options: { createConnection: (o) => tcpConnect({ host: o.host, port: Number(o.port) }) },
  }, client);
  const a = realtimeEvents(viaWs);
  await a.next('session.created (ws)', (e) => e.type === 'session.created');

  // A long response holds the account's one slot.
  viaWs.send({ type: 'response.create', event_id: 'evt_i1', mock: { tokens: 100000, tokens_per_s: 50 } });
  const created = await a.next('response.created (ws)', (e) => e.type === 'response.created');
  expect(await eventually(async () => (await usedCost('rt')) === 1), 'the response holds no slot');

  let second = '';
  if (typeof globalThis.WebSocket === 'function') {
    const viaGlobal = new OpenAIRealtimeWebSocket({
      model: 'mock-model',
      onURL: (url) => { url.protocol = 'ws'; },
    }, client);
    const b = realtimeEvents(viaGlobal);
    await b.next('session.created (global WebSocket)', (e) => e.type === 'session.created');
    // The slot is taken: the response.create is answered with an error
    // event naming it, and never reaches the model server.
    viaGlobal.send({ type: 'response.create', event_id: 'evt_i2', mock: { tokens: 3 } });
    const refused = await b.next('the refusal', (e) => e.type === 'error');
    expect(refused.error?.code === 'concurrency_limit', `refused with ${JSON.stringify(refused.error)}`);
    expect(refused.error?.event_id === 'evt_i2', `the refusal names ${refused.error?.event_id}`);
    expect(b.errors.length === 1 && b.errors[0].error?.code === 'concurrency_limit',
           'the SDK did not raise the refusal on its error listener');
    viaGlobal.close();
    second = ', the global WebSocket client refused while it ran';
  } else {
    second = ' (no global WebSocket in this node: the subprotocol client not run)';
  }

  viaWs.send({ type: 'response.cancel' });
  const done = await a.next('response.done (ws)', (e) => e.type === 'response.done');
  expect(done.response?.id === created.response?.id && done.response?.status === 'cancelled',
         `response.done ${JSON.stringify(done.response)}`);
  expect(await eventually(async () => (await usedCost('rt')) === 0), 'the slot stays held after response.done');

  // A short one runs whole.
  viaWs.send({ type: 'response.create', mock: { tokens: 3, tokens_per_s: 1000 } });
  const whole = await a.next('the second response.done', (e) => e.type === 'response.done');
  expect(whole.response?.status === 'completed', `the second response ended ${whole.response?.status}`);
  viaWs.close();
  expect(await eventually(async () => ((await mockStats()).realtime_responses?.in_flight ?? 1) === 0),
         'the model server still runs a realtime response');
  const s = (await mockStats()).realtime_responses;
  expect(s.max_in_flight === 1, `the model server ran ${s.max_in_flight} responses of the account at once`);
  expect(s.requests - (before.requests ?? 0) === 2, `the model server saw ${s.requests - (before.requests ?? 0)} responses`);
  expect(await eventually(async () => (await usedCost('rt')) === 0), 'a slot is held after the sessions closed');
  return `two responses through the ws client${second}`;
});

await check('h', 'customer keys never reach the upstream nor the access log', async () => {
  const s = await mockStats();
  const auths = Object.keys(s.authorizations ?? {});
  expect(auths.length === 1 && auths[0] === `Bearer ${upstreamKey}`,
         `the upstream saw Authorization ${JSON.stringify(auths.map((a) => a.slice(0, 16) + '…'))}`);
  // The access log is written in batches: wait for the gateway's lines.
  let log = '';
  expect(await eventually(() => {
    log = readFileSync(accessLog, 'utf8');
    return log.includes('route=gateway') && log.includes('account=prop');
  }), `no gateway lines in ${accessLog}`);
  for (const [account, key] of Object.entries(keys))
    expect(!log.includes(key), `${account}'s key is in the access log`);
  expect(!log.includes(upstreamKey), 'the upstream key is in the access log');
  return `${log.split('\n').length - 1} access log lines`;
});

console.log(failures ? `# ${failures} check(s) failed` : '# all checks passed');
process.exit(failures ? 1 : 0);
