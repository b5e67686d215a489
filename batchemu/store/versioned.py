"""One table of versioned job documents: the insert, the compare-and-set update and the status
guard that every kind of job shares (store.jobs and store.service_jobs are this with their own
table, columns and queries).

A job is one JSON document (wire keys plus internal `_` keys) in a row whose other columns
repeat what queries filter on. Every update is a compare-and-set on the row's version, so two
writers never overwrite each other silently: the loser gets False and re-reads. An update that
changes the status must be a move the kind's table allows (batchemu.vocabulary.job_states), from the
status the row holds now; anything else raises IllegalTransition, whoever the caller is.
Knows nothing of what the statuses mean nor of who observes them.
"""

from __future__ import annotations

import json

from batchemu.vocabulary import job_states
from batchemu.store import documents
from batchemu.store.db import Store


class VersionedDocs:
    table = ""          # the SQLite table
    kind = ""           # job_states.CONTAINER | SERVICE: whose transition table guards the status
    columns = ()        # the filter columns after account and region, job_id first, status among them
    forget = ""         # more SET clauses of every update (e.g. kept views it invalidates)
    kept = ()           # columns written with every insert and update from kept_values(doc)

    def __init__(self, store: Store):
        self.store = store
        names = ", ".join(self.columns + self.kept)
        marks = ",".join("?" * (len(self.columns) + len(self.kept) + 4))
        self._insert_sql = (f"INSERT INTO {self.table} (account, region, {names}, version, doc) "
                            f"VALUES ({marks})")
        sets = "".join(f"{c}=?, " for c in self.columns[1:] + self.kept)
        self._update_sql = (f"UPDATE {self.table} SET {sets}version=?, doc=?{self.forget} "
                            f"WHERE job_id=? AND version=? AND status IN ")

    @property
    def observers(self) -> list:
        """Who is told of every status change (engine.states.transition); none by default."""
        return []

    def values(self, doc: dict) -> tuple:
        """The filter columns of `doc`, in `columns` order."""
        raise NotImplementedError

    def kept_values(self, doc: dict) -> tuple:
        """The `kept` columns' values for this version of `doc`."""
        return ()

    def insert(self, doc: dict) -> None:
        doc["_v"] = 0
        self.store.execute(self._insert_sql, (doc["_account"], doc["_region"], *self.values(doc),
                                              *self.kept_values(doc), 0, documents.dump(doc)))

    def update(self, doc: dict) -> bool:
        """Write `doc` if nobody wrote the job since it was read (doc['_v'] matches) and its status
        may follow the stored one; False when the compare-and-set lost."""
        expected = doc["_v"]
        new = dict(doc, _v=expected + 1)
        sources = job_states.sources(self.kind, doc["status"])
        count = self.store.execute(
            self._update_sql + f"({','.join('?' * len(sources))})",
            (*self.values(new)[1:], *self.kept_values(new), expected + 1, documents.dump(new), doc["jobId"],
             expected, *sources)).rowcount
        if count:
            doc["_v"] = expected + 1
            return True
        row = self.store.tuples(f"SELECT version, status FROM {self.table} WHERE job_id=?", (doc["jobId"],))
        if row and row[0][0] == expected:  # not a lost race: a move the table refuses
            job_states.check(self.kind, doc["jobId"], row[0][1], doc["status"])
        return False

    def get(self, job_id: str) -> dict | None:
        rows = self.store.query(f"SELECT doc FROM {self.table} WHERE job_id=?", (job_id,))
        return json.loads(rows[0]["doc"]) if rows else None
