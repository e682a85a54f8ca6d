// SPDX-License-Identifier: Apache-2.0
'use strict';
/**
 * The helper process (esbuild's design): one `NemoRelayHelper` started lazily on first use and reused,
 * versions checked on its first line, JSON Lines both ways, every pending request rejected when it
 * exits, and the process unref'd while nothing is in flight so it never keeps Node alive.
 *
 * Two channels:
 * - sync: a FIFO pair. `callSync` writes a request and blocks in `readSync` until the answer, which is
 *   what keeps `pushScope`, `register*` and codec methods synchronous as the Node API requires. The
 *   callbacks C raised while serving the request (a provider during `nemo_relay_llm_execute`, the done
 *   callback during `nemo_relay_complete`) come back inside the answer (`inv`) and are dispatched on a
 *   microtask, in the async context of the code that made the call: no pipe hop, no event-loop turn.
 * - async: the child's stdin/stdout. stdout carries the helper's `invoke` requests (C called a JS
 *   callback) and answers to `callAsync` (used for `nemo_relay_flush`, which blocks, run off-thread).
 * stderr is inherited.
 *
 * When the helper dies, every pending request is rejected, `onLost(reason)` tells the layer above,
 * and the next call starts a new helper (a new `generation`).
 * @module
 */
const { AsyncResource } = require('node:async_hooks');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { PROTOCOL_VERSION, Op } = require('./protocol');
const { NemoRelayError } = require('./errors');

const abi = require('./abi');

/**
 * The library version this binding needs: the header's major, and the newest minor in which an export
 * appeared (each export's `@since` in abi.js). Same major, at least this minor.
 */
const TARGET_MAJOR = abi.VERSION[0];
const TARGET_MINOR = Math.max(...abi.EXPORTS.map(([, since]) => since[1]));

const sleepCell = new Int32Array(new SharedArrayBuffer(4));
function sleepMs(ms) {
  Atomics.wait(sleepCell, 0, 0, ms);
}

/**
 * Where the helper binary is (docs/packaging.md): `NEMO_RELAY_HELPER_PATH` when set; else the copy this
 * package ships for the platform, `native/<platform>-<arch>/NemoRelayHelper` (the npm tarball), or
 * `native/NemoRelayHelper`; else, in a checkout, the most recently built of the SwiftPM release and
 * debug builds (the release helper is the fast one; the newer of the two matches the sources). The
 * helper loads `NEMO_RELAY_LIB_PATH`, else the `libnemorelay.so` beside itself.
 */
function helperPath() {
  const env = process.env.NEMO_RELAY_HELPER_PATH;
  if (env) return env;
  const native = path.join(__dirname, '..', 'native');
  for (const dir of [`${process.platform}-${process.arch}`, '.']) {
    const p = path.join(native, dir, 'NemoRelayHelper');
    if (fs.existsSync(p)) return p;
  }
  const built = ['release', 'debug']
    .map((c) => path.join(__dirname, '..', '..', '..', '.build', c, 'NemoRelayHelper'))
    .map((p) => [p, fs.statSync(p, { throwIfNoEntry: false })?.mtimeMs ?? -1])
    .filter(([, t]) => t >= 0)
    .sort((a, b) => b[1] - a[1]);
  return built.length ? built[0][0] : path.join(native, `${process.platform}-${process.arch}`, 'NemoRelayHelper');
}

class Helper {
  constructor() {
    this.child = null;
    this.dead = null;
    this.nextId = 1;
    /** @type {Map<number, {resolve: Function, reject: Function}>} */
    this.pending = new Map();
    /** @type {Array<{fn: string, args: any[]}>} calls queued by `post` */
    this.posted = [];
    /** @type {Array<{fn: string, args: any[], done: Function | null, scope: AsyncResource}>} calls queued by `callLater` */
    this.later = [];
    this.inFlight = 0;
    this.partial = [];
    this.readBuf = Buffer.allocUnsafe(1 << 16);
    /** @type {(closure: number, args: any[]) => void} */
    this.onInvoke = () => {};
    /** @type {(reason: Error) => void} */
    this.onLost = () => {};
    /** A callback's pending token was cancelled: `(token) => void`. */
    this.onCancel = () => {};
    /** Runs a waiting closure's callback synchronously: `(closure, args) => {status, json}`. */
    this.onWait = () => ({ status: 7, json: '{"type":"Error","message":"no handler"}' });
    this.version = null;
    /** Bumped every time a helper is lost: handles of an older generation are stale. */
    this.generation = 0;
  }

  /** Starts the helper if needed; throws synchronously when it cannot. */
  ensure() {
    if (this.dead) throw this.dead;
    if (this.child) return;
    const exe = helperPath();
    try {
      fs.accessSync(exe, fs.constants.X_OK);
    } catch {
      throw new NemoRelayError(
        `cannot start the NemoRelay helper: ${exe} is not an executable (set NEMO_RELAY_HELPER_PATH)`, undefined, 'ERR_NEMO_RELAY_HELPER');
    }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nemo-relay-'));
    const child = spawn(exe, [`--fifo-dir=${dir}`], { stdio: ['pipe', 'pipe', 'inherit'], windowsHide: true });
    this.child = child;
    this.partial = [];
    this.inFlight = 0;
    this.posted = [];
    this.later = [];
    child.on('error', (e) => { if (this.child === child) this.fail(`the NemoRelay helper failed: ${e.message}`); });
    child.on('exit', (code, sig) => { if (this.child === child) this.fail(`the NemoRelay helper exited (${sig ?? code})`); });
    child.stdin.on('error', () => {});
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk) => { if (this.child === child) this.onData(chunk); });

    // The helper renames both FIFOs into place once they exist; poll briefly for them.
    const req = path.join(dir, 'req');
    const res = path.join(dir, 'res');
    const deadline = Date.now() + 15000;
    while (!fs.existsSync(res)) {
      if (Date.now() > deadline || child.pid === undefined) {
        this.child = null;
        try { child.kill(); } catch {}
        fs.rmSync(dir, { recursive: true, force: true });
        throw new NemoRelayError(`the NemoRelay helper ${exe} did not start`, undefined, 'ERR_NEMO_RELAY_HELPER');
      }
      sleepMs(1);
    }
    this.reqFd = fs.openSync(req, fs.constants.O_WRONLY);
    this.resFd = fs.openSync(res, fs.constants.O_RDONLY);
    fs.rmSync(dir, { recursive: true, force: true });

    const hello = JSON.parse(this.readLine());
    const a = hello.args ?? {};
    if (hello.op !== Op.HELLO || a.error) {
      this.dead = new NemoRelayError(`the NemoRelay helper failed to start: ${a.error ?? 'no hello'}`, undefined, 'ERR_NEMO_RELAY_HELPER');
      throw this.dead;
    }
    if (a.protocol !== PROTOCOL_VERSION) {
      this.dead = new NemoRelayError(
        `helper protocol ${a.protocol} does not match the binding's ${PROTOCOL_VERSION}`, 10, 'NEMO_RELAY_E_VERSION');
      throw this.dead;
    }
    const [major, minor] = String(a.version).split('.').map(Number);
    if (major !== TARGET_MAJOR || minor < TARGET_MINOR) {
      this.dead = new NemoRelayError(
        `libnemorelay ${a.version} is not compatible with nemo-relay-node (needs ${TARGET_MAJOR}.${TARGET_MINOR}.x or a later minor)`,
        10, 'NEMO_RELAY_E_VERSION');
      throw this.dead;
    }
    this.version = a.version;
    this.setRef(false);
  }

  /** Holds the helper ref'd while something waits for it (a managed call, a flush). */
  hold() {
    if (this.inFlight++ === 0) this.setRef(true);
  }

  release() {
    if (this.inFlight > 0 && --this.inFlight === 0) this.setRef(false);
  }

  setRef(on) {
    const c = this.child;
    if (!c) return;
    const m = on ? 'ref' : 'unref';
    c[m]();
    c.stdout[m]?.();
    c.stdin[m]?.();
  }

  /**
   * The helper is gone (or its channel broke): rejects every pending request with `reason`, tells
   * `onLost`, and forgets the process so that the next call starts a new one. Returns the error.
   */
  fail(reason) {
    const child = this.child;
    const err = new NemoRelayError(reason, undefined, 'ERR_NEMO_RELAY_HELPER');
    if (!child) return this.dead ?? err;
    this.child = null;
    this.generation++;
    this.inFlight = 0;
    this.partial = [];
    for (const fd of [this.reqFd, this.resFd]) {
      try { if (fd !== undefined) fs.closeSync(fd); } catch {}
    }
    this.reqFd = this.resFd = undefined;
    try { child.kill('SIGKILL'); } catch {}
    try { child.unref(); child.stdout.destroy(); child.stdin.destroy(); } catch {}
    const pend = [...this.pending.values()];
    this.pending.clear();
    for (const p of pend) p.reject(err);
    this.onLost(err);
    return err;
  }

  readLine() {
    const parts = [];
    for (;;) {
      let n;
      try {
        n = fs.readSync(this.resFd, this.readBuf, 0, this.readBuf.length, null);
      } catch (e) {
        if (e.code === 'EAGAIN' || e.code === 'EINTR') continue;
        throw e;
      }
      if (n === 0) throw this.fail('the NemoRelay helper closed its sync channel');
      // The sync channel is strict request/answer: nothing follows the answer's newline.
      const chunk = this.readBuf.subarray(0, n);
      const nl = chunk.indexOf(10);
      if (nl >= 0) {
        if (parts.length === 0) return this.readBuf.toString('utf8', 0, nl);
        parts.push(chunk.subarray(0, nl));
        return Buffer.concat(parts).toString('utf8');
      }
      parts.push(Buffer.from(chunk));
    }
  }

  /** Sends a request on the sync channel and returns its `ok` value; throws on protocol errors. */
  callSync(op, args) {
    this.ensure();
    const id = this.nextId++;
    const line = JSON.stringify({ id, op, args }) + '\n';
    try {
      fs.writeSync(this.reqFd, line);
    } catch (e) {
      throw this.fail(`the NemoRelay helper's sync channel failed: ${e.message}`);
    }
    let msg = JSON.parse(this.readLine());
    // A waiting closure (stream collector, finalizer) asks before the answer: run it now and reply.
    while (msg.op === Op.INVOKE) {
      const r = this.onWait(msg.args.closure, msg.args.args);
      try {
        fs.writeSync(this.reqFd, JSON.stringify({ op: Op.REPLY, args: r }) + '\n');
      } catch (e) {
        throw this.fail(`the NemoRelay helper's sync channel failed: ${e.message}`);
      }
      msg = JSON.parse(this.readLine());
    }
    if (msg.inv !== undefined) this.dispatch(msg.inv);
    if (msg.error !== undefined) throw new NemoRelayError(`helper: ${msg.error}`, undefined, 'ERR_NEMO_RELAY_HELPER');
    return msg.ok;
  }

  /**
   * Runs several calls in one round trip: `[{fn, args}]` -> `[{ok} | {error}]`; an argument
   * `{$out: [i, j]}` is out value `j` of call `i` of the same batch.
   */
  callBatch(calls) {
    const answers = this.callSync(Op.BATCH, calls);
    for (const a of answers) if (a.inv !== undefined) this.dispatch(a.inv);
    return answers;
  }

  /**
   * Queues a call whose answer nobody waits for synchronously (a managed call's start, a token's
   * completion). The calls queued in one turn of microtasks go out as one `batch` round trip: with
   * many calls in flight, their starts and completions share round trips. `done(answer, error)`
   * and the invokes the call raised run in the async context of the `callLater` caller.
   */
  callLater(fn, args, done = null) {
    this.ensure();
    const item = { fn, args, done, gen: this.generation, scope: new AsyncResource('NemoRelayCall') };
    if (this.later.push(item) === 1) queueMicrotask(() => this.flushLater());
  }

  flushLater() {
    let items = this.later;
    this.later = [];
    // Calls queued for a helper that has since been lost carry its pointers: never send them on.
    const stale = items.filter((it) => it.gen !== this.generation);
    if (stale.length) {
      items = items.filter((it) => it.gen === this.generation);
      const lost = new NemoRelayError('the NemoRelay helper exited before this call was sent', undefined, 'ERR_NEMO_RELAY_HELPER');
      for (const it of stale) if (it.done) it.scope.runInAsyncScope(() => it.done(null, lost));
      if (!items.length) return;
    }
    let answers = null;
    let error = null;
    try {
      answers = this.callSync(Op.BATCH, items.map((it) => ({ fn: it.fn, args: it.args })));
    } catch (e) {
      error = e;
    }
    for (let i = 0; i < items.length; i++) {
      const it = items[i];
      const a = answers ? answers[i] : null;
      it.scope.runInAsyncScope(() => {
        if (it.done) it.done(a, error);
        if (a && a.inv !== undefined) this.dispatch(a.inv);
      });
    }
  }

  /**
   * Hands the invokes of a sync answer to `onInvoke` on a microtask: after the caller's synchronous
   * code, before any I/O, and in its async context (AsyncLocalStorage follows queueMicrotask).
   */
  dispatch(inv) {
    queueMicrotask(() => {
      for (let i = 0; i < inv.length; i++) {
        // Closure ids start at 1: `[0, [token]]` is a cancelled token (Op.CANCEL).
        if (inv[i][0] === 0) this.onCancel(inv[i][1][0]);
        else this.onInvoke(inv[i][0], inv[i][1]);
      }
    });
  }

  /** Sends a request on the async channel; `bg` runs it on a helper thread of its own. */
  callAsync(op, args, bg = false) {
    this.ensure();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.hold();
      this.child.stdin.write(JSON.stringify(bg ? { id, op, args, bg } : { id, op, args }) + '\n');
    }).finally(() => this.release());
  }

  /**
   * Queues a call for the async channel with no answer wanted (frees from finalizers). The calls
   * queued in one turn travel as one `batch` with id 0, which the helper runs without answering.
   */
  post(fn, args) {
    if (!this.child) return;
    if (this.posted.push({ fn, args }) === 1) queueMicrotask(() => this.flushPosted());
  }

  flushPosted() {
    const calls = this.posted;
    this.posted = [];
    if (this.child && calls.length) this.child.stdin.write(JSON.stringify({ id: 0, op: Op.BATCH, args: calls }) + '\n');
  }

  onData(chunk) {
    // A line can span many chunks (a 100 MB event): keep the pieces and look for the newline in the
    // new chunk only, so assembling a long line costs its length, not its length times the chunks.
    let nl = chunk.indexOf('\n');
    if (nl < 0) {
      this.partial.push(chunk);
      return;
    }
    let start = 0;
    if (this.partial.length) {
      this.partial.push(chunk.slice(0, nl));
      const line = this.partial.join('');
      this.partial = [];
      this.onLine(line);
      start = nl + 1;
      nl = chunk.indexOf('\n', start);
    }
    while (nl >= 0) {
      this.onLine(chunk.slice(start, nl));
      start = nl + 1;
      nl = chunk.indexOf('\n', start);
    }
    if (start < chunk.length) this.partial.push(chunk.slice(start));
  }

  onLine(line) {
    let msg;
    try {
      msg = JSON.parse(line);
    } catch (e) {
      process.emitWarning(`nemo-relay-node: unreadable helper line: ${e.message}`);
      return;
    }
    if (msg.op === Op.INVOKE) {
      this.onInvoke(msg.args.closure, msg.args.args);
    } else if (msg.op === Op.CANCEL) {
      this.onCancel(msg.args.token);
    } else if (msg.id) {
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      if (msg.error !== undefined) p.reject(new NemoRelayError(`helper: ${msg.error}`, undefined, 'ERR_NEMO_RELAY_HELPER'));
      else p.resolve(msg.ok);
    }
  }
}

const helper = new Helper();
module.exports = { helper, helperPath, Helper };
