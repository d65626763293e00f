"""Prometheus metrics of a node, named like Substrate's where one exists.

The node refreshes a small snapshot of plain numbers once per block (`Node.stats`); the
collector reads only that snapshot and integer counters when Prometheus scrapes, from
prometheus-client's own server thread — it never walks the node's live structures, which the
trio thread is changing.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily


class NodeCollector:
    def __init__(self, node):
        self.node = node

    def collect(self):
        node = self.node
        stats = dict(node.stats)  # one atomic copy of the snapshot
        height = GaugeMetricFamily("substrate_block_height", "Block height info of the chain", labels=["status"])
        height.add_metric(["best"], stats.get("best", 0))
        height.add_metric(["finalized"], stats.get("finalized", 0))
        for extension in node.extensions:
            anchored = getattr(extension, "anchored_number", None)
            if anchored is not None:
                height.add_metric(["anchored"], max(anchored(), 0))
        yield height
        ready, future = stats.get("ready", 0), stats.get("future", 0)
        pool = GaugeMetricFamily("substrate_ready_transactions_number", "Number of transactions in the ready queue")
        pool.add_metric([], ready)
        yield pool
        waiting = GaugeMetricFamily("substrate_future_transactions_number", "Number of transactions waiting for an earlier nonce")
        waiting.add_metric([], future)
        yield waiting
        peers = GaugeMetricFamily("substrate_sub_libp2p_peers_count", "Number of connected peers")
        peers.add_metric([], stats.get("peers", 0))
        yield peers
        if "messages_sent" in stats:
            for direction in ("sent", "received"):
                messages = CounterMetricFamily(f"parawatt_xcm_messages_{direction}", f"Cross-chain messages this chain has {direction} (best block)")
                messages.add_metric([], stats[f"messages_{direction}"])
                yield messages
        for key, help_text in (("orders_placed", "Market orders placed on this parachain (best block)"),
                               ("trades_committed", "Trades the relay's market has committed (best block)")):
            if key in stats:
                counter = CounterMetricFamily(f"parawatt_market_{key}", help_text)
                counter.add_metric([], stats[key])
                yield counter
        if "included" in stats:
            included = GaugeMetricFamily("parawatt_para_included_height", "Each parachain's block the relay last included (best block)",
                                         labels=["para"])
            for para_id, number in sorted(stats["included"].items()):
                included.add_metric([str(para_id)], number)
            yield included
        authored = CounterMetricFamily("parawatt_blocks_authored", "Blocks this node authored")
        authored.add_metric([], node.blocks_authored)
        yield authored
        for extension in node.extensions:
            submitted = getattr(extension, "candidates_submitted", None)
            if submitted is not None:
                c = CounterMetricFamily("parawatt_candidates_submitted", "Parachain candidates this collator sent to the relay")
                c.add_metric([], submitted)
                yield c
            table = getattr(extension, "table", None)
            if table is not None:
                g = GaugeMetricFamily("parawatt_candidates_pending", "Candidates this validator holds, not yet included")
                g.add_metric([], len(table))
                yield g
                verdicts = CounterMetricFamily("parawatt_candidates_validated", "Candidates this validator re-executed from their proofs", labels=["verdict"])
                verdicts.add_metric(["valid"], extension.verdicts["valid"])
                verdicts.add_metric(["invalid"], extension.verdicts["invalid"])
                yield verdicts


def serve_metrics(node, host: str, port: int) -> int:
    """Start the endpoint; returns the bound port (0 picks a free one)."""
    registry = CollectorRegistry()
    registry.register(NodeCollector(node))
    server, _thread = start_http_server(port, addr=host, registry=registry)
    return server.server_port
