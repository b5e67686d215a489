"""Protocol only: routing, parsing, validation and serialization driven by botocore models.

Nothing in this package names a Batch operation or knows a Batch rule.
"""
