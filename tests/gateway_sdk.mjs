// gateway_sdk.mjs -- the official OpenAI and Anthropic Node.js SDKs as
// clients of acore serve (backed by acore-mockd): chat, streaming, tools,
// structured output, models, embeddings, error shapes, and a stream the
// client abandons, which the backend must see as a closed connection.
//
//   node gateway_sdk.mjs NODE_MODULES BASE_URL KEY MOCKD_LOG
//
// Prints PASS/FAIL lines and exits 1 when anything failed.
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';

const [modules, base, key, mockLog] = process.argv.slice(2);
const require = createRequire(modules + '/');
const OpenAI = require('openai').default ?? require('openai');
const AnthropicMod = require('@anthropic-ai/sdk');
const Anthropic = AnthropicMod.default ?? AnthropicMod;

let failed = 0, passed = 0;
async function check(name, fn) {
  try {
    await fn();
    passed++;
    console.log(`PASS: ${name}`);
  } catch (e) {
    failed++;
    console.log(`FAIL: ${name}\n    ${e && e.stack ? e.stack.split('\n').slice(0, 3).join('\n    ') : e}`);
  }
}
function eq(got, want, what) {
  if (JSON.stringify(got) !== JSON.stringify(want))
    throw new Error(`${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
}
function ok(cond, what) {
  if (!cond) throw new Error(what);
}
// The mock logs each client that left mid-reply; wait for the count to grow.
function wentAway() {
  try {
    return readFileSync(mockLog, 'utf8').split('client went away before the reply ended').length - 1;
  } catch {
    return 0;
  }
}
async function waitWentAway(before) {
  for (let i = 0; i < 500; i++) {
    if (wentAway() > before) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error('the backend never saw the client leave');
}
async function rejects(promise, cls, status, what) {
  try {
    await promise;
  } catch (e) {
    ok(e instanceof cls, `${what}: ${e && e.constructor && e.constructor.name}, not ${cls.name}: ${e}`);
    eq(e.status, status, `${what}: status`);
    return e;
  }
  throw new Error(`${what}: no error`);
}

const oa = new OpenAI({ apiKey: key, baseURL: base + '/v1', maxRetries: 0 });
const an = new Anthropic({ apiKey: key, baseURL: base, maxRetries: 0 });
const weather = {
  type: 'function',
  function: {
    name: 'get_weather', description: 'The weather in a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
};

// ---- OpenAI ----
await check('openai: chat', async () => {
  const r = await oa.chat.completions.create({
    model: 'mock/echo', messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hello SDK' }],
  });
  eq(r.choices[0].message.content, 'Hello SDK', 'content');
  eq(r.choices[0].finish_reason, 'stop', 'finish_reason');
  eq(r.usage.total_tokens, 8, 'usage');
  eq(r.model, 'mock/echo', 'model');
});
await check('openai: streaming with usage', async () => {
  const s = await oa.chat.completions.create({
    model: 'mock/echo', stream: true, stream_options: { include_usage: true },
    messages: [{ role: 'user', content: 'one two three four' }],
  });
  let text = '', chunks = 0, usage = null, finish = null;
  for await (const c of s) {
    chunks++;
    if (c.choices.length) {
      text += c.choices[0].delta.content ?? '';
      finish = c.choices[0].finish_reason ?? finish;
    }
    if (c.usage) usage = c.usage;
  }
  eq(text, 'one two three four', 'text');
  eq(finish, 'stop', 'finish');
  ok(chunks >= 4, `only ${chunks} chunks`);
  eq(usage && usage.total_tokens, 8, 'usage');
});
await check('openai: tools, and the stream helper', async () => {
  const r = await oa.chat.completions.create({
    model: 'mock/tools', messages: [{ role: 'user', content: 'Weather in Paris?' }], tools: [weather],
    tool_choice: 'required',
  });
  const call = r.choices[0].message.tool_calls[0];
  eq(r.choices[0].finish_reason, 'tool_calls', 'finish');
  eq(call.function.name, 'get_weather', 'name');
  eq(JSON.parse(call.function.arguments), { city: 'Paris' }, 'arguments');
  const runner = oa.chat.completions.stream({
    model: 'mock/tools', messages: [{ role: 'user', content: 'Weather in Paris?' }], tools: [weather],
  });
  const final = await runner.finalChatCompletion();
  const sc = final.choices[0].message.tool_calls[0];
  eq(sc.id, call.id, 'streamed id');
  eq(JSON.parse(sc.function.arguments), { city: 'Paris' }, 'streamed arguments');
  const after = await oa.chat.completions.create({
    model: 'mock/tools', tools: [weather],
    messages: [{ role: 'user', content: 'Weather in Paris?' }, r.choices[0].message,
               { role: 'tool', tool_call_id: call.id, content: '22 C' }],
  });
  eq(after.choices[0].message.content, 'It is sunny.', 'after the result');
});
await check('openai: structured output', async () => {
  const r = await oa.chat.completions.create({
    model: 'mock/json', messages: [{ role: 'user', content: 'Who?' }],
    response_format: {
      type: 'json_schema',
      json_schema: { name: 'person', strict: true, schema: {
        type: 'object', additionalProperties: false, required: ['name', 'age'],
        properties: { name: { type: 'string' }, age: { type: 'integer' } } } },
    },
  });
  eq(JSON.parse(r.choices[0].message.content), { name: 'Ada', age: 36 }, 'document');
});
await check('openai: models', async () => {
  const ids = [];
  for await (const m of oa.models.list()) ids.push(m.id);
  ok(ids.includes('mock/echo') && ids.includes('anth/echo'), `models: ${ids}`);
  eq((await oa.models.retrieve('mock/echo')).owned_by, 'mock', 'retrieve');
});
await check('openai: embeddings', async () => {
  const r = await oa.embeddings.create({ model: 'mock/emb', input: ['one text', 'another'] });
  eq(r.data.length, 2, 'vectors');
  eq(r.data[1].index, 1, 'order');
  eq(r.data[0].embedding.length, 32, 'dimension');
  ok(Math.abs(Math.hypot(...r.data[0].embedding) - 1) < 1e-4, 'unit length');
  eq(r.usage.prompt_tokens, 3, 'usage');
});
await check('openai: error shapes', async () => {
  let e = await rejects(oa.chat.completions.create({ model: 'nosuch/model', messages: [{ role: 'user', content: 'x' }] }),
    OpenAI.NotFoundError, 404, 'unknown provider');
  eq(e.code, 'model_not_found', 'code');
  e = await rejects(oa.chat.completions.create({ model: 'mock/echo', messages: [{ role: 'user', content: 7 }] }),
    OpenAI.BadRequestError, 400, 'wrong type');
  eq(e.param, 'messages[0].content', 'param');
  const bad = new OpenAI({ apiKey: 'sk-wrong', baseURL: base + '/v1', maxRetries: 0 });
  await rejects(bad.chat.completions.create({ model: 'mock/echo', messages: [{ role: 'user', content: 'x' }] }),
    OpenAI.AuthenticationError, 401, 'wrong key');
  // An error after the stream began is raised by the SDK's iterator.
  const s = await oa.chat.completions.create({ model: 'mock/midfail', stream: true, messages: [{ role: 'user', content: 'x' }] });
  let raised = null;
  try {
    for await (const c of s) void c;
  } catch (err) {
    raised = err;
  }
  ok(raised && /Overloaded/.test(String(raised.message)), `in-stream error: ${raised}`);
});
await check('openai: a stream the client abandons is cancelled upstream', async () => {
  const before = wentAway();
  const s = await oa.chat.completions.create({ model: 'mock/hang', stream: true, messages: [{ role: 'user', content: 'x' }] });
  for await (const c of s) {
    void c;
    s.controller.abort();
    break;
  }
  await waitWentAway(before);
});

// ---- Anthropic ----
await check('anthropic: messages', async () => {
  const r = await an.messages.create({
    model: 'anth/echo', max_tokens: 64, system: 'Be brief.', messages: [{ role: 'user', content: 'Hello Claude' }],
  });
  eq(r.content[0].type, 'text', 'type');
  eq(r.content[0].text, 'Hello Claude', 'text');
  eq(r.stop_reason, 'end_turn', 'stop_reason');
  eq(r.usage.output_tokens, 3, 'usage');
});
await check('anthropic: streaming', async () => {
  const s = an.messages.stream({ model: 'anth/echo', max_tokens: 64, messages: [{ role: 'user', content: 'a b c d' }] });
  let text = '';
  s.on('text', (t) => { text += t; });
  const m = await s.finalMessage();
  eq(text, 'a b c d', 'text events');
  eq(m.content[0].text, 'a b c d', 'final message');
  eq(m.stop_reason, 'end_turn', 'stop_reason');
});
await check('anthropic: tools over an OpenAI backend, streamed', async () => {
  const tools = [{ name: 'get_weather', input_schema: { type: 'object', properties: { city: { type: 'string' } } } }];
  const r = await an.messages.create({ model: 'mock/tools', max_tokens: 64, tools, messages: [{ role: 'user', content: 'Weather?' }] });
  eq(r.stop_reason, 'tool_use', 'stop_reason');
  eq(r.content[0].type, 'tool_use', 'block');
  eq(r.content[0].input, { city: 'Paris' }, 'input');
  const m = await an.messages.stream({ model: 'mock/tools', max_tokens: 64, tools, messages: [{ role: 'user', content: 'Weather?' }] }).finalMessage();
  eq(m.content[0].input, { city: 'Paris' }, 'streamed input');
  const after = await an.messages.create({
    model: 'mock/tools', max_tokens: 64, tools,
    messages: [{ role: 'user', content: 'Weather?' }, { role: 'assistant', content: r.content },
               { role: 'user', content: [{ type: 'tool_result', tool_use_id: r.content[0].id, content: '22 C' }] }],
  });
  eq(after.content[0].text, 'It is sunny.', 'after the result');
});
await check('anthropic: models', async () => {
  const ids = [];
  for await (const m of an.models.list()) ids.push(m.id);
  ok(ids.includes('anth/echo'), `models: ${ids}`);
});
await check('anthropic: error shapes', async () => {
  await rejects(an.messages.create({ model: 'nosuch/x', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }),
    Anthropic.NotFoundError, 404, 'unknown provider');
  const e = await rejects(an.messages.create({ model: 'anth/echo', messages: [{ role: 'user', content: 'x' }] }),
    Anthropic.BadRequestError, 400, 'no max_tokens');
  ok(/max_tokens/.test(e.message), e.message);
  const bad = new Anthropic({ apiKey: 'sk-wrong', baseURL: base, maxRetries: 0 });
  await rejects(bad.messages.create({ model: 'anth/echo', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }),
    Anthropic.AuthenticationError, 401, 'wrong key');
});
await check('anthropic: a stream the client abandons is cancelled upstream', async () => {
  const before = wentAway();
  const s = an.messages.stream({ model: 'anth/hang', max_tokens: 64, messages: [{ role: 'user', content: 'x' }] });
  await new Promise((resolve) => s.on('text', () => { s.abort(); resolve(); }));
  await s.done().catch(() => {});
  await waitWentAway(before);
});

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
