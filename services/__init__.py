"""Crier's processes. Each imports `shared`; none imports another."""
