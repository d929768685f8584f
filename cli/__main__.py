from secrets_kit_cli.entry import main

main()
