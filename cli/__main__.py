from secrets_kit_cli.main import console

console()
