"""The worker tier: tasks on procrastinate (PostgreSQL), run by `postal worker` processes.

Web processes only enqueue (``enqueue``); workers run the task bodies (``tasks``): planning
parts, message and webhook deliveries, big optimise problems, and the periodic jobs. On the
embedded SQLite default the same tasks run on an in-memory queue by a worker thread of the
serving process (``embedded``).
"""
