"""tags: to be written."""
