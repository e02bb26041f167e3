"""Custody ledger: item state machine, append-only hash-chained events, handover records."""
