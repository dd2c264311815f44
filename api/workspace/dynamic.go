package workspace

import (
	"github.com/hearthdev/hearth/api/provisioner"
	"github.com/hearthdev/hearth/internal/coderprovider"
)

// withEvaluated applies a dynamic evaluation to the import's parameters: options, defaults and
// validation as the chosen values make them, and a parameter whose count is 0 left out. Without an
// evaluation (nil), the import's stand.
func withEvaluated(params []provisioner.Parameter, evaluated []coderprovider.EvalParameter) []provisioner.Parameter {
	if evaluated == nil {
		return params
	}
	byName := map[string]coderprovider.EvalParameter{}
	for _, e := range evaluated {
		byName[e.Name] = e
	}
	out := params[:0:0]
	for _, p := range params {
		e, ok := byName[p.Name]
		if !ok {
			continue
		}
		if !e.DefaultUnknown {
			p.Default, p.Required = e.Default, e.Required
		}
		if !e.OptionsUnknown {
			p.Options = make([]provisioner.ParameterOption, len(e.Options))
			for i, o := range e.Options {
				p.Options[i] = provisioner.ParameterOption{Name: o.Name, Value: o.Value}
			}
		}
		if p.Validation != nil || e.Min != nil || e.Max != nil || e.Regex != "" {
			val := provisioner.Validation{}
			if p.Validation != nil {
				val = *p.Validation
			}
			if e.Min != nil {
				n := int(*e.Min)
				val.Min = &n
			}
			if e.Max != nil {
				n := int(*e.Max)
				val.Max = &n
			}
			if e.Regex != "" {
				val.Regex = e.Regex
			}
			p.Validation = &val
		}
		out = append(out, p)
	}
	return out
}
