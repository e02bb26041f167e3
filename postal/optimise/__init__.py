"""VROOM-format problems solved as tasks: submit, solve in a worker, read the plan."""
