"""job_queues: to be written."""
