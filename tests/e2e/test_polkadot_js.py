"""Unmodified @polkadot/api (the JavaScript client every Substrate dApp and wallet uses) against a
real dev node process.

The library is installed from the npm registry into a cache folder outside the repository
(reused across runs); the Node.js script in js/ drives the node and prints one JSON line, which
the assertions here check against what the node itself says over RPC.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from substrateinterface import SubstrateInterface

pytestmark = pytest.mark.slow

# 17.0.1 is listed by the registry but does not install (it needs @polkadot/api-augment@17.0.1,
# which was never published); 16.5.6 is the newest release that installs.
POLKADOT_PACKAGES = {"@polkadot/api": "16.5.6", "@polkadot/keyring": "14.0.3", "@polkadot/util-crypto": "14.0.3"}
SCRIPT = Path(__file__).parent / "js" / "polkadot_api_check.cjs"
INSTALL_TIMEOUT_S = 300
SCRIPT_TIMEOUT_S = 90  # the script gives up by itself after 60 s; this only catches a wedged Node.js


def cache_dir() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "parawatt" / "polkadot-js"


def installed_version(folder: Path, package: str) -> str | None:
    manifest = folder / "node_modules" / package / "package.json"
    try:
        return json.loads(manifest.read_text())["version"]
    except (OSError, ValueError, KeyError):
        return None


def install_polkadot_js() -> Path:
    """The node_modules folder holding the pinned packages, installed on first use. Any failure,
    including an unreachable registry, fails the test: this check is never silently skipped."""
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            pytest.fail(f"`{tool}` is not on PATH: the polkadot.js end-to-end test needs Node.js and npm")
    folder = cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".install-lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two test runs at once must not install over each other
        if all(installed_version(folder, p) == v for p, v in POLKADOT_PACKAGES.items()):
            return folder / "node_modules"
        manifest = {"name": "parawatt-polkadot-js-e2e", "private": True, "dependencies": POLKADOT_PACKAGES}
        (folder / "package.json").write_text(json.dumps(manifest, indent=2) + "\n")
        try:
            done = subprocess.run(
                # Short retry back-off: an unreachable registry fails in seconds, not minutes.
                ["npm", "install", "--no-audit", "--no-fund", "--no-package-lock", "--no-save",
                 "--fetch-retries=2", "--fetch-retry-mintimeout=1000", "--fetch-retry-maxtimeout=5000"],
                cwd=folder, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S,
            )
        except subprocess.TimeoutExpired:
            pytest.fail(f"npm install of {POLKADOT_PACKAGES} into {folder} took over {INSTALL_TIMEOUT_S} s: is the npm registry reachable?")
        if done.returncode != 0:
            pytest.fail(
                f"npm install of {POLKADOT_PACKAGES} into {folder} failed (exit {done.returncode}); "
                f"the npm registry may be unreachable.\n{done.stdout}\n{done.stderr}"
            )
        missing = [p for p, v in POLKADOT_PACKAGES.items() if installed_version(folder, p) != v]
        if missing:
            pytest.fail(f"npm install finished but {missing} are not at the pinned versions in {folder}")
        return folder / "node_modules"


@pytest.fixture(scope="module")
def polkadot_js_run(dev_node) -> dict:
    """Run the script once; every test below asserts on a part of what it saw."""
    node_modules = install_polkadot_js()
    env = {**os.environ, "NODE_PATH": str(node_modules)}
    try:
        done = subprocess.run(
            ["node", str(SCRIPT), dev_node.ws_url], capture_output=True, text=True, env=env, timeout=SCRIPT_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"the polkadot.js script ran over {SCRIPT_TIMEOUT_S} s; its output:\n{e.stdout}\n{e.stderr}")
    lines = done.stdout.strip().splitlines()
    try:
        result = json.loads(lines[-1])
    except (IndexError, ValueError):
        pytest.fail(f"the polkadot.js script printed no JSON result (exit {done.returncode}):\n{done.stdout}\n{done.stderr}")
    if not result.get("ok"):
        pytest.fail(f"the polkadot.js script failed: {result.get('error')}\nobserved: {result}\nstderr:\n{done.stderr}\nnode log tail:\n{dev_node.log()[-4000:]}")
    return result


@pytest.fixture(scope="module")
def substrate(dev_node):
    client = SubstrateInterface(url=dev_node.ws_url, ws_options={"timeout": 20})
    yield client
    client.close()


def test_polkadot_js_connects_and_reads_the_chain(polkadot_js_run, dev_node):
    assert polkadot_js_run["chain"] == "Parawatt Development"
    assert polkadot_js_run["specName"] == "parawatt-dev"
    assert polkadot_js_run["genesisHash"] == dev_node.rpc("chain_getBlockHash", [0])


def test_header_hash_polkadot_js_computes_is_the_nodes_block_hash(polkadot_js_run, dev_node):
    header = polkadot_js_run["header"]
    assert dev_node.rpc("chain_getBlockHash", [header["number"]]) == header["hash"]
    assert dev_node.rpc("chain_getHeader", [header["hash"]])["stateRoot"] == header["stateRoot"]


def test_new_heads_subscription_delivers_linked_headers(polkadot_js_run, dev_node):
    first, second = polkadot_js_run["newHeads"]
    assert second["number"] == first["number"] + 1
    assert second["parentHash"] == first["hash"]
    assert dev_node.rpc("chain_getBlockHash", [second["number"]]) == second["hash"]


def test_system_account_at_a_block_matches_the_node(polkadot_js_run, substrate):
    seen = polkadot_js_run["aliceAtHeader"]
    account = substrate.query("System", "Account", [polkadot_js_run["alice"]], block_hash=polkadot_js_run["header"]["hash"]).value
    assert seen == {"nonce": account["nonce"], "free": str(account["data"]["free"])}


def test_sign_and_send_reports_ready_in_block_and_finalized_separately(polkadot_js_run, dev_node):
    transfer = polkadot_js_run["transfer"]
    assert transfer["statuses"] == ["Ready", "InBlock", "Finalized"]
    assert transfer["eraPeriod"] >= 4  # mortal: the node checked a checkpoint hash polkadot.js computed itself
    assert transfer["nonce"] == polkadot_js_run["aliceAtHeader"]["nonce"]
    assert transfer["finalized"] == transfer["inBlock"]
    finalized_number = int(dev_node.rpc("chain_getHeader", [dev_node.rpc("chain_getFinalizedHead")])["number"], 16)
    in_block_number = int(dev_node.rpc("chain_getHeader", [transfer["inBlock"]])["number"], 16)
    assert finalized_number >= in_block_number


def test_transfer_events_decode_and_the_fee_matches_payment_info(polkadot_js_run, substrate):
    transfer = polkadot_js_run["transfer"]
    assert transfer["dispatchError"] is None
    names = [e["name"] for e in transfer["events"]]
    assert names[-1] == "system.ExtrinsicSuccess"
    assert "balances.Transfer" in names and "transactionPayment.TransactionFeePaid" in names
    (index,) = {e["phase"] for e in transfer["events"]}
    assert index >= 1  # after the timestamp inherent

    by_name = {e["name"]: e["data"] for e in transfer["events"]}
    sender, dest, amount = polkadot_js_run["alice"], polkadot_js_run["dest"], int(polkadot_js_run["amount"])
    assert by_name["balances.Transfer"] == [sender, dest, amount]
    who, actual_fee, tip = by_name["transactionPayment.TransactionFeePaid"]
    assert (who, tip) == (sender, 0)
    assert actual_fee == int(polkadot_js_run["paymentInfo"]["partialFee"])  # same era, same length: same price
    assert polkadot_js_run["paymentInfo"]["class"] == "Normal"

    # The balances moved by exactly the amount and the fee, as the node's own state says.
    block = transfer["inBlock"]
    parent = substrate.get_block_header(block)["header"]["parentHash"]

    def free(who: str, at: str) -> int:
        return substrate.query("System", "Account", [who], block_hash=at).value["data"]["free"]

    assert free(sender, parent) - free(sender, block) == amount + actual_fee
    assert free(dest, block) - free(dest, parent) == amount
