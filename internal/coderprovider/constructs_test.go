package coderprovider_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hearthdev/hearth/internal/coderprovider"
	"github.com/hearthdev/hearth/internal/tftest"
)

type schemaBlock struct {
	Attributes map[string]struct {
		Computed bool `json:"computed"`
	} `json:"attributes"`
	BlockTypes map[string]struct {
		Block schemaBlock `json:"block"`
	} `json:"block_types"`
}

func paths(b schemaBlock, prefix string, into *[]string) {
	for name := range b.Attributes {
		*into = append(*into, prefix+name)
	}
	for name, nested := range b.BlockTypes {
		*into = append(*into, prefix+name)
		paths(nested.Block, prefix+name+".", into)
	}
}

// The construct table names every data source, resource and attribute of the pinned provider, as
// the provider's own schema lists them, and nothing the provider does not have: moving the pin
// fails here until the table says what Hearth does with what is new.
func TestTheConstructTableCoversTheProviderSchema(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "main.tf"), []byte(`terraform {
  required_providers {
    coder = { source = "coder/coder", version = "`+coderprovider.Version+`" }
  }
}
`), 0o600))
	rc := filepath.Join(dir, "cli.tfrc")
	require.NoError(t, os.WriteFile(rc, []byte(`provider_installation {
  filesystem_mirror {
    path = "`+tftest.Mirror(t)+`"
  }
}
`), 0o600))
	terraform := func(args ...string) []byte {
		cmd := exec.Command("terraform", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "TF_CLI_CONFIG_FILE="+rc, "TF_IN_AUTOMATION=1")
		out, err := cmd.Output()
		require.NoError(t, err, "terraform %v: %s", args, out)
		return out
	}
	terraform("init", "-input=false", "-no-color")
	var schema struct {
		ProviderSchemas map[string]struct {
			Provider          struct{ Block schemaBlock }            `json:"provider"`
			ResourceSchemas   map[string]struct{ Block schemaBlock } `json:"resource_schemas"`
			DataSourceSchemas map[string]struct{ Block schemaBlock } `json:"data_source_schemas"`
		} `json:"provider_schemas"`
	}
	require.NoError(t, json.Unmarshal(terraform("providers", "schema", "-json"), &schema))
	p, found := schema.ProviderSchemas["registry.terraform.io/coder/coder"]
	require.True(t, found, "the coder provider's schema: %v", schema.ProviderSchemas)

	want := map[string][]string{} // kind.type -> attribute paths
	add := func(kind coderprovider.Kind, typ string, b schemaBlock) {
		var ps []string
		paths(b, "", &ps)
		sort.Strings(ps)
		want[string(kind)+"."+typ] = ps
	}
	add(coderprovider.Provider, "coder", p.Provider.Block)
	for typ, s := range p.ResourceSchemas {
		add(coderprovider.Resource, typ, s.Block)
	}
	for typ, s := range p.DataSourceSchemas {
		add(coderprovider.DataSource, typ, s.Block)
	}

	have := map[string][]string{}
	for _, c := range coderprovider.Constructs {
		key := string(c.Kind) + "." + c.Type
		require.NotContains(t, have, key, "listed twice")
		var ps []string
		for _, a := range c.Attrs {
			require.NotEmpty(t, a.Support, "%s %s", key, a.Path)
			require.True(t, a.Support != coderprovider.Unsupported || a.Note != "" || c.Note != "", "%s %s: say why it is not supported", key, a.Path)
			ps = append(ps, a.Path)
		}
		sort.Strings(ps)
		have[key] = ps
	}
	for key, ps := range want {
		require.Contains(t, have, key, "the provider has %s; add it to Constructs in constructs.go", strings.Replace(key, ".", " ", 1))
		require.Equal(t, ps, have[key], "%s: the table's attributes against the provider's", key)
	}
	for key := range have {
		require.Contains(t, want, key, "%s is not in provider %s", key, coderprovider.Version)
	}
}

// The table describes the provider version the mirror is built with.
func TestTheTableIsOfTheMirroredVersion(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../providers/versions")
	require.NoError(t, err)
	require.Regexp(t, `(?m)^coder/coder\s+`+regexp.QuoteMeta(coderprovider.Version)+`\s`, string(raw),
		"go tool task providers builds another version than the construct table describes: move both together")
}
