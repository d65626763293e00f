"""The 24-hour market scenario on a running testnet: `parawatt experiment market --scenario 24h
--out DIR` without ``--offline``.

`bridge.scenario.run_scenario` generates every period's orders from the seeded profiles with the
first-offer strategy; here a day's books run on chain instead of on the engine (`testnet_auctions`):

- the scenario's aggregators are the testnet's own, by kind (`market.json`: a `load` aggregator
  plays a household profile, `ev` an EV, `pv`, `wind`, `battery` their own);
- the day's credits go to the relay through the operator (`Market.set_credit`, sudo);
- the day's period k runs as the on-chain period of hour k of the next on-chain day whose gates
  leave time to place every order (time compression makes that a minute or two away); the
  relay's TOU must charge what the scenario's does;
- orders go up in rounds: round r places the r-th order of every period at once (each from its
  aggregator's account, nonces counted here) and waits until every one is booked on the relay, so
  each period's arrival order is the scenario's while the periods overlap;
- every period's trades are read back from the relay (`market_trades`) once every leg is applied.

One day per run: credit moves only at day boundaries, from meter readings, which this experiment
does not submit (the offline run scores the simulated deliveries).
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from bridge.auction import AuctionResult
from bridge.orders import Order, Side
from bridge.tariff import Tariff
from node.testnet.control import Network, TestnetError
from node.testnet.market_case import (
    _booked, _client, _settled, _timestamp, _wait, gate_block, load_aggregators, result_from_relay, set_credits, tariff_at,
)
from node.testnet.transfers import ChainHandle, open_chains

# a load aggregator plays a household; the others their own kind (bridge.profiles.KINDS)
PROFILE_KIND = {"load": "household", "ev": "ev", "pv": "pv", "wind": "wind", "battery": "battery"}
SETUP_BLOCKS = 6
BLOCKS_PER_ROUND = 6  # a round: submission -> para block -> relay inclusion -> finalized, with slack
SUBMIT_THREADS = 8


def testnet_mix(network: Network) -> tuple[list[tuple[str, int]], dict[str, dict]]:
    """The scenario mix the testnet's aggregators make, and each profile name's aggregator."""
    counts: dict[str, int] = {}
    agents = {}
    for name, agg in load_aggregators(network.run_dir).items():
        kind = PROFILE_KIND[agg["kind"]]
        counts[kind] = counts.get(kind, 0) + 1
        agents[f"{kind}-{counts[kind]}"] = agg
    return list(counts.items()), agents


def testnet_auctions(network: Network, agents: dict[str, dict], *, say, timeout_s: float = 600):
    """A `bridge.scenario.DayAuctions` that runs each day's books on the testnet."""
    def run(books: dict[int, list[Order]], credits, tariffs) -> dict[int, AuctionResult]:
        if not books:
            return {}
        chains = open_chains(network)
        relay = chains["relay"]
        deadline = time.monotonic() + timeout_s
        set_credits(relay, {agents[name]["account"]: credit for name, credit in credits.items()}, deadline)
        schedule = relay.call("market_schedule")
        per_day = 24 * 60 * 60_000 // schedule["periodMs"]
        rounds = max(len(orders) for orders in books.values())
        on_chain = _day_periods(schedule, books, tariffs, per_day, chains, agents,
                                margin_blocks=SETUP_BLOCKS + BLOCKS_PER_ROUND * rounds)
        first = min(on_chain.values())
        say(f"the day's {len(books)} books go to on-chain periods {first}…{max(on_chain.values())} "
            f"(first gate at relay block {gate_block(schedule, first)}, now #{schedule['finalized']})")
        arrivals = _place(chains, agents, books, on_chain, rounds, deadline, say)
        names = {agent["account"]: name for name, agent in agents.items()}
        results = {}
        for t, orders in sorted(books.items()):
            period = on_chain[t]
            _wait(lambda: relay.call("market_trades", [period])["status"] != "Open", deadline, f"period {period} was not committed")
            _wait(lambda: all(_settled(x) for x in relay.call("market_trades", [period])["trades"]), deadline,
                  f"the legs of period {period} were not all applied")
            report = relay.call("market_trades", [period])
            if report["status"] != "Committed":
                raise TestnetError(f"period {period} was refunded: the relay did not commit it by its deadline")
            results[t] = result_from_relay(t, tariffs[t], tuple(orders), report["trades"], arrivals[t], names)
        say(f"every period committed and every leg applied on chain ({sum(len(r.trades) + len(r.grid) for r in results.values())} trades)")
        return results
    return run


def _day_periods(schedule: dict, books: dict, tariffs: dict, per_day: int, chains: dict, agents: dict, *,
                 margin_blocks: int) -> dict[int, int]:
    """Scenario period → on-chain period: hour k of the first on-chain day whose first gate is
    ``margin_blocks`` away and whose parachain order windows are open that long."""
    if schedule["anchor"] is None:
        raise TestnetError("the relay has not anchored its market periods yet (it does in block 1)")
    para = next(c for c in chains.values() if c.name != "relay")
    periods = para.read(para.runtime.pallet("Periods").Schedule) or {"compression": 1, "gate_closure_ms": 0}
    para_now = max(_timestamp(c) for c in chains.values() if c.name != "relay") * periods["compression"]
    period_ms, blocks = schedule["periodMs"], schedule["periodBlocks"]
    earliest = (para_now + periods["gate_closure_ms"] + margin_blocks * period_ms // blocks) // period_ms + 1
    day = -(-max(earliest, schedule["anchor"]["period"]) // per_day)  # divides: the next whole day
    while gate_block(schedule, day * per_day) < schedule["finalized"] + margin_blocks:
        day += 1
    mapping = {t: day * per_day + t % per_day for t in books}
    for t, period in mapping.items():
        if tariff_at(schedule, period) != tariffs[t]:
            raise TestnetError(f"the relay's TOU charges {tariff_at(schedule, period)} in hour {t % per_day} of its day; "
                               f"the scenario's tariff is {tariffs[t]}")
    return mapping


def _place(chains: dict[str, ChainHandle], agents: dict, books: dict, on_chain: dict, rounds: int, deadline: float,
           say) -> dict[int, dict]:
    """Round r places the r-th order of every book, then waits until the relay booked them all."""
    from substrateinterface import Keypair

    homes = {name: next(c for c in chains.values() if c.chain_id == agent["para_id"]) for name, agent in agents.items()}
    clients = {c.name: _client(c) for c in {id(c): c for c in homes.values()}.values()}
    keys = {name: Keypair.create_from_uri(agent["uri"]) for name, agent in agents.items()}
    nonces = {name: clients[homes[name].name].get_account_nonce(keys[name].ss58_address) for name in agents}
    relay = chains["relay"]
    arrivals: dict[int, dict] = {t: {} for t in books}
    with ThreadPoolExecutor(SUBMIT_THREADS) as pool:
        for r in range(rounds):
            batch = [(t, orders[r]) for t, orders in sorted(books.items()) if len(orders) > r]
            signed = []
            for t, order in batch:
                chain = homes[order.owner]
                client = clients[chain.name]
                call = client.compose_call("Orders", "place_order", {
                    "side": "Buy" if order.side is Side.BUY else "Sell", "quantity_10wh": order.quantity,
                    "price": order.price, "reserve": order.reserve, "period": on_chain[t]})
                xt = client.create_signed_extrinsic(call, keys[order.owner], nonce=nonces[order.owner])
                nonces[order.owner] += 1
                signed.append((chain, str(xt.data)))
            list(pool.map(lambda item: item[0].call("author_submitExtrinsic", [item[1]]), signed))
            for t, order in batch:
                _wait(lambda: _booked(relay, on_chain[t]) > r, deadline,
                      f"{order.owner}'s order for hour {t} (on-chain period {on_chain[t]}) did not reach the relay's book "
                      "(refused on its chain? `parawatt testnet logs`)")
            book = relay.runtime.pallet("Market").Book
            for t, order in batch:  # the relay's book says which (chain, order id) arrived r-th
                entry = relay.read(book, on_chain[t], r)
                if entry is None or "0x" + entry["owner"].hex() != agents[order.owner]["account"]:
                    raise TestnetError(f"the relay's book of period {on_chain[t]} does not hold {order.owner}'s order "
                                       f"at arrival {r} (another client trading in that period?)")
                arrivals[t][(entry["chain"], entry["order_id"])] = r
            say(f"  round {r + 1}/{rounds}: {len(batch)} orders booked")
    return arrivals
