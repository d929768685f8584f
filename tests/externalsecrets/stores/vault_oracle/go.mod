module vaultoracle

go 1.24.2

require github.com/external-secrets/external-secrets v0.16.2
