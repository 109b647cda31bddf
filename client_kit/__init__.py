"""The trainer's side: the downloadable client.py, its runtime, and the signed update envelope."""
