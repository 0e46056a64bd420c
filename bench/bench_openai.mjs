// bench_openai.mjs -- the official openai Node.js SDK as a contender in
// run-bench.sh: the same requests as bench_client and bench_curl (one
// streamed chat completion each, to the mock server), and the same
// key=value report on standard output, so the three read alike.
//
// Usage: node bench_openai.mjs --sdk DIR --url http://127.0.0.1:PORT
//                              [-n 1000] [--single 5] [--latencies FILE]
//
//   --sdk DIR        an npm prefix holding node_modules/openai (run-bench.sh
//                    installs a pinned version there)
//   --single K       K > 0: first one request to warm up, then K requests
//                    one after another, timed (single_*)
//   --latencies FILE each request's latency (ms), sorted, one a line
//
// The batch: N requests started at once (the SDK's default agent, no
// connection cap), each read to its end.  Measured as the C contenders do
// (bench_common.c): wall time from the first start to the last end,
// process CPU (user + system), RSS before and at the peak (VmHWM after
// resetting it through /proc/self/clear_refs, else sampled VmRSS), threads
// (/proc/self/task), latency and time to first chunk.  Exit status 0 when
// every request succeeded, 1 otherwise, 2 for bad arguments.
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const SAMPLE_MS = 50;

function usage(msg) {
  if (msg) process.stderr.write(`bench_openai: ${msg}\n`);
  process.stderr.write('usage: node bench_openai.mjs --sdk DIR --url URL [-n N] [--single K] ' +
                       '[--latencies FILE]\n');
  process.exit(2);
}

const opt = { n: 1000, single: 5 };
const argv = process.argv.slice(2);
if (argv.length % 2) usage('options come in pairs');
for (let i = 0; i < argv.length; i += 2) {
  const [k, v] = [argv[i], argv[i + 1]];
  if (k === '--sdk') opt.sdk = v;
  else if (k === '--url') opt.url = v;
  else if (k === '-n') opt.n = Number(v);
  else if (k === '--single') opt.single = Number(v);
  else if (k === '--latencies') opt.latencies = v;
  else usage(`unknown option ${k}`);
}
if (!opt.sdk || !opt.url || !(opt.n > 0) || !(opt.single >= 0)) usage();

const entry = path.join(opt.sdk, 'node_modules', 'openai', 'index.mjs');
if (!fs.existsSync(entry)) usage(`no openai SDK in ${opt.sdk} (npm install openai there)`);
const { default: OpenAI } = await import(pathToFileURL(entry).href);
const pkg = JSON.parse(fs.readFileSync(path.join(opt.sdk, 'node_modules', 'openai',
                                                 'package.json'), 'utf8'));

const out = (k, v) => process.stdout.write(`${k}=${v}\n`);
const now = () => performance.now();
const cpuMs = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };

function statusKib(key) {
  try {
    const m = fs.readFileSync('/proc/self/status', 'utf8').match(new RegExp(`^${key}:\\s+(\\d+)`, 'm'));
    return m ? Number(m[1]) : -1;
  } catch { return -1; }
}
function threads() {
  try { return fs.readdirSync('/proc/self/task').length; } catch { return -1; }
}
function resetHwm() {
  try { fs.writeFileSync('/proc/self/clear_refs', '5'); return true; } catch { return false; }
}

// Nearest-rank percentiles over sorted values, as bench_common.c.
function stats(prefix, v) {
  v.sort((a, b) => a - b);
  const n = v.length;
  const pct = (p) => {
    if (!n) return 0;
    let k = Math.ceil((p / 100) * n - 1e-6);
    k = Math.min(Math.max(k, 1), n);
    return v[k - 1];
  };
  const mean = n ? v.reduce((a, b) => a + b, 0) / n : 0;
  for (const [k, x] of [['min', n ? v[0] : 0], ['p50', pct(50)], ['p90', pct(90)],
                        ['p99', pct(99)], ['max', n ? v[n - 1] : 0], ['mean', mean]])
    out(`${prefix}_${k}`, x.toFixed(2));
}

const client = new OpenAI({
  baseURL: `${opt.url.replace(/\/+$/, '')}/v1`,
  apiKey: 'bench',
  maxRetries: 0,
  timeout: 10 * 60 * 1000,
});

// One streamed request: its times and the bytes of text it carried.
async function one() {
  const r = { start: now(), first: 0, done: 0, ok: false, bytes: 0 };
  try {
    const stream = await client.chat.completions.create({
      model: 'bench',
      messages: [{ role: 'user', content: 'Write a short poem about benchmarks.' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    for await (const chunk of stream) {
      if (!r.first) r.first = now();
      const t = chunk.choices?.[0]?.delta?.content;
      if (t) r.bytes += Buffer.byteLength(t);
    }
    r.ok = true;
  } catch (e) {
    r.error = e?.message ?? String(e);
  }
  r.done = now();
  return r;
}

out('contender', 'node');
out('n', opt.n);
out('sdk_version', pkg.version);
out('node_version', process.version);

if (opt.single > 0) {
  const lat = [];
  for (let i = -1; i < opt.single; i++) {
    const r = await one();
    if (!r.ok) {
      process.stderr.write(`bench_openai: a single request failed: ${r.error}\n`);
      process.exit(1);
    }
    if (i >= 0) lat.push(r.done - r.start);
  }
  out('single_n', opt.single);
  stats('single', lat);
}

const threadsBefore = threads();
const rssBefore = statusKib('VmRSS');
const hwmReset = resetHwm();
let rssMax = rssBefore, threadsMax = threadsBefore;
const sampler = setInterval(() => {
  rssMax = Math.max(rssMax, statusKib('VmRSS'));
  threadsMax = Math.max(threadsMax, threads());
}, SAMPLE_MS);
const cpu0 = cpuMs();
const t0 = now();
const results = await Promise.all(Array.from({ length: opt.n }, () => one()));
const cpu1 = cpuMs();
clearInterval(sampler);
rssMax = Math.max(rssMax, statusKib('VmRSS'));
threadsMax = Math.max(threadsMax, threads());
const hwm = statusKib('VmHWM');

const ok = results.filter((r) => r.ok);
const failed = results.filter((r) => !r.ok);
if (failed.length)
  process.stderr.write(`bench_openai: ${failed.length} requests failed; the first: ${failed[0].error}\n`);
const tLast = Math.max(t0, ...results.map((r) => r.done));
const lat = ok.map((r) => r.done - r.start);
const ttft = ok.filter((r) => r.first).map((r) => r.first - r.start);
out('ok', ok.length);
out('failed', failed.length);
stats('lat', lat);
if (opt.latencies) fs.writeFileSync(opt.latencies, lat.map((x) => `${x.toFixed(3)}\n`).join(''));
stats('ttft', ttft);
out('body_bytes_per_req', (ok.length ? ok.reduce((a, r) => a + r.bytes, 0) / ok.length : 0).toFixed(1));
const useHwm = hwmReset && hwm > 0;
const peak = useHwm ? hwm : rssMax;
const cpu = cpu1 - cpu0;
out('wall_ms', (tLast - t0).toFixed(2));
out('cpu_ms', cpu.toFixed(2));
out('cpu_per_req_ms', (cpu / opt.n).toFixed(4));
out('rss_before_kib', rssBefore);
out('rss_peak_kib', peak);
out('rss_peak_source', useHwm ? 'VmHWM' : 'VmRSS-sampled');
out('kib_per_req', ((peak - rssBefore) / opt.n).toFixed(2));
out('threads_before', threadsBefore);
out('threads_max', threadsMax);
process.exitCode = failed.length ? 1 : 0;
