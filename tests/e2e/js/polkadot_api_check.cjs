// Drives a running Parawatt node with unmodified @polkadot/api, as a dApp or wallet would, and
// prints ONE line of JSON for the Python test to assert on:
//   {"ok": true, ...observations}  or  {"ok": false, "error": "...", ...what was observed before}
// Usage: node polkadot_api_check.cjs ws://127.0.0.1:PORT   (modules found through NODE_PATH)
// Every wait is bounded: the whole script gives up after DEADLINE_MS.
'use strict';

const { ApiPromise, WsProvider, Keyring } = require('@polkadot/api');
const { cryptoWaitReady } = require('@polkadot/util-crypto');

const DEADLINE_MS = 60_000;
const STEP_MS = 20_000;
const AMOUNT = 2_000_000_000_000n; // 2 UNIT
const url = process.argv[2];
const out = { ok: false };

function finish(code) {
  process.stdout.write(JSON.stringify(out, (_, v) => (typeof v === 'bigint' ? v.toString() : v)) + '\n');
  process.exit(code);
}

function fail(error) {
  out.ok = false;
  if (error instanceof Error) out.error = error.stack;
  else if (error && typeof error.message === 'string') out.error = error.message; // e.g. a WebSocket ErrorEvent
  else out.error = require('util').inspect(error, { depth: 2 });
  finish(1);
}

setTimeout(() => fail(`gave up after ${DEADLINE_MS} ms`), DEADLINE_MS).unref();

function within(ms, what, promise) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function eventName({ event }) {
  return `${event.section}.${event.method}`;
}

async function newHeads(api, count) {
  const headers = [];
  let unsub;
  await within(STEP_MS, 'chain.subscribeNewHeads', new Promise((resolve, reject) => {
    api.rpc.chain.subscribeNewHeads((header) => {
      headers.push({ number: header.number.toNumber(), hash: header.hash.toHex(), parentHash: header.parentHash.toHex() });
      if (headers.length === count) resolve();
    }).then((u) => { unsub = u; }, reject);
  }));
  if (unsub) unsub();
  return headers;
}

// signAndSend, recording every status in order and the events once the transaction is in a block.
function transfer(api, signer, dest) {
  const result = { statuses: [], events: [] };
  return within(STEP_MS, 'signAndSend', new Promise((resolve, reject) => {
    let unsub;
    const tx = api.tx.balances.transferKeepAlive(dest, AMOUNT);
    tx.signAndSend(signer, (update) => {
      const { status, events, dispatchError } = update;
      result.statuses.push(status.type);
      if (result.statuses.length === 1) { // signed by now: polkadot.js picks a mortal era by default
        result.eraPeriod = tx.era.isMortalEra ? tx.era.asMortalEra.period.toNumber() : 0;
        result.nonce = tx.nonce.toNumber();
      }
      if (status.isInBlock) {
        result.inBlock = status.asInBlock.toHex();
        result.events = events.map((record) => ({
          name: eventName(record),
          phase: record.phase.isApplyExtrinsic ? record.phase.asApplyExtrinsic.toNumber() : record.phase.type,
          data: record.event.data.toJSON(),
        }));
        result.dispatchError = dispatchError ? dispatchError.toString() : null;
      }
      if (status.isFinalized) {
        result.finalized = status.asFinalized.toHex();
        if (unsub) unsub();
        resolve(result);
      }
      if (status.isDropped || status.isInvalid || status.isUsurped) {
        reject(new Error(`transaction ${status.type}; statuses so far ${result.statuses.join(',')}`));
      }
    }).then((u) => { unsub = u; }, reject);
  }));
}

async function main() {
  await cryptoWaitReady();
  const provider = new WsProvider(url, false); // no auto-reconnect: a dead node is an error
  await within(STEP_MS, 'connect', provider.connect());
  const api = await within(STEP_MS, 'ApiPromise.create', ApiPromise.create({ provider, throwOnConnect: true, noInitWarn: true }));
  try {
    out.chain = (await api.rpc.system.chain()).toString();
    out.specName = api.runtimeVersion.specName.toString();
    out.genesisHash = api.genesisHash.toHex();

    const header = await api.rpc.chain.getHeader();
    out.header = { number: header.number.toNumber(), hash: header.hash.toHex(), stateRoot: header.stateRoot.toHex() };

    const keyring = new Keyring({ type: 'sr25519', ss58Format: 42 });
    const alice = keyring.addFromUri('//Alice');
    const dest = keyring.addFromUri('//Alice//e2e-polkadot-js').address;
    out.alice = alice.address;
    out.dest = dest;

    // The account at the header just read, through api.at (a historical runtime and metadata).
    const apiAt = await api.at(header.hash);
    const account = await apiAt.query.system.account(alice.address);
    out.aliceAtHeader = { nonce: account.nonce.toNumber(), free: account.data.free.toBigInt() };

    out.newHeads = await newHeads(api, 2);

    const info = await api.tx.balances.transferKeepAlive(dest, AMOUNT).paymentInfo(alice);
    out.paymentInfo = { partialFee: info.partialFee.toBigInt(), refTime: info.weight.refTime.toBigInt(), class: info.class.toString() };

    out.transfer = await transfer(api, alice, dest);
    out.amount = AMOUNT;
    out.ok = true;
  } finally {
    await api.disconnect();
  }
}

main().then(() => finish(0), fail);
