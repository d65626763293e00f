"""Cross-chain transfers end to end with real processes, as a user would: `parawatt testnet up`
(relay with 4 validators, demand and dg with 2 collators each), then `parawatt transfer
--count 1000` from demand to dg — every one arrives, with the latency the CLI prints — a
transfer from the relay and one back to it, and `parawatt supply` finds both parachains fully
backed on a consistent cut. And the market: `parawatt experiment market --case FILE` places a
case's orders from registered aggregators on both chains and reads back from the relay exactly
the trades `parawatt auction run` computes offline, every leg applied."""

import json
import subprocess
import sys

import pytest

from node.testnet.control import Network, REPO_ROOT

SPEC = """
[relaychain]
validators = 4
consensus = "aura"
block_time_ms = 1000

[[parachains]]
id = 2000
name = "demand"
runtime = "demand"
collators = 2

[[parachains]]
id = 2001
name = "dg"
runtime = "dg"
collators = 2

[[channels]]
sender = "demand"
recipient = "dg"

[[accounts]]
address = "0x0101010101010101010101010101010101010101010101010101010101010101"
balance = 5000000000000000

[settings]
ready_timeout_s = 40
market_period_blocks = 4

[market]
deadline_blocks = 8

[[aggregators]]
name = "Load1"
chain = "demand"
kind = "load"

[[aggregators]]
name = "Load2"
chain = "demand"
kind = "ev"

[[aggregators]]
name = "Sun1"
chain = "dg"
kind = "pv"
capacity_kw = 100
"""
# All day the relay's default tariff (λ_grid 0.20, λ_0 0.05): any period can take this case.
CASE = {"period": {"index": 9, "from": "08:00", "to": "09:00"}, "tariff": {"grid_sale": 0.2, "grid_purchase": 0.05},
        "orders": [
            {"aggregator": "Sun1", "chain": "dg", "side": "sell", "offer": 0.12, "reserve": 0.08, "quantity_kwh": 60, "credit": 0.9},
            {"aggregator": "Load1", "chain": "demand", "side": "buy", "offer": 0.14, "reserve": 0.18, "quantity_kwh": 25.5, "credit": 0.6},
            {"aggregator": "Load2", "chain": "demand", "side": "buy", "offer": 0.11, "reserve": 0.15, "quantity_kwh": 50, "credit": 0.75}]}
AMOUNT = 10**12


def parawatt(*args, timeout=180):
    return subprocess.run([sys.executable, "-m", "node.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, cwd=REPO_ROOT)


@pytest.fixture
def run_dir(tmp_path):
    spec = tmp_path / "two-paras.toml"
    spec.write_text(SPEC)
    run_dir = tmp_path / "run"
    up = parawatt("testnet", "up", spec, "--run-dir", run_dir, "--detach", timeout=90)
    assert up.returncode == 0, up.stdout + up.stderr
    yield run_dir
    Network.load(run_dir).stop()


def transfer(run_dir, *args):
    done = parawatt("transfer", *args, "--run-dir", run_dir, "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)


def test_a_thousand_transfers_between_parachains_all_arrive_and_supply_is_backed(run_dir):
    report = transfer(run_dir, "--from", "demand", "--to", "dg", "--amount", AMOUNT, "--count", 1000, "--signer", "//Bob")
    assert (report["delivered"], report["refunded"], report["inFlight"]) == (1000, 0, 0)
    assert 0 < report["latencyS"]["p50"] <= report["latencyS"]["p95"]

    single = transfer(run_dir, "--from", "relay", "--to", "demand", "--amount", AMOUNT, "--to-account",
                      "5FLSigC9HGRKVhB9FiEo4Y3koPsNmBmLJbpXg2mp1hXcS59Y")  # //Charlie
    assert single["delivered"] == 1
    steps = single["steps"]
    assert 0 == steps["submitted"] <= steps["included"] <= steps["anchored"] <= steps["received"] <= steps["finalized"]
    assert transfer(run_dir, "--from", "dg", "--to", "relay", "--amount", AMOUNT)["delivered"] == 1

    supply = parawatt("supply", "--run-dir", run_dir, "--json")
    assert supply.returncode == 0, supply.stdout + supply.stderr
    report = json.loads(supply.stdout)
    assert report["ok"] and set(report["parachains"]) == {"demand", "dg"}
    assert all(p["sovereign"] == p["issuance"] + p["feesBurned"] for p in report["parachains"].values())
    # The spec's extra account is funded on every chain (and counted in each parachain's reserve).
    from substrateinterface import SubstrateInterface

    network = Network.load(run_dir)
    for chain in ("relay", "demand", "dg"):
        client = SubstrateInterface(url=network.chain_nodes(chain)[0].rpc_url)
        assert client.query("System", "Account", ["0x" + "01" * 32]).value["data"]["free"] == 5 * 10**15, chain
        client.close()


def test_scenario_transfers_go_on_around_a_collator_kill_and_supply_stays_backed(run_dir, tmp_path):
    scenario = tmp_path / "transfers.txt"
    scenario.write_text("""
transfer dg -> demand 5 completes within 60 seconds
kill demand-collator-1
transfer relay -> dg 5 completes within 60 seconds
restart demand-collator-1
transfer demand -> dg 5 completes within 90 seconds
supply is backed
validator-0: metric parawatt_xcm_messages_sent is at least 10 within 30 seconds
dg-collator-0: metric parawatt_xcm_messages_received is at least 10 within 30 seconds
""")
    done = parawatt("testnet", "check", scenario, "--run-dir", run_dir)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("✓") == 8 and "5/5 credited" in done.stdout and "every parachain backed" in done.stdout


def test_transfer_refuses_unknown_chains_and_bad_arguments_with_a_clear_error(run_dir):
    for args, message in ((("--from", "nowhere", "--to", "dg", "--amount", AMOUNT), "no chain 'nowhere'"),
                          (("--from", "dg", "--to", "dg", "--amount", AMOUNT), "same chain"),
                          (("--from", "dg", "--to", "demand", "--amount", 0), "must be positive"),
                          (("--from", "dg", "--to", "demand", "--amount", AMOUNT, "--to-account", "0x1234"), "32 bytes"),
                          (("--from", "dg", "--to", "demand", "--amount", AMOUNT, "--signer", "not a uri"), "--signer")):
        done = parawatt("transfer", *args, "--run-dir", run_dir)
        assert done.returncode == 1 and message in done.stderr, (args, done.stderr)


def test_a_case_through_the_on_chain_market_settles_the_offline_auctions_trades(run_dir, tmp_path):
    case = tmp_path / "case.json"
    case.write_text(json.dumps(CASE))
    offline = parawatt("auction", "run", case, "--json", tmp_path / "offline.json")
    assert offline.returncode == 0, offline.stderr
    onchain = parawatt("experiment", "market", "--case", case, "--run-dir", run_dir, "--json", tmp_path / "onchain.json")
    assert onchain.returncode == 0, onchain.stdout + onchain.stderr
    assert onchain.stdout == offline.stdout
    assert (tmp_path / "onchain.json").read_bytes() == (tmp_path / "offline.json").read_bytes()
    result = json.loads((tmp_path / "onchain.json").read_text())
    assert [t["round"] for t in result["trades"]] == [1, 2] and result["grid"]  # both rounds and the grid
    assert "every leg applied" in onchain.stderr and "Pending" not in onchain.stderr and "Sent" not in onchain.stderr
    supply = parawatt("supply", "--run-dir", run_dir)
    assert supply.returncode == 0 and "every parachain is fully backed" in supply.stdout, supply.stdout + supply.stderr

    # atomic under faults: the buyers' chain is down across the gate; its legs (and the DG legs
    # that wait for them) apply when it returns, the trades are still the offline auction's
    scenario = tmp_path / "buyer-chain-down.txt"
    scenario.write_text("market case case.json is placed\nkill demand-collator-0\nkill demand-collator-1\n"
                        "market case case.json is committed within 90 seconds\nrelay: finalized height grows by 3 within 60 seconds\n"
                        "restart demand-collator-0\nrestart demand-collator-1\n"
                        "market case case.json settles within 120 seconds\nmarket trades are all settled within 60 seconds\n"
                        "supply is backed\nvalidator-0: metric parawatt_market_trades_committed is at least 6 within 30 seconds\n"
                        "demand-collator-0: metric parawatt_market_orders_placed is at least 4 within 30 seconds\n")
    check = parawatt("testnet", "check", scenario, "--run-dir", run_dir, timeout=420)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "equal to the offline auction's" in check.stdout and "6/6 trades settled" in check.stdout

    # and what the testnet cannot run is refused before anything is placed
    stranger = tmp_path / "stranger.json"
    stranger.write_text(json.dumps(dict(CASE, orders=[dict(CASE["orders"][0], aggregator="Agg9")])))
    done = parawatt("experiment", "market", "--case", stranger, "--run-dir", run_dir)
    assert done.returncode == 1 and "Agg9 is not registered in this testnet" in done.stderr
    stranger.write_text(json.dumps(dict(CASE, tariff={"grid_sale": 0.9, "grid_purchase": 0.05})))
    done = parawatt("experiment", "market", "--case", stranger, "--run-dir", run_dir)
    assert done.returncode == 1 and "never charges" in done.stderr
    stranger.write_text("{not json")
    done = parawatt("experiment", "market", "--case", stranger, "--run-dir", run_dir)
    assert done.returncode == 1 and "not valid JSON" in done.stderr
