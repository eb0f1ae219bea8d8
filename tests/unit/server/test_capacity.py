"""The replica's view of the sandbox cluster's capacity: the bound, the cooldown, the 503."""

from __future__ import annotations

import pytest

from promptkiln.server.capacity import Capacity
from promptkiln.server.errors import ApiError


def test_after_a_full_answer_submissions_over_the_bound_get_503_until_the_cooldown_ends() -> None:
    now = [100.0]
    capacity = Capacity(bound=2, cooldown_s=10, clock=lambda: now[0])
    capacity.admit(50)  # the cluster never said "full": the queue takes it
    capacity.note_full("maximum number of concurrent E2B sandboxes (4)")
    now[0] += 2.5
    assert capacity.remaining() == pytest.approx(7.5)
    capacity.admit(1)  # fewer waiting jobs than this replica's workers: still taken
    with pytest.raises(ApiError) as refused:
        capacity.admit(2)
    err = refused.value
    assert (err.status, err.code, err.headers) == (503, "capacity", {"Retry-After": "8"})
    assert "maximum number of concurrent E2B sandboxes (4)" in err.message
    now[0] += 7.5
    assert capacity.remaining() == 0
    capacity.admit(50)
