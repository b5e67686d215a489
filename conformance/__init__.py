"""batchemu's black-box conformance suite: boto3, the aws CLI and the JavaScript SDK v3 against a
live server, a sweep of every operation of botocore's batch model, and the coverage table.
See conformance/README.md.
"""
