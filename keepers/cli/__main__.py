from keepers.cli import main

main()
