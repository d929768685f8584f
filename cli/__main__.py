from secrets_kit_cli.main import main

main()
