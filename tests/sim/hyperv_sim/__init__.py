"""Simulated Hyper-V host reachable over WinRM, for tests and demos of hyperv.checkpoint."""
