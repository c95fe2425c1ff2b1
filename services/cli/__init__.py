"""`crier`: the operator's command line. Like the services, it imports only `shared`."""
