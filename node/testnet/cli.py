"""`parawatt testnet …`: launch a local multi-chain testnet and drive it through its run folder."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from pathlib import Path

from node.testnet.control import REPO_ROOT, Network, TestnetError
from node.testnet.launcher import DEFAULT_RUN_DIR, launch, prepare, table, teardown
from node.testnet.scenario import ScenarioError, check_against, parse_scenario, run
from node.testnet.spec import SpecError, load_spec

DEFAULT_SPEC = REPO_ROOT / "configs" / "local.toml"
NOT_YET = ("Not yet: market checks in scenarios. `net latency` needs a kernel with tc's netem qdisc.")


def _say(line: str) -> None:
    print(line, flush=True)


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def cmd_up(args) -> int:
    spec = load_spec(args.spec)
    network = prepare(args.run_dir, spec, fresh=args.fresh, hosts=args.hosts)
    _say(f"testnet from {args.spec}: relay ({spec.relay.validators} validators) + "
         + ", ".join(f"{p.name} ({p.id}, {p.collators} collators)" for p in spec.parachains) + f"; run folder {network.run_dir}")
    # SIGTERM tears down like Ctrl-C does (the nodes live in their own sessions and would outlive us).
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        took = launch(network, _say)
    except KeyboardInterrupt:
        _say("interrupted; every node stopped")
        return 130
    _say(f"ready in {took:.1f} s\n\n{table(network)}\n")
    if args.detach:
        _say(f"running in the background; `parawatt testnet status|logs|down --run-dir {args.run_dir}`")
        return 0
    _say("Ctrl-C stops the network")
    try:
        if args.demo:
            _demo(network)
        running = set(network.live())
        while running:
            time.sleep(0.5)
            now = set(network.live())
            for name in sorted(running - now):
                _say(f"{name} stopped")
            for name in sorted(now - running):
                _say(f"{name} started")
            running = now
        _say("every node has stopped")
    except KeyboardInterrupt:
        _say("\nstopping every node…")
        teardown(network)
        _say("stopped")
    return 0


def _demo(network: Network) -> None:
    """What `make run` shows once the network is up: a cross-chain transfer, step by step, and
    the supply check after it."""
    from node.testnet.transfers import format_report, format_supply, send_transfers, supply_report

    paras = [name for name, info in network.chains.items() if info["kind"] == "parachain"]
    if len(paras) < 2:
        return
    source, dest = paras[0], paras[1]
    _say(f"a cross-chain transfer, {source} -> {dest}, 1 UNIT from //Alice to //Bob:")
    try:
        report = send_transfers(network, source=source, dest=dest, amount=10**12, signers=["//Alice"],
                                to_account="5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty", count=1,
                                timeout_blocks=100, wait_s=60)
        for line in format_report(report):
            _say(line)
        _say("")
        for line in format_supply(supply_report(network)):
            _say(line)
        _say("")
    except TestnetError as e:
        _say(f"the demo transfer did not complete: {e}")
    _demo_market(network)


def _demo_market(network: Network) -> None:
    """The case study's two periods through the on-chain market, when the testnet has its
    aggregators (the default spec does)."""
    from bridge.report import format_table
    from node.testnet.market_case import CASE_STUDY, format_settlement, load_aggregators, run_cases

    try:
        load_aggregators(network.run_dir)
    except TestnetError:
        return
    cases = sorted(CASE_STUDY.glob("period-*.json"))
    _say(f"the case study's {' and '.join(c.stem for c in cases)} on chain: every order a signed extrinsic "
         "on its aggregator's home chain")
    try:
        runs = run_cases(network, cases, say=_say)
    except TestnetError as e:
        _say(f"the market demo did not complete: {e}\n")
        return
    for run in runs:
        _say("")
        for line in format_settlement(run):
            _say(line)
        _say("")
        _say(format_table(run.result))


def cmd_status(args) -> int:
    network = Network.load(args.run_dir)
    rows = [("NODE", "CHAIN", "ROLE", "STATE", "BEST", "FINALIZED", "ANCHORED", "RPC")]
    for n in network.nodes:
        state = network.state(n.name)
        h = network.heights(n.name) if state == "running" else None
        cell = lambda k: "-" if h is None or k not in h else f"#{h[k]}"
        rows.append((n.name, n.chain, n.role, state, cell("best"), cell("finalized"), cell("anchored"), n.rpc_url))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    return 0


def cmd_down(args) -> int:
    network = Network.load(args.run_dir)
    stopped = teardown(network)
    removed = "" if network.hosts is None else f"; removed {len(network.hosts.nodes)} namespaces and bridge {network.hosts.bridge}"
    _say(f"stopped {len(stopped)} node(s)" + (f": {', '.join(stopped)}" if stopped else "") + removed + f"; logs kept in {network.run_dir / 'logs'}")
    return 0


def cmd_net(args) -> int:
    from node.testnet.netfaults import NetFaults, parse_group

    faults = NetFaults(Network.load(args.run_dir))
    if args.net_command == "latency":
        state = faults.latency(args.a, args.b, args.ms)
    elif args.net_command == "loss":
        state = faults.loss(args.a, args.b, args.pct)
    elif args.net_command == "partition":
        state = faults.partition(parse_group(args.side_a), parse_group(args.side_b))
    elif args.net_command == "heal":
        state = faults.heal()
    else:
        state = faults.state()
    for line in state.describe() or ["no faults: every link is clean"]:
        _say(line)
    return 0


def cmd_logs(args) -> int:
    network = Network.load(args.run_dir)
    network.node(args.node)
    print(network.log_tail(args.node, args.lines))
    return 0


def cmd_fault(args) -> int:
    network = Network.load(args.run_dir)
    getattr(network, args.action)(args.node)
    _say(f"{args.node}: {network.state(args.node)}")
    return 0


def cmd_check(args) -> int:
    network = Network.load(args.run_dir)
    try:
        text = Path(args.file).read_text()
    except OSError as e:
        raise TestnetError(f"cannot read {args.file}: {e.strerror}") from None
    steps = parse_scenario(text)
    base = Path(args.file).resolve().parent  # case files may be named relative to the scenario
    check_against(steps, network, base)
    ok = run(steps, network, _say, base)
    _say("all steps passed" if ok else "FAILED")
    return 0 if ok else 1


def cmd_transfer(args) -> int:
    from node.testnet.transfers import format_report, send_transfers

    network = Network.load(args.run_dir)
    report = send_transfers(network, source=args.source, dest=args.dest, amount=args.amount, signers=args.signer,
                            to_account=args.to_account, count=args.count, timeout_blocks=args.timeout_blocks,
                            wait_s=args.wait, progress=(lambda line: None) if args.json else _say)
    if args.json:
        print(json.dumps(report))
    else:
        for line in format_report(report):
            _say(line)
    return 0 if report["inFlight"] == report["failed"] == 0 else 1


def cmd_supply(args) -> int:
    from node.testnet.transfers import format_supply, supply_report

    report = supply_report(Network.load(args.run_dir))
    if args.json:
        print(json.dumps(report))
    else:
        for line in format_supply(report):
            _say(line)
    return 0 if report["ok"] else 1


def _guard(func):
    def wrapped(args) -> int:
        # A shell without job control starts background commands with SIGINT ignored, and nodes
        # would inherit that and ignore `down`'s Ctrl-C: hear SIGINT here, so they hear it too.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            return func(args)
        except SpecError as e:
            print(f"error: bad testnet spec: {e}", file=sys.stderr)
        except ScenarioError as e:
            print(f"error: {args.file}, {e}", file=sys.stderr)
        except TestnetError as e:
            print(f"error: {e}", file=sys.stderr)
        return 1
    return wrapped


def register(sub) -> None:
    testnet = sub.add_parser("testnet", help="launch a local multi-chain testnet and drive it (status, logs, kill, restart, pause, check …)",
                             description="Launch a local relay + parachains testnet, every node its own process, and drive it. " + NOT_YET)
    commands = testnet.add_subparsers(dest="testnet_command", required=True)

    def add(name: str, func, help: str) -> argparse.ArgumentParser:
        p = commands.add_parser(name, help=help, description=help)
        p.add_argument("--run-dir", type=Path, default=DEFAULT_RUN_DIR, help=f"the network's run folder (default {DEFAULT_RUN_DIR})")
        p.set_defaults(func=_guard(func))
        return p

    up = add("up", cmd_up, "generate keys, certificates and chain specs, start every node, wait until ready, print the table")
    up.add_argument("spec", nargs="?", type=Path, default=DEFAULT_SPEC, help="the network (TOML; default configs/local.toml)")
    up.add_argument("--detach", action="store_true", help="return once ready, leaving the network running")
    up.add_argument("--fresh", action="store_true", help="wipe an earlier (stopped) network in the run folder first")
    up.add_argument("--hosts", action="store_true", help="each node in its own network namespace on a bridge (root), "
                    "so `testnet net` can shape and cut links between nodes")
    up.add_argument("--demo", action="store_true", help="once ready, send a cross-chain transfer (its steps and the supply check) and run the case study's two "
                    "periods through the on-chain market")
    add("status", cmd_status, "every node's state and best, finalized and anchored heights")
    add("down", cmd_down, "stop every node and remove --hosts namespaces (logs and databases stay in the run folder)")
    logs = add("logs", cmd_logs, "the end of a node's log")
    logs.add_argument("node")
    logs.add_argument("-n", "--lines", type=int, default=40, help="how many lines (default 40)")
    for action, help in (("kill", "SIGKILL a node"), ("restart", "stop a node if it runs and start it again on its database"),
                         ("pause", "freeze a node (SIGSTOP)"), ("resume", "thaw a paused node (SIGCONT)")):
        p = add(action, cmd_fault, help)
        p.add_argument("node")
        p.set_defaults(action=action)
    run_dir_help = f"the testnet's run folder (default {DEFAULT_RUN_DIR})"
    transfer = sub.add_parser("transfer", help="send the relay token between chains of a running testnet; time each step",
                              description="Send the relay token from one chain of a running testnet to another (reserve-backed "
                              "through the relay) and time each step: submitted, included, anchored, received, finalized.")
    transfer.add_argument("--from", dest="source", required=True, help="source chain: relay or a parachain's name (demand, dg, storage)")
    transfer.add_argument("--to", dest="dest", required=True, help="destination chain")
    transfer.add_argument("--amount", type=int, required=True, help="amount in planck (at least the existential deposit)")
    transfer.add_argument("--signer", nargs="+", default=["//Alice"], help="the sender's secret URI (default //Alice); several send in parallel")
    transfer.add_argument("--to-account", help="beneficiary (SS58 or 0x hex; default: the signer's own account)")
    transfer.add_argument("--count", type=int, default=1, help="send this many transfers (per signer) and report latency percentiles")
    transfer.add_argument("--timeout-blocks", type=int, default=100, help="refund if not received within this many relay blocks")
    transfer.add_argument("--wait", type=float, default=120, help="give up following after this many seconds")
    transfer.add_argument("--json", action="store_true", help="print one JSON object")
    transfer.add_argument("--run-dir", type=Path, default=DEFAULT_RUN_DIR, help=run_dir_help)
    transfer.set_defaults(func=_guard(cmd_transfer))
    supply = sub.add_parser("supply", help="issuance per chain and each parachain's reserve on the relay, on one consistent cut")
    supply.add_argument("--json", action="store_true", help="print one JSON object")
    supply.add_argument("--run-dir", type=Path, default=DEFAULT_RUN_DIR, help=run_dir_help)
    supply.set_defaults(func=_guard(cmd_supply))

    net = add("net", cmd_net, "shape or cut the links between nodes of a --hosts network: latency, loss, partition, heal, show")
    net_commands = net.add_subparsers(dest="net_command", required=True)

    def net_command(name: str, help: str, description: str | None = None) -> argparse.ArgumentParser:
        p = net_commands.add_parser(name, help=help, description=description or help)
        # also after the subcommand (`net heal --run-dir X`); absent, the one before it (or the default) holds
        p.add_argument("--run-dir", type=Path, default=argparse.SUPPRESS, help="the network's run folder")
        return p
    for name, help in (("latency", "add MS milliseconds each way between nodes A and B (0 removes it)"),
                       ("loss", "drop PCT percent of the packets each way between nodes A and B (0 removes it)")):
        p = net_command(name, help)
        p.add_argument("a")
        p.add_argument("b")
        if name == "latency":
            p.add_argument("ms", type=int)
        else:
            p.add_argument("pct", type=float)
    p = net_command("partition", "cut every link between two groups of nodes, both directions",
                    "cut every link between two groups of nodes (A,B,… and C,D,…), both directions")
    p.add_argument("side_a", metavar="A[,B…]")
    p.add_argument("side_b", metavar="C[,D…]")
    net_command("heal", "remove every cut, delay and loss")
    net_command("show", "the faults in force")
    check = add("check", cmd_check, "run a scenario file of height assertions and fault steps; ✓/✗ per line, non-zero exit on failure")
    check.add_argument("file", type=Path)
