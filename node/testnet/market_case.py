"""`parawatt experiment market --case FILE`: a case study's orders through a running testnet.

Every order of the case is placed as a signed `Orders.place_order` extrinsic from its
aggregator's own account on its home chain (substrate-interface, the keys from the run folder's
`market.json`), in the case's arrival order; the relay's auction commits the period at its gate;
the trades are read back from the relay (`market_trades`) and printed with the offline command's
own renderer, so the output is the offline `parawatt auction run` output for the same file
whenever the chain agrees with the engine — which is what this experiment shows.

How the case maps onto the chain (decisions):
- Credits: the operator (//Alice, sudo on the relay) sets each aggregator's relay credit to the
  case's value first (`Market.set_credit`), so the auction weighs prices as the case says.
- Period: the case's period index is an hour of its day; on chain the orders go to the first
  period whose TOU tariff equals the case's and whose gate leaves time to place every order
  (`choose_period`). Orders are sent one by one, each only after the relay has booked the one
  before, so the relay's arrival order is the case's even across chains.
- What cannot match is refused up front: an aggregator the testnet does not know, on another
  chain, a tariff the relay's TOU never charges, tie-lines or an exclusion threshold the relay
  does not have.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from bridge.auction import AuctionResult, GridTrade, Trade
from bridge.case import Case, decode_case
from bridge.errors import MarketError
from bridge.orders import Side
from bridge.tariff import Tariff, TouSchedule, TouSlot
from node.testnet.control import Network, TestnetError
from node.testnet.transfers import ChainHandle, open_chains

POLL_S = 0.25  # the relay's books change once per block (1 s); polling its RPC is the only way to see them
SETUP_BLOCKS = 4  # relay blocks for the operator's credit calls to be finalized
BLOCKS_PER_ORDER = 4  # submission -> para block -> relay inclusion -> finalized, with slack
HORIZON_DAYS = 2  # look this far ahead for a period with the case's tariff
OPERATOR_URI = "//Alice"  # sudo on every testnet chain
CASE_STUDY = Path(__file__).resolve().parents[2] / "configs" / "case-study"  # the published six-aggregator case


@dataclass
class CaseRun:
    case: Case
    result: AuctionResult  # the trades read back from the relay, in the engine's types
    period: int  # the on-chain period
    gate: int  # its gate, relay block
    timings: dict = field(default_factory=dict)  # seconds from the first order: booked, committed, settled
    settlements: list = field(default_factory=list)  # market_trades' entries, as the relay reports them


def load_aggregators(run_dir: Path) -> dict[str, dict]:
    path = Path(run_dir) / "market.json"
    try:
        entries = json.loads(path.read_text())["aggregators"]
    except (OSError, ValueError, KeyError) as e:
        raise TestnetError(f"{path}: no aggregators for this testnet ({e}); list them in the spec's [[aggregators]]") from None
    return {a["name"]: a for a in entries}


def tariff_at(schedule: dict, period: int) -> Tariff:
    slots = tuple(TouSlot(start, end, Tariff(int(sale), int(purchase))) for start, end, sale, purchase in schedule["tariff"])
    return TouSchedule(slots).tariff_at(period * schedule["periodMs"] // 60_000)


def gate_block(schedule: dict, period: int) -> int:
    anchor = schedule["anchor"]
    return anchor["block"] + (period - anchor["period"]) * schedule["periodBlocks"] - schedule["gateOffsetBlocks"]


def choose_period(schedule: dict, tariff: Tariff, *, relay_block: int, para_market_ms: int, gate_closure_ms: int,
                  margin_blocks: int) -> int:
    """The first period charged ``tariff`` whose relay gate is at least ``margin_blocks`` after
    ``relay_block`` and whose order window on the parachains (market time ``para_market_ms``)
    stays open as long."""
    if schedule["anchor"] is None:
        raise TestnetError("the relay has not anchored its market periods yet (it does in block 1)")
    period_ms, blocks = schedule["periodMs"], schedule["periodBlocks"]
    margin_ms = margin_blocks * period_ms // blocks  # market ms per relay block times the margin
    first = max(schedule["anchor"]["period"], (para_market_ms + gate_closure_ms + margin_ms) // period_ms + 1)
    for period in range(first, first + HORIZON_DAYS * 24 * 60 * 60_000 // period_ms):
        if gate_block(schedule, period) >= relay_block + margin_blocks and tariff_at(schedule, period) == tariff:
            return period
    raise TestnetError(f"the relay's TOU never charges λ_grid {tariff.grid_sale} / λ_0 {tariff.grid_purchase} planck per kWh "
                       "(the case's tariff) in the next two days")


@dataclass
class Placed:
    """A case whose orders are all booked on the relay, waiting for its gate."""

    case: Case
    period: int
    gate: int
    arrivals: dict  # (para id, order id) -> arrival index
    started: float  # monotonic time of the first order
    booked: float  # seconds from the first order until the last was booked


def run_case(network: Network, case_path: Path, *, say=lambda line: None, timeout_s: float = 180) -> CaseRun:
    return run_cases(network, [case_path], say=say, timeout_s=timeout_s)[0]


def run_cases(network: Network, case_paths: list[Path], *, say=lambda line: None, timeout_s: float = 180) -> list[CaseRun]:
    """Place every case's orders (one case after the other, each in its own period), then wait
    for every period to settle: the waits for the gates overlap."""
    cases = [decode_case_file(path) for path in case_paths]
    aggregators = load_aggregators(network.run_dir)
    chains = open_chains(network)
    deadline = time.monotonic() + timeout_s * len(cases)
    placed = [place_case(chains, aggregators, case, say=say, deadline=deadline) for case in cases]
    names = {a["account"]: name for name, a in aggregators.items()}
    return [collect_case(chains["relay"], p, names, deadline=deadline) for p in placed]


def place_case(chains: dict[str, ChainHandle], aggregators: dict[str, dict], case: Case, *, say, deadline: float) -> Placed:
    """Set the case's credits on the relay, pick its period, place its orders in arrival order."""
    from substrateinterface import Keypair, SubstrateInterface

    relay = chains["relay"]
    homes = _check_case(case, aggregators, chains)
    say(f"setting the relay credits of {', '.join(sorted(case.credits))} to the case's")
    set_credits(relay, {aggregators[name]["account"]: credit for name, credit in case.credits.items()}, deadline)

    schedule = relay.call("market_schedule")
    para = chains[homes[case.orders[0].owner]]
    periods = para.read(para.runtime.pallet("Periods").Schedule) or {"compression": 1, "gate_closure_ms": 0}
    para_now = max(_timestamp(chains[c]) for c in set(homes.values())) * periods["compression"]
    period = choose_period(schedule, case.tariff, relay_block=schedule["finalized"], para_market_ms=para_now,
                           gate_closure_ms=periods["gate_closure_ms"],
                           margin_blocks=SETUP_BLOCKS + BLOCKS_PER_ORDER * len(case.orders))
    gate = gate_block(schedule, period)
    say(f"case period {case.period} → on-chain period {period} (gate at relay block {gate}, now #{schedule['finalized']})")

    clients: dict[str, SubstrateInterface] = {}
    arrivals: dict[tuple[int, int], int] = {}
    started = time.monotonic()
    for index, order in enumerate(case.orders):
        chain = chains[homes[order.owner]]
        client = clients.get(chain.name) or clients.setdefault(chain.name, _client(chain))
        call = client.compose_call("Orders", "place_order", {
            "side": "Buy" if order.side is Side.BUY else "Sell", "quantity_10wh": order.quantity,
            "price": order.price, "reserve": order.reserve, "period": period})
        signer = Keypair.create_from_uri(aggregators[order.owner]["uri"])
        receipt = client.submit_extrinsic(client.create_signed_extrinsic(call, signer), wait_for_inclusion=True)
        if not receipt.is_success:
            raise TestnetError(f"{chain.name} refused {order.owner}'s order: {receipt.error_message}")
        placed = next(e.value["attributes"] for e in receipt.triggered_events
                      if e.value["module_id"] == "Orders" and e.value["event_id"] == "OrderPlaced")
        arrivals[(chain.chain_id, placed["order_id"])] = index
        _wait(lambda: _booked(relay, period) > index, deadline,
              f"{order.owner}'s order {placed['order_id']} did not reach the relay's book for period {period}")
        say(f"  {index + 1}/{len(case.orders)} {order.owner} {order.side.value} on {chain.name}: booked on the relay")
    return Placed(case, period, gate, arrivals, started, time.monotonic() - started)


def set_credits(relay: ChainHandle, credits: dict[str, int], deadline: float) -> None:
    """The operator (sudo) sets each account's relay credit (ppm); returns once finalized."""
    from substrateinterface import Keypair

    operator = Keypair.create_from_uri(OPERATOR_URI)
    client = _client(relay)
    nonce = client.get_account_nonce(operator.ss58_address)
    for i, (account, credit) in enumerate(sorted(credits.items())):
        call = client.compose_call("Market", "set_credit", {"who": account, "credit": credit})
        sudo = client.compose_call("Sudo", "sudo", {"call": call})
        relay.call("author_submitExtrinsic", [str(client.create_signed_extrinsic(sudo, operator, nonce=nonce + i).data)])
    _wait(lambda: all(_relay_credit(relay, account) == c for account, c in credits.items()), deadline,
          "the operator's credit calls were not finalized on the relay")


def collect_case(relay: ChainHandle, placed: Placed, names: dict[str, str], *, deadline: float) -> CaseRun:
    """Wait for the case's period to be committed and every leg applied; read the trades back."""
    period = placed.period
    _wait(lambda: relay.call("market_trades", [period])["status"] in ("Committed", "Refunded"), deadline,
          f"period {period} was not committed")
    if relay.call("market_trades", [period])["status"] != "Committed":
        raise TestnetError(f"period {period} was refunded: the relay did not commit it by its deadline")
    committed = time.monotonic() - placed.started
    _wait(lambda: all(_settled(t) for t in relay.call("market_trades", [period])["trades"]), deadline,
          f"the legs of period {period} were not all applied")
    timings = {"booked": placed.booked, "committed": committed, "settled": time.monotonic() - placed.started}
    trades = relay.call("market_trades", [period])["trades"]
    c = placed.case
    return CaseRun(c, result_from_relay(c.period, c.tariff, c.orders, trades, placed.arrivals, names), period, placed.gate,
                   timings, trades)


def decode_case_file(case_path: Path) -> Case:
    try:
        case = decode_case(Path(case_path).read_bytes())
    except OSError as e:
        raise TestnetError(f"cannot read {case_path}: {e.strerror}") from None
    except MarketError as e:
        raise TestnetError(f"{case_path}: {e}") from None
    if case.tariff is None:
        raise TestnetError(f"{case_path}: the case names no tariff; the experiment needs it to pick a period")
    return case


def _check_case(case: Case, aggregators: dict[str, dict], chains: dict[str, ChainHandle]) -> dict[str, str]:
    """Each case aggregator's home chain (the testnet's chain name); refuses what cannot match."""
    if case.tie_lines:
        raise TestnetError("the case has tie-lines; this testnet's relay has none")
    by_runtime = {chain.kind: name for name, chain in chains.items() if name != "relay"}
    homes = {}
    for order in case.orders:
        agg = aggregators.get(order.owner)
        if agg is None:
            raise TestnetError(f"the case's aggregator {order.owner} is not registered in this testnet (market.json)")
        if by_runtime.get(order.chain) != agg["chain"]:
            raise TestnetError(f"the case puts {order.owner} on {order.chain}; this testnet registered it on {agg['chain']}")
        homes[order.owner] = agg["chain"]
    return homes


def result_from_relay(period: int, tariff: Tariff, orders: tuple, trades: list[dict], arrivals: dict,
                      names: dict[str, str]) -> AuctionResult:
    """The relay's trades of one period (`market_trades`) as the engine's result for ``orders``
    (in arrival order; ``arrivals`` maps (para id, order id) to it, ``names`` accounts to owners)."""
    peer, grid = [], []
    for t in trades:
        chains = {int(c): leg["side"] for c, leg in t["legs"].items()}
        buyer_chain = next((c for c, side in chains.items() if side in ("buy", "both")), None)
        seller_chain = next((c for c, side in chains.items() if side in ("sell", "both")), None)
        quantity, price = t["quantity"], int(t["price"])
        if t["round"] == 0:  # the grid: one order, of the side the grid did not take
            if t["buyOrder"] is not None:
                grid.append(GridTrade(arrivals[(buyer_chain, t["buyOrder"])], names[t["buyer"]], Side.BUY, quantity, price))
            else:
                grid.append(GridTrade(arrivals[(seller_chain, t["sellOrder"])], names[t["seller"]], Side.SELL, quantity, price))
            continue
        peer.append(Trade(t["round"], arrivals[(buyer_chain, t["buyOrder"])], arrivals[(seller_chain, t["sellOrder"])],
                          names[t["buyer"]], names[t["seller"]], quantity, price, t["xi"]))
    return AuctionResult(period, tariff, tuple(orders), tuple(peer), tuple(grid))


CLIENT_SILENCE_S = 30  # a paused node keeps its socket open and says nothing: give up after this


def _client(chain: ChainHandle):
    """substrate-interface on the first node of the chain that answers (others may be down)."""
    from substrateinterface import SubstrateInterface
    from websocket import WebSocketException

    for url in chain.urls:
        try:
            return SubstrateInterface(url=url, ws_options={"timeout": CLIENT_SILENCE_S})
        except (OSError, WebSocketException):
            continue
    raise TestnetError(f"no node of {chain.name} answers")


def _settled(trade: dict) -> bool:
    return all(leg["status"] == "Applied" for leg in trade["legs"].values())


def _booked(relay: ChainHandle, period: int) -> int:
    return relay.call("market_trades", [period])["orders"]


def _relay_credit(relay: ChainHandle, account: str) -> int | None:
    return relay.read(relay.runtime.pallet("Market").Credit, bytes.fromhex(account[2:]), finalized=True)


def _timestamp(chain: ChainHandle) -> int:
    return chain.read(chain.runtime.pallet("Timestamp").Now)


def _wait(done, deadline: float, failure: str) -> None:
    while not done():
        if time.monotonic() > deadline:
            raise TestnetError(f"{failure} in time")
        time.sleep(POLL_S)


def format_settlement(run: CaseRun) -> list[str]:
    """What happened on chain, for people: the period, timings, and each trade's legs."""
    t = run.timings
    lines = [f"on chain: case period {run.case.period} ran as period {run.period} (gate at relay block {run.gate}); "
             f"orders booked in {t['booked']:.1f} s, committed in {t['committed']:.1f} s, every leg applied in {t['settled']:.1f} s",
             f"{'trade':>5}  {'round':>5}  {'value (planck)':>22}  legs"]
    for s in run.settlements:
        legs = ", ".join(f"{'relay' if c == '0' else c} {leg['side']} {leg['status']}" for c, leg in s["legs"].items())
        lines.append(f"{s['tradeId']:>5}  {s['round']:>5}  {s['value']:>22}  {legs}")
    return lines


def market_summary(network: Network) -> dict | None:
    """The relay's count of trades and settled trades (`market_summary`), or None if no relay
    node answers."""
    relay = open_chains(network)["relay"]
    try:
        return relay.call("market_summary")
    except TestnetError:
        return None
