"""ListJobs / ListServiceJobs `filters` as SQL (ref §6.6, §13.3). Both tables have `name`,
`created_at` and `share_id`; each caller says which filters it allows and which other
filters are exact matches on a column of its own."""

from __future__ import annotations

from batchemu.batch.errors import ClientException


def filter_clause(f: dict, allowed: tuple, exact_columns: dict) -> tuple[str, list]:
    """(sql, args) for one filter; several values in one filter: any may match."""
    name, values = f.get("name"), f.get("values") or []
    if name not in allowed:
        raise ClientException(f"filters.name must be one of {', '.join(allowed)}, got {name!r}")
    if not values:
        raise ClientException(f"filters: {name} needs at least one value")
    clauses, args = [], []
    for value in values:
        if name == "JOB_NAME":  # case-insensitive; a trailing * matches a prefix
            if value.endswith("*"):
                clauses.append("lower(substr(name, 1, ?)) = lower(?)")
                args += [len(value) - 1, value[:-1]]
            else:
                clauses.append("lower(name) = lower(?)")
                args.append(value)
        elif name == "JOB_DEFINITION":
            # A name matches every revision, a trailing * a prefix, an ARN that revision only.
            if value.startswith("arn:"):
                if "*" in value:
                    raise ClientException("filters: JOB_DEFINITION can't use * with an ARN")
                clauses.append("jd_arn = ?")
                args.append(value)
            else:
                prefix = value[:-1] if value.endswith("*") else value + ":"
                clauses.append("substr(jd_arn, instr(jd_arn, ':job-definition/') + 16, ?) = ?")
                args += [len(prefix), prefix]
        elif name in ("BEFORE_CREATED_AT", "AFTER_CREATED_AT"):
            try:
                when = int(value)
            except ValueError:
                raise ClientException(f"filters: {name} takes epoch milliseconds, got {value!r}")
            clauses.append("created_at < ?" if name == "BEFORE_CREATED_AT" else "created_at > ?")
            args.append(when)
        else:
            clauses.append(f"{exact_columns[name]} = ?")
            args.append(value)
    return "(" + " OR ".join(clauses) + ")", args
