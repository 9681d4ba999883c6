package main

import (
	"fmt"
	"runtime/debug"

	"github.com/spf13/cobra"
)

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print ragpipe's version, commit and Go version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			version, commit, dirty, goVersion := "(devel)", "unknown", false, "unknown"
			if bi, ok := debug.ReadBuildInfo(); ok {
				goVersion = bi.GoVersion
				if bi.Main.Version != "" {
					version = bi.Main.Version
				}
				for _, s := range bi.Settings {
					switch s.Key {
					case "vcs.revision":
						commit = s.Value
					case "vcs.modified":
						dirty = s.Value == "true"
					}
				}
			}
			if dirty {
				commit += " (modified)"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "ragpipe %s\ncommit  %s\ngo      %s\n", version, commit, goVersion)
			return nil
		},
	}
}
