"""The planner: bookings of a date -> optimiser problem -> persisted plan, routes and stops."""
