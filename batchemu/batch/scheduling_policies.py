"""scheduling_policies: to be written."""
