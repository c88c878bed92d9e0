"""Renderers of scan results: HTML (per school and district index), JSON, CSV, XLSX."""
