// Regenerates ../fake_oracle.json: ESO v0.16.2's own fake provider (pkg/provider/fake) run on each case.
//
//	go build -o /tmp/fakeoracle . && /tmp/fakeoracle < cases.json > ../fake_oracle.json
//
// (cases.json: the fake_oracle.json entries without their results; the module cache must hold ESO's deps)
package main

import (
	"context"
	"encoding/json"
	"os"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	"github.com/external-secrets/external-secrets/pkg/provider/fake"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

type Case struct {
	Data   []esv1.FakeProviderData `json:"data"`
	Op     string                  `json:"op"`
	Key    string                  `json:"key"`
	Ver    string                  `json:"version"`
	Prop   string                  `json:"property"`
	Regexp string                  `json:"regexp"`
	Value  string                  `json:"value"`
	Map    map[string]string       `json:"map"`
	Err    string                  `json:"err"`
}

func main() {
	var cases []Case
	if err := json.NewDecoder(os.Stdin).Decode(&cases); err != nil {
		panic(err)
	}
	for i := range cases {
		c := &cases[i]
		store := &esv1.SecretStore{ObjectMeta: metav1.ObjectMeta{Name: "s" + string(rune('a'+i%26)) + string(rune('a'+i/26))},
			Spec: esv1.SecretStoreSpec{Provider: &esv1.SecretStoreProvider{Fake: &esv1.FakeProvider{Data: c.Data}}}}
		p := &fake.Provider{}
		cl, err := p.NewClient(context.Background(), store, nil, "")
		if err != nil {
			panic(err)
		}
		ref := esv1.ExternalSecretDataRemoteRef{Key: c.Key, Version: c.Ver, Property: c.Prop}
		switch c.Op {
		case "get":
			v, err := cl.GetSecret(context.Background(), ref)
			if err != nil {
				c.Err = err.Error()
			}
			c.Value = string(v)
		case "map":
			m, err := cl.GetSecretMap(context.Background(), ref)
			if err != nil {
				c.Err = err.Error()
			}
			c.Map = map[string]string{}
			for k, v := range m {
				c.Map[k] = string(v)
			}
		case "find":
			m, err := cl.GetAllSecrets(context.Background(), esv1.ExternalSecretFind{Name: &esv1.FindName{RegExp: c.Regexp}})
			if err != nil {
				c.Err = err.Error()
			}
			c.Map = map[string]string{}
			for k, v := range m {
				c.Map[k] = string(v)
			}
		}
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", " ")
	_ = enc.Encode(cases)
}
