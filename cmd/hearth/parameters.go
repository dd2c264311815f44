package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/hearthdev/hearth/client"
)

// parseParameters reads --parameter NAME=VALUE flags.
func parseParameters(flags []string) (map[string]string, error) {
	out := map[string]string{}
	for _, f := range flags {
		k, v, ok := strings.Cut(f, "=")
		if !ok || k == "" {
			return nil, usageError{fmt.Errorf("--parameter %q: want NAME=VALUE", f)}
		}
		out[k] = v
	}
	return out, nil
}

// chooseParameters checks the given values against a template version's parameters and asks for
// the missing required ones on a terminal (without one, a missing one is an error). Values left out
// that have defaults are left to the server.
func chooseParameters(cmd *cobra.Command, params []client.ProvisionerParameter, given map[string]string, only func(client.ProvisionerParameter) bool) ([]client.Value, error) {
	names := make([]string, 0, len(params))
	for _, p := range params {
		names = append(names, p.Name)
	}
	for k := range given {
		if !slices.Contains(names, k) {
			if len(names) == 0 {
				return nil, usageError{fmt.Errorf("unknown parameter %q: the template has no parameters; drop --parameter", k)}
			}
			return nil, usageError{fmt.Errorf("unknown parameter %q: the template's parameters are %s", k, strings.Join(names, ", "))}
		}
	}
	in, _ := cmd.InOrStdin().(*os.File)
	interactive := in != nil && term.IsTerminal(int(in.Fd()))
	slices.SortStableFunc(params, func(a, b client.ProvisionerParameter) int { return int(a.Order - b.Order) })
	var out []client.Value
	for _, p := range params {
		v, ok := given[p.Name]
		if ok {
			if err := checkParameter(p, v); err != nil {
				return nil, usageError{fmt.Errorf("parameter %s: %w", p.Name, err)}
			}
			out = append(out, client.Value{Name: p.Name, Value: v})
			continue
		}
		if !p.Required || (only != nil && !only(p)) {
			continue
		}
		if !interactive {
			return nil, usageError{fmt.Errorf("parameter %s is required: pass --parameter %s=VALUE%s", p.Name, p.Name, optionsHint(p))}
		}
		v, err := askParameter(cmd, p)
		if err != nil {
			return nil, err
		}
		out = append(out, client.Value{Name: p.Name, Value: v})
	}
	return out, nil
}

// askParameter prompts until the answer is valid (three tries).
func askParameter(cmd *cobra.Command, p client.ProvisionerParameter) (string, error) {
	label := p.Name
	if p.DisplayName != nil && *p.DisplayName != "" {
		label = *p.DisplayName
	}
	errOut := cmd.ErrOrStderr()
	if p.Description != nil && *p.Description != "" {
		fmt.Fprintf(errOut, "%s: %s\n", label, *p.Description)
	}
	for _, o := range p.Options {
		fmt.Fprintf(errOut, "  %s  (%s)\n", o.Value, o.Name)
	}
	if !p.Mutable {
		fmt.Fprintln(errOut, "  (cannot be changed after the workspace is created)")
	}
	for range 3 {
		v, err := prompt(cmd, label+": ", false)
		if err != nil {
			return "", err
		}
		if err := checkParameter(p, v); err != nil {
			fmt.Fprintf(errOut, "  %s\n", err)
			continue
		}
		return v, nil
	}
	return "", usageError{fmt.Errorf("no valid value for parameter %s", p.Name)}
}

// checkParameter applies a parameter's type, options and validation rules to a value.
func checkParameter(p client.ProvisionerParameter, v string) error {
	if len(p.Options) > 0 {
		values := make([]string, len(p.Options))
		for i, o := range p.Options {
			values[i] = o.Value
		}
		if !slices.Contains(values, v) {
			return fmt.Errorf("%q is not one of %s", v, listOr(values))
		}
	}
	val := p.Validation
	custom := func(err error) error {
		if val != nil && val.Error != nil && *val.Error != "" {
			return errors.New(*val.Error)
		}
		return err
	}
	switch p.Type {
	case "number":
		n, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return fmt.Errorf("%q is not a number", v)
		}
		if val != nil && val.Min != nil && n < float64(*val.Min) {
			return custom(fmt.Errorf("%s is below the minimum %d", v, *val.Min))
		}
		if val != nil && val.Max != nil && n > float64(*val.Max) {
			return custom(fmt.Errorf("%s is above the maximum %d", v, *val.Max))
		}
	case "bool":
		if v != "true" && v != "false" {
			return fmt.Errorf("%q is not true or false", v)
		}
	case "list(string)":
		var list []string
		if json.Unmarshal([]byte(v), &list) != nil {
			return fmt.Errorf(`%q is not a JSON list of strings, such as ["a","b"]`, v)
		}
	default:
		if val != nil && val.Regex != nil && *val.Regex != "" {
			re, err := regexp.Compile(*val.Regex)
			if err == nil && !re.MatchString(v) {
				return custom(fmt.Errorf("%q does not match %s", v, *val.Regex))
			}
		}
	}
	return nil
}

func optionsHint(p client.ProvisionerParameter) string {
	if len(p.Options) == 0 {
		return ""
	}
	values := make([]string, len(p.Options))
	for i, o := range p.Options {
		values[i] = o.Value
	}
	return " (one of " + listOr(values) + ")"
}

func listOr(items []string) string {
	switch len(items) {
	case 0:
		return "none"
	case 1:
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + " or " + items[len(items)-1]
}
