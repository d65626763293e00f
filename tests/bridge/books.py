"""Order builders and hypothesis strategies shared by the bridge tests."""

from __future__ import annotations

from hypothesis import strategies as st

from bridge.auction import AuctionResult, run_auction
from bridge.orders import Order, Side
from bridge.tariff import Tariff

PERIOD = 7
TARIFF = Tariff(grid_sale=100, grid_purchase=50)
CHAINS = ("demand", "dg", "storage")
OWNERS = ("a", "b", "c", "d", "e")
CREDIT_LEVELS = (0, 250_000, 500_000, 750_000, 1_000_000)  # few levels: many priority ties


def buy(
    q: int, price: int, reserve: int | None = None, owner: str = "b", chain: str = "demand"
) -> Order:
    return Order(Side.BUY, q, price, price if reserve is None else reserve, PERIOD, owner, chain)


def sell(
    q: int, price: int, reserve: int | None = None, owner: str = "s", chain: str = "dg"
) -> Order:
    return Order(Side.SELL, q, price, price if reserve is None else reserve, PERIOD, owner, chain)


def run(orders: list[Order], credits: dict[str, int], **kw: object) -> AuctionResult:
    kw.setdefault("exclusion_threshold", 0)
    return run_auction(orders, period=PERIOD, tariff=TARIFF, credits=credits, **kw)  # type: ignore[arg-type]


@st.composite
def orders(draw: st.DrawFn) -> Order:
    side = draw(st.sampled_from(Side))
    price = draw(st.integers(1, 12))  # a narrow range: many equal prices
    if side is Side.BUY:
        reserve = price + draw(st.integers(0, 6))
    else:
        reserve = price - draw(st.integers(0, price - 1))
    return Order(
        side,
        draw(st.integers(1, 30)),
        price,
        reserve,
        PERIOD,
        draw(st.sampled_from(OWNERS)),
        draw(st.sampled_from(CHAINS)),
    )


credits = st.fixed_dictionaries({o: st.sampled_from(CREDIT_LEVELS) for o in OWNERS})
books = st.lists(orders(), max_size=40)
tie_lines = st.dictionaries(
    st.tuples(st.sampled_from(CHAINS), st.sampled_from(CHAINS)).filter(lambda p: p[0] != p[1]),
    st.integers(0, 40),
    max_size=6,
)
