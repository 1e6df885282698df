// Command eso-template renders one template the way External Secrets Operator's template
// engine v2 renders each entry of an ExternalSecret's `spec.target.template.data`, so that the
// test suite checks the product's Secrets Manager JSON against ESO's real engine instead of a
// re-implementation.
//
// Mirrors external-secrets/external-secrets runtime/template/v2/template.go (earlier releases:
// pkg/template/v2/template.go), func execute and func init:
//   - function map: sprig.TxtFuncMap() minus "env" and "expandenv" (ESO deletes both);
//     ESO's own extra functions (pkcs12*, jwk*, filterPEM, toYaml, fromYaml, rsaDecrypt…) are
//     not needed by the templates under test and are left out;
//   - tpl.New(key).Option("missingkey=error").Funcs(funcs).Delims("{{", "}}").Parse(text)
//     (the delimiters are ESO's defaults of --template-left/right-delimiter);
//   - executed against map[string]string (ESO converts every fetched value to a string).
//
// Input (stdin): {"template": "<text>", "data": {"key": "value", ...}, "key": "<optional name>"}
// Output: the rendered bytes on stdout, exit 0; on error the message on stderr, exit 1.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"text/template"

	"github.com/Masterminds/sprig/v3"
)

type input struct {
	Template *string           `json:"template"`
	Data     map[string]string `json:"data"`
	Key      string            `json:"key"`
}

func funcs() template.FuncMap {
	m := sprig.TxtFuncMap()
	delete(m, "env")
	delete(m, "expandenv")
	return m
}

func render(in input) ([]byte, error) {
	key := in.Key
	if key == "" {
		key = ".dockerconfigjson"
	}
	data := in.Data
	if data == nil {
		data = map[string]string{}
	}
	t, err := template.New(key).
		Option("missingkey=error").
		Funcs(funcs()).
		Delims("{{", "}}").
		Parse(*in.Template)
	if err != nil {
		return nil, fmt.Errorf("unable to parse template at key %s: %s", key, err)
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		return nil, fmt.Errorf("unable to execute template at key %s: %s", key, err)
	}
	return buf.Bytes(), nil
}

func main() {
	raw, err := io.ReadAll(os.Stdin)
	if err != nil {
		fmt.Fprintf(os.Stderr, "eso-template: reading stdin: %s\n", err)
		os.Exit(2)
	}
	var in input
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		fmt.Fprintf(os.Stderr, "eso-template: stdin is not {\"template\": string, \"data\": {string: string}}: %s\n", err)
		os.Exit(2)
	}
	if in.Template == nil {
		fmt.Fprintln(os.Stderr, "eso-template: stdin has no \"template\"")
		os.Exit(2)
	}
	out, err := render(in)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if _, err := os.Stdout.Write(out); err != nil {
		fmt.Fprintf(os.Stderr, "eso-template: writing stdout: %s\n", err)
		os.Exit(2)
	}
}
