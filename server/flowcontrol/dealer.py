"""Shuffle sharding: deal a flow a hand of distinct queues from its hash.

Upstream's shufflesharding.Dealer reads the hash as a mixed-radix number, one digit per card:
digit i (base deck_size - i) picks one of the cards still in the deck. Two flows share their whole
hand only with probability 1 / C(deck, hand), so a flooding flow rarely blocks every queue another
flow could use.
"""

from __future__ import annotations


def deal_hand(hash_value: int, *, deck_size: int, hand_size: int) -> tuple[int, ...]:
    """``hand_size`` distinct queue indexes in [0, deck_size), fixed for one ``hash_value``."""
    if not 0 < hand_size <= deck_size:
        raise ValueError(f"cannot deal {hand_size} cards from a deck of {deck_size}")
    deck = list(range(deck_size))
    hand = []
    for remaining in range(deck_size, deck_size - hand_size, -1):
        hash_value, pick = divmod(hash_value, remaining)
        # Swap-remove keeps the draw O(1); the deck's order only has to be the same every time.
        hand.append(deck[pick])
        deck[pick] = deck[remaining - 1]
    return tuple(hand)
