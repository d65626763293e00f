"""The sweep's points: each is a valid testnet spec with the topology it names."""

from node.bench_sweep import Point, sweep_points
from node.cli import build_parser
from node.testnet.spec import parse_spec


def test_every_sweep_point_is_a_valid_spec_of_its_topology():
    for point in sweep_points(quick=False) + sweep_points(quick=True):
        spec = parse_spec(point.spec())
        assert len(spec.parachains) == point.parachains
        assert {p.collators for p in spec.parachains} == {point.collators}
        assert spec.relay.consensus == point.engine and spec.relay.block_time_ms == point.block_time_ms


def test_quick_sweeps_one_and_three_parachains():
    assert [p.parachains for p in sweep_points(quick=True)] == [1, 3]
    assert Point(2, 1, "bft", 500).label == "2p×1c bft 500ms"


def test_plain_bench_runs_the_sweep_and_subcommands_still_parse():
    parser = build_parser()
    args = parser.parse_args(["bench", "--quick", "--out", "r"])
    assert args.func.__module__ == "node.bench_sweep" and args.quick and str(args.out) == "r"
    assert parser.parse_args(["bench", "transfers", "--transfers", "10"]).transfers == 10


def test_pipeline_bench_costs_every_stage_and_the_witness_pov_is_the_cheap_one():
    from node.bench_pipeline import STAGES, measure

    per_tx = measure(blocks=1, transfers=30)
    assert set(per_tx) == set(STAGES) and all(v > 0 for v in per_tx.values())
    assert per_tx["pov"] < per_tx["pov_by_execution"]
    assert build_parser().parse_args(["bench", "pipeline", "--blocks", "2"]).blocks == 2
