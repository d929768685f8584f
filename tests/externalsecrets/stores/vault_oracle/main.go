// ESO v0.16.2's own Vault provider, run against a Vault server for each case on stdin (JSON), the
// results on stdout: tests/externalsecrets/stores/test_vault_oracle.py builds and runs it against the
// OpenBao dev peer and compares with our store. KUBECONFIG must name a (dummy) kubeconfig: ESO's
// NewClient loads one even when no Kubernetes call is made.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clientfake "sigs.k8s.io/controller-runtime/pkg/client/fake"

	esmeta "github.com/external-secrets/external-secrets/apis/meta/v1"
	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	"github.com/external-secrets/external-secrets/pkg/provider/vault"
)

type Case struct {
	Path     *string           `json:"path"`
	Version  string            `json:"kv"`
	Op       string            `json:"op"`
	Key      string            `json:"key"`
	Ver      string            `json:"version"`
	Prop     string            `json:"property"`
	Metadata bool              `json:"metadata"`
	FindPath *string           `json:"find_path"`
	FindName *string           `json:"find_name"`
	FindTags map[string]string `json:"find_tags"`

	Value    string            `json:"value"`
	Map      map[string]string `json:"map"`
	Err      string            `json:"err"`
	NoSecret bool              `json:"no_secret"`
}

type Input struct {
	Server string `json:"server"`
	Token  string `json:"token"`
	Cases  []Case `json:"cases"`
}

func main() {
	var in Input
	if err := json.NewDecoder(os.Stdin).Decode(&in); err != nil {
		panic(err)
	}
	ctx := context.Background()
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "vault-token", Namespace: "default"},
		Data: map[string][]byte{"token": []byte(in.Token)}}
	kube := clientfake.NewClientBuilder().WithObjects(secret).Build()
	for i := range in.Cases {
		c := &in.Cases[i]
		kv := esv1.VaultKVStoreVersion(c.Version)
		store := &esv1.SecretStore{
			TypeMeta:   metav1.TypeMeta{Kind: esv1.SecretStoreKind},
			ObjectMeta: metav1.ObjectMeta{Name: "vault", Namespace: "default"},
			Spec: esv1.SecretStoreSpec{Provider: &esv1.SecretStoreProvider{Vault: &esv1.VaultProvider{
				Server: in.Server, Path: c.Path, Version: kv,
				Auth: &esv1.VaultAuth{TokenSecretRef: &esmeta.SecretKeySelector{Name: "vault-token", Key: "token"}},
			}}},
		}
		p := &vault.Provider{NewVaultClient: vault.NewVaultClient}
		cl, err := p.NewClient(ctx, store, kube, "default")
		if err != nil {
			c.Err = "NewClient: " + err.Error()
			continue
		}
		ref := esv1.ExternalSecretDataRemoteRef{Key: c.Key, Version: c.Ver, Property: c.Prop}
		if c.Metadata {
			ref.MetadataPolicy = esv1.ExternalSecretMetadataPolicyFetch
		}
		var m map[string][]byte
		switch c.Op {
		case "get":
			var v []byte
			v, err = cl.GetSecret(ctx, ref)
			c.Value = string(v)
		case "map":
			m, err = cl.GetSecretMap(ctx, ref)
		case "find":
			find := esv1.ExternalSecretFind{Path: c.FindPath, Tags: c.FindTags}
			if c.FindName != nil {
				find.Name = &esv1.FindName{RegExp: *c.FindName}
			}
			m, err = cl.GetAllSecrets(ctx, find)
		}
		if m != nil {
			c.Map = map[string]string{}
			for k, v := range m {
				c.Map[k] = string(v)
			}
		}
		if err != nil {
			c.Err = err.Error()
			c.NoSecret = errors.Is(err, esv1.NoSecretError{})
		}
		_ = cl.Close(ctx)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(in.Cases)
}
