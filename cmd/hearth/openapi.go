package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/hearthdev/hearth/api"
)

func openapiCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "openapi",
		Short: "Print the OpenAPI 3.1 document of the API this binary serves",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			spec := api.Spec()
			var out []byte
			var err error
			switch format {
			case "yaml":
				out, err = spec.YAML()
			case "json":
				out, err = json.MarshalIndent(spec, "", "  ")
			default:
				return usageError{fmt.Errorf("--format %q: want yaml or json", format)}
			}
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(out)
			return err
		},
	}
	cmd.Flags().StringVar(&format, "format", "yaml", "yaml or json")
	return cmd
}
