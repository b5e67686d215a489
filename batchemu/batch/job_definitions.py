"""job_definitions: to be written."""
