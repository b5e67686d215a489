"""batchemu: a local AWS Batch.

One process serves the AWS Batch API on one endpoint, keeps its resources in SQLite and runs
jobs as real containers. See README.md and ../shared/DESIGN.md.
"""

__version__ = "0.1.0"
