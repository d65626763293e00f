"""The cross-chain RPC methods (`xtransfers_*` on every chain, `market_*` on the relay) refuse
malformed and hostile parameters with a clear -32602 (or their own code) before reading state."""

import pytest

from node.rpc.errors import RpcError
from node.service.market_rpc import MarketRpc
from node.service.supply import SupplyRpc
from parachains.runtimes import build_parachain_runtime
from relay.runtime import build_relay_runtime


class StandInNode:
    """Only what the handlers touch before they read state (a unit-test stand-in)."""

    def __init__(self, runtime):
        self.config = type("Config", (), {"runtime": runtime})()
        self.chain = type("Chain", (), {"header": staticmethod(lambda block_hash: None)})()


class Methods:
    def __init__(self, extension):
        self.methods = {}
        extension.register_rpc(self)

    def register_method(self, name, fn, **kw):
        self.methods[name] = fn

    async def call(self, name, params):
        return await self.methods[name](params, None)


RELAY = Methods(SupplyRpc(StandInNode(build_relay_runtime())))
PARA = Methods(SupplyRpc(StandInNode(build_parachain_runtime("dg"))))
MARKET = Methods(MarketRpc(StandInNode(build_relay_runtime())))


@pytest.mark.parametrize("methods, name, params, code, message", [
    (RELAY, "xtransfers_supply", ["0x12"], -32602, "must be 32 bytes"),
    (RELAY, "xtransfers_supply", ["nothex"], -32602, "0x"),
    (RELAY, "xtransfers_supply", ["0x" + "00" * 32, 1], -32602, "at most 1"),
    (RELAY, "xtransfers_supply", ["0x" + "00" * 32], 4004, "unknown block"),
    (RELAY, "xtransfers_status", [], -32602, "missing parameter `originChain`"),
    (RELAY, "xtransfers_status", [2000], -32602, "missing parameter `nonce`"),
    (RELAY, "xtransfers_status", [-1, 0], -32602, "`originChain` must be between 0 and 4294967295"),
    (RELAY, "xtransfers_status", [2**32, 0], -32602, "`originChain` must be between"),
    (RELAY, "xtransfers_status", [True, 0], -32602, "`originChain` must be a number"),
    (RELAY, "xtransfers_status", [2000, 2**64], -32602, "`nonce` must be between"),
    (RELAY, "xtransfers_status", [2000, "0xzz"], -32602, "`nonce` is not a valid hex number"),
    (PARA, "xtransfers_status", [2000, 0], 4005, "recorded on the relay"),
    (RELAY, "xtransfers_counts", [1], -32602, "at most 0"),
    (PARA, "xtransfers_counts", [], 4005, "recorded on the relay"),
    (MARKET, "market_settlement", [], -32602, "missing parameter `tradeId`"),
    (MARKET, "market_settlement", [-5], -32602, "`tradeId` must be between"),
    (MARKET, "market_settlement", [[1]], -32602, "`tradeId` must be a number"),
    (MARKET, "market_trades", [1, 2], -32602, "at most 1"),
    (MARKET, "market_trades", [2**64], -32602, "`period` must be between"),
    (MARKET, "market_schedule", [1], -32602, "at most 0"),
    (MARKET, "market_summary", ["x"], -32602, "at most 0"),
])
async def test_bad_parameters_are_refused_with_a_clear_error(methods, name, params, code, message):
    with pytest.raises(RpcError) as refused:
        await methods.call(name, params)
    assert refused.value.code == code and message in str(refused.value), refused.value


async def test_the_market_methods_say_they_live_on_the_relay():
    para = Methods(MarketRpc(StandInNode(build_parachain_runtime("dg"))))
    with pytest.raises(RpcError) as refused:
        await para.call("market_settlement", [0])
    assert refused.value.code == 4007
