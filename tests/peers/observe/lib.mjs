// Observation helpers (test-only): a raw MONITOR tap that decodes msgpack
// arguments and names EVALSHA scripts, and a key dumper for one queue.
import net from 'node:net';
import crypto from 'node:crypto';
import { createRequire } from 'node:module';
import IORedis from 'ioredis';

const require = createRequire(import.meta.url);
const { unpack } = require('msgpackr');

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// sha1(script text) -> script name, computed from the scripts bullmq ships, so
// that EVALSHA lines in MONITOR can be labelled.
export function scriptNames() {
  const map = new Map();
  const scripts = require('bullmq/dist/cjs/scripts');
  for (const s of Object.values(scripts)) {
    if (s && typeof s.content === 'string') {
      const sha = crypto.createHash('sha1').update(s.content).digest('hex');
      map.set(sha, `${s.name}-${s.keys}`);
    }
  }
  return map;
}

// Undo redis' sdscatrepr quoting of one MONITOR argument into raw bytes.
function unquote(s) {
  const out = [];
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c !== '\\') {
      out.push(...Buffer.from(c, 'utf8'));
      continue;
    }
    const n = s[++i];
    switch (n) {
      case 'n': out.push(10); break;
      case 'r': out.push(13); break;
      case 't': out.push(9); break;
      case 'a': out.push(7); break;
      case 'b': out.push(8); break;
      case 'x': out.push(parseInt(s.slice(i + 1, i + 3), 16)); i += 2; break;
      default: out.push(...Buffer.from(n, 'utf8'));
    }
  }
  return Buffer.from(out);
}

function parseMonitorLine(line) {
  // 1700000000.123456 [0 127.0.0.1:5555] "CMD" "arg" ...
  const m = /^(\d+\.\d+) \[(\d+) ([^\]]+)\] (.*)$/.exec(line);
  if (!m) return null;
  const rest = m[4];
  const args = [];
  let i = 0;
  while (i < rest.length) {
    if (rest[i] === '"') {
      let j = i + 1;
      let buf = '';
      while (j < rest.length && rest[j] !== '"') {
        if (rest[j] === '\\') { buf += rest[j] + rest[j + 1]; j += 2; } else { buf += rest[j]; j += 1; }
      }
      args.push(unquote(buf));
      i = j + 1;
    } else {
      i += 1;
    }
  }
  return { time: Number(m[1]), db: Number(m[2]), source: m[3], args };
}

function looksPacked(b) {
  if (b.length === 0) return false;
  const f = b[0];
  return (f >= 0x80 && f <= 0x9f) || f === 0xdc || f === 0xdd || f === 0xde || f === 0xdf;
}

function showArg(b) {
  if (looksPacked(b)) {
    try {
      return { msgpack: unpack(b) };
    } catch {
      // fall through
    }
  }
  const s = b.toString('utf8');
  return s.length > 300 ? s.slice(0, 300) + `...(${s.length} chars)` : s;
}

export class Monitor {
  constructor(port, ignoreSources = new Set()) {
    this.port = port;
    this.lines = [];
    this.ignore = ignoreSources;
    this.names = scriptNames();
  }

  start() {
    return new Promise((resolve) => {
      this.sock = net.connect(this.port, '127.0.0.1', () => {
        this.sock.write('MONITOR\r\n');
      });
      let pending = '';
      let ok = false;
      this.sock.on('data', (d) => {
        pending += d.toString('latin1');
        let k;
        while ((k = pending.indexOf('\r\n')) >= 0) {
          const line = pending.slice(0, k);
          pending = pending.slice(k + 2);
          if (!ok && line === '+OK') { ok = true; resolve(); continue; }
          // the socket text is latin1; MONITOR escapes every non-ascii byte anyway
          const p = parseMonitorLine(line.slice(1));
          if (p && !this.ignore.has(p.source)) this.lines.push(p);
        }
      });
    });
  }

  // Render and clear what was captured since the last call.
  take({ skipBlocking = false } = {}) {
    const out = [];
    for (const p of this.lines) {
      const cmd = p.args[0].toString().toUpperCase();
      if (skipBlocking && (cmd === 'XREAD' || cmd === 'PING')) continue;
      let rendered;
      if (cmd === 'EVALSHA' || cmd === 'EVAL') {
        const sha = p.args[1].toString();
        const key = cmd === 'EVALSHA' ? sha : crypto.createHash('sha1').update(p.args[1]).digest('hex');
        const name = (this.names.get(key) || key) + (cmd === 'EVAL' ? ' (EVAL)' : '');
        const nk = Number(p.args[2].toString());
        const keys = p.args.slice(3, 3 + nk).map((b) => b.toString());
        const argv = p.args.slice(3 + nk).map(showArg);
        rendered = { t: p.time, src: p.source, script: name, keys, argv };
      } else if (cmd === 'SCRIPT' || cmd === 'INFO' || cmd === 'CLIENT' && p.args[1] && p.args[1].toString().toUpperCase() === 'LIST') {
        rendered = { t: p.time, src: p.source, cmd: p.args.slice(0, 2).map((b) => b.toString().slice(0, 60)) };
      } else {
        rendered = { t: p.time, src: p.source, cmd: p.args.map(showArg) };
      }
      out.push(rendered);
    }
    this.lines = [];
    return out;
  }

  stop() {
    this.sock.destroy();
  }
}

export async function dumper(port) {
  const r = new IORedis({ port, host: '127.0.0.1', maxRetriesPerRequest: null });
  await r.client('SETNAME', 'observer-dump');
  const info = await r.client('INFO');
  const addr = /addr=(\S+)/.exec(info)[1];
  return {
    addr,
    redis: r,
    async dump(pattern = '*') {
      const keys = (await r.keys(pattern)).sort();
      const out = {};
      for (const k of keys) {
        const t = await r.type(k);
        let v;
        if (t === 'string') v = { value: await r.get(k), pttl: await r.pttl(k) };
        else if (t === 'hash') v = await r.hgetall(k);
        else if (t === 'list') v = await r.lrange(k, 0, -1);
        else if (t === 'set') v = (await r.smembers(k)).sort();
        else if (t === 'zset') {
          const flat = await r.zrange(k, 0, -1, 'WITHSCORES');
          v = [];
          for (let i = 0; i < flat.length; i += 2) v.push([flat[i], flat[i + 1]]);
        } else if (t === 'stream') {
          v = (await r.xrange(k, '-', '+')).map(([id, f]) => {
            const o = { id };
            for (let i = 0; i < f.length; i += 2) o[f[i]] = f[i + 1];
            return o;
          });
        }
        out[k] = { type: t, value: v };
      }
      return out;
    },
    async clients() {
      const list = await r.client('LIST');
      return list
        .trim()
        .split('\n')
        .map((l) => {
          const name = /\bname=(\S*)/.exec(l)[1];
          const cmd = /\bcmd=(\S*)/.exec(l)[1];
          return { name, cmd };
        });
    },
    close: () => r.quit(),
  };
}
