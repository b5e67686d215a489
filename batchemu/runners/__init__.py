"""Runners execute one job attempt each (a container or a host process) and report what
happened as events. Runners never write the store and know no scheduling rules."""
