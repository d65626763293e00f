"""The `parawatt` command."""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
import tempfile
from pathlib import Path

import trio

from node.primitives.keys import DEV_ACCOUNTS, dev_keypair
from node.dev_runtime import build_runtime

DEV_ENDOWMENT = 1 << 60  # planck per dev account, as Substrate's dev chains give


def dev_node_config(base_path: Path, *, rpc_port: int, block_time_ms: int, rpc_host: str = "127.0.0.1"):
    from node.service.node import NodeConfig

    accounts = [dev_keypair(name).public_key for name in DEV_ACCOUNTS]
    return NodeConfig(
        chain_name="Parawatt Development",
        chain_type="Development",
        base_path=base_path,
        runtime=build_runtime(block_time_ms=block_time_ms),
        genesis={
            "Balances": {"balances": [(a, DEV_ENDOWMENT) for a in accounts]},
            "Sudo": {"key": accounts[0]},
        },
        properties={"ss58Format": 42, "tokenDecimals": 12, "tokenSymbol": "UNIT"},
        rpc_host=rpc_host,
        rpc_port=rpc_port,
        block_time_ms=block_time_ms,
    )


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be a positive integer")
    return value


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError("must be a port number (0-65535; 0 picks a free one)")
    return value


def cmd_node(args) -> int:
    if args.dev == bool(args.chain):
        print("error: give either --dev or --chain SPEC", file=sys.stderr)
        return 2
    if args.chain:
        return cmd_chain_node(args)
    if args.tmp and args.base_path:
        print("error: --tmp and --base-path exclude each other", file=sys.stderr)
        return 2
    tmp = tempfile.mkdtemp(prefix="parawatt-") if args.tmp or not args.base_path else None
    base_path = Path(tmp or args.base_path)
    config = dev_node_config(base_path, rpc_port=args.rpc_port, block_time_ms=args.block_time_ms, rpc_host=args.rpc_host)
    config.prometheus_port = args.prometheus_port

    async def main():
        from node.service.node import Node

        node = Node(config)
        async with trio.open_nursery() as nursery:
            url = await nursery.start(node.run)
            print(f"Parawatt dev chain running: RPC {url} (also http://{config.rpc_host}:{url.rsplit(':', 1)[1]})", flush=True)
            print(f"  base path {base_path}, block time {config.block_time_ms} ms, Ctrl-C to stop", flush=True)

    try:
        trio.run(main)
    except* KeyboardInterrupt:  # Ctrl-C reaches us inside the nursery's exception group
        pass
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


def cmd_chain_node(args) -> int:
    """A node of a multi-node chain described by a chain spec, on gRPC with mutual TLS."""
    from node.chain_spec import ChainSpecError, load_chain_spec
    from node.service.network_setup import NetworkSetupError, chain_node_config

    if not args.base_path:
        print("error: --chain needs --base-path (the node's database lives there)", file=sys.stderr)
        return 2
    try:
        spec = load_chain_spec(args.chain)
        config = chain_node_config(
            spec, base_path=args.base_path, keys=args.keys, name=args.name, rpc_host=args.rpc_host, rpc_port=args.rpc_port,
            p2p_host=args.p2p_host, p2p_port=args.p2p_port, bootnodes=args.bootnodes or list(spec.boot_nodes),
            insecure=args.insecure_p2p,
        )
        config.prometheus_port = args.prometheus_port
    except (ChainSpecError, NetworkSetupError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2

    async def main():
        from node.service.node import Node

        node = Node(config)
        async with trio.open_nursery() as nursery:
            url = await nursery.start(node.run)
            role = "authority" if node.consensus.is_authority else "full node"
            metrics = f", metrics http://{config.rpc_host}:{node.metrics_port}/metrics" if config.prometheus_port is not None else ""
            print(f"Parawatt node {config.node_name} ({role}) on {spec.name}: RPC {url}, p2p {node.p2p_address}{metrics}", flush=True)

    try:
        trio.run(main)
    except* KeyboardInterrupt:
        pass
    return 0


def cmd_light(args) -> int:
    """Follow a chain's finalized headers, verifying each justification; optionally prove an
    account's balance at each one. Trusts only the chain spec's authorities."""
    from node.chain_spec import ChainSpecError, load_chain_spec
    from node.light import LightClient, LightClientError
    from node.pallets.system import AccountInfoCodec
    from node.service.network_setup import authority_set, runtime_for
    from node.consensus.authorities import AuthoritySet
    from node.primitives.keys import ED25519
    from node.system_keys import account_id
    from parachains.relay_client import RelayError

    try:
        spec = load_chain_spec(args.chain)
        who = account_id(args.account) if args.account else None
    except (ChainSpecError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    client = LightClient(args.rpc, authority_set(spec))
    key = runtime_for(spec.runtime, spec.consensus.block_time_ms).pallet("System").Account.key(who) if who else None
    via_relay = None
    if args.via_relay:
        from parachains.relay_client import RpcRelayClient

        if spec.relay is None:
            print("error: --via-relay needs a parachain spec (with its relay section)", file=sys.stderr)
            return 2
        relay_set = AuthoritySet(ED25519, spec.relay.authorities, 0, spec.relay.chain_id.encode())
        via_relay = RpcRelayClient(list(spec.relay.rpc), relay_set)

    async def finalized_or_anchored():
        if via_relay is None:
            return await client.finalized(), "justification verified"
        anchored = await via_relay.anchored(spec.relay.para_id)
        return anchored.header, f"anchored in relay block #{anchored.relay_number}, relay justification and proof verified"

    async def follow():
        seen = None
        for _ in range(args.blocks):
            header, how = await finalized_or_anchored()
            if seen is None or header.hash != seen:
                seen = header.hash
                line = f"{'anchored' if via_relay else 'finalized'} #{header.number} 0x{header.hash.hex()} ({how})"
                if key is not None:
                    raw = (await client.read([key], at=header))[key]
                    free = AccountInfoCodec.decode_all(raw).free if raw else 0
                    line += f"; {args.account} free balance {free} (read proof verified)"
                print(line, flush=True)
            await trio.sleep(spec.consensus.block_time_ms / 1000)

    failure = None
    try:
        trio.run(follow)
    except* (LightClientError, RelayError) as group:
        failure = group.exceptions[0]
    except* KeyboardInterrupt:
        pass
    if failure is not None:
        print(f"error: {failure}", file=sys.stderr)
        return 1
    return 0


def cmd_status(args) -> int:
    """A node's heads, and where one block stands: in the best chain, finalized, anchored."""
    import json
    import urllib.request

    url = args.rpc.replace("ws://", "http://")

    def rpc(method, params=()):
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}).encode()
        with urllib.request.urlopen(urllib.request.Request(url, body, {"Content-Type": "application/json"}), timeout=10) as r:
            answer = json.loads(r.read())
        if "error" in answer:
            raise RuntimeError(answer["error"]["message"])
        return answer["result"]

    try:
        best = rpc("chain_getHeader")
        finalized = rpc("chain_getHeader", [rpc("chain_getFinalizedHead")])
        methods = rpc("rpc_methods")["methods"]
        anchored = rpc("parachain_anchoredHead") if "parachain_anchoredHead" in methods else None
        print(f"chain      {rpc('system_chain')}")
        print(f"best       #{int(best['number'], 16)}")
        print(f"finalized  #{int(finalized['number'], 16)}")
        if "parachain_anchoredHead" in methods:
            print(f"anchored   " + ("none yet" if anchored is None else f"#{anchored['number']} in relay block #{anchored['relayNumber']}"))
        if args.block is not None:
            block_hash = args.block if args.block.startswith("0x") else rpc("chain_getBlockHash", [int(args.block)])
            header = rpc("chain_getHeader", [block_hash]) if block_hash else None
            if header is None:
                print(f"block {args.block}: unknown")
                return 1
            number = int(header["number"], 16)
            canonical = rpc("chain_getBlockHash", [number]) == block_hash
            state = "finalized" if canonical and number <= int(finalized["number"], 16) else ("best chain" if canonical else "fork")
            if anchored is not None and canonical and number <= anchored["number"]:
                state += ", anchored on the relay"
            print(f"block #{number} {block_hash}: {state}")
    except (OSError, RuntimeError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="parawatt", description="Parawatt: multi-chain energy trading for virtual power plants")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every block")
    sub = parser.add_subparsers(dest="command", required=True)

    node = sub.add_parser("node", help="run a chain node")
    node.add_argument("--dev", action="store_true", help="single-authority development chain, dev accounts funded")
    node.add_argument("--chain", type=Path, help="chain spec (JSON) of a multi-node chain: engine, authorities, genesis")
    node.add_argument("--name", help="node name (default: the name in its certificate)")
    node.add_argument("--keys", type=Path, help="the folder `parawatt ca issue NODE --out DIR` wrote: TLS key and certificate, ed25519 identity key (also its authority key), CA certificate, CRL")
    node.add_argument("--p2p-port", type=_port, default=30333, help="node-to-node gRPC port (default 30333; 0 picks a free one)")
    node.add_argument("--p2p-host", default="127.0.0.1", help="node-to-node listen address (default 127.0.0.1)")
    node.add_argument("--bootnodes", nargs="*", metavar="HOST:PORT", help="peers to dial (default: the spec's bootNodes)")
    node.add_argument("--insecure-p2p", action="store_true", help="plaintext gRPC without certificates (tests only)")
    node.add_argument("--prometheus-port", type=_port, help="serve Prometheus metrics on this port (0 picks a free one)")
    node.add_argument("--base-path", type=Path, help="where the node keeps its database (kept across restarts)")
    node.add_argument("--tmp", action="store_true", help="use a temporary base path, deleted on exit")
    node.add_argument("--rpc-port", type=_port, default=9944, help="JSON-RPC port, WebSocket and HTTP (default 9944)")
    node.add_argument("--rpc-host", default="127.0.0.1", help="JSON-RPC listen address (default 127.0.0.1)")
    node.add_argument("--block-time-ms", type=_positive, default=1000, help="slot length in milliseconds (default 1000)")
    node.set_defaults(func=cmd_node)

    status = sub.add_parser("status", help="a node's best, finalized and anchored heads, and a block's status")
    status.add_argument("--rpc", default="http://127.0.0.1:9944", help="the node's RPC URL")
    status.add_argument("block", nargs="?", help="a block number or hash: is it best, finalized, anchored?")
    status.set_defaults(func=cmd_status)

    light = sub.add_parser("light", help="light client: follow finalized headers and prove state, trusting only the chain spec")
    light.add_argument("--chain", type=Path, required=True, help="the chain spec (its authorities are the only trust)")
    light.add_argument("--rpc", nargs="+", required=True, metavar="URL", help="node RPC URLs (http://host:port)")
    light.add_argument("--account", help="an account (SS58 or 0x hex) whose balance to prove at each finalized block")
    light.add_argument("--blocks", type=int, default=10**9, help="stop after this many polls")
    light.add_argument("--via-relay", action="store_true", help="parachain specs: trust the relay's finality instead — prove state at the head the relay anchored")
    light.set_defaults(func=cmd_light)

    from node.bench import register as register_bench
    from node.security.cli import register as register_ca

    from bridge.cli import register as register_auction
    from bridge.experiment_cli import register as register_experiment
    from node.testnet.cli import register as register_testnet

    register_bench(sub)
    register_ca(sub)
    register_auction(sub)
    register_experiment(sub)
    register_testnet(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
