"""Run composer's CLI from a checkout: `python cli.py generate --style blues -o blues.mid`."""
from composer.cli import main

main()
