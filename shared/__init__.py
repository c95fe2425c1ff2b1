"""Crier's core: configuration, models, domain services, task names and network adapters.

The API, the scheduler and the worker import this package; it imports none of them.
"""
