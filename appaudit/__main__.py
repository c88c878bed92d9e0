"""`python -m appaudit`."""

from appaudit.cli import main

main()
