"""The Celery worker: publishes deliveries and collects metrics through the network adapters."""
