"""Test doubles that are real HTTP servers on 127.0.0.1, each keeping a ledger of what it got."""
