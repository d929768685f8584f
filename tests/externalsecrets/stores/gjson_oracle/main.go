// Regenerates ../gjson_oracle.json: what tidwall/gjson v1.18.0 (ESO v0.16.2's) returns for each case.
//
//	cd tests/externalsecrets/stores/gjson_oracle && GOFLAGS=-mod=mod go run . > ../gjson_oracle.json
package main

import (
	"bytes"
	"encoding/json"
	"os"
	"strconv"

	"github.com/tidwall/gjson"
)

type result struct {
	Doc    string `json:"doc"`
	Path   string `json:"path"`
	Exists bool   `json:"exists"`
	String string `json:"string"`
	// ESO's Vault getSecretValue on the same map (decoded with UseNumber, as Vault's API client does):
	// an exact top-level key first (utils.GetByteValue), else gjson over json.Marshal of the map
	Vault    string `json:"vault"`
	VaultErr bool   `json:"vault_err"`
}

func vault(doc, path string) (string, bool) {
	dec := json.NewDecoder(bytes.NewReader([]byte(doc)))
	dec.UseNumber()
	var data map[string]any
	if err := dec.Decode(&data); err != nil {
		panic(err)
	}
	text, _ := json.Marshal(data)
	if path == "" {
		return string(text), false
	}
	if v, ok := data[path]; ok {
		switch t := v.(type) {
		case string:
			return t, false
		case json.Number:
			return t.String(), false
		case bool:
			return strconv.FormatBool(t), false
		case nil:
			return "", false
		default:
			b, _ := json.Marshal(t)
			return string(b), false
		}
	}
	r := gjson.Get(string(text), path)
	if !r.Exists() {
		return "", true
	}
	return r.String(), false
}

func main() {
	docs := []string{
		`{"name":{"first":"Tom","last":"Anderson"},"age":37,"children":["Sara","Alex","Jack"],"fav.movie":"Deer Hunter","friends":[{"first":"Dale","last":"Murphy","age":44,"nets":["ig","fb","tw"]},{"first":"Roger","last":"Craig","age":68,"nets":["fb","tw"]},{"first":"Jane","last":"Murphy","age":47,"nets":["ig","tw"]}]}`,
		`{"a": {"b" : 1.50, "c":[1, 2, {"d": null}]}, "t": true, "f": false, "n": null, "e": 1e3, "neg": -5, "s": "x<y>&z", "u": "\u00e9\n", "empty": "", "obj": {}, "arr": []}`,
		`{"user.name":"dotted","user":{"name":"nested"},"k-v":"dash","k v":"space","1":"digit","list":[10,20,30]}`,
	}
	paths := []string{
		"name", "name.first", "name.middle", "age", "children", "children.1", "children.#", "children.9",
		"friends.#.first", "friends.1.nets", "friends.#(last==\"Murphy\").first", "friends.#(last==\"Murphy\")#.first",
		"friends.#(age>45)#.last", "fav\\.movie", "child*.2", "c?ildren.0", "name|@reverse", "@this", "children|@reverse",
		"a", "a.b", "a.c", "a.c.2", "a.c.2.d", "t", "f", "n", "e", "neg", "s", "u", "empty", "obj", "arr", "arr.#", "missing",
		"user.name", "user\\.name", "k-v", "k v", "1", "list.0", "list.#", "list.-1", "..0", "",
	}
	var out []result
	for _, d := range docs {
		for _, p := range paths {
			r := gjson.Get(d, p)
			v, verr := vault(d, p)
			out = append(out, result{d, p, r.Exists(), r.String(), v, verr})
		}
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", " ")
	_ = enc.Encode(out)
}
