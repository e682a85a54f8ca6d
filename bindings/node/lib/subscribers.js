// SPDX-License-Identifier: Apache-2.0
'use strict';
/**
 * Subscribers: global and scope-local registration (global ones restored after a helper restart),
 * delivery of each event to its JS callback, `flushSubscribers` and `droppedEvents`.
 * @module
 */
const ffi = require('./ffi');
const { NemoRelayError } = require('./errors');
const { cstr } = require('./json');
const exporters = require('./exporters');
const { state, registry, addEntry, restorable, noteScopeLocal, rt, recordCallbackError } = require('./runtime');
const { scopeByUuid } = require('./scopes');

// MARK: - Subscribers

const deliveries = new Set();

function subscribe(owner, name, cb, scopeUuid = null) {
  if (typeof cb !== 'function') throw new TypeError('callback must be a function');
  rt();
  const label = `subscriber ${name}`;
  const id = addEntry({
    onEvent(event) {
      let r;
      try {
        r = cb(event);
      } catch (e) {
        return recordCallbackError(label, e);
      }
      if (r && typeof r.then === 'function') {
        const p = Promise.resolve(r).catch((e) => recordCallbackError(label, e)).finally(() => deliveries.delete(p));
        deliveries.add(p);
      }
    },
  });
  try {
    ffi.call('nemo_relay_subscriber_register', [rt(), owner, cstr(name), state.fn.subscriber, id, state.fn.free]);
  } catch (e) {
    registry.delete(id);
    throw e;
  }
  if (scopeUuid !== null) noteScopeLocal(scopeUuid, `subscriber:${name}`, true);
  else restorable.set(`subscriber:${name}`, () => subscribe(0, name, cb));
}

/** Registers a subscriber receiving every event as a fresh plain object. */
function registerSubscriber(name, cb) {
  subscribe(0, name, cb);
}

/** @returns {boolean} whether a subscriber was removed. */
function deregisterSubscriber(name) {
  const [removed] = ffi.call('nemo_relay_subscriber_deregister', [null, rt(), 0, cstr(name)]);
  if (removed) exporters.forgetName(String(name)); // it may have been an exporter's registration
  restorable.delete(`subscriber:${name}`);
  return removed;
}

function scopeRegisterSubscriber(uuid, name, cb) {
  subscribe(scopeByUuid(uuid), name, cb, uuid);
}

function scopeDeregisterSubscriber(uuid, name) {
  const removed = ffi.call('nemo_relay_subscriber_deregister', [null, rt(), scopeByUuid(uuid), cstr(name)])[0];
  noteScopeLocal(uuid, `subscriber:${name}`, false);
  return removed;
}

/**
 * Resolves once every event queued before the call was delivered, including the Promises subscribers returned.
 * The wait happens on a helper thread, never on the event loop.
 * @returns {Promise<void>}
 */
async function flushSubscribers() {
  const r = await ffi.callAsync('nemo_relay_flush', [rt(), '-1']);
  if (r.ret > 0) throw new NemoRelayError(r.err || 'flush failed', r.ret);
  while (deliveries.size) await Promise.allSettled([...deliveries]);
}

/** @returns {number} events dropped because a subscriber's queue was full. */
function droppedEvents() {
  return Number(ffi.call('nemo_relay_dropped_events', [null, rt()])[0]);
}

module.exports = {
  registerSubscriber, deregisterSubscriber, scopeRegisterSubscriber, scopeDeregisterSubscriber, flushSubscribers, droppedEvents,
};
