"""Example task models an organization can build a client from (the demo uses them)."""
