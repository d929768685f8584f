"""The one exception hierarchy of secrets-kit.

Every error says what failed, where (file, key path, resource) and what to do
next. Messages never contain a secret value: callers pass names, paths and
fingerprints, never plaintext.

Front doors map errors to outcomes: the CLI to the exit codes below (one line on
stderr), the operator to status conditions, events and retries. An error may carry a
`reason` (a short name of what went wrong, e.g. `secrets_kit.sops.reasons.Reason`) for a
front door that needs finer outcomes than the class: the `sops` drop-in maps reasons to
sops's own exit codes. The core never sets an upstream tool's exit code.
"""

from __future__ import annotations

# Documented exit codes of the `secrets-kit` CLI (README, "Exit codes").
EXIT_OK = 0
EXIT_ERROR = 1  # unexpected or uncategorised failure
EXIT_USAGE = 2  # bad command line (click's own code)
EXIT_INPUT = 3  # malformed or unsupported input: YAML, manifest kind, file format
EXIT_DECRYPT = 4  # decryption failed: wrong key, wrong scope, tampered data
EXIT_KEYS = 5  # key material missing, unreadable or unacceptable (e.g. expired cert)
EXIT_PROVIDER = 6  # a secret provider or remote service failed or is unreachable
EXIT_CONFIG = 7  # configuration invalid (.sops.yaml, cluster registry, plugin env)
EXIT_RENDER = 8  # the render step failed (kustomize/helm build, hook)


class SecretsKitError(Exception):
    """Base class. ``where`` names the item (file, key path, resource); ``hint`` the next step."""

    exit_code: int = EXIT_ERROR
    reason: str | None = None

    def __init__(
        self,
        message: str,
        *,
        where: str | None = None,
        hint: str | None = None,
        exit_code: int | None = None,
        reason: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.where = where
        self.hint = hint
        if exit_code is not None:
            self.exit_code = exit_code
        if reason is not None:
            self.reason = reason

    def __str__(self) -> str:
        text = f"{self.where}: {self.message}" if self.where else self.message
        if self.hint:
            text += f" ({self.hint})"
        return text

    def at(self, where: str) -> SecretsKitError:
        """Attach a location if none is set yet; returns self for `raise err.at(path)`."""
        if self.where is None:
            self.where = where
        elif where not in self.where:
            self.where = f"{where}: {self.where}"
        return self


class InputError(SecretsKitError):
    """The input is malformed or not what the command works on."""

    exit_code = EXIT_INPUT


class DecryptionError(SecretsKitError):
    """Ciphertext could not be decrypted: wrong key, wrong scope, or tampered data."""

    exit_code = EXIT_DECRYPT


class KeyMaterialError(SecretsKitError):
    """Keys or certificates are missing, unreadable, or refused (e.g. expired)."""

    exit_code = EXIT_KEYS


class ProviderError(SecretsKitError):
    """A secret provider or remote key service failed, refused, or is unreachable."""

    exit_code = EXIT_PROVIDER


class ConfigError(SecretsKitError):
    """Configuration is invalid."""

    exit_code = EXIT_CONFIG


class RenderError(SecretsKitError):
    """The render step failed; nothing must be emitted."""

    exit_code = EXIT_RENDER


class PeerMissingError(SecretsKitError):
    """An external program we call (kubectl, gpg, helm) is not installed."""

    exit_code = EXIT_CONFIG


class MissingExtraError(ConfigError):
    """A feature needs an optional dependency group (`pip install 'secrets-kit[EXTRA]'`) that is not installed."""

    def __init__(self, feature: str, extra: str, module: str) -> None:
        # The command is in the message itself: wrappers that quote only the message (the sops drop-in's
        # "Could not generate data key: ...") still show it.
        super().__init__(f"{feature} needs the {module!r} package, which is not installed: "
                         f"pip install 'secrets-kit[{extra}]'")
        self.extra = extra
        self.module = module
