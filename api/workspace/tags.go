package workspace

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hearthdev/hearth/internal/coderprovider"
	"github.com/hearthdev/hearth/internal/db/dbsqlc"
	"github.com/hearthdev/hearth/internal/parameter"
)

// buildTags are the tags a build job is routed by: the version's, then its source's workspace tags,
// literal or taken from the build's parameter values (a parameter without a value adds no tag).
func buildTags(v dbsqlc.TemplateVersion, values []parameter.Value) (map[string]string, error) {
	tags := map[string]string{}
	_ = json.Unmarshal(v.Tags, &tags) // all written by us
	var workspaceTags []coderprovider.WorkspaceTag
	_ = json.Unmarshal(v.WorkspaceTags, &workspaceTags)
	for _, t := range workspaceTags {
		if t.Parameter == "" {
			tags[t.Key] = t.Value
			continue
		}
		for _, val := range values {
			if val.Name != t.Parameter || val.Value == "" {
				continue
			}
			if strings.ContainsAny(val.Value, "=,") {
				return nil, huma.Error400BadRequest(fmt.Sprintf("Parameter %s routes builds (workspace tag %s), so its value cannot contain = or ,.", t.Parameter, t.Key),
					&huma.ErrorDetail{Location: "body.parameters." + t.Parameter, Message: "not a valid tag value", Value: val.Value})
			}
			tags[t.Key] = val.Value
		}
	}
	return tags, nil
}
