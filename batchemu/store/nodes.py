"""The nodes `<jobId>#<n>` of multi-node parallel jobs (ref §12): rows of the jobs table, so
DescribeJobs, ListJobs (multiNodeJobId) and the state observers see them as any job, whose
status moves follow the nodes' own transition table (batchemu.vocabulary.job_states.NODE).
A node's `parent_id` column is its job's id.
"""

from __future__ import annotations

import json

from batchemu.store.jobs import Jobs
from batchemu.vocabulary import job_states


class Nodes(Jobs):
    kind = job_states.NODE

    def of(self, parent_id: str) -> list:
        """The nodes of one multi-node job, by node index."""
        rows = self.store.query("SELECT doc FROM jobs WHERE parent_id=? AND instr(job_id, '#') > 0",
                                (parent_id,))
        return sorted((json.loads(r["doc"]) for r in rows), key=lambda d: d["nodeDetails"]["nodeIndex"])
