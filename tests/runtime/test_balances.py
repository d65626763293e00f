"""Balances through the full extrinsic path: fees, existential deposit, failed calls."""

import pytest

from node.runtime.overlay import StateOverlay
from tests.runtime.harness import ENDOWMENT, EXISTENTIAL_DEPOSIT, Harness


@pytest.fixture
def h():
    return Harness()


def transfer(h, sender, dest, value, name="transfer_keep_alive"):
    return h.sign(sender, h.call("Balances", name, dest={"Id": dest}, value=value))


def fee_paid(events):
    return next(f["actual_fee"] for p, n, f in events if (p, n) == ("TransactionPayment", "TransactionFeePaid"))


def test_transfer_moves_value_and_charges_the_fee(h):
    (outcome,), events = h.block(transfer(h, "Alice", h.bob, 5 * 10**12))
    assert outcome.success
    fee = fee_paid(events)
    assert fee == outcome.fee > 0
    assert h.free(h.alice) == ENDOWMENT - 5 * 10**12 - fee
    assert h.free(h.bob) == ENDOWMENT + 5 * 10**12
    assert h.account(h.alice).nonce == 1
    names = [(p, n) for p, n, _ in events]
    assert names[-4:] == [("Balances", "Withdraw"), ("Balances", "Transfer"), ("TransactionPayment", "TransactionFeePaid"), ("System", "ExtrinsicSuccess")]


def test_fees_are_burned_from_total_issuance(h):
    before = h.total_issuance()
    (outcome,), _ = h.block(transfer(h, "Alice", h.bob, 10**12))
    assert h.total_issuance() == before - outcome.fee


def test_failed_call_leaves_no_state_change_but_its_fee(h):
    before_bob = h.free(h.bob)
    (outcome,), events = h.block(transfer(h, "Alice", h.bob, ENDOWMENT * 2))
    assert not outcome.success
    assert h.free(h.alice) == ENDOWMENT - outcome.fee
    assert h.free(h.bob) == before_bob
    assert h.account(h.alice).nonce == 1  # the nonce is spent: the extrinsic is in the block
    failed = [f for p, n, f in events if (p, n) == ("System", "ExtrinsicFailed")]
    assert failed[0]["dispatch_error"] == {"Module": {"index": 2, "error": bytes([2, 0, 0, 0])}}  # InsufficientBalance
    assert not any(n == "Transfer" for _, n, _ in events)


def test_transfer_creating_an_account_below_existential_deposit_fails(h):
    newcomer = bytes([9]) * 32
    (outcome,), _ = h.block(transfer(h, "Alice", newcomer, EXISTENTIAL_DEPOSIT - 1))
    assert not outcome.success and outcome.error.error == "ExistentialDeposit"
    assert h.account(newcomer).providers == 0


def test_transfer_creating_an_account_emits_new_account_and_endowed(h):
    newcomer = bytes([9]) * 32
    (outcome,), events = h.block(transfer(h, "Alice", newcomer, EXISTENTIAL_DEPOSIT))
    assert outcome.success
    names = [(p, n) for p, n, _ in events]
    assert ("System", "NewAccount") in names and ("Balances", "Endowed") in names
    assert h.free(newcomer) == EXISTENTIAL_DEPOSIT


def test_keep_alive_refuses_to_kill_the_sender(h):
    left = h.free(h.bob)
    fee = fee_of(h, transfer(h, "Bob", h.alice, left // 2))
    (outcome,), _ = h.block(transfer(h, "Bob", h.alice, left - fee - EXISTENTIAL_DEPOSIT + 1))
    assert not outcome.success and outcome.error.error == "Expendability"


def fee_of(h, xt):
    from node.runtime.apis import dispatch_info_of

    return dispatch_info_of(h.executive, xt)[2]


def test_allow_death_reaps_the_sender_and_burns_the_dust(h):
    issuance = h.total_issuance()
    left = h.free(h.bob)
    fee = fee_of(h, transfer(h, "Bob", h.alice, left // 2, "transfer_allow_death"))  # same encoded length
    (outcome,), events = h.block(transfer(h, "Bob", h.alice, left - fee - 1, "transfer_allow_death"))
    assert outcome.success
    assert h.account(h.bob).providers == 0 and h.free(h.bob) == 0
    names = [(p, n) for p, n, _ in events]
    assert ("Balances", "DustLost") in names and ("System", "KilledAccount") in names
    assert h.total_issuance() == issuance - fee - 1


def test_sudo_dispatches_as_root_and_refuses_other_signers(h):
    inner = {"Balances": {"force_set_balance": {"who": {"Id": h.bob}, "new_free": 42 * 10**12}}}
    (ok,), events = h.block(h.sign("Alice", h.call("Sudo", "sudo", call=inner)))
    assert ok.success and h.free(h.bob) == 42 * 10**12
    assert ("Sudo", "Sudid", {"sudo_result": {"Ok": None}}) in events
    (refused,), _ = h.block(h.sign("Bob", h.call("Sudo", "sudo", call=inner)))
    assert not refused.success and refused.error.error == "RequireSudo"


def test_sudo_reports_an_inner_failure_without_failing(h):
    inner = {"Balances": {"transfer_keep_alive": {"dest": {"Id": h.bob}, "value": 1}}}  # needs a signed origin
    (outcome,), events = h.block(h.sign("Alice", h.call("Sudo", "sudo", call=inner)))
    assert outcome.success
    assert ("Sudo", "Sudid", {"sudo_result": {"Err": "BadOrigin"}}) in events


def test_root_only_calls_refuse_signed_origins(h):
    (outcome,), _ = h.block(h.sign("Alice", h.call("Balances", "force_set_balance", who={"Id": h.bob}, new_free=1)))
    assert not outcome.success and outcome.error.value == "BadOrigin"


# -- reserves: the escrow other pallets build on ----------------------------------------------


def in_block(h, fn):
    """Run ``fn(ctx)`` inside a block's storage transaction and commit its writes."""
    from node.runtime.overlay import StateOverlay

    overlay = StateOverlay(h.state.get)
    ctx = h.runtime.new_context(overlay, h.number + 1)
    fn(ctx)
    for k, v in overlay.changes.items():
        if v is None:
            h.state.pop(k, None)
        else:
            h.state[k] = v


def test_reserve_moves_free_to_reserved_and_keeps_issuance(h):
    before = h.total_issuance()
    in_block(h, lambda ctx: h.balances.reserve(ctx, h.alice, 7))
    assert (h.account(h.alice).free, h.account(h.alice).reserved) == (ENDOWMENT - 7, 7)
    in_block(h, lambda ctx: h.balances.unreserve(ctx, h.alice, 5))
    assert (h.account(h.alice).free, h.account(h.alice).reserved) == (ENDOWMENT - 2, 2)
    assert h.total_issuance() == before


def test_reserve_refuses_to_leave_less_than_the_existential_deposit_free(h):
    from node.runtime.errors import ModuleError

    with pytest.raises(ModuleError, match="Expendability"):
        in_block(h, lambda ctx: h.balances.reserve(ctx, h.alice, ENDOWMENT - EXISTENTIAL_DEPOSIT + 1))
    with pytest.raises(ModuleError, match="InsufficientBalance"):
        in_block(h, lambda ctx: h.balances.reserve(ctx, h.alice, ENDOWMENT + 1))
    assert h.account(h.alice).reserved == 0


def test_unreserve_more_than_reserved_is_refused_not_partial(h):
    from node.runtime.errors import ModuleError

    in_block(h, lambda ctx: h.balances.reserve(ctx, h.alice, 10))
    with pytest.raises(ModuleError, match="InsufficientBalance"):
        in_block(h, lambda ctx: h.balances.unreserve(ctx, h.alice, 11))
    assert h.account(h.alice).reserved == 10


def test_repatriate_reserved_pays_into_free_and_keeps_issuance(h):
    before = h.total_issuance()
    in_block(h, lambda ctx: h.balances.reserve(ctx, h.alice, 100))
    in_block(h, lambda ctx: h.balances.repatriate_reserved(ctx, h.alice, h.bob, 60))
    assert h.account(h.alice).reserved == 40
    assert h.free(h.bob) == ENDOWMENT + 60
    assert h.total_issuance() == before


def test_repatriate_reserved_to_a_new_account_needs_the_existential_deposit(h):
    from node.runtime.errors import ModuleError

    newcomer = bytes([9]) * 32
    in_block(h, lambda ctx: h.balances.reserve(ctx, h.alice, EXISTENTIAL_DEPOSIT))
    with pytest.raises(ModuleError, match="ExistentialDeposit"):
        in_block(h, lambda ctx: h.balances.repatriate_reserved(ctx, h.alice, newcomer, EXISTENTIAL_DEPOSIT - 1))
    in_block(h, lambda ctx: h.balances.repatriate_reserved(ctx, h.alice, newcomer, EXISTENTIAL_DEPOSIT))
    assert h.free(newcomer) == EXISTENTIAL_DEPOSIT


def test_slash_reserved_burns_from_the_reserve(h):
    before = h.total_issuance()
    in_block(h, lambda ctx: h.balances.reserve(ctx, h.alice, 100))
    in_block(h, lambda ctx: h.balances.slash_reserved(ctx, h.alice, 30))
    assert h.account(h.alice).reserved == 70
    assert h.total_issuance() == before - 30


def test_reserved_funds_cannot_be_transferred(h):
    locked = ENDOWMENT // 2
    in_block(h, lambda ctx: h.balances.reserve(ctx, h.bob, locked))
    (outcome,), _ = h.block(transfer(h, "Bob", h.alice, ENDOWMENT - locked + 1, name="transfer_allow_death"))
    assert not outcome.success and outcome.error.error == "InsufficientBalance"
    assert h.account(h.bob).reserved == locked


def test_allow_death_transfer_is_refused_while_the_account_holds_a_reserve(h):
    """A reaped account loses its reserve as dust: escrow another pallet will pay out of."""
    in_block(h, lambda ctx: h.balances.reserve(ctx, h.bob, EXISTENTIAL_DEPOSIT // 2))
    before = dict(h.state)
    with pytest.raises(Exception) as raised:
        in_block(h, lambda ctx: h.balances.transfer(ctx, h.bob, h.alice, h.free(h.bob), keep_alive=False))
    assert raised.value.error == "Expendability" and h.state == before
    in_block(h, lambda ctx: h.balances.unreserve(ctx, h.bob, EXISTENTIAL_DEPOSIT // 2))
    in_block(h, lambda ctx: h.balances.transfer(ctx, h.bob, h.alice, h.free(h.bob), keep_alive=False))
    assert h.account(h.bob).providers == 0


def test_allow_death_transfer_is_refused_while_another_pallet_needs_the_account(h):
    """`keep_alive_checks`: e.g. an open sell order, whose payment will be minted to its owner."""
    needed = {h.bob}
    h.balances.keep_alive_checks.append(lambda state, who: who in needed)
    with pytest.raises(Exception) as raised:
        in_block(h, lambda ctx: h.balances.transfer(ctx, h.bob, h.alice, h.free(h.bob), keep_alive=False))
    assert raised.value.error == "Expendability"
    in_block(h, lambda ctx: h.balances.transfer(ctx, h.bob, h.alice, h.free(h.bob) - EXISTENTIAL_DEPOSIT, keep_alive=False))
    needed.clear()
    in_block(h, lambda ctx: h.balances.transfer(ctx, h.bob, h.alice, h.free(h.bob), keep_alive=False))
    assert h.account(h.bob).providers == 0


def test_dust_of_a_reaped_account_counts_as_burned_for_the_supply_check(h):
    """issuance + fees burned only changes by cross-chain moves: dust leaves the issuance too,
    so it must be counted with the fees, or `sovereign == issuance + fees burned` breaks."""
    payment = h.runtime.pallet("TransactionPayment")
    burned = lambda: h.total_issuance() + payment.FeesBurned.get(StateOverlay(h.state.get))  # noqa: E731
    before = burned()
    left = h.free(h.bob)
    fee = fee_of(h, transfer(h, "Bob", h.alice, left // 2, "transfer_allow_death"))
    (outcome,), events = h.block(transfer(h, "Bob", h.alice, left - fee - 1, "transfer_allow_death"))
    assert outcome.success and ("Balances", "DustLost") in [(p, n) for p, n, _ in events]
    assert burned() == before
