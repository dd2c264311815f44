// Package parameter checks workspace parameter values against a template version's coder_parameter
// definitions, the way the coder/coder Terraform provider would, but before anything is enqueued: a
// bad value is refused with the parameter and the rule it breaks, not found by Terraform later.
package parameter

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Definition is a coder_parameter as a template version's import found it.
type Definition struct {
	Name      string
	Type      string // string, number, bool or list(string)
	Default   *string
	Required  bool
	Mutable   bool
	Ephemeral bool
	Options   []string // allowed values; empty allows any
	// MultiSelect (form_type multi-select, list(string) only): each item is one of the options; else
	// a list(string) with options takes one option, itself a JSON list.
	MultiSelect bool
	Min, Max    *int
	Monotonic   string // increasing, decreasing or empty
	Regex       string
	Error       string // the template's own message for a failed validation
}

// Value is a parameter's value.
type Value struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Error says which parameter is wrong and which rule it breaks.
type Error struct {
	Name    string
	Rule    string // unknown, required, type, option, regex, min, max, monotonic, immutable
	Message string
}

func (e *Error) Error() string {
	return fmt.Sprintf("parameter %q: %s", e.Name, e.Message)
}

// Resolve decides a build's parameter values: the ones given, else the previous build's (ephemeral
// parameters are never carried over), else the default. creating is true for a workspace's first
// build, the only one where immutable parameters may be set.
func Resolve(defs []Definition, previous []Value, given []Value, creating bool) ([]Value, error) {
	prev := map[string]string{}
	for _, v := range previous {
		prev[v.Name] = v.Value
	}
	in := map[string]string{}
	for _, v := range given {
		if !slices.ContainsFunc(defs, func(d Definition) bool { return d.Name == v.Name }) {
			return nil, &Error{Name: v.Name, Rule: "unknown", Message: "the template version has no such parameter"}
		}
		if _, dup := in[v.Name]; dup {
			return nil, &Error{Name: v.Name, Rule: "unknown", Message: "given twice"}
		}
		in[v.Name] = v.Value
	}
	out := make([]Value, 0, len(defs))
	for _, d := range defs {
		old, hadOld := prev[d.Name]
		v, given := in[d.Name]
		switch {
		case given:
			if !creating && !d.Mutable && hadOld && v != old {
				return nil, &Error{Name: d.Name, Rule: "immutable", Message: "cannot be changed after the workspace is created"}
			}
		case hadOld && !d.Ephemeral:
			v = old
		case d.Default != nil:
			v = *d.Default
		case d.Required:
			return nil, &Error{Name: d.Name, Rule: "required", Message: "is required: the template gives it no default"}
		default:
			continue
		}
		var oldp *string
		if hadOld {
			oldp = &old
		}
		if err := d.Check(v, oldp); err != nil {
			return nil, err
		}
		out = append(out, Value{Name: d.Name, Value: v})
	}
	return out, nil
}

// Check validates one value; previous, when known, is the value it replaces (for monotonic rules).
func (d Definition) Check(v string, previous *string) error {
	fail := func(rule, msg string) error {
		if d.Error != "" && (rule == "regex" || rule == "min" || rule == "max" || rule == "monotonic") {
			msg += " (" + d.Error + ")"
		}
		return &Error{Name: d.Name, Rule: rule, Message: msg}
	}
	switch d.Type {
	case "number":
		n, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || math.IsNaN(n) || math.IsInf(n, 0) {
			return fail("type", fmt.Sprintf("%q is not a number", v))
		}
		if d.Min != nil && n < float64(*d.Min) {
			return fail("min", fmt.Sprintf("%s is less than the minimum %d", v, *d.Min))
		}
		if d.Max != nil && n > float64(*d.Max) {
			return fail("max", fmt.Sprintf("%s is more than the maximum %d", v, *d.Max))
		}
		if previous != nil && d.Monotonic != "" {
			p, err := strconv.ParseFloat(strings.TrimSpace(*previous), 64)
			if err == nil && ((d.Monotonic == "increasing" && n < p) || (d.Monotonic == "decreasing" && n > p)) {
				return fail("monotonic", fmt.Sprintf("must be %s: %s follows %s", d.Monotonic, v, *previous))
			}
		}
	case "bool":
		if v != "true" && v != "false" {
			return fail("type", fmt.Sprintf("%q is not true or false", v))
		}
	case "list(string)":
		var items []string
		if err := json.Unmarshal([]byte(v), &items); err != nil {
			return fail("type", fmt.Sprintf("%q is not a JSON list of strings", v))
		}
		if d.MultiSelect {
			for _, it := range items {
				if !slices.Contains(d.Options, it) {
					return fail("option", fmt.Sprintf("%q is not one of the options %s", it, strings.Join(d.Options, ", ")))
				}
			}
			return nil
		}
	default: // string
		if d.Regex != "" {
			re, err := regexp.Compile(d.Regex)
			if err == nil && !re.MatchString(v) {
				return fail("regex", fmt.Sprintf("%q does not match %s", v, d.Regex))
			}
		}
	}
	if len(d.Options) > 0 && !slices.Contains(d.Options, v) {
		return fail("option", fmt.Sprintf("%q is not one of the options %s", v, strings.Join(d.Options, ", ")))
	}
	return nil
}

// Env is the environment the coder/coder provider reads the values from:
// CODER_PARAMETER_<sha256hex(name)>, and CODER_PARAMETER_PREVIOUS_<...> for the previous build's.
func Env(values, previous []Value) map[string]string {
	env := make(map[string]string, len(values)+len(previous))
	for _, v := range values {
		env["CODER_PARAMETER_"+hash(v.Name)] = v.Value
	}
	for _, v := range previous {
		env["CODER_PARAMETER_PREVIOUS_"+hash(v.Name)] = v.Value
	}
	return env
}

func hash(name string) string {
	sum := sha256.Sum256([]byte(name))
	return hex.EncodeToString(sum[:])
}
