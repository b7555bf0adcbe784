#!/usr/bin/env python3
"""Writes crates/palabre-core/tests/data/v1/equal_shares.json: participatory-budget cases
for the Method of Equal Shares with the Add1U completion, as PROTOCOL.md ("Counting and
tallies", `equal_shares`) states it, computed here independently of Palabre's Rust code.

This is the plain reading of the rule: exact fractions, and the endowment raised one
currency unit at a time (Palabre's code skips runs that cannot change the outcome; the
result must be the same). Core's test `vectors::equal_shares_vectors` recounts every case
and compares.

Usage: python3 vectors/equal_shares.py > crates/palabre-core/tests/data/v1/equal_shares.json
(only to create the file: vector files are never edited once published).
"""

import json
import sys
from fractions import Fraction

MAX_RUNS = 10_000


def eligible(case, c):
    cost = case["costs"][c]
    return cost <= case["budget"] and any(c in b for b in case["ballots"])


def approvers(case, c):
    return [v for v, b in enumerate(case["ballots"]) if c in b]


def mes(case, endowment):
    """One run without completion; the winners in selection order."""
    n = len(case["ballots"])
    money = [Fraction(endowment)] * n
    open_ = [c for c in range(len(case["costs"])) if eligible(case, c) and case["costs"][c] > 0]
    winners = []
    while True:
        best = None
        for c in list(open_):
            cost = Fraction(case["costs"][c])
            voters = sorted(approvers(case, c), key=lambda v: money[v])
            if sum(money[v] for v in voters) < cost:
                open_.remove(c)
                continue
            paid, left, share = Fraction(0), len(voters), None
            for v in voters:
                if money[v] * left >= cost - paid:
                    share = (cost - paid) / left
                    break
                paid += money[v]
                left -= 1
            rho = share / cost
            key = (rho, case["costs"][c], -len(voters), c)
            if best is None or key < best[0]:
                best = (key, c, share)
        if best is None:
            return winners
        _, c, share = best
        for v in approvers(case, c):
            money[v] -= min(money[v], share)
        winners.append(c)
        open_.remove(c)


def spent(case, winners):
    return sum(case["costs"][c] for c in winners)


def exhaustive(case, winners):
    return all(
        spent(case, winners) + case["costs"][c] > case["budget"]
        for c in range(len(case["costs"]))
        if eligible(case, c) and case["costs"][c] > 0 and c not in winners
    )


def greedy_fill(case, winners):
    order = sorted(
        (c for c in range(len(case["costs"])) if eligible(case, c)),
        key=lambda c: (-len(approvers(case, c)), case["costs"][c], c),
    )
    for c in order:
        if c not in winners and spent(case, winners) + case["costs"][c] <= case["budget"]:
            winners.append(c)
    return winners


def equal_shares(case):
    """(winners, endowment kept, runs made, winners of the first run)."""
    n = len(case["ballots"])
    if n == 0:
        return [], None, 0, []
    total = sum(case["costs"][c] for c in range(len(case["costs"])) if eligible(case, c))
    if total <= case["budget"]:
        e = Fraction(case["budget"], n)
        first = mes(case, e)
        return greedy_fill(case, list(first)), e, 1, first
    e = Fraction(case["budget"] // n)
    run = first = mes(case, e)
    runs = 1
    while runs < MAX_RUNS and not exhaustive(case, run):
        nxt = mes(case, e + 1)
        runs += 1
        if spent(case, nxt) > case["budget"]:
            break
        e, run = e + 1, nxt
    return greedy_fill(case, list(run)), e, runs, first


def first_endowment(case):
    n = len(case["ballots"])
    if n == 0:
        return None
    total = sum(case["costs"][c] for c in range(len(case["costs"])) if eligible(case, c))
    return str(Fraction(case["budget"], n) if total <= case["budget"] else case["budget"] // n)


def proposal_id(i):
    return f"{i + 1:064x}"


CASES = [
    {
        "name": "add1u_raises_the_endowment",
        "explanation": "Six voters, budget 100: each starts with 16. Four approve P0 and P1 "
        "(50 each), two approve Q (40). At 16 only P0 is funded (Q would need 20 each); "
        "the endowment rises to 20, where P0 and Q are funded (90) and nothing else fits. "
        "A greedy completion of the first run would have funded P1 instead of Q.",
        "budget": 100,
        "costs": [50, 50, 40],
        "ballots": [[0, 1], [0, 1], [0, 1], [0, 1], [2], [2]],
    },
    {
        "name": "add1u_next_run_overspends",
        "explanation": "Two voters, budget 100, two projects of 60 approved by one voter each: "
        "no run funds anything until 60 each, where both are funded (120): that outcome does "
        "not fit, so the empty one is kept and the greedy fill funds the first by id.",
        "budget": 100,
        "costs": [60, 60],
        "ballots": [[0], [1]],
    },
    {
        "name": "all_fit",
        "explanation": "Every eligible project fits together (30 + 50 + 20 ≤ 100): the method "
        "runs once with 100/3 per voter, funding P1 then P0; P2's only approver has too "
        "little left, and the greedy fill adds it.",
        "budget": 100,
        "costs": [30, 50, 20],
        "ballots": [[0], [1], [1, 2]],
    },
    {
        "name": "zero_voters",
        "explanation": "No ballot: nothing is funded and nothing is spent.",
        "budget": 100,
        "costs": [30, 50],
        "ballots": [],
    },
    {
        "name": "blank_ballots_and_ineligible_projects",
        "explanation": "Four voters, two of them blank, budget 90. P1 costs more than the "
        "budget and P2 has no approval: neither is eligible, so the eligible projects "
        "(40 + 50) fit together and the method runs once with 90/4 each, blank voters "
        "included: P0 is funded (20 from each approver), P3's approvers have 5/2 each left, "
        "and the greedy fill adds it.",
        "budget": 90,
        "costs": [40, 100, 10, 50],
        "ballots": [[0, 1, 3], [0, 3], [], []],
    },
]

out = []
for case in CASES:
    winners, e, runs, first = equal_shares(case)
    out.append(
        {
            "name": case["name"],
            "explanation": case["explanation"],
            "method": {"type": "budget", "budget": case["budget"], "rule": "equal_shares"},
            "candidates": [
                {"id": proposal_id(i), "cost": cost} for i, cost in enumerate(case["costs"])
            ],
            "ballots": [
                {"approve": [proposal_id(c) for c in sorted(b)]} for b in case["ballots"]
            ],
            "first_endowment_per_voter": first_endowment(case),
            "first_run_winners": [proposal_id(c) for c in first],
            "kept_endowment_per_voter": None if e is None else str(e),
            "runs_one_unit_at_a_time": runs,
            "winners": [proposal_id(c) for c in winners],
            "spent": spent(case, winners),
        }
    )

sys.stdout.write(
    json.dumps(
        {
            "about": "Method of Equal Shares with the Add1U completion (PROTOCOL.md, "
            "\"Counting and tallies\"), computed by vectors/equal_shares.py independently of "
            "Palabre's code. Endowments are exact fractions written as text.",
            "cases": out,
        },
        indent=2,
        ensure_ascii=False,
    )
    + "\n"
)
