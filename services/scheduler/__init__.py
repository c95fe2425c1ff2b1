"""The scheduler: claims due deliveries from the database and sends their publish tasks, on time.

Several replicas may run at once: claims and periodic runs are taken through the database.
"""
