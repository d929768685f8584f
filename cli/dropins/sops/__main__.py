from secrets_kit_cli.dropins.sops.main import main

main()
