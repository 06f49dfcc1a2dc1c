"""A parent of a ProcessPool, for the orphan test: prints its children's pids, then waits.

python -m tests.helpers.pool_parent URL PROCESSES
"""

from __future__ import annotations

import asyncio
import json
import sys

from queuecore.worker.process_pool import ProcessPool


async def main(url: str, processes: int) -> None:
    async with ProcessPool("tests.helpers.processors:echo", processes, url, "orphans") as pool:
        print(json.dumps(pool.pids), flush=True)
        await asyncio.sleep(60)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
