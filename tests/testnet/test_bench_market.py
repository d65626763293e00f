"""`parawatt bench market`: its arguments are checked before anything starts, its testnet is a
valid spec with the bench's aggregators, and its orders trade with each other."""

import pytest

from bridge.auction import run_auction
from bridge.orders import Order, Side
from bridge.tariff import Tariff
from node.bench_market import LAMBDA_0, LAMBDA_GRID, aggregators, market_spec, plan_orders
from node.cli import build_parser
from node.testnet.spec import parse_spec


@pytest.mark.parametrize("argv, message", [
    (["--orders", "0"], "argument --orders: must be between 1 and 200000 orders, not 0"),
    (["--orders", "many"], "argument --orders: must be a whole number of orders, not 'many'"),
    (["--orders", "-5"], "argument --orders: must be between 1 and 200000 orders"),
    (["--aggregators", "0"], "argument --aggregators: must be between 1 and 64 aggregators, not 0"),
    (["--period-blocks", "1"], "argument --period-blocks: must be between 2 and 3600 relay blocks, not 1"),
    (["--period-blocks", "7"], "argument --period-blocks: must divide an hour of 1000 ms relay blocks"),
    (["--periods", "0"], "argument --periods: must be between 1 and 24 periods, not 0"),
])
def test_bench_market_refuses_bad_arguments_with_a_clear_error(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["bench", "market", *argv])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_bench_market_parses_its_options():
    args = build_parser().parse_args(["bench", "market", "--orders", "5000", "--aggregators", "8", "--period-blocks", "60",
                                      "--out", "r", "--json"])
    assert (args.orders, args.aggregators, args.period_blocks, str(args.out), args.json) == (5000, 8, 60, "r", True)
    assert args.func.__module__ == "node.bench_market"


def test_bench_market_testnet_is_the_local_topology_with_k_aggregators_per_chain():
    spec = parse_spec(market_spec(3, 30))
    assert spec.relay.validators == 4
    assert [(p.name, p.collators) for p in spec.parachains] == [("demand", 2), ("dg", 2), ("storage", 2)]
    assert spec.market.period_blocks == 30 and spec.market.compression == 120
    homes = [(a.chain, a.kind.value) for a in spec.aggregators]
    assert sorted(homes) == sorted([("demand", "load"), ("dg", "pv"), ("storage", "battery")] * 3)


def test_bench_market_orders_are_valid_and_most_of_them_trade_peer_to_peer():
    aggs = aggregators(2)
    planned = plan_orders(600, aggs, [7, 8])
    assert {o.period for o in planned} == {7, 8}
    assert {o.agg.name for o in planned} == {a.name for a in aggs}
    for o in planned:
        assert (o.reserve >= o.price) if o.side == "Buy" else (LAMBDA_0 <= o.reserve <= o.price)
        assert (o.side == "Buy") == (o.agg.chain == "demand") or o.agg.chain == "storage"
    orders = [Order(Side.BUY if o.side == "Buy" else Side.SELL, o.quantity, o.price, o.reserve, 7, o.agg.name.encode(), 2000)
              for o in planned if o.period == 7]
    result = run_auction(orders, period=7, tariff=Tariff(LAMBDA_GRID, LAMBDA_0), credits={o.owner: 10**6 for o in orders})
    assert len(result.trades) > 2 * len(result.grid)
