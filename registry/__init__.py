"""The registry database: filed apps and accounts, adoptions, change log, scan history."""
