"""The resident booking site: pages over the booking engine's resident services."""
