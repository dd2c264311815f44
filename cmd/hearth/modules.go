package main

import (
	"bytes"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/hearthdev/hearth/client"
)

func modulesCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "modules",
		Short: "Terraform modules Hearth serves to templates (registry.coder.com and others, without the internet)",
		Long: `Hearth's module registry: a version pushed here is what a template's module block with that source
and a matching version constraint gets, on every provisioner worker, without reaching the registry
on the internet. Once a host has a module here, all of that host's modules come from here.`,
	}
	cmd.AddCommand(modulesPushCommand(), modulesListCommand())
	return cmd
}

func modulesPushCommand() *cobra.Command {
	var source, version string
	cmd := &cobra.Command{
		Use:   "push DIR",
		Short: "Upload a module directory as a version of a registry module",
		Example: `  hearth modules push ./code-server --source registry.coder.com/coder/code-server/coder --version 1.3.0
  # then, in a template: module "code-server" { source = "registry.coder.com/coder/code-server/coder", version = "~> 1.0" }`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if source == "" || version == "" {
				return usageError{fmt.Errorf("pass --source HOST/NAMESPACE/NAME/SYSTEM and --version VERSION")}
			}
			if st, err := os.Stat(args[0]); err != nil || !st.IsDir() {
				return usageError{fmt.Errorf("%s is not a module directory", args[0])}
			}
			archive, err := tarDir(args[0])
			if err != nil {
				return err
			}
			c, s, err := session()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			ct := client.UploadFileParamsContentType("application/x-tar")
			up, err := client.Ok(c.UploadFileWithBodyWithResponse(ctx, &client.UploadFileParams{ContentType: &ct}, "application/x-tar", bytes.NewReader(archive)))
			if err != nil {
				return remote(s.URL, err)
			}
			res, err := client.Ok(c.CreateModuleWithResponse(ctx, client.CreateModuleJSONRequestBody{Source: source, Version: version, FileId: up.JSON201.Id}))
			if err != nil {
				return remote(s.URL, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Pushed %s %s. Templates get it with: module \"NAME\" { source = %q, version = \"%s\" }\n",
				res.JSON201.Source, res.JSON201.Version, res.JSON201.Source, res.JSON201.Version)
			return nil
		},
	}
	cmd.Flags().StringVar(&source, "source", "", "the module's registry source, HOST/NAMESPACE/NAME/SYSTEM")
	cmd.Flags().StringVar(&version, "version", "", "its version, such as 1.3.0 (versions cannot be replaced)")
	return cmd
}

func modulesListCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the module versions Hearth serves",
		Example: `  hearth modules list -o json`,
		Args:    cobra.NoArgs,
	}
	format := outputFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		c, s, err := session()
		if err != nil {
			return err
		}
		res, err := client.Ok(c.ListModulesWithResponse(cmd.Context()))
		if err != nil {
			return remote(s.URL, err)
		}
		list := res.JSON200.Modules
		return render(cmd, *format, list, func(w io.Writer, _ bool) {
			if len(list) == 0 {
				fmt.Fprintln(w, "No modules. Push one with: hearth modules push DIR --source HOST/NAMESPACE/NAME/SYSTEM --version VERSION")
				return
			}
			fmt.Fprintln(w, "SOURCE\tVERSION\tPUSHED")
			for _, m := range list {
				fmt.Fprintf(w, "%s\t%s\t%s\n", m.Source, m.Version, ago(&m.CreatedAt))
			}
		})
	}
	return cmd
}
