"""The rules, their catalogues (data files) and the findings they produce."""
