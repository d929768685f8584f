"""HashiCorp Vault (or OpenBao) transit key source: the `hc_vault` stanza of a sops file.

The data key (or Shamir share) is base64-encoded and sent to
`POST {vault_address}/v1/{engine_path}/encrypt/{key_name}`; `enc` is the returned transit
ciphertext (`vault:v1:...`). Decryption posts it to `.../decrypt/{key_name}` and base64-decodes
the plaintext, as sops does (hcvault/keysource.go).

Keys are named on the command line by URI, `https://vault.example.org:8200/v1/transit/keys/dev`
(address, engine path `transit`, key `dev`; the engine path may have several segments).
The token comes from `VAULT_TOKEN`, else `~/.vault-token`. Like sops, the address must pass
`SOPS_HC_VAULT_ALLOWLIST` (default `all`; `none`, or a comma list of URL prefixes), which stops
a file from sending your token to a server you did not choose. `VAULT_NAMESPACE`,
`VAULT_CACERT` and `VAULT_SKIP_VERIFY` are honoured as by the Vault client
(`secrets_kit.clients.vault`, which also maps hvac's errors; this module says what they mean
for a data key).

hvac is imported only when a key is used (extra `vault`).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, TypeVar
from urllib.parse import urlsplit, urlunsplit

from ...clients import vault
from ...clients.failure import Failure, Kind
from ...errors import ConfigError, DecryptionError, KeyMaterialError, ProviderError, SecretsKitError
from .base import MasterKey

__all__ = ["VaultTransitKey", "from_cli", "parse_uri"]

ENV_ALLOWLIST = "SOPS_HC_VAULT_ALLOWLIST"
_PREFIXED_PATH = re.compile(r"/[^/]+/v\d+/[^/]+/[^/]+/[^/]+")
_TRANSIT_PATH = re.compile(r"/v\d+/[^/]+/[^/]+/[^/]+")
_URI_EXAMPLE = "https://vault.example.com:8200/v1/transit/keys/keyName"
_T = TypeVar("_T")


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_uri(uri: str) -> tuple[str, str, str]:
    """`https://host:8200/v1/<engine path>/keys/<name>` -> (address, engine path, key name)."""
    parts = urlsplit(uri)
    if not parts.scheme or not parts.netloc:
        raise ConfigError("missing scheme or host in Vault URL", where=f"Vault key {uri!r}",
                          hint=f"like {_URI_EXAMPLE}")
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    if _PREFIXED_PATH.search(path):
        raise ConfigError("running Vault with a prefixed URL is not supported", where=f"Vault key {uri!r}",
                          hint=f"the path must start with /v1/, like {_URI_EXAMPLE}")
    if not _TRANSIT_PATH.search(path):
        raise ConfigError("the Vault path does not look like a transit key", where=f"Vault key {uri!r}",
                          hint=f"like {_URI_EXAMPLE}")
    dirs = path.strip("/").split("/")
    key_name = dirs[-1]
    engine_path = "/".join(d for d in dirs[1:-2] if d)
    address = urlunsplit((parts.scheme, parts.netloc, "", parts.query, ""))
    return address, engine_path, key_name


def _allowed(address: str) -> bool:
    setting = os.environ.get(ENV_ALLOWLIST) or "all"
    if setting == "all":
        return True
    if setting == "none":
        return False
    prefixes = []
    for index, entry in enumerate(setting.split(","), start=1):
        prefix = entry.strip()
        if not prefix:
            raise ConfigError(f"{ENV_ALLOWLIST}'s entry {index} is empty", where=ENV_ALLOWLIST,
                              hint="use `all`, `none`, or comma-separated Vault URLs")
        prefixes.append(prefix if prefix.endswith("/") else prefix + "/")
    target = address if address.endswith("/") else address + "/"
    return any(target.startswith(prefix) for prefix in prefixes)


def _token() -> str | None:
    token = os.environ.get("VAULT_TOKEN", "").strip()
    if token:
        return token
    path = Path.home() / ".vault-token"
    try:
        token = path.read_text().strip()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise KeyMaterialError(f"cannot read {path} ({exc.strerror})", where=str(path)) from None
    return token or None


class VaultTransitKey(MasterKey):
    """One transit key on a Vault/OpenBao server."""

    stanza: ClassVar[str] = "hc_vault"

    def __init__(
        self,
        vault_address: str,
        engine_path: str,
        key_name: str,
        *,
        created_at: str | None = None,
        token: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.vault_address = vault_address
        self.engine_path = engine_path
        self.key_name = key_name
        self.created_at = created_at or _now()
        self.token = token  # None: VAULT_TOKEN, then ~/.vault-token
        self.timeout = timeout
        self._vault: vault.VaultClient | None = None

    @classmethod
    def from_uri(cls, uri: str, **opts: Any) -> VaultTransitKey:
        address, engine_path, key_name = parse_uri(uri)
        return cls(address, engine_path, key_name, **opts)

    @property
    def identifier(self) -> str:
        return f"{self.vault_address}/v1/{self.engine_path}/keys/{self.key_name}"

    def __repr__(self) -> str:
        return f"VaultTransitKey({self.identifier!r})"

    @classmethod
    def from_stanza(cls, stanza: dict[str, Any]) -> VaultTransitKey:
        fields = {name: stanza.get(name) for name in ("vault_address", "engine_path", "key_name")}
        missing = [name for name, value in fields.items() if not isinstance(value, str) or not value]
        if missing:
            raise KeyMaterialError(f"hc_vault key stanza without {', '.join(missing)}", where="sops metadata",
                                   hint="the file's metadata is corrupt")
        created = stanza.get("created_at")
        if isinstance(created, dt.datetime):
            created = created.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return cls(str(fields["vault_address"]), str(fields["engine_path"]), str(fields["key_name"]),
                   created_at=str(created) if created else None)

    def to_stanza(self, enc: str) -> dict[str, Any]:
        """The stanza as sops 3.13 writes it (keys sorted)."""
        return {
            "created_at": self.created_at,
            "enc": enc,
            "engine_path": self.engine_path,
            "key_name": self.key_name,
            "vault_address": self.vault_address,
        }

    # ---------------------------------------------------------------- wrap / unwrap

    def wrap(self, data_key: bytes) -> dict[str, Any]:
        plaintext = base64.b64encode(bytes(data_key)).decode("ascii")
        response = self._call("encrypt", lambda client: client.secrets.transit.encrypt_data(
            name=self.key_name, plaintext=plaintext, mount_point=self.engine_path))
        ciphertext = (response or {}).get("data", {}).get("ciphertext")
        if not isinstance(ciphertext, str) or not ciphertext:
            raise ProviderError("Vault answered the encrypt call without a ciphertext", where=self._where())
        return self.to_stanza(ciphertext)

    def unwrap(self, stanza: dict[str, Any]) -> bytes:
        enc = stanza.get("enc")
        if not isinstance(enc, str) or not enc:
            raise DecryptionError("the hc_vault stanza has no encrypted data key", where=self._where(),
                                  hint="the file's metadata is corrupt")
        response = self._call("decrypt", lambda client: client.secrets.transit.decrypt_data(
            name=self.key_name, ciphertext=enc, mount_point=self.engine_path))
        plaintext = (response or {}).get("data", {}).get("plaintext")
        if not isinstance(plaintext, str):
            raise ProviderError("Vault answered the decrypt call without a plaintext", where=self._where())
        try:
            return base64.b64decode(plaintext, validate=True)
        except (binascii.Error, ValueError):
            raise DecryptionError("Vault returned a plaintext that is not base64", where=self._where(),
                                  hint="the ciphertext was not made by sops") from None

    # --------------------------------------------------------------------- plumbing

    def _where(self) -> str:
        return f"Vault transit key {self.identifier}"

    def _client(self) -> vault.VaultClient:
        if not _allowed(self.vault_address):
            raise ConfigError(f"{ENV_ALLOWLIST} does not allow {self.vault_address}", where=self._where(),
                              hint=f"add the address to {ENV_ALLOWLIST} if you trust this server")
        token = self.token or _token()
        if not token:
            raise KeyMaterialError("no Vault token", where=self._where(),
                                   hint="set VAULT_TOKEN or log in with `vault login` (~/.vault-token)")
        settings = vault.VaultSettings.from_env(self.vault_address, os.environ, timeout=self.timeout)
        if self._vault is None or self._vault.settings != settings or self._vault.auth != vault.TokenAuth(token):
            self._vault = vault.VaultClient(settings, vault.TokenAuth(token), where=self._where())
        return self._vault

    def _call(self, action: str, fn: Callable[[Any], _T]) -> _T:
        """Run `fn(hvac client)`; its failures become our errors, naming the key and never the data."""
        client = self._client()
        return client.call(action, lambda: fn(client.hvac()), refine=lambda failure: self._refine(action, failure))

    def _refine(self, action: str, failure: Failure) -> SecretsKitError | None:
        """What Vault's answers mean for a data key."""
        where, detail = self._where(), failure.detail
        if failure.kind is Kind.DENIED:
            return KeyMaterialError(f"Vault refused the token for {action} ({detail})", where=where,
                                    hint="check VAULT_TOKEN and that its policy allows "
                                         f"{self.engine_path}/{action}/{self.key_name}")
        if failure.kind in (Kind.INVALID, Kind.NOT_FOUND):
            if action == "decrypt":
                return DecryptionError(f"Vault could not decrypt the data key ({detail})", where=where,
                                       hint="wrong key or engine, or a tampered `enc`")
            return KeyMaterialError(f"Vault refused to {action} with this key ({detail})", where=where,
                                    hint="check the engine path and the key name")
        return None


def from_cli(value: str, **opts: Any) -> list[MasterKey]:
    """Keys from `--hc-vault-transit` / SOPS_VAULT_URIS: comma-separated transit key URIs.

    Options: `token`, `timeout`; others are ignored.
    """
    known = {name: opts[name] for name in ("token", "timeout") if name in opts}
    return [VaultTransitKey.from_uri(entry.strip(), **known) for entry in value.split(",") if entry.strip()]
