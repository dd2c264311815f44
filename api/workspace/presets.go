package workspace

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hearthdev/hearth/api/provisioner"
	"github.com/hearthdev/hearth/internal/db/dbsqlc"
	"github.com/hearthdev/hearth/internal/parameter"
)

// withPreset adds a preset's values to the given ones. A given value that contradicts the preset is
// refused: the preset's values are what choosing it means.
func withPreset(v dbsqlc.TemplateVersion, name string, given []parameter.Value) ([]parameter.Value, error) {
	if name == "" {
		return given, nil
	}
	var presets []provisioner.Preset
	_ = json.Unmarshal(v.Presets, &presets) // written by us
	names := make([]string, 0, len(presets))
	for _, p := range presets {
		names = append(names, p.Name)
		if p.Name != name {
			continue
		}
		out := append([]parameter.Value{}, given...)
		keys := make([]string, 0, len(p.Parameters))
		for k := range p.Parameters {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			val := p.Parameters[k]
			clash := false
			for _, g := range given {
				if g.Name == k && g.Value != val {
					return nil, huma.Error400BadRequest(fmt.Sprintf("Preset %s sets parameter %s to %q; leave %s out, or choose no preset.", name, k, val, k),
						&huma.ErrorDetail{Location: "body.parameters." + k, Message: "set by the preset", Value: g.Value})
				}
				clash = clash || g.Name == k
			}
			if !clash {
				out = append(out, parameter.Value{Name: k, Value: val})
			}
		}
		return out, nil
	}
	hint := "The version has no presets."
	if len(names) > 0 {
		hint = "Its presets: " + strings.Join(names, ", ") + "."
	}
	return nil, huma.Error400BadRequest(fmt.Sprintf("Template version %s has no preset %q. %s", v.Name, name, hint),
		&huma.ErrorDetail{Location: "body.preset", Message: "no such preset", Value: name})
}
