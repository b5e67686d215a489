"""evaluateOnExit matching (ref §9): rules in order, first match wins; a rule matches when
all of its given conditions match (AND); patterns are exact or end with one `*` (prefix);
no matching rule means RETRY while attempts remain. A condition on a field the attempt does
not have (no exit code because no container ran, no reason) does not match, except `*`.
"""

from __future__ import annotations

RETRY, EXIT = "RETRY", "EXIT"


def glob(pattern: str, value) -> bool:
    if pattern == "*":
        return True
    if value is None:
        return False
    value = str(value)
    if pattern.endswith("*"):
        return value.startswith(pattern[:-1])
    return value == pattern


def rule_matches(rule: dict, exit_code, reason, status_reason) -> bool:
    checks = (("onExitCode", exit_code), ("onReason", reason), ("onStatusReason", status_reason))
    given = [(rule[k], v) for k, v in checks if rule.get(k) is not None]
    return all(glob(p, v) for p, v in given)


def action_for(rules: list, exit_code, reason, status_reason) -> str:
    for rule in rules or []:
        if rule_matches(rule, exit_code, reason, status_reason):
            return rule["action"].upper()  # the service accepts any case (ref §9)
    return RETRY


def should_retry(retry_strategy: dict | None, attempts_made: int, exit_code, reason, status_reason) -> bool:
    allowed = (retry_strategy or {}).get("attempts") or 1
    if attempts_made >= allowed:
        return False
    rules = (retry_strategy or {}).get("evaluateOnExit") or []
    return action_for(rules, exit_code, reason, status_reason) == RETRY
