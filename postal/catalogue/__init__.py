"""Catalogue: localities, desks, post offices, procedures, tariffs, holidays from data files."""
