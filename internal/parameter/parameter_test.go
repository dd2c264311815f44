package parameter_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hearthdev/hearth/internal/parameter"
)

func ptr[T any](v T) *T { return &v }

var defs = []parameter.Definition{
	{Name: "region", Type: "string", Required: true, Options: []string{"eu", "us"}},
	{Name: "cpus", Type: "number", Default: ptr("2"), Mutable: true, Min: ptr(1), Max: ptr(8), Monotonic: "increasing", Error: "ask ops"},
	{Name: "gpu", Type: "bool", Default: ptr("false"), Mutable: true},
	{Name: "repo", Type: "string", Default: ptr("hearth"), Regex: "^[a-z]+$"},
	{Name: "tools", Type: "list(string)", Default: ptr(`["git"]`), Mutable: true, Options: []string{"git", "go"}, MultiSelect: true},
	{Name: "reset", Type: "bool", Default: ptr("false"), Mutable: true, Ephemeral: true},
}

func TestResolve(t *testing.T) {
	t.Parallel()
	v := func(kv ...string) []parameter.Value {
		var out []parameter.Value
		for i := 0; i < len(kv); i += 2 {
			out = append(out, parameter.Value{Name: kv[i], Value: kv[i+1]})
		}
		return out
	}
	first := v("region", "eu", "cpus", "2", "gpu", "false", "repo", "hearth", "tools", `["git"]`, "reset", "false")
	for _, tc := range []struct {
		name     string
		previous []parameter.Value
		given    []parameter.Value
		creating bool
		want     []parameter.Value
		rule     string // the rule broken, or "" for success
	}{
		{name: "defaults fill in", given: v("region", "eu"), creating: true, want: first},
		{name: "required missing", creating: true, rule: "required"},
		{name: "unknown name", given: v("region", "eu", "colour", "red"), creating: true, rule: "unknown"},
		{name: "not an option", given: v("region", "mars"), creating: true, rule: "option"},
		{name: "not a number", given: v("region", "eu", "cpus", "many"), creating: true, rule: "type"},
		{name: "below min", given: v("region", "eu", "cpus", "0"), creating: true, rule: "min"},
		{name: "above max", given: v("region", "eu", "cpus", "9"), creating: true, rule: "max"},
		{name: "not a bool", given: v("region", "eu", "gpu", "yes"), creating: true, rule: "type"},
		{name: "regex", given: v("region", "eu", "repo", "Hearth!"), creating: true, rule: "regex"},
		{name: "list not json", given: v("region", "eu", "tools", "git"), creating: true, rule: "type"},
		{name: "list option", given: v("region", "eu", "tools", `["rust"]`), creating: true, rule: "option"},
		{name: "previous values carry over", previous: first, given: v("cpus", "4"),
			want: v("region", "eu", "cpus", "4", "gpu", "false", "repo", "hearth", "tools", `["git"]`, "reset", "false")},
		{name: "immutable after create", previous: first, given: v("region", "us"), rule: "immutable"},
		{name: "immutable unchanged is fine", previous: first, given: v("region", "eu"), want: first},
		{name: "monotonic", previous: v("region", "eu", "cpus", "4"), given: v("cpus", "3"), rule: "monotonic"},
		{name: "ephemeral not carried over", previous: v("region", "eu", "cpus", "2", "reset", "true"), want: first},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := parameter.Resolve(defs, tc.previous, tc.given, tc.creating)
			if tc.rule == "" {
				require.NoError(t, err)
				require.Equal(t, tc.want, got)
				return
			}
			var perr *parameter.Error
			require.True(t, errors.As(err, &perr), "error %v", err)
			require.Equal(t, tc.rule, perr.Rule, perr.Error())
		})
	}
}

func TestValidationMessageNamesTheRuleAndTheTemplatesWords(t *testing.T) {
	t.Parallel()
	_, err := parameter.Resolve(defs, nil, []parameter.Value{{Name: "region", Value: "eu"}, {Name: "cpus", Value: "12"}}, true)
	require.EqualError(t, err, `parameter "cpus": 12 is more than the maximum 8 (ask ops)`)
}

func TestEnvUsesTheProvidersNames(t *testing.T) {
	t.Parallel()
	env := parameter.Env([]parameter.Value{{Name: "shell", Value: "bash"}}, []parameter.Value{{Name: "shell", Value: "sh"}})
	// sha256("shell")
	require.Equal(t, map[string]string{
		"CODER_PARAMETER_ce635c4eabff5e4f56dba8fb1e39ca235530aa2b6b18533eef1af3862016c577":          "bash",
		"CODER_PARAMETER_PREVIOUS_ce635c4eabff5e4f56dba8fb1e39ca235530aa2b6b18533eef1af3862016c577": "sh",
	}, env)
}

// A list(string) with options and no multi-select is a choice of one option, each a whole JSON list.
func TestAListWithOptionsTakesOneOptionWhole(t *testing.T) {
	t.Parallel()
	stack := parameter.Definition{Name: "stack", Type: "list(string)", Options: []string{`["go","git"]`, `["node"]`}}
	require.NoError(t, stack.Check(`["go","git"]`, nil))
	var perr *parameter.Error
	require.True(t, errors.As(stack.Check(`["go"]`, nil), &perr))
	require.Equal(t, "option", perr.Rule)
}
