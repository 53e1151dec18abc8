"""Group commit: requests made while a batch commits form the next batch; each caller
gets its own result or its batch's error, and a caller that gives up cancels only its
own request."""

import asyncio

import pytest

from core.group_commit import GroupCommit


class Committer:
    """Commits batches slowly enough that others queue behind, recording each batch."""

    def __init__(self, fail_on: object = None) -> None:
        self.batches: list[list[int]] = []
        self.fail_on = fail_on
        self.release = asyncio.Event()

    async def __call__(self, batch: list[int]) -> list[int]:
        self.batches.append(list(batch))
        await self.release.wait()
        if self.fail_on in batch:
            raise RuntimeError(f"batch with {self.fail_on} refused")
        return [n * 10 for n in batch]


async def test_requests_made_while_a_batch_commits_go_together_and_get_their_own_results():
    committer = Committer()
    group = GroupCommit(committer)
    first = asyncio.create_task(group.submit(1))
    await asyncio.sleep(0)  # the first batch is committing: [1]
    rest = [asyncio.create_task(group.submit(n)) for n in range(2, 7)]
    await asyncio.sleep(0)
    committer.release.set()
    assert await first == 10
    assert await asyncio.gather(*rest) == [20, 30, 40, 50, 60]
    assert committer.batches == [[1], [2, 3, 4, 5, 6]]


async def test_a_failed_batch_fails_its_own_requests_only():
    committer = Committer(fail_on=3)
    group = GroupCommit(committer)
    first = asyncio.create_task(group.submit(1))
    await asyncio.sleep(0)
    failing = [asyncio.create_task(group.submit(n)) for n in (2, 3)]
    committer.release.set()
    assert await first == 10
    for task in failing:
        with pytest.raises(RuntimeError, match="batch with 3 refused"):
            await task
    assert await group.submit(4) == 40  # the group goes on after a failure


async def test_a_batch_is_at_most_the_limit():
    committer = Committer()
    committer.release.set()
    group = GroupCommit(committer, limit=2)
    assert await asyncio.gather(*(group.submit(n) for n in range(5))) == [0, 10, 20, 30, 40]
    assert committer.batches == [[0, 1], [2, 3], [4]]


async def test_a_caller_that_gives_up_does_not_cancel_the_others():
    committer = Committer()
    group = GroupCommit(committer)
    leaving = asyncio.create_task(group.submit(1))
    staying = asyncio.create_task(group.submit(2))
    await asyncio.sleep(0)
    leaving.cancel()
    await asyncio.sleep(0)
    committer.release.set()
    assert await staying == 20
    with pytest.raises(asyncio.CancelledError):
        await leaving
    assert committer.batches == [[1, 2]]  # committed all the same


async def test_a_wrong_number_of_results_is_an_error_for_the_batch():
    async def short(batch: list[int]) -> list[int]:
        return batch[:-1]

    group = GroupCommit(short)
    with pytest.raises(RuntimeError, match="1 results for 2 requests"):
        await asyncio.gather(group.submit(1), group.submit(2))
