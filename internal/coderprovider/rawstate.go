package coderprovider

import (
	"encoding/json"
	"fmt"
	"strconv"

	tfjson "github.com/hashicorp/terraform-json"
)

// ReadState reads a Terraform state file (format version 4, what terraform.tfstate holds) into the
// form ParseBuild takes, without running `terraform show -json`, which starts every provider for its
// schema. Attribute values are the same JSON either way. Empty input is no state (nil).
func ReadState(raw []byte) (*tfjson.State, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	var f struct {
		Version   int `json:"version"`
		Resources []struct {
			Module    string `json:"module"`
			Mode      string `json:"mode"`
			Type      string `json:"type"`
			Name      string `json:"name"`
			Provider  string `json:"provider"`
			Instances []struct {
				IndexKey   any            `json:"index_key"`
				Attributes map[string]any `json:"attributes"`
			} `json:"instances"`
		} `json:"resources"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, fmt.Errorf("the state file is not JSON: %w", err)
	}
	if f.Version != 4 {
		return nil, fmt.Errorf("the state file has format version %d; Hearth reads version 4 (Terraform 0.12 and newer)", f.Version)
	}
	root := &tfjson.StateModule{}
	for _, r := range f.Resources {
		mode := tfjson.ManagedResourceMode
		if r.Mode == "data" {
			mode = tfjson.DataResourceMode
		}
		for _, in := range r.Instances {
			address := r.Type + "." + r.Name
			if mode == tfjson.DataResourceMode {
				address = "data." + address
			}
			switch k := in.IndexKey.(type) {
			case float64:
				address += "[" + strconv.FormatFloat(k, 'f', -1, 64) + "]"
			case string:
				address += "[" + strconv.Quote(k) + "]"
			}
			if r.Module != "" {
				address = r.Module + "." + address
			}
			root.Resources = append(root.Resources, &tfjson.StateResource{
				Address: address, Mode: mode, Type: r.Type, Name: r.Name, Index: in.IndexKey,
				ProviderName: r.Provider, AttributeValues: in.Attributes,
			})
		}
	}
	return &tfjson.State{FormatVersion: "1.0", Values: &tfjson.StateValues{RootModule: root}}, nil
}
