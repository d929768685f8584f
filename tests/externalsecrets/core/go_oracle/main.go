// The Go oracle for tests/externalsecrets/core: prints, as JSON, what Go (and so ESO v0.16.2) computes for
// the hashes (utils.ObjectHash = hex(sha3-224(fmt.Sprintf("%+v", x)))), regexp.ReplaceAllString,
// time.ParseDuration / Duration.String and base64 Std/URL decoding. Regenerate with:
//
//	cd tests/externalsecrets/core/go_oracle && go run . > oracle.json
package main

import (
	"crypto/sha3"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"
	"unicode"
)

// ESO v0.16.2 utils.convert, as the oracle for conversionStrategy.
func convert(strategy string, str string) string {
	rs := []rune(str)
	newName := make([]string, len(rs))
	for rk, rv := range rs {
		if !unicode.IsNumber(rv) && !unicode.IsLetter(rv) && rv != '-' && rv != '.' && rv != '_' {
			switch strategy {
			case "Default":
				newName[rk] = "_"
			case "Unicode":
				newName[rk] = fmt.Sprintf("_U%04x_", rv)
			default:
				newName[rk] = string(rv)
			}
		} else {
			newName[rk] = string(rv)
		}
	}
	return strings.Join(newName, "")
}

func objectHash(object any) string {
	return fmt.Sprintf("%x", sha3.Sum224([]byte(fmt.Sprintf("%+v", object))))
}

// pkg/controllers/util.HashMeta's struct.
type meta struct {
	annotations map[string]string
	labels      map[string]string
}

type dataCase struct {
	Data map[string][]byte `json:"data"`
	Text string            `json:"text"`
	Hash string            `json:"hash"`
}
type stringCase struct {
	Str  string `json:"str"`
	Text string `json:"text"`
	Hash string `json:"hash"`
}
type metaCase struct {
	Annotations map[string]string `json:"annotations"`
	Labels      map[string]string `json:"labels"`
	Text        string            `json:"text"`
	Hash        string            `json:"hash"`
}
type regexpCase struct {
	Source string `json:"source"`
	Target string `json:"target"`
	Input  string `json:"input"`
	Output string `json:"output"`
	Error  bool   `json:"error"`
}
type durationCase struct {
	Text   string `json:"text"`
	Nanos  int64  `json:"nanos"`
	String string `json:"string"`
	Error  bool   `json:"error"`
}
type convertCase struct {
	Key     string `json:"key"`
	Default string `json:"default"`
	Unicode string `json:"unicode"`
}
type b64Case struct {
	Input  string `json:"input"`
	Std    []byte `json:"std"`
	StdErr bool   `json:"std_error"`
	URL    []byte `json:"url"`
	URLErr bool   `json:"url_error"`
}

// batch mode (`go run . batch < cases.json`): hashes and ReplaceAllString results for generated cases.
func batch() {
	var in struct {
		Data   []map[string][]byte    `json:"data"`
		Meta   [][2]map[string]string `json:"meta"`
		Regexp [][3]string            `json:"regexp"`
	}
	if err := json.NewDecoder(os.Stdin).Decode(&in); err != nil {
		panic(err)
	}
	var out struct {
		Data   []string `json:"data"`
		Meta   []string `json:"meta"`
		Regexp []string `json:"regexp"`
	}
	for _, d := range in.Data {
		out.Data = append(out.Data, objectHash(d))
	}
	for _, m := range in.Meta {
		out.Meta = append(out.Meta, objectHash(meta{labels: m[0], annotations: m[1]}))
	}
	for _, c := range in.Regexp {
		out.Regexp = append(out.Regexp, regexp.MustCompile(c[0]).ReplaceAllString(c[2], c[1]))
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		panic(err)
	}
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "batch" {
		batch()
		return
	}
	var out struct {
		Data      []dataCase     `json:"data"`
		Strings   []stringCase   `json:"strings"`
		Meta      []metaCase     `json:"meta"`
		Regexp    []regexpCase   `json:"regexp"`
		Durations []durationCase `json:"durations"`
		Base64    []b64Case      `json:"base64"`
		Convert   []convertCase  `json:"convert"`
	}
	for _, k := range []string{"a/b/c", "key with space", "ünï-ç.ok_1", "emoji😀", "tab\tx", "²³", "Ⅻ", "a:b@c", "日本"} {
		out.Convert = append(out.Convert, convertCase{k, convert("Default", k), convert("Unicode", k)})
	}
	for _, d := range []map[string][]byte{
		{},
		{"foo_bar": []byte("HELLO1"), "john": []byte("doe")},
		{"a": {1, 2}, "b": {}},
		{"key with space": []byte("v"), "k:colon": []byte("]["), "Z": {0, 255, 128}},
		{"ünï": []byte("ç"), "a.b-c_d": []byte("\n\t")},
		{"B": []byte("1"), "a": []byte("2"), "_": []byte("3"), "-": []byte("4"), "0": []byte("5")},
		{"password": []byte("s3cr3t"), "username": []byte("admin")},
	} {
		out.Data = append(out.Data, dataCase{d, fmt.Sprintf("%+v", d), objectHash(d)})
	}
	for _, s := range []string{"default/my-es", "ns/name", "", "a b/c"} {
		out.Strings = append(out.Strings, stringCase{s, fmt.Sprintf("%+v", s), objectHash(s)})
	}
	for _, m := range []meta{
		{},
		{annotations: map[string]string{"b": "2", "a": "1"}, labels: map[string]string{"app": "x"}},
		{annotations: map[string]string{"kubectl.kubernetes.io/last-applied-configuration": "{\"a\": [1, 2]}\n"}},
		{labels: map[string]string{"k": "v w", "e": ""}},
		{annotations: map[string]string{"force-sync": "1700000000"}, labels: map[string]string{"team": "a", "Tier": "b"}},
	} {
		out.Meta = append(out.Meta, metaCase{m.annotations, m.labels, fmt.Sprintf("%+v", m), objectHash(m)})
	}
	for _, c := range [][3]string{
		{"^path/", "", "path/to/key"},
		{"(.*)-(.*)", "$2_$1", "left-right"},
		{"(.*)-(.*)", "${2}x$1", "left-right"},
		{"(.*)-(.*)", "$2x$1", "left-right"},
		{"(?P<first>[a-z]+)/(?P<second>[a-z]+)", "${second}.$first", "abc/def"},
		{"a*", "-", "baaac"},
		{"", "_", "abc"},
		{"x*", "$$", "axxb"},
		{"/", "_", "a/b/c"},
		{"^", "pre-", "key"},
		{"$", "-suf", "key"},
		{"(a)|(b)", "[$1$2]", "ab"},
		{"(a)", "$10", "a"},
		{"(a)", "${1", "a"},
		{"(a)", "$", "a"},
		{"ü", "u", "xüy"},
		{"\\W", "_", "a.b c"},
		{"(?i)KEY", "k", "key_KEY"},
		{"(?=x)", "", "x"},
		{"[", "", "x"},
	} {
		re, err := regexp.Compile(c[0])
		if err != nil {
			out.Regexp = append(out.Regexp, regexpCase{c[0], c[1], c[2], "", true})
			continue
		}
		out.Regexp = append(out.Regexp, regexpCase{c[0], c[1], c[2], re.ReplaceAllString(c[2], c[1]), false})
	}
	for _, s := range []string{"1h", "0", "0s", "1h0m0s", "90m", "1.5h", "10s", "2h30m", "300ms", "1us", "1µs",
		"-1m", "+5s", ".5s", "1.s", "1d", "5", "", "h", "1h 5m", "1e3s", "0.000000001s", "100000000000000h",
		"15m", "24h", "1m30.5s"} {
		d, err := time.ParseDuration(s)
		if err != nil {
			out.Durations = append(out.Durations, durationCase{s, 0, "", true})
			continue
		}
		out.Durations = append(out.Durations, durationCase{s, int64(d), d.String(), false})
	}
	for _, s := range []string{"aGVsbG8=", "aGVsbG8", "aGk/Pz4+", "aGk_Pz4-", "", "not base64!", "YQ==\n", "YWJj",
		"+/+/", "-_-_", "YQ"} {
		c := b64Case{Input: s}
		if v, err := base64.StdEncoding.DecodeString(s); err == nil {
			c.Std = v
		} else {
			c.StdErr = true
		}
		if v, err := base64.URLEncoding.DecodeString(s); err == nil {
			c.URL = v
		} else {
			c.URLErr = true
		}
		out.Base64 = append(out.Base64, c)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", " ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		panic(err)
	}
}
