"""Naming a preferred agent: the one rule the form and the import share."""

from __future__ import annotations

from workitems.models import Queue
from workitems.services.queue_members import MemberChoice, queue_member_resolve

REFUNDS = Queue(pk=1, name="Refunds")
BEN = MemberChoice("u-ben", "Ben Hartley", "Refunds", "IDLE")
ANN = MemberChoice("u-ann", "Ann Lee", "Refunds", "OFF_QUEUE", joined=False)
ANN_TOO = MemberChoice("u-ann-2", "Ann Lee", "Refunds")
CY = MemberChoice("u-cy", "Cy Moss", "Billing")
CY_ELSEWHERE = MemberChoice("u-cy", "Cy Moss", "Claims")


def resolve(token, members=(BEN, ANN), others=()):
    return queue_member_resolve(token=token, members=members, queue=REFUNDS, others=others)


def test_a_members_id_or_name_in_any_case_is_that_member():
    assert resolve("u-ben").member == BEN
    assert resolve("  ben HARTLEY ").member == BEN


def test_a_name_two_members_share_is_refused_naming_their_ids():
    found = resolve("ann lee", members=(ANN, ANN_TOO))
    assert found.member is None
    assert found.problem == (
        '2 members of queue Refunds are named "ann lee" (user ids u-ann, u-ann-2): pick one by '
        "user id"
    )


def test_someone_only_in_other_queues_is_taken_with_a_warning():
    found = resolve("Cy Moss", others=(CY, CY_ELSEWHERE))
    assert found.member.user_id == "u-cy"
    assert found.warning == (
        "Cy Moss is not a member of queue Refunds (but of Billing, Claims): Genesys cannot "
        "prefer them for it"
    )


def test_anyone_else_is_refused_saying_which_queue_was_searched():
    assert resolve("Dee").problem == 'no member of queue Refunds is named or has the user id "Dee"'
    assert queue_member_resolve(token="Dee", members=(), queue=None).problem == (
        'no member of the item\'s queue (it has none) is named or has the user id "Dee"'
    )


def test_a_members_label_says_how_they_stand():
    assert BEN.label == "Ben Hartley (idle)"
    assert ANN.label == "Ann Lee (off queue, not joined)"
