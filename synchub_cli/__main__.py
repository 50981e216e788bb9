from synchub_cli.main import main

main()
