"""``python -m hexavatar`` runs the command line."""

from hexavatar.cli import main

main()
