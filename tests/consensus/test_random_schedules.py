"""Safety under arbitrary schedules: random delays, drops, partitions, crashes and restarts, with
or without an equivocating authority, never lead two honest nodes to finalize different blocks
at one height (nor one node to finalize a block that does not extend its last final one)."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.consensus.sim import assert_agreement, honest, make_network

GROUPS = [({0, 1}, {2, 3}), ({0}, {1, 2, 3}), ({0, 2}, {1, 3}), ({0, 1, 2}, {3}), ({1}, {0}, {2, 3})]

fault = st.one_of(
    st.tuples(st.just("partition"), st.sampled_from(range(len(GROUPS)))),
    st.tuples(st.just("heal"), st.just(0)),
    st.tuples(st.just("crash"), st.integers(0, 3)),
    st.tuples(st.just("restart"), st.integers(0, 3)),
)

schedule = st.fixed_dictionaries(
    {
        "kind": st.sampled_from(["bft", "aura"]),
        "seed": st.integers(0, 2**32 - 1),
        "drop_percent": st.integers(0, 40),
        "max_delay": st.integers(1, 600),
        "byzantine": st.booleans(),
        "faults": st.lists(st.tuples(st.integers(0, 8_000), fault), max_size=6),
    }
)


def run(s):
    net = make_network(s["kind"], seed=s["seed"], drop_percent=s["drop_percent"], min_delay=0, max_delay=s["max_delay"])
    bad = {3} if s["byzantine"] else set()
    if bad:
        net.nodes[3].equivocate = True
    for at, (op, arg) in sorted(s["faults"], key=lambda f: f[0]):
        net.run_until(at)
        if op == "partition":
            net.partition(*GROUPS[arg])
        elif op == "heal":
            net.heal()
        elif op == "crash":
            net.crash(arg)
        elif arg in net.crashed:
            net.restart(arg)
    net.run_until(10_000)
    return net, honest(net, bad)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schedule)
def test_random_schedules_never_finalize_two_blocks_at_one_height(s):
    net, good = run(s)
    assert_agreement(good)
    for node in good:
        assert all(e.offender == net.nodes[3].keypair.public_key for e in node.evidence)


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from(["bft", "aura"]))
def test_after_faults_heal_a_timely_network_makes_progress(seed, kind):
    net = make_network(kind, seed=seed, drop_percent=30, max_delay=300)
    net.partition(*GROUPS[seed % len(GROUPS)])
    net.run_until(4_000)
    net.heal()
    net.drop_percent, net.max_delay = 0, 40
    net.run_until(6_000)
    before = min(max(n.finalized) for n in net.nodes)
    net.run_until(20_000)
    assert min(max(n.finalized) for n in net.nodes) > before
    assert_agreement(net.nodes)


@settings(max_examples=40, deadline=None)
@given(
    st.integers(0, 2**32 - 1),
    st.sampled_from(["bft", "aura"]),
    st.integers(0, 30),
    st.integers(1, 400),
)
def test_seven_authorities_with_two_equivocating_never_disagree(seed, kind, drop_percent, max_delay):
    net = make_network(kind, n=7, seed=seed, drop_percent=drop_percent, min_delay=0, max_delay=max_delay)
    for i in (5, 6):
        net.nodes[i].equivocate = True
    net.run_until(8_000)
    good = honest(net, {5, 6})
    assert_agreement(good)
    offenders = {net.nodes[i].keypair.public_key for i in (5, 6)}
    assert all(e.offender in offenders for node in good for e in node.evidence)
