"""Core pieces in isolation: value cipher, Go number forms, MAC, metadata layouts, tree paths, config."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from secrets_kit.errors import ConfigError, DecryptionError, InputError
from secrets_kit.sops.cipher import Cipher, parse_enc
from secrets_kit.sops.config import find_config, match_creation_rule
from secrets_kit.sops.crypt import MAC_ONLY_ENCRYPTED_INIT, decrypt_tree, encrypt_tree
from secrets_kit.sops.gofmt import format_float_f, format_float_yaml, normalize_rfc3339, parse_yaml_timestamp
from secrets_kit.sops.metadata import flatten, metadata_from_tree, metadata_to_dict, unflatten
from secrets_kit.sops.rules import SelectionRules
from secrets_kit.sops.tree import Branch, Comment, Timestamp, parse_tree_path

KEY = bytes(range(32))


@pytest.mark.parametrize(("value", "kind", "plain"), [
    ("text", "str", b"text"), (42, "int", b"42"), (-7, "int", b"-7"), (2.5, "float", b"2.5"),
    (1e21, "float", b"1000000000000000000000"), (1.0, "float", b"1"), (True, "bool", b"True"),
    (False, "bool", b"False"), (Timestamp("2024-01-01T00:00:00Z"), "time", b"2024-01-01T00:00:00Z"),
    (Comment(" a comment"), "comment", b" a comment"),
])
def test_value_types(value: object, kind: str, plain: bytes) -> None:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    cipher = Cipher(KEY)
    text = cipher.encrypt(value, "a:b:")
    data, iv, tag, found_kind = parse_enc(text)
    assert found_kind == kind and len(iv) == 32 and len(tag) == 16 and len(data) == len(plain)
    assert AESGCM(KEY).decrypt(iv, data + tag, b"a:b:") == plain
    back = Cipher(KEY).decrypt(text, "a:b:")
    assert back == value and type(back) is type(value)


def test_empty_values_stay_empty_and_bad_values_fail() -> None:
    cipher = Cipher(KEY)
    assert cipher.encrypt("", "k:") == "" and cipher.decrypt("", "k:") == ""
    text = cipher.encrypt("secret", "k:")
    with pytest.raises(DecryptionError):
        Cipher(KEY).decrypt(text, "other:")  # the path is authenticated
    with pytest.raises(DecryptionError):
        Cipher(bytes(32)).decrypt(text, "k:")  # another data key
    with pytest.raises(DecryptionError):
        Cipher(KEY).decrypt("ENC[AES256_GCM,data:!!,iv:x,tag:y,type:str]", "k:")
    with pytest.raises(DecryptionError):
        Cipher(KEY).decrypt(text.replace("type:str", "type:nope"), "k:")


def test_go_number_and_time_forms() -> None:
    assert [format_float_f(v) for v in (0.1, 1e-7, 123456789.0)] == ["0.1", "0.0000001", "123456789"]
    assert [format_float_yaml(v) for v in (1e21, 1234567.0, 2.0, 1e-5)] == ["1e+21", "1.234567e+06", "2", "1e-05"]
    assert parse_yaml_timestamp("2024-1-2") == "2024-01-02T00:00:00Z"
    assert parse_yaml_timestamp("2001-12-14 21:59:43.10") == "2001-12-14T21:59:43.1Z"
    assert parse_yaml_timestamp("2024-13-01") is None
    assert normalize_rfc3339("2026-05-22T20:16:32.123+00:00") == "2026-05-22T20:16:32Z"


def _tree() -> list[Branch]:
    return [Branch([(Comment(" top"), None), ("a", "x"), ("n", 3), ("b_unencrypted", "clear"),
                    ("l", ["y", None, Branch([("c", True)])]), ("e", ""), ("z", None)])]


def test_mac_is_sha512_over_leaves_in_order() -> None:
    branches = _tree()
    mac = encrypt_tree(branches, Cipher(KEY), SelectionRules().with_default().compile(), False)
    assert mac == hashlib.sha512(b"x3clearyTrue").hexdigest().upper()
    assert branches[0][1][1].startswith("ENC[") and branches[0][3][1] == "clear" and branches[0][5][1] == ""
    assert branches[0][0][0].value.startswith("ENC[")  # comments are encrypted, not hashed
    assert decrypt_tree(branches, Cipher(KEY), SelectionRules().with_default().compile(), False) == mac
    assert branches == _tree()


def test_mac_only_encrypted() -> None:
    branches = _tree()
    mac = encrypt_tree(branches, Cipher(KEY), SelectionRules().with_default().compile(), True)
    assert mac == hashlib.sha512(MAC_ONLY_ENCRYPTED_INIT + b"x3yTrue").hexdigest().upper()


def test_metadata_reads_every_layout_and_writes_both() -> None:
    raw = {"key_groups": [{"age": [{"recipient": "age1x", "enc": "E1"}], "hc_vault": None},
                          {"pgp": [{"fp": "F", "enc": "E2", "created_at": "2024-01-01T00:00:00Z"}]}],
           "shamir_threshold": "2", "lastmodified": "2024-01-01T00:00:00Z", "mac": "M",
           "mac_only_encrypted": "true", "version": "3.11.0", "kms": [], "pgp": None}
    md = metadata_from_tree(raw)
    assert md.shamir_threshold == 2 and md.mac_only_encrypted and len(md.key_groups) == 2
    assert md.effective_rules.unencrypted_suffix == "_unencrypted"
    new = metadata_to_dict(md, "3.13", keep_order=False)
    assert list(new) == sorted(new)
    assert list(new["key_groups"][0]) == ["age", "hc_vault"]
    old = metadata_to_dict(md, "3.11", keep_order=False)
    assert list(old)[:2] == ["shamir_threshold", "key_groups"]
    assert list(old["key_groups"][1]) == ["pgp", "hc_vault", "age"]
    assert metadata_from_tree(unflatten(flatten(new))).key_groups == md.key_groups
    with pytest.raises(InputError):
        metadata_from_tree({**raw, "lastmodified": "not a time"})
    with pytest.raises(InputError):
        metadata_from_tree({"lastmodified": "2024-01-01T00:00:00Z", "mac": "", "version": "1"})
    with pytest.raises(ConfigError):
        metadata_from_tree({**raw, "encrypted_regex": "a", "unencrypted_regex": "b"})


def test_tree_paths() -> None:
    assert parse_tree_path('["a"][0][\'b\']') == ["a", 0, "b"]
    with pytest.raises(InputError):
        parse_tree_path('["a"')


def test_config_lookup_and_rules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "repo"
    deep = root / "a" / "b"
    deep.mkdir(parents=True)
    (root / ".sops.yml").write_text("ignored: true\n")
    assert find_config(deep).path is None and ".sops.yml" in find_config(deep).warning
    config = root / ".sops.yaml"
    config.write_text("creation_rules: []\n")
    assert find_config(deep).path == config
    recipient = "age1ncjwjpes8yc8kp92n0jc0dnkc9gtzum3z0heu6u3jl5xt0gzps9qq5gltr"
    data = {"creation_rules": [
        {"path_regex": r"^a/.*\.yaml$", "key_groups": [{"age": [recipient, recipient]},
                                                      {"merge": [{"age": [recipient]}]}], "shamir_threshold": 2},
        {"age": f" {recipient} , ,", "unencrypted_regex": "^public"},
    ]}
    rule = match_creation_rule(data, config, str(root / "a" / "x.yaml"))
    assert rule is not None and len(rule.key_groups) == 2 and len(rule.key_groups[0]) == 1
    assert rule.shamir_threshold == 2
    rule = match_creation_rule(data, config, str(root / "other.json"))
    assert rule is not None and rule.rules.unencrypted_regex == "^public" and len(rule.key_groups[0]) == 1
    with pytest.raises(ConfigError):
        match_creation_rule({"creation_rules": [{"path_regex": "((", "age": recipient}]}, config, "x")
    with pytest.raises(ConfigError):
        match_creation_rule({"creation_rules": [{"encrypted_regex": "(("}]}, config, "x")
    assert os.path.isabs(str(config))


def test_format_detection(age_id) -> None:
    from secrets_kit.sops import detect_format, encrypt_bytes, store_for
    from secrets_kit.sops.keysources.age import AgeKey
    from secrets_kit.sops.ops import EncryptOptions

    opts = EncryptOptions(key_groups=[[AgeKey(age_id.recipient)]])
    samples = {"yaml": b"a: 1\n", "json": b'{"a": 1}', "dotenv": b"A=1\n", "ini": b"[s]\na = 1\n",
               "binary": b"\x00raw"}
    for fmt, plain in samples.items():
        store = store_for(fmt)
        assert detect_format(encrypt_bytes(plain, store, store, opts)) == fmt
        assert detect_format(plain) is None


def test_find_sops_files_uses_the_format_markers(age_id, tmp_path: Path) -> None:
    from secrets_kit.sops import encrypt_bytes, store_for
    from secrets_kit.sops.detect import expand_paths
    from secrets_kit.sops.keysources.age import AgeKey
    from secrets_kit.sops.ops import EncryptOptions

    root = tmp_path / "tree"
    (root / "a" / ".git").mkdir(parents=True)
    opts = EncryptOptions(key_groups=[[AgeKey(age_id.recipient)]])
    for name, fmt, plain in (("a/x.yaml", "yaml", b"k: v\n"), ("a/y.env", "dotenv", b"K=v\n"),
                             ("z.ini", "ini", b"[s]\nk = v\n")):
        store = store_for(fmt)
        (root / name).write_bytes(encrypt_bytes(plain, store, store, opts))
    (root / "a" / ".git" / "copy.yaml").write_bytes((root / "a" / "x.yaml").read_bytes())
    # Prose that merely names the markers is not a sops file.
    (root / "notes.md").write_text("sops writes mac and ENC[AES256_GCM,...] values\n")
    files, had_dir = expand_paths([root, root / "notes.md"])
    assert had_dir
    assert [p.relative_to(root).as_posix() for p in files] == ["z.ini", "a/x.yaml", "a/y.env", "notes.md"]


def test_environment_from_a_decrypted_document() -> None:
    from secrets_kit.sops.ops import environment

    env = environment(Branch([(Comment(" c"), None), ("A", "x"), ("N", 3), ("F", 2.5), ("B", True)]))
    assert env == {"A": "x", "N": "3", "F": "2.5", "B": "true"}
    with pytest.raises(InputError, match="offending key NESTED") as info:
        environment(Branch([("NESTED", Branch([("k", "fake-hidden")]))]))
    assert "fake-hidden" not in str(info.value)
    with pytest.raises(InputError, match="'='"):
        environment(Branch([("A=B", "x")]))


@pytest.mark.parametrize(("kind", "stored", "canonical"), [
    ("bool", b"true", False), ("int", b"007", False), ("float", b"1e3", False),
    ("bool", b"True", True), ("int", b"7", True), ("str", b"x", True),
])
def test_reencrypt_reuses_an_iv_only_for_the_same_bytes(kind: str, stored: bytes, canonical: bool) -> None:
    """Re-encrypting keeps a value's IV only when the plaintext bytes are identical: a non-canonical
    stored form (another producer's `true`, `007`) re-encrypts as other bytes, and reusing the IV
    there would be AES-GCM nonce reuse under the file's data key."""
    import base64

    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    key, iv = os.urandom(32), os.urandom(32)
    sealed = AESGCM(key).encrypt(iv, stored, b"a:")
    b64 = base64.b64encode
    text = (f"ENC[AES256_GCM,data:{b64(sealed[:-16]).decode()},iv:{b64(iv).decode()},"
            f"tag:{b64(sealed[-16:]).decode()},type:{kind}]")
    cipher = Cipher(key)
    again = cipher.encrypt(cipher.decrypt(text, "a:"), "a:")
    assert (parse_enc(again)[1] == iv) is canonical
    assert (again == text) is canonical
