package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
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

// chooseParameters checks the given values against a template version's parameters and asks, on a
// terminal and unless noPrompt, for the ones that need an answer: a required one with no value, and
// one whose current value (current: the workspace's, for an update) the version no longer allows.
// Without a terminal such a parameter is an error. Values left out that have defaults, and current
// values still allowed, are left to the server.
//
// refresh, when set, gives the parameters again for the values chosen so far (a template with dynamic
// parameters): after each answer, what is still to ask follows it.
func chooseParameters(cmd *cobra.Command, params []client.ProvisionerParameter, given, current map[string]string, noPrompt bool,
	refresh func(chosen map[string]string) []client.ProvisionerParameter) ([]client.Value, error) {
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
	interactive := !noPrompt && in != nil && term.IsTerminal(int(in.Fd()))
	byOrder := func(ps []client.ProvisionerParameter) {
		slices.SortStableFunc(ps, func(a, b client.ProvisionerParameter) int { return int(a.Order - b.Order) })
	}
	byOrder(params)
	var out []client.Value
	done := map[string]bool{}
	chosen := maps.Clone(given)
	for {
		i := slices.IndexFunc(params, func(p client.ProvisionerParameter) bool { return !done[p.Name] })
		if i < 0 {
			break
		}
		p := params[i]
		done[p.Name] = true
		v, ok := given[p.Name]
		if ok {
			if err := checkParameter(p, v); err != nil {
				return nil, usageError{fmt.Errorf("parameter %s: %w", p.Name, err)}
			}
			out = append(out, client.Value{Name: p.Name, Value: v})
			continue
		}
		why := ""
		if cur, has := current[p.Name]; has {
			err := checkParameter(p, cur)
			if err == nil {
				continue
			}
			why = fmt.Sprintf("the workspace's value of %s is no longer allowed (%s)", p.Name, err)
		} else if p.Required {
			why = fmt.Sprintf("parameter %s is required", p.Name)
		} else {
			continue
		}
		if !interactive {
			return nil, usageError{fmt.Errorf("%s: pass --parameter %s=VALUE%s", why, p.Name, optionsHint(p))}
		}
		if _, has := current[p.Name]; has {
			fmt.Fprintf(cmd.ErrOrStderr(), "%s.\n", strings.ToUpper(why[:1])+why[1:])
		}
		v, err := askParameter(cmd, p)
		if err != nil {
			return nil, err
		}
		out = append(out, client.Value{Name: p.Name, Value: v})
		chosen[p.Name] = v
		if refresh != nil {
			if next := refresh(chosen); next != nil {
				params = next
				byOrder(params)
			}
		}
	}
	return out, nil
}

// dynamicParameters asks the server to evaluate a version's parameters for the values chosen so far;
// nil when its parameters are not dynamic (or the server could not say).
func dynamicParameters(ctx context.Context, c *client.ClientWithResponses, version string, imported []client.ProvisionerParameter,
	chosen map[string]string) []client.ProvisionerParameter {
	res, err := c.EvaluateDynamicParametersWithResponse(ctx, version, client.EvaluateDynamicParametersJSONRequestBody{Values: chosen})
	if err != nil || res.JSON200 == nil || !res.JSON200.Dynamic {
		return nil
	}
	out := make([]client.ProvisionerParameter, 0, len(res.JSON200.Parameters))
	for _, e := range res.JSON200.Parameters {
		i := slices.IndexFunc(imported, func(p client.ProvisionerParameter) bool { return p.Name == e.Name })
		if i < 0 {
			continue
		}
		p := imported[i]
		p.Required, p.Default = e.Required, e.Default
		if e.DisplayName != nil {
			p.DisplayName = e.DisplayName
		}
		if e.Description != nil {
			p.Description = e.Description
		}
		p.Options = make([]client.ProvisionerParameterOption, len(e.Options))
		for j, o := range e.Options {
			p.Options[j] = client.ProvisionerParameterOption{Name: o.Name, Value: o.Value}
		}
		out = append(out, p)
	}
	return out
}

// askParameter prompts until the answer is valid (three tries). A parameter with options is a
// numbered select list (a list(string) one takes several, separated by commas); Enter takes the
// default when there is one.
func askParameter(cmd *cobra.Command, p client.ProvisionerParameter) (string, error) {
	label := p.Name
	if p.DisplayName != nil && *p.DisplayName != "" {
		label = *p.DisplayName
	}
	errOut := cmd.ErrOrStderr()
	if p.Description != nil && *p.Description != "" {
		fmt.Fprintf(errOut, "%s: %s\n", label, *p.Description)
	}
	multi := p.Type == "list(string)" && (len(p.Options) == 0 || isMultiSelect(p))
	hint := ""
	switch {
	case multi && len(p.Options) > 0:
		hint = fmt.Sprintf(" (any of 1-%d, separated by commas)", len(p.Options))
	case multi:
		hint = " (values separated by commas)"
	case len(p.Options) > 0:
		hint = fmt.Sprintf(" [1-%d]", len(p.Options))
	case p.Type == "bool":
		hint = " [true/false]"
	}
	for i, o := range p.Options {
		fmt.Fprintf(errOut, "  %d) %s  (%s)\n", i+1, o.Name, o.Value)
	}
	if !p.Mutable {
		fmt.Fprintln(errOut, "  (cannot be changed after the workspace is created)")
	}
	if p.Default != nil && *p.Default != "" {
		hint += " (Enter: " + *p.Default + ")"
	}
	for range 3 {
		answer, err := readLine(cmd, label+hint+": ")
		if err != nil {
			return "", err
		}
		v := answer
		switch {
		case answer == "" && p.Default != nil:
			v = *p.Default
		case multi:
			v = pickMany(p.Options, answer)
		case len(p.Options) > 0:
			v = pickOne(p.Options, answer)
		}
		if err := checkParameter(p, v); err != nil {
			fmt.Fprintf(errOut, "  %s\n", err)
			continue
		}
		return v, nil
	}
	return "", usageError{fmt.Errorf("no valid value for parameter %s", p.Name)}
}

// readLine asks a question on the terminal and reads the answer; an empty answer is an answer.
func readLine(cmd *cobra.Command, question string) (string, error) {
	fmt.Fprint(cmd.ErrOrStderr(), question)
	line, err := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
	if err != nil && (!errors.Is(err, io.EOF) || line == "") {
		return "", usageError{fmt.Errorf("%s no answer", strings.TrimSuffix(question, ": "))}
	}
	return strings.TrimSpace(line), nil
}

// pickOne turns an answer to a select list, an option's number or its value, into the value.
func pickOne(options []client.ProvisionerParameterOption, answer string) string {
	if n, err := strconv.Atoi(answer); err == nil && n >= 1 && n <= len(options) {
		return options[n-1].Value
	}
	return answer
}

// pickMany turns an answer to a multi-select (numbers or values separated by commas or spaces) into
// the JSON list a list(string) parameter takes; a JSON list is taken as it is.
func pickMany(options []client.ProvisionerParameterOption, answer string) string {
	if strings.HasPrefix(answer, "[") {
		return answer
	}
	picked := []string{}
	for _, f := range strings.FieldsFunc(answer, func(r rune) bool { return r == ',' || r == ' ' }) {
		if v := pickOne(options, f); !slices.Contains(picked, v) {
			picked = append(picked, v)
		}
	}
	b, _ := json.Marshal(picked)
	return string(b)
}

// checkParameter applies a parameter's type, options and validation rules to a value.
func checkParameter(p client.ProvisionerParameter, v string) error {
	values := make([]string, len(p.Options))
	for i, o := range p.Options {
		values[i] = o.Value
	}
	if len(values) > 0 && !isMultiSelect(p) && !slices.Contains(values, v) {
		return fmt.Errorf("%q is not one of %s", v, listOr(values))
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
		for _, item := range list {
			if isMultiSelect(p) && !slices.Contains(values, item) {
				return fmt.Errorf("%q is not one of %s", item, listOr(values))
			}
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

// choosePreset picks the preset to create with: the one named (none: none), else the template's
// default. Its values join given, so they are checked and not asked for; a value given for a
// parameter the preset sets differently is an error.
func choosePreset(cmd *cobra.Command, presets []client.ProvisionerPreset, name string, given map[string]string) (string, error) {
	var names []string
	var chosen *client.ProvisionerPreset
	for i, p := range presets {
		names = append(names, p.Name)
		if p.Name == name || (name == "" && p.Default) {
			chosen = &presets[i]
		}
	}
	switch {
	case name == "none":
		return "", nil
	case chosen == nil && name != "" && len(names) == 0:
		return "", usageError{fmt.Errorf("no preset %q: the template has no presets; drop --preset", name)}
	case chosen == nil && name != "":
		return "", usageError{fmt.Errorf("no preset %q: the template's presets are %s", name, strings.Join(names, ", "))}
	case chosen == nil:
		return "", nil
	}
	if name == "" {
		fmt.Fprintf(cmd.ErrOrStderr(), "Using preset %s, the template's default (--preset none for none).\n", chosen.Name)
	}
	keys := make([]string, 0, len(chosen.Parameters))
	for k := range chosen.Parameters {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := chosen.Parameters[k]
		if g, ok := given[k]; ok && g != v {
			return "", usageError{fmt.Errorf("preset %s sets %s to %q: drop --parameter %s or choose --preset none", chosen.Name, k, v, k)}
		}
		given[k] = v
	}
	return chosen.Name, nil
}

// isMultiSelect is a list(string) whose options are its items (form_type multi-select), not whole
// values to choose one of.
func isMultiSelect(p client.ProvisionerParameter) bool {
	return p.Type == "list(string)" && p.FormType != nil && *p.FormType == "multi-select"
}
