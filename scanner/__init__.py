"""Intake of school submissions (CSV/XLSX) and acquisition and analysis of APKs."""
