"""The acceptance property of cross-chain transfers (issue 5), on the whole in-memory system.

Hypothesis draws a schedule: transfers among the relay and the three parachains (some with a
timeout of a block or three so refunds happen, some the sender cannot pay), relay validators
crashing one at a time, parachain collators crashing (a para may lose both and stop for a
while), and slow links on one chain's network. While it runs, every finalized relay block is
checked (`SupplyChecker`):

- relay TotalIssuance + FeesBurned equals its genesis value: value only moves, fees only burn;
- per parachain p, sovereign(p) == p's TotalIssuance + FeesBurned as anchored in that block;
- the transit account holds exactly the amounts its Transit entries name.

When the schedule is over and every node is back, every transfer must end exactly once: every
record on the relay Delivered or Refunded, one record per transfer that could be paid and none
for those that could not, and every account on every chain holding what the records say —
genesis − fees − delivered out + delivered in (a refund gives everything back).

Each example runs the whole system for about a virtual minute; the schedule is derandomized,
and not shrunk (an example costs seconds): a failure prints the schedule that caused it.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import trio
import trio.testing
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from node.cli import DEV_ENDOWMENT
from node.dev_runtime import EXISTENTIAL_DEPOSIT
from node.pallets.transaction_payment import TransactionPayment
from node.primitives.era import IMMORTAL
from node.primitives.extrinsic import decode_extrinsic, sign_extrinsic
from node.primitives.keys import DEV_ACCOUNT_NAMES, dev_keypair
from node.runtime.overlay import StateOverlay
from relay.xtransfers import DELIVERED, REFUNDED, STATUS_NAMES, TRANSIT_ACCOUNT, sovereign_account
from tests.multinode.multichain import PARA_IDS, MultiChain, submit_everywhere

CHAINS = ("relay", "demand", "dg", "storage")
CHAIN_ID = {"relay": 0, **PARA_IDS}
ROUTES = [(a, b) for a in CHAINS for b in CHAINS if a != b]
SIGNERS = ("Alice", "Bob", "Charlie", "Dave")
DEV = {name: dev_keypair(name).public_key for name in DEV_ACCOUNT_NAMES}
FRESH = (b"xprop/fresh-0".ljust(32, b"\0"), b"xprop/fresh-1".ljust(32, b"\0"))  # no account anywhere at genesis
BENEFICIARIES = (DEV["Bob"], DEV["Eve"], DEV["Alice"], *FRESH)
WINDOW = 24  # virtual seconds of traffic and faults
SETTLE_S = 150  # virtual seconds for everything to end once every node is back
POLL_S = 0.25

# -- schedules ----------------------------------------------------------------------------------

transfer = st.fixed_dictionaries({
    "at": st.integers(0, 2 * WINDOW - 2),  # half-seconds after warm-up
    "route": st.sampled_from(ROUTES),
    "signer": st.sampled_from(SIGNERS),
    "beneficiary": st.integers(0, len(BENEFICIARIES) - 1),
    "units": st.integers(1, 10**4),  # of the existential deposit
    "timeout": st.one_of(st.integers(1, 3), st.integers(8, 60)),  # relay blocks
    "overdraft": st.integers(0, 7).map(lambda n: n == 7),  # more than the sender has: fails on submission
})
# (node index or None for all of a para's collators, gap before it in s, duration in s)
relay_outage = st.tuples(st.integers(0, 3), st.integers(3, 8), st.integers(2, 10))
para_outage = st.tuples(st.sampled_from([None, 0, 1]), st.integers(0, 8), st.integers(2, 12))
# (chain, start s, duration s, delay per message in ms) on every link of that chain's network
slowdown = st.tuples(st.sampled_from(CHAINS), st.integers(0, WINDOW - 4), st.integers(2, 10), st.integers(200, 1500))
schedules = st.fixed_dictionaries({
    "transfers": st.lists(transfer, min_size=8, max_size=20),
    "relay_outages": st.lists(relay_outage, min_size=1, max_size=3),
    "para_outages": st.fixed_dictionaries({kind: st.lists(para_outage, max_size=2) for kind in PARA_IDS}),
    "slowdowns": st.lists(slowdown, max_size=2, unique_by=lambda s: s[0]),
})

# Both dg collators and a relay validator down at once, while short-timeout transfers leave dg
# and head for it; storage slowed: the refund paths and the late-delivery path, every run.
STRESS = {
    "transfers": [
        {"at": 2, "route": ("dg", "demand"), "signer": "Alice", "beneficiary": 0, "units": 7, "timeout": 2, "overdraft": False},
        {"at": 4, "route": ("relay", "dg"), "signer": "Bob", "beneficiary": 3, "units": 11, "timeout": 1, "overdraft": False},
        {"at": 6, "route": ("demand", "dg"), "signer": "Charlie", "beneficiary": 1, "units": 13, "timeout": 2, "overdraft": False},
        {"at": 6, "route": ("storage", "dg"), "signer": "Dave", "beneficiary": 4, "units": 17, "timeout": 40, "overdraft": False},
        {"at": 8, "route": ("demand", "relay"), "signer": "Alice", "beneficiary": 3, "units": 19, "timeout": 5, "overdraft": False},
        {"at": 9, "route": ("dg", "storage"), "signer": "Bob", "beneficiary": 2, "units": 23, "timeout": 30, "overdraft": False},
        {"at": 12, "route": ("relay", "storage"), "signer": "Charlie", "beneficiary": 1, "units": 29, "timeout": 3, "overdraft": False},
        {"at": 14, "route": ("storage", "relay"), "signer": "Dave", "beneficiary": 0, "units": 31, "timeout": 20, "overdraft": True},
        {"at": 20, "route": ("relay", "demand"), "signer": "Alice", "beneficiary": 4, "units": 37, "timeout": 50, "overdraft": False},
        {"at": 30, "route": ("demand", "storage"), "signer": "Bob", "beneficiary": 3, "units": 41, "timeout": 1, "overdraft": False},
    ],
    "relay_outages": [(2, 3, 6)],
    "para_outages": {"demand": [], "dg": [(None, 3, 10)], "storage": [(1, 12, 4)]},
    "slowdowns": [("storage", 2, 8, 1200)],
}


def fault_timeline(schedule: dict) -> list[tuple[float, str, tuple]]:
    """The schedule's faults as (time, action, args), in time order, all over by WINDOW.
    Outages of one chain follow each other, so a relay never has two validators down at once
    and nothing is stopped twice."""
    events = []

    def outages(chain, specs, nodes):
        t = 0
        for who, gap, duration in specs:
            start = t + gap
            if start >= WINDOW - 1:
                break
            end = min(start + duration, WINDOW)
            for i in (nodes if who is None else [who]):
                events.append((start, "stop", (chain, i)))
                events.append((end, "start", (chain, i)))
            t = end

    outages("relay", schedule["relay_outages"], [0, 1, 2, 3])
    for kind, specs in schedule["para_outages"].items():
        outages(kind, specs, [0, 1])
    for chain, start, duration, delay_ms in schedule["slowdowns"]:
        events.append((start, "delay", (chain, delay_ms / 1000)))
        events.append((min(start + duration, WINDOW), "delay", (chain, 0.0)))
    return sorted(events, key=lambda e: (e[0], e[1] != "start"))  # restarts before stops at one instant


# -- the wallet: signs, submits and resubmits until included ------------------------------------

@dataclass(frozen=True, slots=True)
class Sent:
    chain: str
    signer: str
    nonce: int
    data: bytes
    fee: int
    dest: int
    beneficiary: bytes
    amount: int  # unique per transfer: it names the transfer's record on the relay
    overdraft: bool


class Wallet:
    """Users sending transfers: each extrinsic goes to every running node of its chain, again
    every poll until a finalized block holds its nonce (a crashed node loses its pool; a para
    with no collator running queues them until one is back)."""

    def __init__(self, system: MultiChain):
        self.system = system
        self.chains = {}
        for chain in CHAINS:
            node = system.node(chain)
            self.chains[chain] = (node.config.runtime, node.executive, node.chain.genesis_hash)
        self.next_nonce: dict[tuple[str, str], int] = {(c, s): 0 for c in CHAINS for s in SIGNERS}
        self.sent: list[Sent] = []
        self.pending: dict[str, list[Sent]] = {c: [] for c in CHAINS}

    def send(self, t: dict) -> None:
        origin, dest = t["route"]
        runtime, executive, genesis_hash = self.chains[origin]
        index = len(self.sent)
        amount = (2 * DEV_ENDOWMENT if t["overdraft"] else t["units"] * EXISTENTIAL_DEPOSIT) + index
        beneficiary = BENEFICIARIES[t["beneficiary"]]
        call = runtime.call_type.encode({"XTransfers": {"transfer": {
            "dest": CHAIN_ID[dest], "beneficiary": beneficiary, "amount": amount, "timeout_blocks": t["timeout"]}}})
        nonce = self.next_nonce[(origin, t["signer"])]
        self.next_nonce[(origin, t["signer"])] = nonce + 1
        v = runtime.version
        data = sign_extrinsic(dev_keypair(t["signer"]), call, nonce, IMMORTAL, 0, v.spec_version, v.transaction_version, genesis_hash)
        checked = executive.check_format(decode_extrinsic(data))
        sent = Sent(origin, t["signer"], nonce, data, TransactionPayment.compute_fee(checked.length, checked.info.weight),
                    CHAIN_ID[dest], beneficiary, amount, t["overdraft"])
        self.sent.append(sent)
        self.pending[origin].append(sent)
        self.push()

    def push(self) -> None:
        for chain, pending in self.pending.items():
            nodes = self.system.live_nodes(chain)
            if not nodes or not pending:
                continue
            system_pallet = nodes[0].config.runtime.pallet("System")
            done = {}
            for node in nodes:
                view = node.chain.state_at(node.chain.finalized.hash)
                for s in SIGNERS:
                    done[s] = max(done.get(s, 0), system_pallet.account(StateOverlay(view.get), DEV[s]).nonce)
            pending[:] = [p for p in pending if p.nonce >= done[p.signer]]
            for p in pending:
                submit_everywhere(nodes, p.data)

    async def run(self) -> None:
        while True:
            await trio.sleep(POLL_S)
            self.push()


# -- the invariant at every finalized relay block ---------------------------------------------

class SupplyChecker:
    """Follows the relay's finalized chain and checks the supply at each block. The para side
    of a block is checked once a running node of that para has the anchored block (none may
    be running, or a restarted one may still be syncing)."""

    def __init__(self, system: MultiChain):
        self.system = system
        runtime = system.node("relay").config.runtime
        self.balances = runtime.pallet("Balances")
        self.payment = runtime.pallet("TransactionPayment")
        self.paras = runtime.pallet("Paras")
        self.xt = runtime.pallet("XTransfers")
        self.checked = -1  # the highest relay block whose relay side is checked
        self.waiting: list[tuple[int, str, bytes, int]] = []  # (relay number, para, anchored head, sovereign)
        self.backed: dict[bytes, int] = {}  # para block hash -> issuance + fees burned there
        self.relay_total: int | None = None

    def relay_view(self, number: int):
        """A running relay node's view of its finalized block ``number`` (None if none has it).
        Read it before the next await: a view of the best block reads the live flat state."""
        for node in self.system.live_nodes("relay"):
            if node.chain.finalized.number >= number:
                return node.chain.state_at(node.chain.hash_at(number))
        return None

    def step(self) -> None:
        top = max(n.chain.finalized.number for n in self.system.live_nodes("relay"))
        for number in range(self.checked + 1, top + 1):
            self.check_relay_block(number, self.relay_view(number))
            self.checked = number
        self.check_waiting()

    def check_relay_block(self, number: int, view) -> None:
        state = StateOverlay(view.get)
        total = self.balances.TotalIssuance.get(state) + self.payment.FeesBurned.get(state)
        if self.relay_total is None:
            self.relay_total = total
        assert total == self.relay_total, f"relay #{number}: issuance + fees burned {total} != genesis {self.relay_total}"
        in_transit = sum(self.xt.Transfers.get(state, origin, nonce)["amount"] for origin, nonce in transit_entries(self.xt, view))
        transit = self.balances.free_balance(state, TRANSIT_ACCOUNT)
        assert transit == in_transit, f"relay #{number}: transit holds {transit}, its entries {in_transit}"
        for kind, para_id in PARA_IDS.items():
            head = self.paras.head_of(state, para_id)
            self.waiting.append((number, kind, head.head_hash, self.balances.free_balance(state, sovereign_account(para_id))))

    def check_waiting(self) -> None:
        still = []
        for number, kind, head_hash, sovereign in self.waiting:
            backed = self.backed.get(head_hash)
            if backed is None:
                state = self.system.para_state(kind, head_hash)
                if state is None:
                    still.append((number, kind, head_hash, sovereign))
                    continue
                runtime = self.system.live_nodes(kind)[0].config.runtime
                backed = runtime.pallet("Balances").TotalIssuance.get(state) + runtime.pallet("TransactionPayment").FeesBurned.get(state)
                self.backed[head_hash] = backed
            assert sovereign == backed, f"relay #{number}: sovereign({kind}) {sovereign} != its issuance + fees burned {backed}"
        self.waiting = still

    async def run(self) -> None:
        while True:
            self.step()
            await trio.sleep(POLL_S)


def transit_entries(xt, view) -> list[tuple[int, int]]:
    """(origin, nonce) of every Transit entry in a relay state view (keys: Twox64Concat dest
    u32, Twox64Concat seq u64)."""
    prefix = xt.Transit.prefix
    n = len(prefix)
    state = StateOverlay(view.get)
    entries = []
    for key in view.keys(prefix):
        dest = int.from_bytes(key[n + 8:n + 12], "little")
        seq = int.from_bytes(key[n + 20:n + 28], "little")
        origin, nonce, _ = xt.Transit.get(state, dest, seq)
        entries.append((origin, nonce))
    return entries


# -- the run ------------------------------------------------------------------------------------

async def wait_until(predicate, timeout_s: float) -> None:
    """Poll ``predicate`` on the virtual clock; trio.TooSlowError after ``timeout_s``."""
    with trio.fail_after(timeout_s):
        while not predicate():
            await trio.sleep(POLL_S)


async def apply_faults(system: MultiChain, nursery, timeline, t0: float) -> None:
    for at, action, (chain, arg) in timeline:
        await trio.sleep_until(t0 + at)
        if action == "delay":
            cluster = system.cluster(chain)
            for i, a in enumerate(cluster.names):
                for b in cluster.names[i + 1:]:
                    cluster.hub.set_delay(a, b, arg)
        elif chain == "relay":
            system.stop_relay(arg) if action == "stop" else await system.restart_relay(nursery, arg)
        else:
            system.stop_collator(chain, arg) if action == "stop" else await system.restart_collator(nursery, chain, arg)


async def send_transfers(wallet: Wallet, transfers: list[dict], t0: float) -> None:
    for t in sorted(transfers, key=lambda t: t["at"]):
        await trio.sleep_until(t0 + t["at"] / 2)
        wallet.send(t)


class Outcome:
    """What the chains hold once everything has settled, read from one relay state and the
    para states anchored in it."""

    def __init__(self, system: MultiChain, checker: SupplyChecker):
        self.system = system
        self.relay_view = checker.relay_view(checker.checked)
        self.relay_state = StateOverlay(self.relay_view.get)
        self.states = {"relay": self.relay_state}
        for kind, para_id in PARA_IDS.items():
            self.states[kind] = system.para_state(kind, checker.paras.head_of(self.relay_state, para_id).head_hash)
        self.xt = checker.xt

    def complete(self) -> bool:
        return all(state is not None for state in self.states.values())

    def nonce(self, chain: str, signer: str) -> int:
        runtime = self.system.live_nodes(chain)[0].config.runtime
        return runtime.pallet("System").account(self.states[chain], DEV[signer]).nonce

    def free(self, chain: str, who: bytes) -> int:
        runtime = self.system.live_nodes(chain)[0].config.runtime
        return runtime.pallet("Balances").free_balance(self.states[chain], who)

    def records(self) -> dict[tuple[int, int], dict | None]:
        """Every transfer each chain has sent, by (origin, nonce), with its relay record."""
        found = {}
        for chain in CHAINS:
            runtime = self.system.live_nodes(chain)[0].config.runtime
            for nonce in range(runtime.pallet("XTransfers").NextNonce.get(self.states[chain])):
                found[(CHAIN_ID[chain], nonce)] = self.xt.Transfers.get(self.relay_state, CHAIN_ID[chain], nonce)
        return found


async def settle(system: MultiChain, wallet: Wallet, checker: SupplyChecker) -> Outcome:
    """Wait until every extrinsic is in, every transfer has a final record, and the supply
    check has caught up; the settled outcome."""
    outcome = None

    def settled() -> bool:
        nonlocal outcome
        checker.step()
        outcome = Outcome(system, checker)
        if not outcome.complete():
            return False
        if any(outcome.nonce(chain, signer) != wallet.next_nonce[(chain, signer)] for chain, signer in wallet.next_nonce):
            return False
        records = outcome.records()
        return all(r is not None and r["status"] in (DELIVERED, REFUNDED) for r in records.values()) and not checker.waiting

    try:
        await wait_until(settled, SETTLE_S)
    except trio.TooSlowError:
        raise AssertionError(f"not settled after {SETTLE_S} s: {describe_open(outcome, wallet)}; "
                             f"supply checks waiting: {len(checker.waiting)}") from None
    return outcome


def describe_open(outcome: Outcome, wallet: Wallet) -> str:
    """Why the run has not settled: missing extrinsics, and each open transfer with the
    state of the queue its credit or refund waits in."""
    if not outcome.complete():
        return "a para's anchored state is on no running node"
    lines = [f"{chain}/{signer} nonce {outcome.nonce(chain, signer)} of {n}" for (chain, signer), n in wallet.next_nonce.items()
             if outcome.nonce(chain, signer) != n]
    router = outcome.system.live_nodes("relay")[0].config.runtime.pallet("Router")
    name_of = {i: c for c, i in CHAIN_ID.items()}
    for (origin, nonce), r in outcome.records().items():
        if r is not None and r["status"] in (DELIVERED, REFUNDED):
            continue
        if r is None:
            lines.append(f"({origin}, {nonce}): no record on the relay")
            continue
        dest = r["dest"]
        queue = router.Heads.get(outcome.relay_state, 0, dest)
        waiting_at = dest if r["status"] == 0 else origin
        line = (f"({origin}, {nonce}) {STATUS_NAMES[r['status']]} to {dest} seq {r['credit_seq']} timeout {r['timeout']} "
                f"ack {r['acknowledged']}; relay->{dest} queue count {queue['count']} processed {queue['processed']}")
        if waiting_at in name_of and waiting_at != 0:
            kind = name_of[waiting_at]
            runtime = outcome.system.live_nodes(kind)[0].config.runtime
            state = outcome.states[kind]
            line += (f"; {kind} anchored: inbound {runtime.pallet('Messaging').Inbound.get(state, 0)} "
                     f"relay clock {runtime.pallet('ParachainSystem').relay_number(state)}")
        lines.append(line)
    return "\n".join(lines)


def check_outcome(outcome: Outcome, wallet: Wallet) -> dict:
    records = outcome.records()
    by_amount = {r["amount"]: (key, r) for key, r in records.items()}
    assert len(by_amount) == len(records), "two records carry one transfer's amount"
    expected: dict[tuple[str, bytes], int] = {}

    def add(chain: str, who: bytes, delta: int) -> None:
        base = DEV_ENDOWMENT if who in DEV.values() else 0
        expected[(chain, who)] = expected.get((chain, who), base) + delta

    name_of = {i: c for c, i in CHAIN_ID.items()}
    tally = {"delivered": 0, "refunded": 0, "failed": 0}
    for s in wallet.sent:
        add(s.chain, DEV[s.signer], -s.fee)
        found = by_amount.pop(s.amount, None)
        if s.overdraft:
            assert found is None, f"an unpayable transfer got a record: {found}"
            tally["failed"] += 1
            continue
        assert found is not None, f"transfer of {s.amount} from {s.chain} by {s.signer} left no record"
        (origin, _), r = found
        assert (origin, r["origin_account"], r["dest"], r["beneficiary"]) == (CHAIN_ID[s.chain], DEV[s.signer], s.dest, s.beneficiary), r
        if r["status"] == DELIVERED:
            add(s.chain, DEV[s.signer], -s.amount)
            add(name_of[s.dest], s.beneficiary, s.amount)
            tally["delivered"] += 1
        else:
            add(s.chain, DEV[s.signer], 0)
            add(name_of[s.dest], s.beneficiary, 0)
            tally["refunded"] += 1
    assert not by_amount, f"records no transfer made: {by_amount}"
    for (chain, who), amount in expected.items():
        assert outcome.free(chain, who) == amount, f"{chain} 0x{who.hex()[:8]}: {outcome.free(chain, who)} != expected {amount}"
    assert outcome.free("relay", TRANSIT_ACCOUNT) == 0
    assert transit_entries(outcome.xt, outcome.relay_view) == []
    return tally


async def run_schedule(base: Path, schedule: dict) -> dict:
    system = MultiChain(base)
    async with trio.open_nursery() as nursery:
        await system.start(nursery)
        relay = system.relay
        await relay.wait_until(lambda: min(relay.finalized().values()) >= 2, timeout_s=60)
        wallet, checker = Wallet(system), SupplyChecker(system)
        nursery.start_soon(wallet.run)
        nursery.start_soon(checker.run)
        t0 = trio.current_time()
        async with trio.open_nursery() as traffic:
            traffic.start_soon(apply_faults, system, nursery, fault_timeline(schedule), t0)
            traffic.start_soon(send_transfers, wallet, schedule["transfers"], t0)
        assert all(len(system.live_nodes(c)) == len(system.cluster(c).names) for c in CHAINS)
        outcome = await settle(system, wallet, checker)
        tally = check_outcome(outcome, wallet)
        tally["relay_blocks_checked"] = checker.checked + 1
        nursery.cancel_scope.cancel()
    return tally


@settings(max_examples=4, deadline=None, derandomize=True, database=None, phases=[Phase.explicit, Phase.generate],
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@example(STRESS)
@given(schedules)
def test_random_transfers_with_crashes_keep_supply_and_end_exactly_once(schedule):
    with tempfile.TemporaryDirectory(prefix="xprop-") as base:
        tally = trio.run(run_schedule, Path(base), schedule, clock=trio.testing.MockClock(autojump_threshold=0))
    print("transfers:", tally, "faults:", fault_timeline(schedule))
